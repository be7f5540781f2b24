"""Compile the condition language into evaluators (the one module that uses jmespath).

Conditions are data: `all` / `any` / `not` over comparisons of a request field with a literal or a
named threshold, plus a raw JMESPath boolean as an escape hatch. They are compiled once at load;
nothing is ever eval-ed. A comparison that cannot be judged (a number compared with text, a value
that is not finite) raises EvaluationError, which the engine turns into an escalation.

Hostile input cannot make a condition run for ever. Regular expressions are RE2 (the one module
that uses it): matching is linear in the text, which is cut at MAX_MATCHED_TEXT characters.
JMESPath is bounded twice: at compile time (the text, the parsed tree's size and depth, the
nesting of projections, an allow-list of functions) and at run time, where every evaluation of an
expression has a budget of MAX_EVALUATION_STEPS (nodes visited plus the items of the lists it
builds) and fails closed past it. The budget is per evaluation, not per decision, so a rule's
result never depends on what else the engine evaluated before it (decide, explain and diff agree);
how many evaluations a decision makes is fixed by the constitution, never by the request.
"""

from __future__ import annotations

import math
import operator
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jmespath
import jmespath.exceptions
import jmespath.functions
import jmespath.visitor
import re2  # type: ignore[import-untyped]  # google-re2 ships no py.typed and no stubs

from aios_policy import diagnostics as dx
from aios_policy.limits import (
    MAX_BUILT_TEXT,
    MAX_EVALUATION_STEPS,
    MAX_EXPRESSION,
    MAX_EXPRESSION_DEPTH,
    MAX_EXPRESSION_NODES,
    MAX_MATCHED_TEXT,
    MAX_NESTED_PROJECTIONS,
    MAX_PATTERN,
    MAX_PATTERN_MEMORY,
    MAX_REPEAT,
)

from .dates import parse_duration
from .values import MISSING, getter, group_key, is_finite_number, is_number

ORDERING = {"lt", "lte", "gt", "gte"}
HISTORY_OPS = ORDERING | {"eq", "ne"}
MEASURES = ("sum", "count")
_SIMPLE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_SYMBOLS = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥", "in": "is one of",
            "not_in": "is not one of", "contains": "contains", "matches": "matches"}


class EvaluationError(Exception):
    """A condition could not be judged for this request; the engine fails closed on it."""


class OverBudget(EvaluationError):
    """An expression went past its evaluation budget (MAX_EVALUATION_STEPS) for this request."""


@dataclass(frozen=True)
class Problem:
    """Why a condition does not compile: a code, where (JSON pointer), what, and a fix."""

    code: str
    pointer: str
    message: str
    hint: str | None = None


class Condition(ABC):
    """A compiled condition. `evaluate` appends the paths it found missing to `missing`, if given.

    `opaque` is true where the analysis of the input space can only sample (raw JMESPath, complex
    paths, regular expressions).
    """

    opaque = False
    test: Callable[[dict[str, Any]], bool]  # the fast path: a closure built once, no tracking

    @abstractmethod
    def track(self, request: dict[str, Any], missing: list[str]) -> bool:
        """Evaluate, adding to missing every absent field the result depends on."""

    def evaluate(self, request: dict[str, Any], missing: list[str] | None = None) -> bool:
        return self.test(request) if missing is None else self.track(request, missing)

    @abstractmethod
    def describe(self) -> str: ...

    def comparisons(self) -> list[Comparison]:
        return []


class Always(Condition):
    def __init__(self) -> None:
        self.test = lambda request: True

    def track(self, request: dict[str, Any], missing: list[str]) -> bool:
        return True

    def describe(self) -> str:
        return "always"


class All(Condition):
    def __init__(self, children: list[Condition]) -> None:
        self.children = children
        self.opaque = any(c.opaque for c in children)
        tests = tuple(c.test for c in children)

        def test(request: dict[str, Any]) -> bool:
            for child in tests:  # noqa: SIM110  (a loop beats all() over a generator on the hot path)
                if not child(request):
                    return False
            return True

        self.test = test

    def track(self, request: dict[str, Any], missing: list[str]) -> bool:
        found: list[str] = []
        result = True
        for child in self.children:
            before = len(found)
            if not child.track(request, found):
                if len(found) == before:
                    return False  # false whatever the missing fields hold: they do not matter
                result = False
        missing.extend(found)
        return result

    def comparisons(self) -> list[Comparison]:
        return [c for child in self.children for c in child.comparisons()]

    def describe(self) -> str:
        return " and ".join(_grouped(c) for c in self.children)


class AnyOf(Condition):
    def __init__(self, children: list[Condition]) -> None:
        self.children = children
        self.opaque = any(c.opaque for c in children)
        tests = tuple(c.test for c in children)

        def test(request: dict[str, Any]) -> bool:
            for child in tests:  # noqa: SIM110  (a loop beats any() over a generator on the hot path)
                if child(request):
                    return True
            return False

        self.test = test

    def track(self, request: dict[str, Any], missing: list[str]) -> bool:
        found: list[str] = []
        result = False
        for child in self.children:
            before = len(found)
            if child.track(request, found):
                if len(found) == before:
                    return True  # true whatever the missing fields hold
                result = True
        missing.extend(found)
        return result

    def comparisons(self) -> list[Comparison]:
        return [c for child in self.children for c in child.comparisons()]

    def describe(self) -> str:
        return " or ".join(_grouped(c) for c in self.children)


class Not(Condition):
    def __init__(self, child: Condition) -> None:
        self.child = child
        self.opaque = child.opaque
        inner = child.test
        self.test = lambda request: not inner(request)

    def track(self, request: dict[str, Any], missing: list[str]) -> bool:
        return not self.child.track(request, missing)

    def comparisons(self) -> list[Comparison]:
        return self.child.comparisons()

    def describe(self) -> str:
        return f"not {_grouped(self.child)}"


def _grouped(condition: Condition) -> str:
    text = condition.describe()
    return f"({text})" if isinstance(condition, All | AnyOf) and len(condition.children) > 1 else text


class Comparison(Condition):
    """A request field compared with a literal or a threshold's value."""

    def __init__(self, path: str, op: str, value: Any, threshold: str | None,
                 pattern: Any = None) -> None:  # pattern: an RE2 pattern (re2 is untyped)
        path = _dotted(path) or path
        self.path, self.op, self.value, self.threshold = path, op, value, threshold
        self.simple = bool(_SIMPLE_PATH.match(path))
        self._parts = path.split(".") if self.simple else None
        self._expression = None if self.simple else _parsed(path)
        self._pattern = pattern
        self.opaque = not self.simple or op == "matches"
        literals = value if op in ("in", "not_in") and isinstance(value, list) else [value]
        self.kinds = frozenset(_kind(v) for v in literals)  # the kinds of field this compares with
        self.test = _fast_comparison(self)

    def lookup(self, request: dict[str, Any]) -> Any:
        if self._parts is not None:
            value: Any = request
            for part in self._parts:
                if not isinstance(value, dict):
                    return MISSING
                value = value.get(part, MISSING)
                if value is MISSING:
                    return MISSING
            return MISSING if value is None else value
        return _search(self._expression, request, self.path)

    def track(self, request: dict[str, Any], missing: list[str]) -> bool:
        field = self.lookup(request)
        if self.op == "exists":
            if field is MISSING:
                missing.append(self.path)
            return (field is not MISSING) == (self.value is not False)
        if field is MISSING:
            missing.append(self.path)
            return False
        return _COMPARE[self.op](self, field)

    def comparisons(self) -> list[Comparison]:
        return [self]

    def describe(self) -> str:
        if self.op == "exists":
            return f"{self.path} is {'present' if self.value is not False else 'absent'}"
        shown = _literal(self.value)
        if self.threshold:
            shown = f"{self.threshold} ({shown})"
        return f"{self.path} {_SYMBOLS[self.op]} {shown}"


class RawExpression(Condition):
    """The escape hatch: a JMESPath expression that must evaluate to true."""

    opaque = True

    def __init__(self, source: str) -> None:
        self.source = source
        self._expression = _parsed(source)
        self.test = lambda request: _search(self._expression, request, source) is True

    def track(self, request: dict[str, Any], missing: list[str]) -> bool:
        return self.test(request)

    def describe(self) -> str:
        return f"JMESPath `{self.source}` is true"

    def literals(self) -> dict[str, list[Any]]:
        """For each plain field path the expression reads, the values that tell its cases apart: the
        literals the path is compared with (`amount > 500`: 500; `tier == 'gold'`: "gold"), true and
        false where the path is tested for truth on its own (`attributes.vip && ...`), the item a
        `contains` looks for, and UNTYPED where it is read in some other way (an argument of another
        function, arithmetic): then only sampling can say."""
        found: dict[str, list[Any]] = {}

        def add(path: str, value: Any) -> None:
            values = found.setdefault(path, [])
            if not any(type(v) is type(value) and v == value for v in values):
                values.append(value)

        def walk(node: Any, truth: bool) -> None:
            if not isinstance(node, dict):
                return
            path = _plain_path(node)
            if path is not None:
                for value in ((True, False) if truth else (UNTYPED,)):
                    add(path, value)
                return
            kind, children = node.get("type"), node.get("children") or []
            if kind == "comparator" and len(children) == 2:
                left, right = (_plain_path(c) for c in children)
                literals = [c.get("value") for c in children if isinstance(c, dict) and c.get("type") == "literal"]
                if (left or right) and literals and not (left and right):
                    add(left or right or "", literals[0])
                    return
            if kind == "function_expression" and node.get("value") == "contains" and len(children) == 2:
                path, literal = _plain_path(children[0]), children[1]
                if path and isinstance(literal, dict) and literal.get("type") == "literal":
                    add(path, [literal.get("value")])
                    return
            logical = kind in ("and_expression", "or_expression", "not_expression")
            for child in children:
                walk(child, logical)

        walk(self._expression.parsed, True)
        return found


UNTYPED: Any = type("Untyped", (), {"__repr__": lambda self: "UNTYPED"})()  # read in a way literals cannot tell


def _plain_path(node: Any) -> str | None:
    """`attributes.tier` for a field or a chain of fields; None for anything else."""
    if not isinstance(node, dict):
        return None
    if node.get("type") == "field":
        return str(node.get("value"))
    if node.get("type") == "subexpression":
        parts = [_plain_path(c) for c in node.get("children") or []]
        return ".".join(p for p in parts if p) if parts and all(parts) else None
    return None


# history: sums and counts of earlier decisions ---------------------------------------------------

HistoryTotal = Callable[[str, str, str, str, datetime, datetime], float]  # HistoryView.total (engine/history.py)


@dataclass
class HistoryReading:
    """What history comparisons read during one decision: the caller's view (None: no history was given),
    the request's moment (the window ends there), the view's answers (asked once per decision) and the
    figures each comparison worked out, by comparison."""

    total: HistoryTotal | None
    at: datetime
    now: datetime | None = None  # when the decision is made: a window covers both moments, so a back- or
    # forward-dated request cannot move its window away from the earlier requests it should be counted with
    answers: dict[tuple[Any, ...], float | EvaluationError] = field(default_factory=dict)
    figures: dict[int, tuple[HistoryComparison, str, float]] = field(default_factory=dict)


# set by the engine for the duration of one decision (and reset in a finally): the engine stays pure,
# the caller passes the history in; outside a decision no comparison can read any
HISTORY: ContextVar[HistoryReading | None] = ContextVar("aios_history_reading", default=None)


@contextmanager
def reading_history(total: HistoryTotal | None, at: datetime, now: datetime | None = None) -> Iterator[HistoryReading]:
    """History comparisons evaluated inside read total, with windows ending at at (and reaching now)."""
    reading = HistoryReading(total, at, now)
    token = HISTORY.set(reading)
    try:
        yield reading
    finally:
        HISTORY.reset(token)


class HistoryComparison(Condition):
    """A sum or count of earlier decisions of an action, in a window ending at the request's moment, among
    those whose group_by field equals this request's, compared with a literal or a threshold.

    The request itself counts when it is of that action (its amount for a sum, one for a count): the limit
    is "including this one". Opaque to the analysis of the input space: the history is not a field. Without
    a history to read, when the view fails, or when the request lacks the group_by field (or, for a sum, an
    amount), the comparison cannot be judged: an EvaluationError, and the engine fails closed.
    """

    opaque = True

    def __init__(self, action: str, measure: str, window: timedelta, window_text: str, group_by: str, op: str,
                 value: float, threshold: str | None) -> None:
        self.action, self.measure, self.window, self.window_text = action, measure, window, window_text
        self.group_by, self.op, self.value, self.threshold = group_by, op, value, threshold
        self._parts = group_by.split(".")
        self._compare = {"lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge,
                         "eq": operator.eq, "ne": operator.ne}[op]
        self.test = self._holds

    def _holds(self, request: dict[str, Any]) -> bool:
        _, figure = self.figure(request)
        return bool(self._compare(figure, self.value))

    def track(self, request: dict[str, Any], missing: list[str]) -> bool:
        return self._holds(request)  # an absent group field is an error, not a fact to ask for

    def figure(self, request: dict[str, Any]) -> tuple[str, float]:
        """The group (this request's group_by value) and the sum or count, this request included."""
        reading = HISTORY.get()
        if reading is None or reading.total is None:
            raise EvaluationError(f"`{self.describe()}` reads the decision log's history, and none was given, so "
                                  "a person decides (pass the log's history view to decide)")
        group = self._group(request)
        own = self._own(request)
        try:
            moments = (reading.at, reading.now or reading.at)
            since, until = min(moments) - self.window, max(moments)
        except OverflowError as error:  # a moment near year 1: no window fits before it
            raise EvaluationError(f"`{self.describe()}`: no window of {self.window_text} fits before "
                                  f"{reading.at.isoformat()}") from error
        key = (self.action, self.measure, self.group_by, group, since, until)
        answer = reading.answers.get(key)
        if answer is None:
            answer = reading.answers[key] = self._ask(reading.total, key)
        if isinstance(answer, EvaluationError):
            raise answer
        figure = answer + own
        reading.figures[id(self)] = (self, group, figure)
        return group, figure

    def _group(self, request: dict[str, Any]) -> str:
        value: Any = request
        for part in self._parts:
            value = value.get(part, MISSING) if isinstance(value, dict) else MISSING
        if value is MISSING or value is None:
            raise EvaluationError(f"`{self.describe()}` groups by `{self.group_by}`, which the request lacks, so "
                                  "its history cannot be read")
        if not isinstance(value, str):
            raise EvaluationError(f"`{self.describe()}` groups by `{self.group_by}`, which is {_literal(value)} "
                                  f"({_kind(value)}), not text, so its history cannot be read")
        return group_key(value)

    def _own(self, request: dict[str, Any]) -> float:
        if request.get("action") != self.action:
            return 0.0
        if self.measure == "count":
            return 1.0
        amount = request.get("amount")
        if not is_finite_number(amount):
            shown = "no amount" if amount is None else f"the amount {_literal(amount)}"
            raise EvaluationError(f"`{self.describe()}` adds this request's amount, and it has {shown}")
        return float(amount)

    def _ask(self, total: HistoryTotal, key: tuple[Any, ...]) -> float | EvaluationError:
        try:
            answer = total(*key)
        except Exception as error:  # whatever the caller's view raises, the rule fails closed
            return EvaluationError(f"`{self.describe()}`: the history could not be read: "
                                   f"{_one_line(str(error) or type(error).__name__)}")
        if not is_finite_number(answer) or answer < 0:
            return EvaluationError(f"`{self.describe()}`: the history gave {_one_line(repr(answer))}, "
                                   "not a number of 0 or more")
        return float(answer)

    def describe(self) -> str:
        what = "the sum of amounts" if self.measure == "sum" else "the number"
        shown = _literal(self.value)
        if self.threshold:
            shown = f"{self.threshold} ({shown})"
        return (f"{what} of {self.action} in the last {self.window_text} with the same {self.group_by} "
                f"{_SYMBOLS[self.op]} {shown}")


def history_comparisons(condition: Condition) -> list[HistoryComparison]:
    """The history comparisons of a condition, in the order they are written."""
    if isinstance(condition, HistoryComparison):
        return [condition]
    if isinstance(condition, All | AnyOf):
        return [h for child in condition.children for h in history_comparisons(child)]
    if isinstance(condition, Not):
        return history_comparisons(condition.child)
    return []


class _StrictInterpreter(jmespath.visitor.TreeInterpreter):
    """JMESPath as the library runs it, except that `<`, `<=`, `>`, `>=` compare numbers only, and
    within a budget of steps.

    The library also orders text alphabetically and lets a number meet text (a TypeError); a policy
    comparing amount with a salary band sent as "120000" must fail closed instead. Every node visited
    costs a step, every item of a list or object the expression builds (a projection, a flatten, a
    multi-select, a slice) and of a list or text a function scans costs one more; past
    MAX_EVALUATION_STEPS the evaluation stops with OverBudget.
    """

    def __init__(self, source: str) -> None:
        super().__init__(_OPTIONS)
        self._source = source
        self._left = MAX_EVALUATION_STEPS

    def _spend(self, steps: int) -> None:
        self._left -= steps
        if self._left < 0:
            raise OverBudget(f"the expression `{_one_line(self._source)}` went past its evaluation budget "
                             f"of {MAX_EVALUATION_STEPS:,} steps")

    def visit(self, node: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        self._spend(1)
        return super().visit(node, *args, **kwargs)

    def _built(self, result: Any) -> Any:
        if isinstance(result, list | dict):
            self._spend(len(result))
        return result

    def visit_projection(self, node: dict[str, Any], value: Any) -> Any:
        return self._built(super().visit_projection(node, value))

    def visit_value_projection(self, node: dict[str, Any], value: Any) -> Any:
        return self._built(super().visit_value_projection(node, value))

    def visit_filter_projection(self, node: dict[str, Any], value: Any) -> Any:
        return self._built(super().visit_filter_projection(node, value))

    def visit_flatten(self, node: dict[str, Any], value: Any) -> Any:
        return self._built(super().visit_flatten(node, value))

    def visit_multi_select_list(self, node: dict[str, Any], value: Any) -> Any:
        return self._built(super().visit_multi_select_list(node, value))

    def visit_multi_select_dict(self, node: dict[str, Any], value: Any) -> Any:
        return self._built(super().visit_multi_select_dict(node, value))

    def visit_slice(self, node: dict[str, Any], value: Any) -> Any:
        return self._built(super().visit_slice(node, value))

    def visit_function_expression(self, node: dict[str, Any], value: Any) -> Any:
        if node["value"] not in FUNCTIONS:  # compile refuses these; a guard for expressions built elsewhere
            raise EvaluationError(f"the JMESPath function `{node['value']}` is not allowed in a condition")
        arguments = [self.visit(child, value) for child in node["children"]]
        if node["value"] in _SCANNING:  # the others take constant time (length) or bounded text
            self._spend(sum(len(a) for a in arguments if isinstance(a, list | dict | str)))
        result = self._functions.call_function(node["value"], arguments)
        if isinstance(result, str) and len(result) > MAX_BUILT_TEXT and not any(result is a for a in arguments):
            raise EvaluationError(f"the expression `{_one_line(self._source)}` made a text of {len(result):,} "
                                  f"characters; the limit is {MAX_BUILT_TEXT:,}")
        return result

    def visit_comparator(self, node: dict[str, Any], value: Any) -> Any:
        if node["value"] in self._EQUALITY_OPS:
            return super().visit_comparator(node, value)
        left, right = (self.visit(child, value) for child in node["children"])
        if not (is_number(left) and is_number(right)):
            if left is None or right is None:
                return None  # an absent field: no match, as for structured conditions
            raise EvaluationError(f"`{_literal(left)} {node['value']} {_literal(right)}` compares "
                                  f"{_kind(left)} with {_kind(right)}; only numbers can be ordered")
        return self.COMPARATOR_FUNC[node["value"]](left, right)


_OPTIONS = jmespath.Options(custom_functions=jmespath.functions.Functions())  # built once, shared


def _search(expression: Any, request: dict[str, Any], source: str) -> Any:
    try:
        value = _StrictInterpreter(source).visit(expression.parsed, request)
    except OverBudget:
        raise
    except EvaluationError as error:
        raise EvaluationError(f"JMESPath `{source}`: {error}") from error
    except (jmespath.exceptions.JMESPathError, TypeError, ValueError, ArithmeticError, RecursionError) as error:
        raise EvaluationError(f"JMESPath `{source}` failed: {error}") from error
    return MISSING if value is None else value


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return "null" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _number(comparison: Comparison, field: Any) -> float:
    if not is_number(field):
        raise EvaluationError(f"`{comparison.path}` is {_literal(field)}, not a number, so "
                              f"`{comparison.describe()}` cannot be judged")
    if isinstance(field, float) and not math.isfinite(field):
        raise EvaluationError(f"`{comparison.path}` is not a finite number")
    return field


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if is_number(left) and is_number(right):
        return left == right
    return type(left) is type(right) and left == right


def _contains(comparison: Comparison, field: Any) -> bool:
    if isinstance(field, list):
        return any(_equal(item, comparison.value) for item in field)
    if isinstance(field, str) and isinstance(comparison.value, str):
        return comparison.value in field
    raise EvaluationError(f"`{comparison.path}` is neither a list nor text, so `{comparison.describe()}` "
                          "cannot be judged")


def _matches(comparison: Comparison, field: Any) -> bool:
    if not isinstance(field, str):
        raise EvaluationError(f"`{comparison.path}` is not text, so `{comparison.describe()}` cannot be judged")
    # an RE2 pattern (a `matches` comparison is always built with one): linear in the text, searched anywhere
    return comparison._pattern.search(field[:MAX_MATCHED_TEXT]) is not None


def _dotted(path: str) -> str | None:
    """`attributes."vendor_onboarded"` and other spellings of a plain dotted field, as `a.b`; else None."""
    if _SIMPLE_PATH.match(path):
        return path  # already plain: no need to parse it
    try:
        node = jmespath.compile(path).parsed
    except jmespath.exceptions.JMESPathError:
        return None
    parts: list[str] = []

    def walk(node: dict[str, Any]) -> bool:
        if node["type"] == "field":
            parts.append(node["value"])
            return True
        return node["type"] == "subexpression" and all(walk(child) for child in node["children"])

    dotted = ".".join(parts) if walk(node) else ""
    return dotted if _SIMPLE_PATH.match(dotted) else None


def _getter(comparison: Comparison) -> Callable[[dict[str, Any]], Any]:
    """A closure reading the comparison's field; None when absent."""
    if comparison._parts is None:
        def search(request: dict[str, Any]) -> Any:
            value = comparison.lookup(request)
            return None if value is MISSING else value
        return search
    return getter(comparison.path)


def _fast_comparison(comparison: Comparison) -> Callable[[dict[str, Any]], bool]:
    """The comparison as one closure: the same answers as `track`, without tracking what is missing."""
    get, op, value = _getter(comparison), comparison.op, comparison.value
    if op == "exists":
        wanted = value is not False
        return lambda request: (get(request) is not None) == wanted
    if op in ORDERING:
        compare = {"lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge}[op]

        def ordered(request: dict[str, Any]) -> bool:
            field = get(request)
            if field is None:
                return False
            kind = type(field)
            if kind is int or (kind is float and -math.inf < field < math.inf):
                return compare(field, value)
            return _COMPARE[op](comparison, field)  # raises EvaluationError with the reason
        return ordered
    if op in ("in", "not_in"):
        texts = frozenset(v for v in value if type(v) is str)
        negate = op == "not_in"

        def member(request: dict[str, Any]) -> bool:
            field = get(request)
            if field is None:
                return False
            kind = type(field)
            if kind is str and texts:
                return (field in texts) != negate
            return _COMPARE[op](comparison, field)  # other kinds: exact, and raises on the wrong kind
        return member
    if op in ("eq", "ne") and type(value) is str:  # the common case, text with text
        equal = op == "eq"

        def same_text(request: dict[str, Any]) -> bool:
            field = get(request)
            if type(field) is str:
                return (field == value) == equal
            return False if field is None else _COMPARE[op](comparison, field)  # wrong kind: raises
        return same_text

    def other(request: dict[str, Any]) -> bool:  # eq/ne with numbers or flags, contains, matches
        field = get(request)
        return False if field is None else _COMPARE[op](comparison, field)
    return other


_KINDS = {bool: "true or false", int: "a number", float: "a number", str: "text", list: "a list",
          dict: "an object", type(None): "null"}


def _kind(value: Any) -> str:
    return _KINDS.get(type(value)) or ("a number" if is_number(value) else type(value).__name__)


def _same_kind(comparison: Comparison, field: Any) -> Any:
    """The field, when it is of a kind the comparison's value has; else an EvaluationError.

    A flag sent as a list, or a tier sent as a number, must not quietly fail a deny rule."""
    kinds = comparison.kinds
    if _kind(field) not in kinds:
        raise EvaluationError(f"`{comparison.path}` is {_literal(field)} ({_kind(field)}), but "
                              f"`{comparison.describe()}` compares it with {' or '.join(sorted(kinds))}")
    return field


_COMPARE = {
    "eq": lambda c, f: _equal(_same_kind(c, f), c.value),
    "ne": lambda c, f: not _equal(_same_kind(c, f), c.value),
    "lt": lambda c, f: _number(c, f) < c.value,
    "lte": lambda c, f: _number(c, f) <= c.value,
    "gt": lambda c, f: _number(c, f) > c.value,
    "gte": lambda c, f: _number(c, f) >= c.value,
    "in": lambda c, f: any(_equal(_same_kind(c, f), v) for v in c.value),
    "not_in": lambda c, f: not any(_equal(_same_kind(c, f), v) for v in c.value),
    "contains": _contains,
    "matches": _matches,
}


def may_hold_for_action(condition: Condition, action: str) -> bool:
    """False when the condition requires another action (`action = x`, `action in [...]`), else True."""
    if isinstance(condition, Comparison) and condition.path == "action":
        value = condition.value
        return {"eq": value == action, "ne": value != action, "in": isinstance(value, list) and action in value,
                "not_in": not (isinstance(value, list) and action in value)}.get(condition.op, True)
    if isinstance(condition, All):
        return all(may_hold_for_action(child, action) for child in condition.children)
    if isinstance(condition, AnyOf):
        return any(may_hold_for_action(child, action) for child in condition.children)
    return True


def compile_condition(raw: Any, thresholds: dict[str, Any], at: str = "") -> tuple[Condition | None, list[Problem]]:
    """Compile a condition as written in a policy; `at` is its JSON pointer, for problems."""
    problems: list[Problem] = []
    condition = _compile(raw, thresholds, at, problems) if raw is not None else Always()
    return (None if problems else condition), problems


def _compile(raw: Any, thresholds: dict[str, Any], at: str, problems: list[Problem]) -> Condition:
    if "all" in raw:
        return All([_compile(c, thresholds, f"{at}/all/{i}", problems) for i, c in enumerate(raw["all"])])
    if "any" in raw:
        return AnyOf([_compile(c, thresholds, f"{at}/any/{i}", problems) for i, c in enumerate(raw["any"])])
    if "not" in raw:
        return Not(_compile(raw["not"], thresholds, f"{at}/not", problems))
    if "jmespath" in raw:
        refused = _expression_problem(raw["jmespath"], "the JMESPath expression")
        if refused:
            message, hint = refused
            problems.append(Problem("COND001", f"{at}/jmespath", message,
                                    hint or "see https://jmespath.org/specification.html"))
            return Always()
        return RawExpression(raw["jmespath"])
    if "history" in raw:
        return _history(raw, thresholds, at, problems)
    return _comparison(raw, thresholds, at, problems)


_WINDOW_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def _history(raw: dict[str, Any], thresholds: dict[str, Any], at: str, problems: list[Problem]) -> Condition:
    spec, op = raw["history"], raw["op"]
    window = parse_duration(spec.get("window"))
    if window is None or window.business:
        problems.append(Problem("COND002", f"{at}/history/window", f"the window `{spec.get('window')}` is not a "
                                "span of calendar time", 'write e.g. "365 days", "30 days" or "12 hours"'))
        return Always()
    if op not in HISTORY_OPS:
        problems.append(Problem("COND002", f"{at}/op", f"operator `{op}` cannot compare a sum or a count",
                                "use eq, ne, lt, lte, gt or gte"))
        return Always()
    value, threshold = raw.get("value"), raw.get("threshold")
    if "value" in raw and threshold is not None:
        problems.append(Problem("COND002", at, "give `value` or `threshold`, not both"))
        return Always()
    if threshold is not None:
        if threshold not in thresholds:
            problems.append(Problem("REF003", f"{at}/threshold", f"unknown threshold `{threshold}`",
                                    dx.did_you_mean(threshold, thresholds) or "define it in thresholds.json"))
            return Always()
        value = thresholds[threshold]
    if not is_finite_number(value):
        where = f"{at}/threshold" if threshold is not None else f"{at}/value"
        problems.append(Problem("COND004" if threshold is not None else "COND002", where,
                                f"a {spec.get('measure')} is compared with a number, not {_literal(value)}",
                                "use a threshold of the right kind" if threshold is not None else None))
        return Always()
    group_by = spec.get("group_by")
    if not isinstance(group_by, str) or not _SIMPLE_PATH.match(group_by):
        problems.append(Problem("COND001", f"{at}/history/group_by", f"group_by `{_one_line(str(group_by))}` is "
                                "not a dotted field", "write a field such as attributes.vendor"))
        return Always()
    return HistoryComparison(spec["action"], spec["measure"], window.amount * _WINDOW_UNITS[window.unit],
                             window.text, group_by, op, value, threshold)


def _comparison(raw: dict[str, Any], thresholds: dict[str, Any], at: str, problems: list[Problem]) -> Condition:
    path, op = raw["path"], raw["op"]
    refused = None if _SIMPLE_PATH.match(path) else _expression_problem(path, "the path")  # plain: always fine
    if refused:
        message, hint = refused
        problems.append(Problem("COND001", f"{at}/path", message,
                                hint or "write a dotted field such as attributes.customer_tier"))
        return Always()
    value, threshold = raw.get("value"), raw.get("threshold")
    if "value" in raw and threshold is not None:
        problems.append(Problem("COND002", at, "give `value` or `threshold`, not both"))
        return Always()
    if threshold is not None:
        if threshold not in thresholds:
            problems.append(Problem("REF003", f"{at}/threshold", f"unknown threshold `{threshold}`",
                                    dx.did_you_mean(threshold, thresholds) or "define it in thresholds.json"))
            return Always()
        value = thresholds[threshold]
    elif "value" not in raw and op != "exists":
        problems.append(Problem("COND002", at, f"operator `{op}` needs a `value` or a `threshold`"))
        return Always()
    where = f"{at}/threshold" if threshold is not None else f"{at}/value"
    wrong = _value_problem(op, value)
    if wrong:
        code = "COND004" if threshold is not None else "COND002"
        subject = f"threshold `{threshold}` is {_literal(value)}" if threshold is not None else "the value"
        problems.append(Problem(code, where, f"operator `{op}` needs {wrong}, but {subject}"
                                if threshold is not None else f"operator `{op}` needs {wrong}",
                                "use a threshold of the right kind" if threshold is not None else None))
        return Always()
    pattern = None
    if op == "matches":
        assert isinstance(value, str)  # _value_problem let only text through for `matches`
        pattern, problem = _safe_pattern(value, where)
        if problem:
            problems.append(problem)
            return Always()
    return Comparison(path, op, value, threshold, pattern)


def _value_problem(op: str, value: Any) -> str | None:
    if op in ORDERING:
        ok = is_finite_number(value)
        return None if ok else "a number"
    if op in ("in", "not_in"):
        ok = isinstance(value, list) and all(not isinstance(v, dict | list) for v in value)
        return None if ok else "a list of values"
    if op == "exists":
        return None if value is None or isinstance(value, bool) else "true, false or nothing"
    if op == "matches":
        return None if isinstance(value, str) else "a regular expression (text)"
    return None if not isinstance(value, dict | list) and value is not None else "a single value"


_RE2 = re2.Options()
_RE2.max_mem = MAX_PATTERN_MEMORY  # a bounded program and DFA cache per pattern
_RE2.log_errors = False  # RE2 would print every refused pattern on standard error
_RE2_SYNTAX = "RE2 syntax: see https://github.com/google/re2/wiki/Syntax"


def _safe_pattern(source: str, at: str) -> tuple[Any, Problem | None]:
    """The pattern compiled by RE2, which matches in time linear in the text; else a COND003 problem.

    RE2 has no backtracking, so nested or overlapping repetitions (`(a+)+`, `(a|aa)*b`) are as fast
    as any other; what it cannot run in linear time (backreferences, lookaround, possessive
    quantifiers) it does not accept."""
    if len(source) > MAX_PATTERN:
        return None, Problem("COND003", at, f"the regular expression is {len(source)} characters; "
                             f"the limit is {MAX_PATTERN}", "simplify it")
    try:
        return re2.compile(source, _RE2), None
    except re2.error as error:
        return None, Problem("COND003", at, f"the regular expression `{_one_line(source)}` is refused: "
                             f"{_re2_reason(error)}", _RE2_SYNTAX)


def _re2_reason(error: Exception) -> str:
    raw = error.args[0] if error.args else ""
    reason = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if "repetition size" in reason:
        return (f"{_one_line(reason)} (RE2 repeats at most {MAX_REPEAT:,} times, counting nested "
                "repetitions together)")
    if "too large" in reason:
        return f"{_one_line(reason)} (it would need more than {MAX_PATTERN_MEMORY // 1024:,} KiB)"
    if "invalid escape sequence: \\" in reason and reason[-1:].isdigit():
        return f"{_one_line(reason)} (RE2 has no backreferences)"
    if "invalid perl operator: (?<" in reason or "invalid perl operator: (?=" in reason \
            or "invalid perl operator: (?!" in reason:
        return f"{_one_line(reason)} (RE2 has no lookahead or lookbehind)"
    if "bad repetition operator" in reason:
        return f"{_one_line(reason)} (RE2 has no possessive quantifiers such as `a++`)"
    return _one_line(reason)


# the JMESPath functions a condition may call: each answers in time linear in its arguments and makes
# no list or text bigger than them (no sort_by, map, join, to_string: they multiply work or build text)
FUNCTIONS = frozenset({"abs", "avg", "ceil", "contains", "ends_with", "floor", "length", "max", "min",
                       "not_null", "starts_with", "sum", "to_number", "type"})
_SCANNING = frozenset({"avg", "contains", "max", "min", "sum"})  # they read every item of a list or text
_PROJECTIONS = frozenset({"projection", "value_projection", "filter_projection"})


def _parsed(source: str) -> Any:
    """The compiled expression; the compile-time limits were checked by compile_condition."""
    refused = _expression_problem(source, "the expression")
    if refused:
        raise ValueError(refused[0])
    return jmespath.compile(source)


def _expression_problem(source: str, subject: str) -> tuple[str, str | None] | None:
    """Why a JMESPath expression (a raw condition or a complex path) is refused, with a hint; else None."""
    if not isinstance(source, str):
        return f"{subject} is not text", None
    if len(source) > MAX_EXPRESSION:
        return (f"{subject} is {len(source):,} characters; the limit is {MAX_EXPRESSION:,}",
                "split it into structured conditions under `all` / `any`")
    try:
        tree = jmespath.compile(source).parsed
    except jmespath.exceptions.JMESPathError as error:
        return f"{subject} `{_one_line(source)}` does not compile: {_one_line(_first_line(error))}", None
    except RecursionError:
        return (f"{subject} nests too deeply to compile; the limit is {MAX_EXPRESSION_DEPTH} levels",
                "split it into structured conditions under `all` / `any`")
    return _tree_problem(tree, subject)


def _tree_problem(tree: dict[str, Any], subject: str) -> tuple[str, str | None] | None:
    nodes, depth, projections = 0, 0, 0
    stack: list[tuple[dict[str, Any], int, int]] = [(tree, 1, 0)]
    while stack:  # a loop, not recursion: the tree is bounded by the text, but no stack is spent on it
        node, level, inside = stack.pop()
        kind = node.get("type")
        inside += kind in _PROJECTIONS
        nodes += 1 + (_literal_size(node.get("value")) - 1 if kind == "literal" else 0)
        depth, projections = max(depth, level), max(projections, inside)
        if kind == "function_expression" and node.get("value") not in FUNCTIONS:
            return (f"the JMESPath function `{node.get('value')}` is not allowed in a condition",
                    f"use one of {', '.join(sorted(FUNCTIONS))}")
        if kind == "expref":
            return ("expression references (`&`) are not allowed in a condition",
                    "compare fields directly; sort_by, map, min_by and max_by are not allowed")
        stack.extend((child, level + 1, inside) for child in node.get("children", ()) if isinstance(child, dict))
    if projections > MAX_NESTED_PROJECTIONS:  # the most telling reason first
        return (f"{subject} nests {projections} projections (`[*]`, `[]`, `[?...]`, `.*`) inside one another; "
                f"the limit is {MAX_NESTED_PROJECTIONS}",
                "project once and compare the result, e.g. length(attributes.items[?price > `100`]) > `0`")
    hint = "split it into structured conditions under `all` / `any`"
    if nodes > MAX_EXPRESSION_NODES:
        return f"{subject} has {nodes:,} parts (literal values included); the limit is {MAX_EXPRESSION_NODES}", hint
    if depth > MAX_EXPRESSION_DEPTH:
        return f"{subject} nests {depth} levels deep; the limit is {MAX_EXPRESSION_DEPTH}", hint
    return None


def _literal_size(value: Any) -> int:
    """How many values a literal holds (itself included), counted without recursion."""
    count, stack = 0, [value]
    while stack:
        item = stack.pop()
        count += 1
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return count


def _one_line(text: str, limit: int = 80) -> str:
    """User text shown in a message: on one line, and cut to limit characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

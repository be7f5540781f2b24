"""Compile the condition language into evaluators (the one module that uses jmespath).

Conditions are data: `all` / `any` / `not` over comparisons of a request field with a literal or a
named threshold, plus a raw JMESPath boolean as an escape hatch. They are compiled once at load;
nothing is ever eval-ed. A comparison that cannot be judged (a number compared with text, a value
that is not finite) raises EvaluationError, which the engine turns into an escalation.
"""

from __future__ import annotations

import math
import operator
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jmespath
import jmespath.exceptions
import jmespath.visitor

from aios_policy import diagnostics as dx
from aios_policy.limits import MAX_MATCHED_TEXT, MAX_PATTERN

from .values import MISSING, is_finite_number, is_number

ORDERING = {"lt", "lte", "gt", "gte"}
_SIMPLE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_SYMBOLS = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥", "in": "is one of",
            "not_in": "is not one of", "contains": "contains", "matches": "matches"}


class EvaluationError(Exception):
    """A condition could not be judged for this request; the engine fails closed on it."""


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
                 pattern: re.Pattern[str] | None = None) -> None:
        path = _dotted(path) or path
        self.path, self.op, self.value, self.threshold = path, op, value, threshold
        self.simple = bool(_SIMPLE_PATH.match(path))
        self._parts = path.split(".") if self.simple else None
        self._expression = None if self.simple else jmespath.compile(path)
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
        self._expression = jmespath.compile(source)
        self.test = lambda request: _search(self._expression, request, source) is True

    def track(self, request: dict[str, Any], missing: list[str]) -> bool:
        return self.test(request)

    def describe(self) -> str:
        return f"JMESPath `{self.source}` is true"


class _StrictInterpreter(jmespath.visitor.TreeInterpreter):
    """JMESPath as the library runs it, except that `<`, `<=`, `>`, `>=` compare numbers only.

    The library also orders text alphabetically and lets a number meet text (a TypeError); a policy
    comparing amount with a salary band sent as "120000" must fail closed instead.
    """

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


def _search(expression: Any, request: dict[str, Any], source: str) -> Any:
    try:
        value = _StrictInterpreter().visit(expression.parsed, request)
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
    # the ignore: a `matches` comparison is always built with its compiled pattern, never None
    return comparison._pattern.search(field[:MAX_MATCHED_TEXT]) is not None  # type: ignore[union-attr]


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
    parts = comparison._parts
    if parts is None:
        def search(request: dict[str, Any]) -> Any:
            value = comparison.lookup(request)
            return None if value is MISSING else value
        return search
    if len(parts) == 1:
        (key,) = parts
        return lambda request: request.get(key)
    if len(parts) == 2:
        outer, inner = parts

        def two(request: dict[str, Any]) -> Any:
            value = request.get(outer)
            return value.get(inner) if isinstance(value, dict) else None
        return two

    def deep(request: dict[str, Any]) -> Any:
        value: Any = request
        for part in parts:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value
    return deep


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
        try:
            return RawExpression(raw["jmespath"])
        except jmespath.exceptions.JMESPathError as error:
            problems.append(Problem("COND001", f"{at}/jmespath", f"the JMESPath expression does not compile: "
                                    f"{_first_line(error)}", "see https://jmespath.org/specification.html"))
            return Always()
    return _comparison(raw, thresholds, at, problems)


def _comparison(raw: dict[str, Any], thresholds: dict[str, Any], at: str, problems: list[Problem]) -> Condition:
    path, op = raw["path"], raw["op"]
    try:
        if not _SIMPLE_PATH.match(path):  # a plain dotted field always compiles
            jmespath.compile(path)
    except jmespath.exceptions.JMESPathError as error:
        problems.append(Problem("COND001", f"{at}/path", f"the path `{path}` does not compile: "
                                f"{_first_line(error)}", "write a dotted field such as attributes.customer_tier"))
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


def _safe_pattern(source: str, at: str) -> tuple[re.Pattern[str] | None, Problem | None]:
    if len(source) > MAX_PATTERN:
        return None, Problem("COND003", at, f"the regular expression is {len(source)} characters; "
                             f"the limit is {MAX_PATTERN}", "simplify it")
    try:
        compiled = re.compile(source)
    except re.error as error:
        return None, Problem("COND003", at, f"the regular expression does not compile: {error}")
    if _nested_repeat(source):
        return None, Problem("COND003", at, "the regular expression repeats a repetition, which can take "
                             "exponential time", "remove the outer or the inner quantifier")
    return compiled, None


def _nested_repeat(source: str) -> bool:
    """True for patterns such as (a+)+ whose backtracking can explode."""
    # the standard library's own parser; only its tree shape is read
    import re._parser as parser  # type: ignore[import-not-found]  # typeshed has no stub for this private module

    repeats = {parser.MAX_REPEAT, parser.MIN_REPEAT, getattr(parser, "POSSESSIVE_REPEAT", None)}

    def walk(items: Any, inside_repeat: bool) -> bool:
        for op, argument in items:
            if op in repeats:
                unbounded = argument[1] == parser.MAXREPEAT or argument[1] > 10
                if inside_repeat and unbounded:
                    return True
                if walk(argument[2], inside_repeat or unbounded):
                    return True
            elif op == parser.SUBPATTERN:
                if walk(argument[-1], inside_repeat):
                    return True
            elif op == parser.BRANCH and any(walk(branch, inside_repeat) for branch in argument[1]):
                return True
        return False

    return walk(parser.parse(source), False)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

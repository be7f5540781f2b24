"""Compile the condition language into evaluators (the one module that uses jmespath).

Conditions are data: `all` / `any` / `not` over comparisons of a request field with a literal or a
named threshold, plus a raw JMESPath boolean as an escape hatch. They are compiled once at load;
nothing is ever eval-ed. A comparison that cannot be judged (a number compared with text, a value
that is not finite) raises EvaluationError, which the engine turns into an escalation.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import jmespath
import jmespath.exceptions

from . import diagnostics as dx

ORDERING = {"lt", "lte", "gt", "gte"}
MAX_PATTERN = 200
MAX_MATCHED_TEXT = 1000
_SIMPLE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_MISSING = object()
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

    @abstractmethod
    def evaluate(self, request: dict[str, Any], missing: list[str] | None = None) -> bool: ...

    @abstractmethod
    def describe(self) -> str: ...

    def comparisons(self) -> list[Comparison]:
        return []


class Always(Condition):
    def evaluate(self, request: dict[str, Any], missing: list[str] | None = None) -> bool:
        return True

    def describe(self) -> str:
        return "always"


class All(Condition):
    def __init__(self, children: list[Condition]) -> None:
        self.children = children
        self.opaque = any(c.opaque for c in children)

    def evaluate(self, request: dict[str, Any], missing: list[str] | None = None) -> bool:
        if missing is None:
            return all(c.evaluate(request) for c in self.children)
        results = [c.evaluate(request, missing) for c in self.children]  # every missing field, not just the first
        return all(results)

    def comparisons(self) -> list[Comparison]:
        return [c for child in self.children for c in child.comparisons()]

    def describe(self) -> str:
        return " and ".join(_grouped(c) for c in self.children)


class AnyOf(Condition):
    def __init__(self, children: list[Condition]) -> None:
        self.children = children
        self.opaque = any(c.opaque for c in children)

    def evaluate(self, request: dict[str, Any], missing: list[str] | None = None) -> bool:
        if missing is None:
            return any(c.evaluate(request) for c in self.children)
        results = [c.evaluate(request, missing) for c in self.children]
        return any(results)

    def comparisons(self) -> list[Comparison]:
        return [c for child in self.children for c in child.comparisons()]

    def describe(self) -> str:
        return " or ".join(_grouped(c) for c in self.children)


class Not(Condition):
    def __init__(self, child: Condition) -> None:
        self.child = child
        self.opaque = child.opaque

    def evaluate(self, request: dict[str, Any], missing: list[str] | None = None) -> bool:
        return not self.child.evaluate(request, missing)

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
        self.path, self.op, self.value, self.threshold = path, op, value, threshold
        self.simple = bool(_SIMPLE_PATH.match(path))
        self._parts = path.split(".") if self.simple else None
        self._expression = None if self.simple else jmespath.compile(path)
        self._pattern = pattern
        self.opaque = not self.simple or op == "matches"

    def lookup(self, request: dict[str, Any]) -> Any:
        if self._parts is not None:
            value: Any = request
            for part in self._parts:
                if not isinstance(value, dict):
                    return _MISSING
                value = value.get(part, _MISSING)
                if value is _MISSING:
                    return _MISSING
            return _MISSING if value is None else value
        return _search(self._expression, request, self.path)

    def evaluate(self, request: dict[str, Any], missing: list[str] | None = None) -> bool:
        field = self.lookup(request)
        if self.op == "exists":
            return (field is not _MISSING) == (self.value is not False)
        if field is _MISSING:
            if missing is not None:
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

    def evaluate(self, request: dict[str, Any], missing: list[str] | None = None) -> bool:
        return _search(self._expression, request, self.source) is True

    def describe(self) -> str:
        return f"JMESPath `{self.source}` is true"


def _search(expression: Any, request: dict[str, Any], source: str) -> Any:
    try:
        value = expression.search(request)
    except jmespath.exceptions.JMESPathError as error:
        raise EvaluationError(f"JMESPath `{source}` failed: {error}") from error
    return _MISSING if value is None else value


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return "null" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(comparison: Comparison, field: Any) -> float:
    if not _is_number(field):
        raise EvaluationError(f"`{comparison.path}` is {_literal(field)}, not a number, so "
                              f"`{comparison.describe()}` cannot be judged")
    if isinstance(field, float) and not math.isfinite(field):
        raise EvaluationError(f"`{comparison.path}` is not a finite number")
    return field


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if _is_number(left) and _is_number(right):
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
    return comparison._pattern.search(field[:MAX_MATCHED_TEXT]) is not None  # type: ignore[union-attr]


_COMPARE = {
    "eq": lambda c, f: _equal(f, c.value),
    "ne": lambda c, f: not _equal(f, c.value),
    "lt": lambda c, f: _number(c, f) < c.value,
    "lte": lambda c, f: _number(c, f) <= c.value,
    "gt": lambda c, f: _number(c, f) > c.value,
    "gte": lambda c, f: _number(c, f) >= c.value,
    "in": lambda c, f: any(_equal(f, v) for v in c.value),
    "not_in": lambda c, f: not any(_equal(f, v) for v in c.value),
    "contains": _contains,
    "matches": _matches,
}


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
        pattern, problem = _safe_pattern(value, where)
        if problem:
            problems.append(problem)
            return Always()
    return Comparison(path, op, value, threshold, pattern)


def _value_problem(op: str, value: Any) -> str | None:
    if op in ORDERING:
        ok = _is_number(value) and math.isfinite(value)
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
    import re._parser as parser  # the standard library's own parser; only its tree shape is read

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

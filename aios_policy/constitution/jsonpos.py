"""JSON text with positions: parse fast, and find where a JSON pointer sits only when asked.

The standard library parses (in C) and reports syntax errors with line and column; it does not say
where a value is, and it keeps the last of two equal keys without a word. `locate` scans the text
once, only for files that have something to report, and maps every JSON pointer to the line and
column of its value and of its key.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from aios_policy.limits import MAX_INTEGER, MAX_JSON_DEPTH

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SCALAR = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|true|false|null")


@dataclass(frozen=True)
class SyntaxProblem:
    message: str
    line: int
    column: int
    hint: str | None


@dataclass(frozen=True)
class DuplicateKey:
    key: str
    pointer: str
    line: int
    column: int


def _reject_constant(name: str) -> None:
    raise _Refused(f"`{name}` is not valid JSON", "write a number or null", name)


class _Refused(Exception):
    """Raised inside json.loads for a value the constitution cannot hold: message, hint, its text."""

    def __init__(self, message: str, hint: str, token: str) -> None:
        super().__init__(message)
        self.message, self.hint, self.token = message, hint, token


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Refused(f"the number `{_short(text)}` is too large", "write a number below 1e308", text)
    return value


def _bounded_int(text: str) -> int:
    """An integer within ±MAX_INTEGER; the length is checked first, so a 100,000-digit one costs nothing."""
    digits = text.lstrip("-")
    if len(digits) > len(str(MAX_INTEGER)) or abs(int(text)) > MAX_INTEGER:
        raise _Refused(f"the number `{_short(text)}` ({len(digits)} digits) is too large",
                       f"write a whole number within ±{MAX_INTEGER}, or the value as text", text)
    return int(text)


def _short(text: str) -> str:
    return text if len(text) <= 30 else f"{text[:12]}...{text[-12:]}"


_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN|-?[0-9][0-9.eE+-]*)', re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"  # a pair
                                r"|\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _offset_of_token(text: str, token: str) -> int:
    """Where a number or constant token first stands outside a string; 0 when it cannot be found."""
    for match in _TOKENS.finditer(text):
        if match.group(1) == token:
            return match.start()
    return 0


def _offset_of_lone_surrogate(text: str) -> int:
    """Where the first `\\uD800`-style escape stands that is not half of a pair."""
    for match in _ESCAPED_SURROGATE.finditer(text):
        preceding = len(text[:match.start()]) - len(text[:match.start()].rstrip("\\"))
        if len(match.group()) == 6 and preceding % 2 == 0:
            return match.start()
    return 0


def _odd(value: Any) -> tuple[str, str] | None:
    """(message, hint) for nesting past the limit or a string with a lone surrogate; without recursion."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return ("the text holds a lone surrogate (a `\\ud800`-style escape that is half a character)",
                        "write the character itself, or both halves of its pair")
        elif isinstance(node, dict | list):
            if depth > MAX_JSON_DEPTH:
                return f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep", "flatten the structure"
            children = [*node, *node.values()] if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return None


def parse(text: str) -> tuple[Any, SyntaxProblem | None, list[DuplicateKey]]:
    """The value, or the syntax problem; plus every duplicated key with its place.

    Every guard (constants, number sizes, nesting, lone surrogates) applies in one pass, whether or
    not the text also repeats a key.
    """
    repeated = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        result = dict(items)  # the last of two equal keys wins, as in JSON readers; it is reported below
        repeated = repeated or len(result) != len(items)
        return result

    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_constant=_reject_constant,
                           parse_float=_finite_float, parse_int=_bounded_int)
    except _Refused as refused:
        line, column = Positions.line_column_in(text, _offset_of_token(text, refused.token))
        return None, SyntaxProblem(refused.message, line, column, refused.hint), []
    except json.JSONDecodeError as error:
        return None, _syntax_problem(text, error), []
    except RecursionError:
        return None, SyntaxProblem("the JSON is nested too deeply", 1, 1, "flatten the structure"), []
    # the walk is needed only where the text could hold what it looks for: many brackets, or a \uD8xx escape
    deep = text.count("{") + text.count("[") > MAX_JSON_DEPTH
    odd = _odd(value) if deep or _ESCAPED_SURROGATE.search(text) else None
    if odd is not None:
        offset = _offset_of_lone_surrogate(text) if "surrogate" in odd[0] else 0
        return None, SyntaxProblem(odd[0], *Positions.line_column_in(text, offset), odd[1]), []
    return value, None, Positions(text).duplicates if repeated else []


def _syntax_problem(text: str, error: json.JSONDecodeError) -> SyntaxProblem:
    message = error.msg[0].lower() + error.msg[1:]
    hint = None
    before = text[: error.pos].rstrip()
    if error.msg.startswith(("Expecting property name", "Expecting value")) and before.endswith(","):
        hint = "remove the trailing comma before this point"
    elif error.msg.startswith("Expecting ',' delimiter"):
        hint = "a comma is missing between two items, or a string is not closed"
    elif error.msg.startswith("Unterminated string") or error.msg.startswith("Invalid control character"):
        hint = "close the string with a double quote on the same line"
    elif error.msg.startswith("Expecting property name enclosed in double quotes"):
        hint = "JSON keys need double quotes"
    elif error.msg.startswith("Extra data"):
        hint = "the file holds more than one JSON value; wrap them in a list or remove the extra"
    return SyntaxProblem(message, error.lineno, error.colno, hint)


class Positions:
    """Line and column of every value and key in a JSON text, by JSON pointer."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.values: dict[str, int] = {}
        self.keys: dict[str, int] = {}
        self.duplicates: list[DuplicateKey] = []
        # positions are best effort; the parser has already reported any syntax problem
        with contextlib.suppress(IndexError, ValueError, RecursionError):
            self._value(_skip(text, 0), "")

    def line_column(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    @staticmethod
    def line_column_in(text: str, offset: int) -> tuple[int, int]:
        """Line and column of an offset, without mapping the values."""
        return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1

    def of(self, pointer: str, key: bool = False) -> tuple[int, int]:
        """Where the value (or, with key=True, the key) at pointer starts; the nearest parent if absent."""
        table = self.keys if key and pointer in self.keys else self.values
        while pointer and pointer not in table:
            pointer = pointer.rsplit("/", 1)[0]
            table = self.values
        return self.line_column(table.get(pointer, 0))

    def _value(self, at: int, pointer: str) -> int:
        self.values[pointer] = at
        char = self._text[at]
        if char == "{":
            return self._object(at, pointer)
        if char == "[":
            return self._array(at, pointer)
        match = (_STRING if char == '"' else _SCALAR).match(self._text, at)
        if not match:
            raise ValueError(at)
        return match.end()

    def _object(self, at: int, pointer: str) -> int:
        at = _skip(self._text, at + 1)
        seen: set[str] = set()
        while self._text[at] != "}":
            match = _STRING.match(self._text, at)
            if not match:
                raise ValueError(at)
            key = json.loads(match.group())
            child = pointer + "/" + key.replace("~", "~0").replace("/", "~1")
            if key in seen:
                self.duplicates.append(DuplicateKey(key, child, *self.line_column(at)))
            seen.add(key)
            self.keys[child] = at
            at = _skip(self._text, match.end())
            at = _skip(self._text, at + 1)  # the colon
            at = _skip(self._text, self._value(at, child))
            if self._text[at] == ",":
                at = _skip(self._text, at + 1)
        return at + 1

    def _array(self, at: int, pointer: str) -> int:
        at = _skip(self._text, at + 1)
        index = 0
        while self._text[at] != "]":
            at = _skip(self._text, self._value(at, f"{pointer}/{index}"))
            index += 1
            if self._text[at] == ",":
                at = _skip(self._text, at + 1)
        return at + 1


def _skip(text: str, at: int) -> int:
    return _WHITESPACE.match(text, at).end()  # type: ignore[union-attr]  # the pattern matches empty

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

from aios_policy.limits import MAX_JSON_DEPTH

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


class _Duplicates(Exception):
    """Raised inside json.loads when an object holds a key twice."""


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Duplicates
    return result


def _reject_constant(name: str) -> None:
    raise ValueError(f"`{name}` is not valid JSON")


class _Overflow(Exception):
    """Raised inside json.loads for a number too large for a float."""


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Overflow(text)
    return value




def _depth(value: Any) -> int:
    """Nesting depth, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def parse(text: str) -> tuple[Any, SyntaxProblem | None, list[DuplicateKey]]:
    """The value, or the syntax problem; plus every duplicated key with its place."""
    try:
        value = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant,
                           parse_float=_finite_float)
        if _depth(value) > MAX_JSON_DEPTH:
            return None, SyntaxProblem(f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep", 1, 1,
                                       "flatten the structure"), []
        return value, None, []
    except _Duplicates:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
        return value, None, Positions(text).duplicates
    except _Overflow as overflow:
        positions = Positions(text)
        offset = text.find(str(overflow))
        line, column = positions.line_column(max(offset, 0))
        return None, SyntaxProblem(f"the number `{overflow}` is too large", line, column,
                                   "write a number below 1e308"), []
    except json.JSONDecodeError as error:
        return None, _syntax_problem(text, error), []
    except ValueError as error:  # NaN / Infinity, which JSON does not have
        return None, SyntaxProblem(str(error), 1, 1, "write a number or null"), []
    except RecursionError:
        return None, SyntaxProblem("the JSON is nested too deeply", 1, 1, "flatten the structure"), []


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

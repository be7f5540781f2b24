"""Whether a request can be decided: it follows schemas/request.schema.json and claims no identity
org.json denies. Every entry point (Python, CLI, HTTP, MCP) runs these same checks.
"""

from __future__ import annotations

import math
from typing import Any

from aios_policy.constitution.model import CompiledConstitution
from aios_policy.constitution.schema import check_instance, fast_validator
from aios_policy.limits import MAX_INTEGER, MAX_JSON_DEPTH
from aios_policy.words.decision import one_line

from .people import actor_problem


def request_problems(request: Any, constitution: CompiledConstitution | None = None) -> list[str]:
    """Why a request does not follow request.schema.json, or claims an identity org.json denies."""
    if not isinstance(request, dict):
        return [f"the request must be a JSON object, not {type(request).__name__}"]
    if not _plain(request, 0):
        odd = _odd_value(request, 0)
        if odd:
            return [odd]
    if not fast_validator("request").is_valid(request):
        return [f"{pointer or '/'}: {message}" + (f" ({hint})" if hint else "")
                for pointer, message, hint in check_instance("request", request)]
    if constitution is None:
        return []
    actor = request["actor"]
    problem = actor_problem(constitution, actor["id"], actor["kind"], actor.get("role"))
    return [problem] if problem else []


# Integers beyond a signed 64-bit one are refused: SQLite, Go, Java and most JSON readers cannot hold
# them, and Python cannot even write one out past 4,300 digits. (A bound on hostile input: it belongs in
# aios_policy/limits.py beside MAX_JSON_DEPTH.)
_SCALARS = (str, bool, int, float, type(None))


def _plain(value: dict[str, Any] | list[Any], depth: int) -> bool:
    """Whether value holds only what `_odd_value` passes at once (text keys and values in ASCII, finite
    numbers within bounds, flags, nulls, shallow nesting): the common case, checked in one pass without
    working out where anything is. False sends the value to `_odd_value`, which finds the place or passes."""
    if depth >= MAX_JSON_DEPTH:
        return False
    children: Any
    if type(value) is dict:
        for key in value:
            if type(key) is not str or not key.isascii():
                return False
        children = value.values()
    else:
        children = value
    for child in children:
        kind = type(child)
        if kind is str:
            if not child.isascii():
                return False
        elif kind is int:
            if not -MAX_INTEGER - 1 <= child <= MAX_INTEGER:
                return False
        elif kind is float:
            if not math.isfinite(child):
                return False
        elif kind is dict or kind is list:
            if not _plain(child, depth + 1):
                return False
        elif kind is not bool and child is not None:
            return False
    return True


def _odd_value(value: Any, depth: int, pointer: str = "") -> str | None:
    """What JSON Schema cannot see, at the first place it occurs: a value that is not plain JSON (dict
    with text keys, list, text, bool, None, a finite number within bounds), deep nesting, broken text."""
    kind = type(value)
    if kind is str and value.isascii() and depth <= MAX_JSON_DEPTH:
        return None  # the common case, and nothing to find in it: no pointer worked out
    where = _Where(pointer)
    if depth > MAX_JSON_DEPTH:
        return f"{where}: the request is nested more than {MAX_JSON_DEPTH} levels deep"
    if kind is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{where}: the text is not valid Unicode (it holds a lone surrogate)"
        return None
    if kind is float and not math.isfinite(value):
        return f"{where}: `{value}` is not a finite number; send a finite number or null"
    if kind is int and not -MAX_INTEGER - 1 <= value <= MAX_INTEGER:
        return (f"{where}: an integer of {_digits(value)} digits is out of bounds; integers must lie within "
                f"±{MAX_INTEGER} (send larger values as text)")
    if kind in _SCALARS:
        return None
    if kind is dict:
        for key, child in value.items():
            if type(key) is not str:
                return (f"{where}: the key `{one_line(repr(key))}` (of type `{one_line(type(key).__name__)}`) is "
                        "not text; JSON objects have text keys")
            step = f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"
            problem = _odd_value(key, depth + 1, step) or _odd_value(child, depth + 1, step)
            if problem:
                return problem
        return None
    if kind is list:
        for index, child in enumerate(value):
            if problem := _odd_value(child, depth + 1, f"{pointer}/{index}"):
                return problem
        return None
    return (f"{where}: a value of type `{one_line(kind.__name__)}` is not JSON; send a plain dict, list, "
            "str, int, float, bool or None")


class _Where:
    """Where a problem is, as a JSON pointer on one line, worked out only when a message shows it."""

    def __init__(self, pointer: str) -> None:
        self.pointer = pointer

    def __str__(self) -> str:
        return one_line(self.pointer, 200) if self.pointer else "/"  # a key may hold anything


def _digits(value: int) -> str:
    """How many decimal digits an integer has; past 4,000 digits (Python writes no integer past 4,300)
    an estimate from its bits, good to one digit."""
    if value.bit_length() < 13_000:
        return f"{len(str(abs(value))):,}"
    return f"about {int(value.bit_length() * 0.30103) + 1:,}"

"""Request values as the rules see them: what counts as a number, and reading or setting a dotted field.

Requests are plain JSON-like dicts; a field is named by a dotted path (`attributes.customer_tier`).
These helpers are the one definition of each idea, used by conditions, the input space, the engine
and the commands.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from typing import Any, TypeGuard

MISSING: Any = object()  # a field that is absent, where None could be a value


def is_number(value: Any) -> TypeGuard[int | float]:
    """A JSON number: an int or a float, never a bool (which Python counts as an int)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_finite_number(value: Any) -> TypeGuard[int | float]:
    """A JSON number that is neither infinite nor NaN."""
    return is_number(value) and math.isfinite(value)


def lookup(request: Any, path: str) -> Any:
    """The value at a dotted path, or None when any part of it is absent or not an object."""
    value: Any = request
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def getter(path: str) -> Callable[[Any], Any]:
    """`lookup` for one dotted path as a closure, the path split once: what hot paths read a field with."""
    parts = path.split(".")
    if len(parts) == 1:
        (key,) = parts
        return lambda request: request.get(key) if isinstance(request, dict) else None
    if len(parts) == 2:
        outer, inner = parts

        def two(request: Any) -> Any:
            value = request.get(outer) if isinstance(request, dict) else None
            return value.get(inner) if isinstance(value, dict) else None
        return two

    def deep(request: Any) -> Any:
        value: Any = request
        for part in parts:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value
    return deep


def with_field(request: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of request with the dotted path set to value (or removed when value is MISSING);
    objects on the way are copied or created, never changed in place."""
    head, _, rest = path.partition(".")
    result = dict(request)
    if not rest:
        if value is MISSING:
            result.pop(head, None)
        else:
            result[head] = value
        return result
    inner = result.get(head)
    result[head] = with_field(inner if isinstance(inner, dict) else {}, rest, value)
    return result


def group_key(text: str) -> str:
    """The form in which a history condition compares the values it groups by: "Slack", "slack " and
    "SLACK" are one vendor, so spelling a name differently cannot split a cumulative limit."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())

"""Whether a request can be decided: it follows schemas/request.schema.json and claims no identity
org.json denies. Every entry point (Python, CLI, HTTP, MCP) runs these same checks.
"""

from __future__ import annotations

import math
from typing import Any

from aios_policy.constitution.model import CompiledConstitution
from aios_policy.constitution.schema import check_instance, fast_validator
from aios_policy.limits import MAX_JSON_DEPTH

from .people import actor_problem


def request_problems(request: Any, constitution: CompiledConstitution | None = None) -> list[str]:
    """Why a request does not follow request.schema.json, or claims an identity org.json denies."""
    if not isinstance(request, dict):
        return [f"the request must be a JSON object, not {type(request).__name__}"]
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


def _odd_value(value: Any, depth: int) -> str | None:
    """Values JSON Schema does not catch: deep nesting, numbers that are not finite, broken text."""
    if depth > MAX_JSON_DEPTH:
        return f"the request is nested more than {MAX_JSON_DEPTH} levels deep"
    if isinstance(value, float) and not math.isfinite(value):
        return f"`{value}` is not a finite number"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "the request holds text that is not valid Unicode (a lone surrogate)"
        return None
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        problem = _odd_value(key, depth + 1) if isinstance(key, str) else None
        problem = problem or _odd_value(child, depth + 1)
        if problem:
            return problem
    return None

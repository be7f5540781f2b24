"""The Python API: load a constitution once, then decide requests against it.

    from aios_policy import Constitution
    constitution = Constitution.load("constitution")
    decision = constitution.decide({"action": "refund.issue", "actor": {"id": "billing-agent", "kind": "agent"},
                                    "amount": 800, "confidence": 0.95})
    decision.decision, decision.escalation.role

This is the edge: it checks the request against schemas/request.schema.json, stamps the decision's
id and time, and converts to pydantic models. The engine in between works on plain dicts.
"""

from __future__ import annotations

import math
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from aios_policy.constitution.jsonpos import MAX_DEPTH
from aios_policy.constitution.model import CompiledConstitution
from aios_policy.constitution.pipeline import CheckResult, check
from aios_policy.constitution.schema import check_instance, fast_validator
from aios_policy.constitution.source import commit_at
from aios_policy.errors import InvalidConstitution

from .decide import Engine
from .shapes import Decision, Request


def new_decision_id() -> str:
    return "dec_" + uuid.uuid4().hex[:24]


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
    return _identity_problems(request["actor"], constitution) if constitution else []


def _odd_value(value: Any, depth: int) -> str | None:
    """Values JSON Schema does not catch: deep nesting, numbers that are not finite, broken text."""
    if depth > MAX_DEPTH:
        return f"the request is nested more than {MAX_DEPTH} levels deep"
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


def _identity_problems(actor: dict[str, Any], constitution: CompiledConstitution) -> list[str]:
    """A person in org.json acts as a human in a role they hold; nobody else may claim a role."""
    person = constitution.people.get(actor["id"])
    role = actor.get("role")
    if person is not None:
        if actor["kind"] != "human":
            return [f"`{actor['id']}` is a person in org.json, so actor.kind must be `human`"]
        if role is not None and role not in person.roles:
            return [f"`{actor['id']}` does not hold role `{role}` (org.json gives {', '.join(person.roles)})"]
    elif role is not None:
        return [f"actor `{actor['id']}` is not a person in org.json, so it cannot act as `{role}`"]
    return []


class Constitution:
    """A validated, compiled constitution, prepared for deciding."""

    def __init__(self, result: CheckResult) -> None:
        if result.constitution is None:
            raise InvalidConstitution(result.diagnostics)
        self.result = result
        self.compiled: CompiledConstitution = result.constitution
        self.engine = Engine(self.compiled)

    @classmethod
    def load(cls, path: str | os.PathLike[str] = "constitution", ref: str | None = None,
             at: datetime | None = None) -> Constitution:
        """From a folder, a git ref, or (with at) the default branch as it stood at that moment."""
        if at is not None and ref is None:
            ref = commit_at(path, at)
        return cls(check(path, ref))

    @property
    def commit(self) -> str | None:
        return self.compiled.provenance.commit

    def decide_dict(self, request: Any, now: datetime | None = None, explain: bool = False,
                    counterfactuals: bool = True) -> dict[str, Any]:
        """The decision as a plain dict (the fast path the CLI and the server use)."""
        now = now or datetime.now(UTC)
        problems = request_problems(request, self.compiled)
        safe = request if isinstance(request, dict) else {}
        decision = self.engine.decide(safe, now, explain, problems, counterfactuals)
        decision["id"] = new_decision_id()
        return decision

    def decide(self, request: Request | dict[str, Any], now: datetime | None = None,
               explain: bool = False) -> Decision:
        """The decision for a request at now (default: the current time) as a pydantic model."""
        raw = request.to_dict() if isinstance(request, Request) else request
        return Decision.model_validate(self.decide_dict(raw, now, explain))

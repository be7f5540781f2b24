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

import os
import uuid
from datetime import UTC, datetime
from typing import Any

from .check import CheckResult, check
from .engine import Engine
from .errors import InvalidConstitution
from .jsonpos import MAX_DEPTH
from .messages import Decision, Request
from .model import CompiledConstitution
from .schema import check_instance, fast_validator
from .source import commit_at


def new_decision_id() -> str:
    return "dec_" + uuid.uuid4().hex[:24]


def request_problems(request: Any) -> list[str]:
    """Why a request does not follow request.schema.json; empty when it does."""
    if not isinstance(request, dict):
        return [f"the request must be a JSON object, not {type(request).__name__}"]
    if _too_deep(request):
        return [f"the request is nested more than {MAX_DEPTH} levels deep"]
    if fast_validator("request").is_valid(request):
        return []
    return [f"{pointer or '/'}: {message}" + (f" ({hint})" if hint else "")
            for pointer, message, hint in check_instance("request", request)]


def _too_deep(value: Any, depth: int = 0) -> bool:
    if depth > MAX_DEPTH:
        return True
    if isinstance(value, dict):
        return any(_too_deep(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return any(_too_deep(v, depth + 1) for v in value)
    return False


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

    def decide_dict(self, request: Any, now: datetime | None = None, explain: bool = False) -> dict[str, Any]:
        """The decision as a plain dict (the fast path the CLI and the server use)."""
        now = now or datetime.now(UTC)
        problems = request_problems(request)
        safe = request if isinstance(request, dict) else {}
        decision = self.engine.decide(safe, now, explain, problems)
        decision["id"] = new_decision_id()
        return decision

    def decide(self, request: Request | dict[str, Any], now: datetime | None = None,
               explain: bool = False) -> Decision:
        """The decision for a request at now (default: the current time) as a pydantic model."""
        raw = request.to_dict() if isinstance(request, Request) else request
        return Decision.model_validate(self.decide_dict(raw, now, explain))

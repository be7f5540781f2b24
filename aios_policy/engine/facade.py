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
from datetime import UTC, datetime
from typing import Any

from aios_policy.constitution.model import CompiledConstitution
from aios_policy.constitution.pipeline import CheckResult, check, paused_collection
from aios_policy.errors import InvalidConstitution

from .decide import Engine
from .history import HistoryView
from .request import request_problems
from .shapes import Decision, Request


def new_decision_id() -> str:
    """96 random bits from the operating system, as 24 hex digits (what uuid4 gave, five times faster)."""
    return "dec_" + os.urandom(12).hex()


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
        with paused_collection():  # the engine is built of many small objects too
            return cls(check(path, ref, at, warnings=False))

    @property
    def commit(self) -> str | None:
        return self.compiled.provenance.commit

    def decide_dict(self, request: Any, now: datetime | None = None, explain: bool = False,
                    counterfactuals: bool = True, history: HistoryView | None = None) -> dict[str, Any]:
        """The decision as a plain dict (the fast path the CLI and the server use). history: the earlier
        decisions that history conditions read (the log's is `DecisionLog.history()`); without it such
        rules fail closed."""
        now = now or datetime.now(UTC)
        problems = request_problems(request, self.compiled)
        safe = request if isinstance(request, dict) else {}
        decision = self.engine.decide(safe, now, explain, problems, counterfactuals, history)
        decision["id"] = new_decision_id()
        return decision

    def decide_unreadable(self, problem: str, now: datetime | None = None) -> dict[str, Any]:
        """The decision for a request that could not even be read (a line of a batch that is not JSON):
        escalated as malformed, with problem as the reason, as every entry point answers it."""
        decision = self.engine.decide({}, now or datetime.now(UTC), problems=[problem], counterfactuals=False)
        decision["id"] = new_decision_id()
        return decision

    def decide(self, request: Request | dict[str, Any], now: datetime | None = None,
               explain: bool = False, history: HistoryView | None = None) -> Decision:
        """The decision for a request at now (default: the current time) as a pydantic model."""
        raw = request.to_dict() if isinstance(request, Request) else request
        return Decision.model_validate(self.decide_dict(raw, now, explain, history=history))

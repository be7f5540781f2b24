"""The request an agent sends and the decision it gets, as pydantic models for the Python API.

They mirror schemas/request.schema.json and schemas/decision.schema.json (a test keeps them in
step). The engine itself works on plain dicts; conversion happens only here, at the edge.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Outcome = Literal["automate", "escalate", "deny", "needs_info"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Actor(_Strict):
    id: str = Field(min_length=1, max_length=200, description="The agent's name or the person's id in org.json.")
    kind: Literal["agent", "human"] = Field(description="agent for an AI agent, human for a person.")
    role: str | None = Field(default=None, max_length=64, description="The role the actor acts in, if any.")


class Request(_Strict):
    """What an agent or person asks the engine: may this action be done?"""

    id: str | None = Field(default=None, max_length=200, description="The caller's own id, echoed back.")
    action: str = Field(min_length=1, max_length=80, description="Dotted action name, e.g. refund.issue.")
    actor: Actor
    amount: float | None = Field(default=None, ge=0, le=1e15, allow_inf_nan=False, description="Money involved.")
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$", description="ISO 4217 code of amount.")
    attributes: dict[str, Any] | None = Field(default=None, description="Facts about the case that rules look at.")
    confidence: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False,
                                     description="How sure the agent is, 0 to 1.")
    at: str | None = Field(default=None, description="When the action happens (RFC 3339 or YYYY-MM-DD).")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class Approver(_Strict):
    id: str
    name: str
    email: str | None = None
    handles: dict[str, str] = Field(default_factory=dict)
    covering_for: str | None = None


class Stage(_Strict):
    name: str | None = None
    role: str
    approvals: int
    approvers: list[Approver]


class Timeout(_Strict):
    then: Literal["escalate", "deny", "approve"]
    role: str | None = None


class Escalation(_Strict):
    role: str
    stages: list[Stage]
    require: dict[str, Any]
    sla: str | None
    due: str | None
    on_timeout: Timeout


class Reason(_Strict):
    policy: str | None
    rule: str
    outcome: Outcome
    text: str


class MissingOutcome(_Strict):
    when: str
    decision: str


class Missing(_Strict):
    field: str
    outcomes: list[MissingOutcome] = Field(default_factory=list)


class Obligation(_Strict):
    kind: Literal["notify", "record", "attach"]
    role: str | None = None
    text: str
    rule: str


class ConstitutionVersion(_Strict):
    name: str
    commit: str | None
    ref: str | None = None
    dirty: bool


class TraceEntry(_Strict):
    policy: str
    rule: str
    matched: bool
    why: str


class Decision(_Strict):
    """The engine's answer; `id` and `decided_at` differ between runs, everything else is reproducible."""

    id: str
    decided_at: str
    request_id: str | None = None
    action: str
    decision: Outcome
    summary: str
    escalation: Escalation | None = None
    missing: list[Missing] = Field(default_factory=list)
    reasons: list[Reason]
    counterfactuals: list[str] = Field(default_factory=list)
    obligations: list[Obligation]
    errors: list[str]
    constitution: ConstitutionVersion
    trace: list[TraceEntry] | None = None

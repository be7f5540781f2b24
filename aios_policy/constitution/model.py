"""The compiled constitution: plain, frozen records in the constitution's own words.

Built once by `compile.build` from validated documents; read by the engine, the analysis and the
reports. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from .conditions import Condition
from .dates import Duration

OUTCOME_RANK = {"automate": 0, "escalate": 1, "deny": 2}


@dataclass(frozen=True)
class Origin:
    """Where something is written: file and JSON pointer."""

    file: str
    pointer: str


@dataclass(frozen=True)
class Role:
    id: str
    title: str
    authority: int
    reports_to: str | None
    description: str
    origin: Origin


@dataclass(frozen=True)
class Absence:
    first_day: date
    last_day: date
    delegate: str
    note: str


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    roles: tuple[str, ...]
    email: str | None
    handles: dict[str, str]
    out_of_office: tuple[Absence, ...]
    origin: Origin
    unit: str | None = None


@dataclass(frozen=True)
class Unit:
    """A department or cost centre: who heads it, who owns its budget, what it belongs to."""

    id: str
    title: str
    kind: str | None
    head: str
    budget_owner: str | None
    parent: str | None
    origin: Origin


@dataclass(frozen=True)
class Threshold:
    name: str
    value: Any
    unit: str | None
    description: str
    origin: Origin


@dataclass(frozen=True)
class RelativeApprover:
    """An approver found from the request: the requester's manager, or a unit's head or budget owner."""

    relation: str  # manager_of | head_of | budget_owner_of
    of: str  # requester, or a dotted request field naming a unit

    @property
    def key(self) -> str:
        """One text naming this approver, where a role id would stand (`budget_owner_of:attributes.cost_center`)."""
        return f"{self.relation}:{self.of}"


@dataclass(frozen=True)
class Timeout:
    then: str  # escalate | deny | approve
    role: str | None


@dataclass(frozen=True)
class Stage:
    """One stage as written: who approves (a role or a relative approver), of what kind, how many, by when.

    `approvals` is a count (a named threshold is read at compile time); `quorum` is `all` or `majority`
    when the count depends on how many people can take the stage. sla and on_timeout are None where the
    escalation's apply."""

    role: str | None
    approvals: int
    name: str | None
    approver: RelativeApprover | None = None
    kind: str = "approve"  # approve | sign | advise | notify
    phase: str | None = None
    quorum: str | None = None
    sla: Duration | None = None
    on_timeout: Timeout | None = None
    rules: tuple[str, ...] = ()  # in a combined escalation: the rules that asked for this stage

    @property
    def who(self) -> str:
        """The role id, or the relative approver's key: what makes two stages the same approver."""
        return self.role if self.role is not None else self.approver.key if self.approver else "?"

    @property
    def waited_for(self) -> bool:
        """approve and sign stages hold the escalation until they have their approvals; advise and notify do not."""
        return self.kind in ("approve", "sign")


@dataclass(frozen=True)
class Escalation:
    stages: tuple[Stage, ...]
    require: dict[str, Any]
    sla: Duration | None
    sla_threshold: str | None
    on_timeout: Timeout


@dataclass(frozen=True)
class Obligation:
    kind: str
    text: str
    role: str | None


@dataclass(frozen=True)
class Rule:
    id: str
    policy: str
    outcome: str
    reason: str
    condition: Condition
    escalation: Escalation | None
    obligations: tuple[Obligation, ...]
    effective_from: datetime | None
    effective_until: datetime | None
    origin: Origin

    def in_effect(self, moment: datetime) -> bool:
        return ((self.effective_from is None or moment >= self.effective_from)
                and (self.effective_until is None or moment < self.effective_until))


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    owner: str
    summary: str
    actions: tuple[str, ...]
    synonyms: tuple[str, ...]
    min_confidence: float | None
    min_confidence_threshold: str | None
    rules: tuple[Rule, ...]
    origin: Origin
    topic: str | None = None  # a short heading the handbook groups by, e.g. Refunds and chargebacks


@dataclass(frozen=True)
class Gate:
    action: str
    question: str | None


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    role: str | None
    agent: str | None
    instructions: str
    sla: Duration | None
    gate: Gate | None
    on: dict[str, str]
    next: str | None


@dataclass(frozen=True)
class Sop:
    id: str
    title: str
    owner: str
    summary: str
    trigger: str
    questions: tuple[str, ...]
    synonyms: tuple[str, ...]
    sla: Duration | None
    policies: tuple[str, ...]
    steps: tuple[Step, ...]
    origin: Origin
    topic: str | None = None  # a short heading the handbook groups by, e.g. Refunds and chargebacks


@dataclass(frozen=True)
class Scenario:
    id: str
    description: str
    request: dict[str, Any]
    expect: dict[str, Any]
    origin: Origin


@dataclass(frozen=True)
class BusinessHours:
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time


@dataclass(frozen=True)
class Manifest:
    name: str
    description: str
    currency: str
    timezone: ZoneInfo
    business_hours: BusinessHours
    holidays: frozenset[date]
    min_confidence: float
    default_escalation: Escalation
    approval_phases: tuple[str, ...] = ("functional", "financial", "legal", "signature")
    requester_may_sign: bool = False


@dataclass(frozen=True)
class Provenance:
    """Which version of the files this is."""

    commit: str | None
    ref: str | None
    dirty: bool


@dataclass
class CompiledConstitution:
    manifest: Manifest
    roles: dict[str, Role]
    people: dict[str, Person]
    thresholds: dict[str, Threshold]
    policies: dict[str, Policy]
    sops: dict[str, Sop]
    scenarios: list[Scenario]
    provenance: Provenance
    units: dict[str, Unit] = field(default_factory=dict)
    exchange_rates: dict[str, tuple[tuple[date, float], ...]] = field(default_factory=dict)  # newest first
    rules_by_action: dict[str, tuple[Rule, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        by_action: dict[str, list[Rule]] = {}
        for policy in self.policies.values():
            for action in policy.actions:
                by_action.setdefault(action, []).extend(policy.rules)
        self.rules_by_action = {action: tuple(rules) for action, rules in sorted(by_action.items())}

    @property
    def rules(self) -> list[Rule]:
        return [rule for policy in self.policies.values() for rule in policy.rules]

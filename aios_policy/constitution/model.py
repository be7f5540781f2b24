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


@dataclass(frozen=True)
class Threshold:
    name: str
    value: Any
    unit: str | None
    description: str
    origin: Origin


@dataclass(frozen=True)
class Stage:
    role: str
    approvals: int
    name: str | None


@dataclass(frozen=True)
class Timeout:
    then: str  # escalate | deny | approve
    role: str | None


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

"""How a change alters real decisions: the scenarios, and the logged requests replayed."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aios_policy.constitution.dates import parse_moment
from aios_policy.engine.decide import Engine
from aios_policy.engine.facade import Constitution
from aios_policy.engine.outcome import risk
from aios_policy.words.outcome import outcome_text

from .regions import outcome
from .seen import Seen, Sides, seen

EXAMPLES_PER_TRANSITION = 3


@dataclass(frozen=True)
class ScenarioChange:
    """A scenario that the change decides differently."""

    id: str
    file: str
    base: str
    head: str
    risk: str
    expectation_updated: bool
    change: str = ""  # the move in words, with titles and people
    request: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # the scenario's request
    moment: datetime | None = field(default=None, compare=False, repr=False)  # and when it is decided

    @property
    def stale(self) -> bool:
        """The decision changed but the expectation did not: `aios test` now fails on it."""
        return not self.expectation_updated

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "file": self.file, "base": self.base, "head": self.head, "change": self.change,
                "risk": self.risk, "expectation_updated": self.expectation_updated}


def scenario_changes(base: Constitution, head: Constitution) -> list[ScenarioChange]:
    """The scenarios answered differently (the decision, the routed stages and their people, timeouts,
    SLAs, what approvers must be sent), each with its risk for the scenario's requester."""
    before = {s.id: s for s in base.compiled.scenarios}
    sides = Sides(base.compiled, head.compiled)
    found = []
    tz = head.compiled.manifest.timezone
    for scenario in head.compiled.scenarios:
        now = parse_moment(scenario.request.get("at", ""), tz) or datetime.now(UTC)
        old = sides.renamed(seen(base.engine, scenario.request, now))
        new = seen(head.engine, scenario.request, now)
        if old == new:
            continue
        previous = before.get(scenario.id)
        updated = previous is None or previous.expect != scenario.expect
        actor = a if isinstance(a := scenario.request.get("actor"), dict) else {}
        requester = actor.get("id") if actor.get("kind") == "human" and isinstance(actor.get("id"), str) else None
        found.append(ScenarioChange(scenario.id, scenario.origin.file, outcome_text(old.outcome),
                                    outcome_text(new.outcome), sides.risk(old, new, requester), updated,
                                    sides.text(old, new), scenario.request, now))
    return found


@dataclass
class Replay:
    """The logged requests decided again under both versions."""

    source: str
    total: int = 0
    changed: int = 0
    transitions: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    examples: dict[str, dict[str, list[str]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    risks: Counter[str] = field(default_factory=Counter)
    newly_automated: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "total": self.total, "changed": self.changed,
                "loosened": self.risks["loosened"], "tightened": self.risks["tightened"],
                "mixed": self.risks["mixed"], "rerouted": self.risks["re-routed"],
                "newly_automated_amount": round(self.newly_automated, 2),
                "by_action": {action: dict(sorted(counts.items()))
                              for action, counts in sorted(self.transitions.items())},
                "examples": {action: {t: ids for t, ids in sorted(by.items())}
                             for action, by in sorted(self.examples.items())}}


def replay(base: Engine, head: Engine, logged: Iterable[tuple[str, str, dict[str, Any]]], source: str) -> Replay:
    """Decide every logged request again, at the moment it was first decided, under both versions."""
    result = Replay(source)
    sides = Sides(base.constitution, head.constitution)
    tz = head.manifest.timezone
    for decision_id, decided_at, request in logged:
        result.total += 1
        now = parse_moment(decided_at, tz) or datetime.now(UTC)
        old, new = sides.renamed(Seen(outcome(base, request, now))).outcome, outcome(head, request, now)
        if old == new:
            continue
        result.changed += 1
        action = a if isinstance(a := request.get("action"), str) else "(no action)"
        transition = f"{outcome_text(old)} → {outcome_text(new)}"
        result.transitions[action][transition] += 1
        kept = result.examples[action][transition]
        if len(kept) < EXAMPLES_PER_TRANSITION:
            kept.append(decision_id)
        result.risks[risk(old, new, sides.base_authority, sides.head_authority)] += 1
        amount = request.get("amount")
        if new[0] == "automate" and isinstance(amount, int | float) and not isinstance(amount, bool):
            result.newly_automated += amount
    return result

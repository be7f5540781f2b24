"""Run the constitution's scenarios: every named request must get the decision it expects.

Also measures coverage in business terms: which rules, thresholds and escalation targets no
scenario exercised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aios_policy.constitution.dates import parse_moment
from aios_policy.constitution.model import Scenario
from aios_policy.engine.facade import Constitution


@dataclass(frozen=True)
class Mismatch:
    """One expectation the decision did not meet."""

    what: str
    expected: Any
    actual: Any


@dataclass
class Outcome:
    scenario: Scenario
    decision: dict[str, Any]
    mismatches: list[Mismatch]

    @property
    def passed(self) -> bool:
        return not self.mismatches


@dataclass
class Coverage:
    rules: list[str] = field(default_factory=list)
    untested_rules: list[str] = field(default_factory=list)
    untested_thresholds: list[str] = field(default_factory=list)
    untested_roles: list[str] = field(default_factory=list)

    @property
    def percent(self) -> float:
        return 100.0 if not self.rules else 100.0 * (len(self.rules) - len(self.untested_rules)) / len(self.rules)


def compare(expect: dict[str, Any], decision: dict[str, Any]) -> list[Mismatch]:
    """How a decision differs from a scenario's expectation (only the fields the scenario gives)."""
    found = []
    if decision["decision"] != expect["decision"]:
        found.append(Mismatch("decision", expect["decision"], decision["decision"]))
    escalation = decision.get("escalation") or {}
    if "role" in expect and escalation.get("role") != expect["role"]:
        found.append(Mismatch("role", expect["role"], escalation.get("role")))
    if "approvers" in expect:
        stages = escalation.get("stages") or [{}]
        actual = sorted(a["id"] for a in stages[0].get("approvers", []))
        if actual != sorted(expect["approvers"]):
            found.append(Mismatch("approvers", sorted(expect["approvers"]), actual))
    reasons = [r["rule"] for r in decision["reasons"]]
    absent = [rule for rule in expect.get("rules", []) if rule not in reasons]
    if absent:
        found.append(Mismatch("rules", expect["rules"], reasons))
    missing = [m["field"] for m in decision.get("missing", [])]
    if any(f not in missing for f in expect.get("missing", [])):
        found.append(Mismatch("missing", expect["missing"], missing))
    return found


def run(constitution: Constitution) -> list[Outcome]:
    """Every scenario decided at its own request time."""
    outcomes = []
    tz = constitution.compiled.manifest.timezone
    for scenario in constitution.compiled.scenarios:
        now = parse_moment(scenario.request.get("at", ""), tz) or datetime.now(UTC)
        decision = constitution.decide_dict(scenario.request, now)
        outcomes.append(Outcome(scenario, decision, compare(scenario.expect, decision)))
    return outcomes


def coverage(constitution: Constitution, outcomes: list[Outcome]) -> Coverage:
    compiled = constitution.compiled
    fired = {r["rule"] for o in outcomes for r in o.decision["reasons"]}
    reached = {s["role"] for o in outcomes if o.decision.get("escalation") for s in o.decision["escalation"]["stages"]}
    used_thresholds = {c.threshold for rule in compiled.rules for c in rule.condition.comparisons()
                       if c.threshold and rule.id in fired}
    used_thresholds |= {rule.escalation.sla_threshold for rule in compiled.rules
                        if rule.escalation and rule.escalation.sla_threshold and rule.id in fired}
    targets = sorted({s.role for rule in compiled.rules if rule.escalation for s in rule.escalation.stages})
    rules = [rule.id for rule in compiled.rules]
    condition_thresholds = sorted({c.threshold for rule in compiled.rules for c in rule.condition.comparisons()
                                   if c.threshold})
    return Coverage(rules, [r for r in rules if r not in fired],
                    [t for t in condition_thresholds if t not in used_thresholds],
                    [r for r in targets if r not in reached])

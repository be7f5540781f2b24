"""Run the constitution's scenarios: every named request must get the decision it expects.

Also measures coverage in business terms: which rules, thresholds and escalation targets no
scenario exercised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aios_policy.constitution.dates import parse_moment
from aios_policy.constitution.model import RelativeApprover, Scenario
from aios_policy.engine.facade import Constitution
from aios_policy.engine.history import NONE_EARLIER
from aios_policy.record.log import LogHistory


@dataclass(frozen=True)
class Mismatch:
    """One expectation the decision did not meet."""

    what: str
    expected: Any
    actual: Any
    note: str = ""  # a few words more, e.g. which stages are missing


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
        actual = _approver_ids(stages[0])
        if actual != sorted(set(expect["approvers"])):
            found.append(Mismatch("approvers", sorted(set(expect["approvers"])), actual))
    if "stages" in expect:
        found.extend(_compare_stages(expect["stages"], escalation))
    reasons = [r["rule"] for r in decision["reasons"]]
    absent = [rule for rule in expect.get("rules", []) if rule not in reasons]
    if absent:
        found.append(Mismatch("rules", expect["rules"], reasons))
    missing = [m["field"] for m in decision.get("missing", [])]
    if any(f not in missing for f in expect.get("missing", [])):
        found.append(Mismatch("missing", expect["missing"], missing))
    if "money" in expect:
        found.extend(_compare_money(expect["money"], decision.get("money")))
    if "history" in expect:
        found.extend(_compare_history(expect["history"], decision.get("history") or []))
    return found


# what a stage of a decision made before the engine named it says (the escalation's SLA, kind approve)
_STAGE_KEYS = ("role", "kind", "approvals", "sla", "approvers", "phase", "name")


def _stage_value(stage: dict[str, Any], key: str, escalation: dict[str, Any]) -> Any:
    if key == "approvers":
        return _approver_ids(stage)
    if key == "kind":
        return stage.get("kind", "approve")
    if key == "sla" and "sla" not in stage:
        return escalation.get("sla")
    return stage.get(key)


def _expected_value(expected: dict[str, Any], key: str) -> Any:
    return sorted(set(expected[key])) if key == "approvers" else expected[key]


def _approver_ids(stage: dict[str, Any]) -> list[str]:
    return sorted({a["id"] for a in stage.get("approvers", [])})


def _stage_differences(expected: dict[str, Any], stage: dict[str, Any],
                       escalation: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, expected, actual) for every key the expected stage gives that the stage does not match."""
    found = []
    for key in _STAGE_KEYS:
        if key in expected:
            want, got = _expected_value(expected, key), _stage_value(stage, key, escalation)
            if want != got:
                found.append((key, want, got))
    return found


def _compare_stages(expected: list[dict[str, Any]], escalation: dict[str, Any]) -> list[Mismatch]:
    """Stage by stage when the counts agree; otherwise the stages missing and the stages extra, found by
    lining up the longest run of stages that do match (so one missing stage does not shift every other)."""
    actual: list[dict[str, Any]] = list(escalation.get("stages") or [])
    if len(expected) == len(actual):
        return [Mismatch(f"{_place(n, want_stage, stage)}: {key}", want, got)
                for n, (want_stage, stage) in enumerate(zip(expected, actual, strict=True), 1)
                for key, want, got in _stage_differences(want_stage, stage, escalation)]
    paired = _line_up(expected, actual, escalation)
    missing = [_describe(s) for i, s in enumerate(expected) if i not in paired]
    extra = [_describe(s) for j, s in enumerate(actual) if j not in paired.values()]
    notes = [f"missing: {', '.join(missing)}"] * bool(missing) + [f"extra: {', '.join(extra)}"] * bool(extra)
    return [Mismatch("stages", len(expected), len(actual), "; ".join(notes))]


def _place(n: int, expected: dict[str, Any], stage: dict[str, Any]) -> str:
    """`stage 2 (financial review)`: its position, and its name (the decision's, else the scenario's)."""
    name = stage.get("name") or expected.get("name")
    return f"stage {n} ({name})" if name else f"stage {n}"


def _line_up(expected: list[dict[str, Any]], actual: list[dict[str, Any]],
             escalation: dict[str, Any]) -> dict[int, int]:
    """The longest in-order pairing of expected stages with stages that match them: expected index → actual."""
    fits = [[not _stage_differences(e, a, escalation) for a in actual] for e in expected]
    best = [[0] * (len(actual) + 1) for _ in range(len(expected) + 1)]
    for i in range(len(expected) - 1, -1, -1):
        for j in range(len(actual) - 1, -1, -1):
            best[i][j] = max(best[i + 1][j], best[i][j + 1], best[i + 1][j + 1] + 1 if fits[i][j] else 0)
    paired, i, j = {}, 0, 0
    while i < len(expected) and j < len(actual):
        if fits[i][j] and best[i][j] == best[i + 1][j + 1] + 1:
            paired[i], i, j = j, i + 1, j + 1
        elif best[i + 1][j] >= best[i][j + 1]:
            i += 1
        else:
            j += 1
    return paired


def _describe(stage: dict[str, Any]) -> str:
    """A stage in a few words: `signature by managing_partner`, `approve by dana, sam`."""
    what = stage.get("name") or stage.get("phase") or stage.get("kind") or "a stage"
    who = stage.get("role") or ", ".join(a if isinstance(a, str) else a.get("id", "?")
                                         for a in stage.get("approvers", []))
    return f"{what} by {who}" if who else what


def _compare_money(expected: dict[str, Any], money: Any) -> list[Mismatch]:
    money = money if isinstance(money, dict) else {}
    return [Mismatch(f"money: {key}", expected[key], money.get(key)) for key in ("converted", "rate")
            if key in expected and not _same_number(expected[key], money.get(key))]


def _compare_history(expected: list[dict[str, Any]], figures: list[dict[str, Any]]) -> list[Mismatch]:
    if len(expected) != len(figures):
        return [Mismatch("history", len(expected), len(figures),
                         f"the decision names {', '.join(_figure(f) for f in figures) or 'no figure'}")]
    return [Mismatch(f"history {n} ({figure.get('rule', '?')}): value", want["value"], figure.get("value"))
            for n, (want, figure) in enumerate(zip(expected, figures, strict=True), 1)
            if not _same_number(want["value"], figure.get("value"))]


def _figure(figure: dict[str, Any]) -> str:
    return f"{figure.get('value')} ({figure.get('rule', '?')})"


def _same_number(expected: Any, actual: Any) -> bool:
    """Equal as numbers, to a part in a billion (a converted 864.0000000001 is 864)."""
    if isinstance(actual, bool) or not isinstance(actual, int | float):
        return False
    return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9)


def run(constitution: Constitution) -> list[Outcome]:
    """Every scenario decided at its own request time, in the order written: a history condition sees the
    scenarios decided before it (the automated ones count), as the decision log would hold them."""
    outcomes = []
    tz = constitution.compiled.manifest.timezone
    history = LogHistory(NONE_EARLIER.total)
    for scenario in constitution.compiled.scenarios:
        now = parse_moment(scenario.request.get("at", ""), tz) or datetime.now(UTC)
        decision = constitution.decide_dict(scenario.request, now, history=history)
        history.add(decision, scenario.request)
        outcomes.append(Outcome(scenario, decision, compare(scenario.expect, decision)))
    return outcomes


def coverage(constitution: Constitution, outcomes: list[Outcome]) -> Coverage:
    compiled = constitution.compiled
    fired = {r["rule"] for o in outcomes for r in o.decision["reasons"]}
    reached = {_target(s.get("role"), s.get("approver")) for o in outcomes
               for s in (o.decision.get("escalation") or {}).get("stages") or []}
    used_thresholds = {c.threshold for rule in compiled.rules for c in rule.condition.comparisons()
                       if c.threshold and rule.id in fired}
    used_thresholds |= {rule.escalation.sla_threshold for rule in compiled.rules
                        if rule.escalation and rule.escalation.sla_threshold and rule.id in fired}
    targets = sorted({target for rule in compiled.rules if rule.escalation for s in rule.escalation.stages
                      if (target := _target(getattr(s, "role", None), getattr(s, "approver", None)))})
    rules = [rule.id for rule in compiled.rules]
    condition_thresholds = sorted({c.threshold for rule in compiled.rules for c in rule.condition.comparisons()
                                   if c.threshold})
    return Coverage(rules, [r for r in rules if r not in fired],
                    [t for t in condition_thresholds if t not in used_thresholds],
                    [r for r in targets if r not in reached])


# the keys a relative approver is written with in a policy; a decision names them as {"relation", "of"}
_RELATIONS = ("manager_of", "head_of", "budget_owner_of")


def _target(role: Any, approver: Any) -> str | None:
    """Who a stage goes to, as coverage counts it: the role, or for a relative approver its key
    (`manager_of:requester`), the same whether read from a compiled rule or from a decision's stage,
    so that a relative stage counts as reached by its spec, not by whichever role the person held."""
    if approver is None:
        return role if isinstance(role, str) else None
    if isinstance(approver, dict):
        if "relation" in approver:  # a decision's stage
            relation, of = approver["relation"], approver.get("of")
        else:  # as a policy writes it
            relation = next((key for key in _RELATIONS if key in approver), None)
            of = approver.get(relation) if relation else None
        return RelativeApprover(relation, of).key if isinstance(relation, str) and isinstance(of, str) else None
    return approver.key if isinstance(approver, RelativeApprover) else None

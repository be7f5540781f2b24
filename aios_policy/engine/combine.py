"""Every matched requirement applies: the escalations of all matched rules combined into one.

A real approval matrix has independent columns (who approves the need, who approves the money, who
signs), each written as its own rules; when several match, none may vanish. Their stages are put
together: two stages of the same approver and kind become one (the larger count, the shorter
deadline and the stricter timeout win), and the stages run in the order of the manifest's
`approval_phases` (stages without a listed phase after them), then in the order the rules and their
stages are written. What each stage must be sent is the union of what every contributing rule asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from aios_policy.constitution.dates import Duration
from aios_policy.constitution.model import Escalation, Stage

KIND_ORDER = {"approve": 0, "sign": 1, "advise": 2, "notify": 3}
QUORUM_ORDER = {None: 0, "majority": 1, "all": 2}
TIMEOUT_ORDER = {"approve": 0, "escalate": 1, "deny": 2}
# durations compared without a calendar: a business day counts as eight working hours
_MINUTES = {("minute", False): 1, ("hour", False): 60, ("day", False): 1440,
            ("minute", True): 1, ("hour", True): 60, ("day", True): 480}

Part = tuple[str | None, Escalation]  # (the rule that asks, or None for a safeguard; its escalation)


def minutes(duration: Duration | None) -> float:
    """How long a duration is, for choosing the shorter of two (no duration: for ever)."""
    return float("inf") if duration is None else duration.amount * _MINUTES[(duration.unit, duration.business)]


def combine(parts: Sequence[Part], phases: Sequence[str]) -> Escalation:
    """One escalation holding every stage the parts ask for, merged and ordered."""
    merged: dict[tuple[str, str], Stage] = {}
    written: dict[tuple[str, str], tuple[int, int]] = {}
    for position, (rule, escalation) in enumerate(parts):
        for index, stage in enumerate(escalation.stages):
            effective = replace(stage, sla=stage.sla or escalation.sla, on_timeout=stage.on_timeout or
                                escalation.on_timeout, rules=(rule,) if rule else ())
            key = (stage.who, stage.kind)
            if key in merged:
                merged[key] = _merged(merged[key], effective)
            else:
                merged[key], written[key] = effective, (position, index)

    def order(key: tuple[str, str]) -> tuple[int, int, tuple[int, int]]:
        phase = merged[key].phase
        return (phases.index(phase) if phase in phases else len(phases), KIND_ORDER[key[1]], written[key])

    stages = tuple(merged[key] for key in sorted(merged, key=order))
    first = next((s for s in stages if s.waited_for), stages[0])
    return Escalation(stages, _require([escalation.require for _, escalation in parts]), first.sla, None,
                      first.on_timeout or parts[0][1].on_timeout)


def _merged(kept: Stage, other: Stage) -> Stage:
    """The same approver and kind asked twice: the larger count, the shorter deadline, the stricter timeout."""
    quorum = max(kept.quorum, other.quorum, key=lambda q: QUORUM_ORDER.get(q, 0))
    sla = kept.sla if minutes(kept.sla) <= minutes(other.sla) else other.sla
    timeout = max((t for t in (kept.on_timeout, other.on_timeout) if t is not None),
                  key=lambda t: TIMEOUT_ORDER.get(t.then, 1), default=None)
    rules = tuple(dict.fromkeys((*kept.rules, *other.rules)))
    return replace(kept, approvals=max(kept.approvals, other.approvals), quorum=quorum, sla=sla,
                   on_timeout=timeout, rules=rules)


_SIMPLE = {"type", "required", "properties", "additionalProperties", "title", "description"}


def _require(schemas: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What the approvers must be sent: every field any contributing rule requires."""
    distinct = [s for i, s in enumerate(schemas) if s not in schemas[:i]]
    if len(distinct) == 1:
        return distinct[0]
    if not all(set(s) <= _SIMPLE and s.get("type", "object") == "object" for s in distinct):
        return {"allOf": distinct}
    required: list[str] = []
    properties: dict[str, Any] = {}
    for schema in distinct:
        required += [r for r in schema.get("required", []) if r not in required]
        for name, value in schema.get("properties", {}).items():
            properties.setdefault(name, value)
    combined: dict[str, Any] = {"type": "object"}
    if required:
        combined["required"] = required
    if properties:
        combined["properties"] = properties
    return combined

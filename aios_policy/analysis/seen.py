"""A decision as the requester sees it, reduced to what a policy change can move, and how it moved.

The behavioural diff compares, for one request at one moment, everything a decision commits the
company to: the decision; for an escalation each stage's kind, the role that actually takes it
(after separation of duties and delegation), the people who can approve it, how many approvals it
needs, what happens when nobody answers (and to whom it then goes), its SLA, and what the approvers
must be sent. The risk of a move is judged part by part (`engine/outcome.py` orders the outcome's
own parts); a move that loosens one part and tightens another is mixed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from aios_policy.constitution.dates import parse_duration
from aios_policy.constitution.model import CompiledConstitution
from aios_policy.engine.decide import Engine
from aios_policy.engine.history import NONE_EARLIER
from aios_policy.engine.outcome import TIMEOUT_RANK, Outcome, directions, verdict
from aios_policy.engine.request import request_problems
from aios_policy.words.outcome import INFINITIVE, TIMEOUT_NOTE

from .changes import role_renames

# a rough length of each unit in minutes (a business day as 8 working hours), only to tell a longer
# SLA from a shorter one
_MINUTES = {("minute", False): 1, ("hour", False): 60, ("day", False): 1440,
            ("minute", True): 1, ("hour", True): 60, ("day", True): 480}


class Seen(NamedTuple):
    """What one request is answered, in comparable parts."""

    outcome: Outcome  # the decision; each stage's routed role, approvals and kind; the timeout
    people: tuple[tuple[str, ...], ...] = ()  # each stage's approvers (person ids, sorted)
    timeouts: tuple[tuple[str, str], ...] = ()  # each stage's (then, the role it escalates to or "")
    slas: tuple[str, ...] = ()  # each stage's SLA ("" for none)
    require: str = ""  # what the approvers must be sent (a JSON Schema, in canonical JSON)

    @classmethod
    def of(cls, decision: dict[str, Any]) -> Seen:
        escalation = decision.get("escalation")
        if decision["decision"] != "escalate" or not escalation:
            return cls(Outcome(decision["decision"]))
        stages = escalation["stages"]
        kinds = tuple(s["kind"] for s in stages)
        outcome = Outcome("escalate", tuple(s["role"] for s in stages), tuple(s["approvals"] for s in stages),
                          escalation["on_timeout"]["then"], kinds if any(k != "approve" for k in kinds) else ())
        return cls(outcome, tuple(tuple(sorted(a["id"] for a in s["approvers"])) for s in stages),
                   tuple((s["on_timeout"]["then"], s["on_timeout"]["role"] or "") for s in stages),
                   tuple(s["sla"] or "" for s in stages),
                   json.dumps(escalation["require"], sort_keys=True, ensure_ascii=False))


def seen(engine: Engine, request: dict[str, Any], now: datetime) -> Seen:
    """What `aios decide` would answer the request at now, with nothing logged before it (a malformed
    request is escalated, as the API does)."""
    problems = request_problems(request, engine.constitution)
    return Seen.of(engine.decide(request, now, problems=problems, counterfactuals=False, history=NONE_EARLIER))


@dataclass(frozen=True)
class Sides:
    """The two versions a diff compares, with what judging and naming a move needs from each."""

    base: CompiledConstitution
    head: CompiledConstitution
    renames: Mapping[str, str] = field(init=False)  # base role id -> head role id, for roles only renamed
    base_authority: Mapping[str, int] = field(init=False)  # by the head's ids where a role was renamed
    head_authority: Mapping[str, int] = field(init=False)

    def __post_init__(self) -> None:
        renames = role_renames({r: (v.title, v.description) for r, v in self.base.roles.items()},
                               {r: (v.title, v.description) for r, v in self.head.roles.items()})
        object.__setattr__(self, "renames", renames)
        object.__setattr__(self, "base_authority",
                           {renames.get(r, r): role.authority for r, role in self.base.roles.items()})
        object.__setattr__(self, "head_authority", {r: role.authority for r, role in self.head.roles.items()})

    def renamed(self, answer: Seen) -> Seen:
        """A base answer with its roles called by their head ids, so a consistent rename changes nothing."""
        if not self.renames or answer.outcome.decision != "escalate":
            return answer
        rename = self.renames.get
        return answer._replace(outcome=answer.outcome._replace(roles=tuple(rename(r, r) for r in answer.outcome.roles)),
                               timeouts=tuple((then, rename(role, role)) for then, role in answer.timeouts))

    def risk(self, before: Seen, after: Seen, requester: str | None) -> str:
        """loosened, tightened, mixed or re-routed: every part of the move judged, for this requester."""
        return verdict(self.directions(before, after, requester))

    def directions(self, before: Seen, after: Seen, requester: str | None) -> set[str]:
        """Which ways the move goes for this requester (loosened, tightened, both or neither)."""
        found = directions(before.outcome, after.outcome, self.base_authority, self.head_authority)
        if before.outcome.decision == after.outcome.decision == "escalate":
            found |= self._escalation_directions(before, after, requester)
        return found

    def _escalation_directions(self, before: Seen, after: Seen, requester: str | None) -> set[str]:
        found: set[str] = set()

        def judge(old: float, new: float) -> None:  # a smaller number is the looser side
            if old != new:
                found.add("loosened" if new < old else "tightened")

        for _, old_index, index in _aligned(before, after):
            (old_then, old_role), (new_then, new_role) = before.timeouts[old_index], after.timeouts[index]
            judge(TIMEOUT_RANK.get(old_then, 1), TIMEOUT_RANK.get(new_then, 1))
            if old_then == new_then == "escalate" and old_role != new_role:
                judge(self.base_authority.get(old_role, 0), self.head_authority.get(new_role, 0))
            old_sla, new_sla = before.slas[old_index], after.slas[index]
            if old_sla and new_sla:  # a stage without an SLA is not chased: neither looser nor stricter
                judge(-_minutes(old_sla), -_minutes(new_sla))  # a longer SLA loosens
        old_required, new_required = _required(before.require), _required(after.require)
        if old_required != new_required:
            if not new_required >= old_required:
                found.add("loosened")  # something approvers were sent is no longer asked for
            if not old_required >= new_required:
                found.add("tightened")
        old_cover = self._covering(self.base, before, requester)
        new_cover = self._covering(self.head, after, requester)
        if new_cover - old_cover:
            found.add("loosened")  # someone who stands in for the requester now approves their request
        if old_cover - new_cover:
            found.add("tightened")
        return found

    @staticmethod
    def _covering(constitution: CompiledConstitution, answer: Seen, requester: str | None) -> set[str]:
        """The approvers of the answer who are ever the requester's delegate."""
        person = constitution.people.get(requester) if requester else None
        if person is None:
            return set()
        delegates = {a.delegate for a in person.out_of_office}
        return {p for stage in answer.people for p in stage if p in delegates}

    def text(self, before: Seen, after: Seen, people: bool = True) -> str:
        """The move in a reviewer's words, with titles and people: `escalate to the Operations Manager
        (Priya Raman) → automate`; when the stages are the same, what changed in them. Without people,
        the same with titles only (`escalate to the Operations Manager → automate`)."""
        old, new = self._words(self.base, before, people), self._words(self.head, after, people)
        parts = [f"{old} → {new}"] if old != new else []
        if before.outcome.decision == after.outcome.decision == "escalate":
            for role, old_index, index in _aligned(before, after):
                stage = f"the {self._title(self.head, role)}'s stage"
                old_people, new_people = before.people[old_index], after.people[index]
                if old_people != new_people and old == new:  # the stages' words name no people: say who moved
                    parts.append(f"{stage}: {self._names(self.base, old_people)} → {self._names(self.head, new_people)}"
                                 if people else f"other people take {stage}")
                if before.timeouts[old_index] != after.timeouts[index]:
                    parts.append(f"{stage} on timeout: {self._timeout(self.base, before.timeouts[old_index])} → "
                                 f"{self._timeout(self.head, after.timeouts[index])}")
                if before.slas[old_index] != after.slas[index]:
                    parts.append(f"{stage} SLA: {before.slas[old_index] or 'none'} → {after.slas[index] or 'none'}")
            if before.require != after.require:
                parts.append(f"approvers must be sent: {_sent(before.require)} → {_sent(after.require)}")
        return "; ".join(parts) or "the same answer in other words"

    @staticmethod
    def _names(constitution: CompiledConstitution, people: tuple[str, ...]) -> str:
        return ", ".join(constitution.people[p].name if p in constitution.people else p for p in people) or "nobody"

    def _words(self, constitution: CompiledConstitution, answer: Seen, named: bool = True) -> str:
        outcome = answer.outcome
        if outcome.decision != "escalate":
            return INFINITIVE[outcome.decision]
        stages = []
        for index, (role, count) in enumerate(zip(outcome.roles, outcome.approvals, strict=True)):
            people = answer.people[index] if named and index < len(answer.people) else ()
            names = self._names(constitution, people) if people else ""
            stages.append(f"the {self._title(constitution, role)}" + (f" ({names})" if names else "")
                          + (f" ({count} approvals)" if count > 1 else ""))
        return f"escalate to {' then '.join(stages)}{TIMEOUT_NOTE.get(outcome.timeout, '')}"

    def _title(self, constitution: CompiledConstitution, role: str) -> str:
        found = constitution.roles.get(role) or self.head.roles.get(role)
        return found.title if found else role

    def _timeout(self, constitution: CompiledConstitution, timeout: tuple[str, str]) -> str:
        then, role = timeout
        return f"escalate to the {self._title(constitution, role)}" if then == "escalate" and role else then

    def work(self, before: Seen, after: Seen) -> set[str]:
        """The roles that gain or lose approvals in this move (the reviewers of the change)."""
        old = {(r, p) for r, p in zip(before.outcome.roles, before.people or ((),) * len(before.outcome.roles),
                                       strict=True)}
        new = {(r, p) for r, p in zip(after.outcome.roles, after.people or ((),) * len(after.outcome.roles),
                                      strict=True)}
        return {role for role, _ in old ^ new}


def _aligned(before: Seen, after: Seen) -> list[tuple[str, int, int]]:
    """(role, its stage's index before, after) for each approver both escalations have: a stage's
    people, timeout and SLA are compared with the same approver's stage in the other version."""
    old_stages = {role: i for i, role in enumerate(before.outcome.roles) if i < len(before.timeouts)}
    return [(role, old_stages[role], index) for index, role in enumerate(after.outcome.roles)
            if role in old_stages and index < len(after.timeouts)]


def _minutes(sla: str) -> float:
    duration = parse_duration(sla)
    return 0 if duration is None else duration.amount * _MINUTES[(duration.unit, duration.business)]


def _required(require: str) -> frozenset[str]:
    schema = json.loads(require) if require else {}
    return frozenset(schema.get("required", ())) if isinstance(schema, dict) else frozenset()


def _sent(require: str) -> str:
    fields = sorted(_required(require))
    return ", ".join(f.replace("_", " ") for f in fields) or "nothing named"

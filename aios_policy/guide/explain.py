"""Explain the constitution to people: an action's complete decision table, and a procedure's steps.

The decision table is the engine's own answer over the whole input space of the action (the same
cells the behavioural diff uses), merged into readable regions, strictest first, each naming the
rules it comes from, the people who decide, how fast, and what to attach.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aios_policy.analysis.regions import Area, partition
from aios_policy.constitution.model import CompiledConstitution, Sop
from aios_policy.diagnostics import did_you_mean
from aios_policy.engine.facade import Constitution
from aios_policy.engine.history import NONE_EARLIER
from aios_policy.engine.outcome import DECISION_RANK
from aios_policy.errors import AiosError
from aios_policy.words.outcome import PAST, approver_text

UPCOMING_ABSENCE = timedelta(days=60)  # absences starting within this time are worth mentioning
_CONFIDENCE = re.compile(r"^confidence (.+)$")


class UnknownTopic(AiosError):
    """No policy governs the action, or no SOP has the id."""


def _percent(text: str) -> str:
    return re.sub(r"\b(0(?:\.\d+)?|1)\b", lambda m: f"{float(m.group(1)) * 100:g}%", text)


def humanize(condition: str) -> str:
    """A region condition in everyday words: `actor.kind is agent` → `requested by an agent`."""
    if condition == "actor.kind is `agent`":
        return "requested by an agent"
    if condition == "actor.kind is `human`":
        return "requested by a person"
    match = _CONFIDENCE.match(condition)
    if match:
        words = _percent(match.group(1)).replace("from ", "at least ").replace(" up to 100%", "")
        return f"the agent's confidence {words}"
    text = condition.replace("attributes.", "")
    return re.sub(r"\b([a-z]+(?:_[a-z]+)+)\b", lambda m: m.group(1).replace("_", " "), text)


def _people_text(constitution: CompiledConstitution, role: str, now: datetime) -> tuple[str, list[str]]:
    """`Priya Raman; James Whitfield while Priya is away 1 Dec to 4 Dec 2026`: who holds it, and cover."""
    today = now.astimezone(constitution.manifest.timezone).date()
    names, cover = [], []
    for person in constitution.people.values():
        if role not in person.roles:
            continue
        names.append(person.name)
        for absence in person.out_of_office:
            if absence.last_day >= today and absence.first_day <= today + UPCOMING_ABSENCE:
                delegate = constitution.people.get(absence.delegate)
                cover.append(f"{delegate.name if delegate else absence.delegate} while {person.name.split()[0]} "
                             f"is away {absence.first_day:%-d %b} to {absence.last_day:%-d %b %Y}")
    return "; ".join(names + cover) or "nobody holds the role", cover


@dataclass
class Row:
    """One region of an action's decision table."""

    area: Area
    decision: dict[str, Any]
    when: list[str]
    rules: list[str]
    stages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.area.key[0] == "escalate":
            return "escalated to " + " then ".join(f"the {s['title']} ({s['people']})" for s in self.stages)
        return PAST[self.area.key.decision]

    def sentence(self) -> str:
        where = " and ".join(self.when) if self.when else "every request"
        escalation = self.decision.get("escalation") or {}
        extra = ""
        if escalation.get("sla"):
            extra += f", answer within {escalation['sla']}"
        attach = (escalation.get("require") or {}).get("required") or []
        if attach:
            extra += f", attach {', '.join(a.replace('_', ' ') for a in attach)}"
        rules = f" [{', '.join(self.rules)}]" if self.rules else ""
        sampled = " (sampled)" if self.area.sampled else ""
        return f"{where}: {self.outcome}{extra}{rules}{sampled}."

    def to_json(self) -> dict[str, Any]:
        escalation = self.decision.get("escalation") or {}
        return {"decision": self.area.key[0], "roles": list(self.area.key[1]), "outcome": self.outcome,
                "when": self.when, "text": self.sentence(), "rules": self.rules, "people": self.stages,
                "sla": escalation.get("sla"), "attach": (escalation.get("require") or {}).get("required", []),
                "on_timeout": escalation.get("on_timeout"), "example": self.area.example,
                "sampled": self.area.sampled}


@dataclass
class ActionTable:
    action: str
    policies: list[dict[str, str]]
    rows: list[Row]
    now: datetime

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "policies": self.policies, "now": self.now.isoformat(),
                "regions": [row.to_json() for row in self.rows], "text": self.text(),
                "needs_info": "A request that lacks a fact these rules read is answered needs_info, naming it."}

    def text(self) -> str:
        owners = ", ".join(f"{p['title']} (owner: {p['owner']})" for p in self.policies) or "no policy"
        lines = [f"{self.action}: {owners}"]
        for row in self.rows:
            lines.append(f"  {row.area.key[0].upper():10} {row.sentence()}")
        lines.append("  A request that lacks a fact these rules read is answered needs_info, naming it.")
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [f"### `{self.action}`", "", *(f"- {p['title']} (owner: {p['owner']})" for p in self.policies), "",
                 "| decision | when | outcome | rules |", "| --- | --- | --- | --- |"]
        for row in self.rows:
            when = "; ".join(row.when).replace("|", "\\|") or "every request"
            lines.append(f"| {row.area.key[0]} | {when} | {row.outcome.replace('|', '/')} | "
                         f"{', '.join(f'`{r}`' for r in row.rules)} |")
        lines += ["", "A request that lacks a fact these rules read is answered needs_info, naming it.", ""]
        return "\n".join(lines)


def explain_action(constitution: Constitution, action: str, now: datetime) -> ActionTable:
    compiled = constitution.compiled
    if action not in compiled.rules_by_action:
        raise UnknownTopic(f"no policy governs action `{action}`",
                           did_you_mean(action, compiled.rules_by_action) or "run `aios explain --list`")
    rows = []
    for area in partition(constitution.engine, action, now):
        decision = constitution.decide_dict(area.example, now, counterfactuals=False, history=NONE_EARLIER)
        rules = [r["rule"] for r in decision["reasons"] if r["rule"] not in ("routing", "error")
                 and (r["outcome"] == area.key[0] or r["rule"] in ("default", "confidence"))]
        stages = []
        for stage in (decision.get("escalation") or {}).get("stages", []):
            relative = stage.get("approver")
            if relative:  # found from each request: say who, not whom this one example found
                title = approver_text(f"{relative['relation']}:{relative['of']}")
                stages.append({"role": stage["role"], "title": title,
                               "people": "found from the request", "approvers": [], "cover": [],
                               "approvals": stage["approvals"], "kind": stage.get("kind", "approve")})
                continue
            role = compiled.roles.get(stage["role"])
            people, cover = _people_text(compiled, stage["role"], now)
            stages.append({"role": stage["role"], "title": role.title if role else stage["role"],
                           "people": people, "approvers": [a["name"] for a in stage["approvers"]],
                           "cover": cover, "approvals": stage["approvals"], "kind": stage.get("kind", "approve")})
        rows.append(Row(area, decision, [humanize(c) for c in area.conditions], rules, stages))
    rows = _merge_actors(rows)
    rows.sort(key=lambda row: (-DECISION_RANK[row.area.key.decision],
                               -max((compiled.roles[r].authority for r in row.area.key[1] if r in compiled.roles),
                                    default=0), row.sentence()))
    policies = [{"id": p.id, "title": p.title, "owner": compiled.roles[p.owner].title if p.owner in compiled.roles
                 else p.owner} for p in compiled.policies.values() if action in p.actions]
    return ActionTable(action, policies, rows, now)


def _merge_actors(rows: list[Row]) -> list[Row]:
    """A person's row and a confident agent's row that are otherwise the same become one row."""
    def actorless(row: Row) -> tuple[Any, ...]:
        rest = tuple(w for w in row.when if not w.startswith(("requested by", "the agent's confidence")))
        return row.area.key, tuple(row.rules), rest

    merged: list[Row] = []
    for row in rows:
        twin = next((m for m in merged if actorless(m) == actorless(row) and m is not row), None)
        people = {"requested by a person"}
        if twin is not None and people & ({*twin.when} ^ {*row.when}) and len({*twin.when} ^ {*row.when}) == 3:
            agent = next(w for w in (*twin.when, *row.when) if w.startswith("the agent's confidence"))
            rest = [w for w in twin.when if not w.startswith(("requested by", "the agent's confidence"))]
            twin.when = [*rest, f"requested by a person, or by an agent with {agent.removeprefix('the agent')[3:]}"]
            continue
        merged.append(row)
    return merged


@dataclass
class SopWalk:
    sop: Sop
    steps: list[dict[str, Any]]
    owner: str
    tables: dict[str, ActionTable]

    def to_json(self) -> dict[str, Any]:
        sop = self.sop
        return {"id": sop.id, "title": sop.title, "summary": sop.summary, "trigger": sop.trigger,
                "owner": self.owner, "sla": sop.sla.text if sop.sla else None, "policies": list(sop.policies),
                "questions": list(sop.questions), "steps": self.steps,
                "gates": {action: table.to_json() for action, table in self.tables.items()}}

    def text(self) -> str:
        sop = self.sop
        lines = [f"{sop.title} ({sop.id}), owned by the {self.owner}", f"  When: {sop.trigger}", f"  {sop.summary}"]
        if sop.sla:
            lines.append(f"  The whole procedure: within {sop.sla.text}.")
        for step in self.steps:
            sla = f" (within {step['sla']})" if step["sla"] else ""
            lines.append(f"  {step['number']}. {step['title']}: {step['by']}{sla}")
            if step["instructions"]:
                lines.append(f"     {step['instructions']}")
            gate = step.get("gate")
            if gate:
                lines.append(f"     Gate: the engine decides `{gate['action']}`" +
                             (f" ({gate['question']})" if gate.get("question") else ""))
                for row in self.tables[gate["action"]].rows:
                    lines.append(f"       - {row.area.key[0]}: {row.sentence()}")
                for outcome, target in gate["then"].items():
                    lines.append(f"     If {outcome}: {target}")
            elif step["next"]:
                lines.append(f"     Then: {step['next']}")
        return "\n".join(lines)

    def markdown(self) -> str:
        return "\n".join(f"    {line}" if i else f"### {line}" for i, line in enumerate(self.text().splitlines()))


def explain_sop(constitution: Constitution, sop_id: str, now: datetime) -> SopWalk:
    compiled = constitution.compiled
    sop = compiled.sops.get(sop_id)
    if sop is None:
        raise UnknownTopic(f"no SOP `{sop_id}`", did_you_mean(sop_id, compiled.sops) or "run `aios explain --list`")
    ids = [step.id for step in sop.steps]

    def target(step_id: str | None, position: int) -> str:
        if step_id == "end" or (step_id is None and position + 1 >= len(sop.steps)):
            return "the procedure ends"
        index = ids.index(step_id) if step_id in ids else position + 1
        return f"step {index + 1}, {sop.steps[index].title}"

    steps, tables = [], {}
    for position, step in enumerate(sop.steps):
        if step.role:
            people, _ = _people_text(compiled, step.role, now)
            title = compiled.roles[step.role].title if step.role in compiled.roles else step.role
            by = f"the {title} ({people})"
        else:
            by = f"the {step.agent}"
        entry: dict[str, Any] = {"number": position + 1, "id": step.id, "title": step.title, "by": by,
                                 "role": step.role, "agent": step.agent, "instructions": step.instructions,
                                 "sla": step.sla.text if step.sla else None, "next": None, "gate": None}
        if step.gate:
            if step.gate.action in compiled.rules_by_action and step.gate.action not in tables:
                tables[step.gate.action] = explain_action(constitution, step.gate.action, now)
            entry["gate"] = {"action": step.gate.action, "question": step.gate.question,
                             "then": {outcome: target(goal, position) for outcome, goal in step.on.items()}}
        else:
            entry["next"] = target(step.next, position)
        steps.append(entry)
    owner = compiled.roles[sop.owner].title if sop.owner in compiled.roles else sop.owner
    return SopWalk(sop, steps, owner, tables)

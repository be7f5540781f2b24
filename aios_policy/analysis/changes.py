"""What changed in the files between two versions, in the constitution's own words.

"threshold `refunds.auto_limit` 250 → 500", "rule `refund-vip` added to policy `refunds`", "role
`ops_manager` now reports to `owner`". Entities are matched by id; deepdiff (its one home) says which
of their parts differ, and each part is then put in words. Every change names the roles that own
what changed, so the right people review it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from deepdiff import DeepDiff

from aios_policy.constitution.model import CompiledConstitution
from aios_policy.constitution.pipeline import CheckResult


@dataclass(frozen=True)
class Change:
    """One change in words: what kind of thing, which one, what happened, who owns it."""

    kind: str  # manifest | role | person | threshold | policy | rule | sop | step | scenario
    subject: str
    text: str
    owners: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "subject": self.subject, "text": self.text, "owners": list(self.owners)}


@dataclass
class _Version:
    """The raw documents of one version, indexed by id, with its compiled form."""

    result: CheckResult
    manifest: dict[str, Any]
    roles: dict[str, dict[str, Any]]
    people: dict[str, dict[str, Any]]
    thresholds: dict[str, dict[str, Any]]
    policies: dict[str, dict[str, Any]]
    sops: dict[str, dict[str, Any]]
    scenarios: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, result: CheckResult) -> _Version:
        by_kind: dict[str, list[Any]] = {}
        for document in result.documents:
            by_kind.setdefault(document.kind, []).append(document.data)
        org = (by_kind.get("org") or [{}])[0]
        return cls(
            result, (by_kind.get("constitution") or [{}])[0],
            {r["id"]: r for r in org.get("roles", [])}, {p["id"]: p for p in org.get("people", [])},
            dict((by_kind.get("thresholds") or [{}])[0].get("thresholds", {})),
            {p["id"]: p for p in by_kind.get("policy", [])}, {s["id"]: s for s in by_kind.get("sop", [])},
            {s["id"]: s for doc in by_kind.get("scenario", []) for s in doc.get("scenarios", [])})

    @property
    def compiled(self) -> CompiledConstitution:
        assert self.result.constitution is not None  # diff loads only valid versions
        return self.result.constitution

    def condition_text(self, rule_id: str) -> str:
        for rule in self.compiled.rules:
            if rule.id == rule_id:
                return rule.condition.describe()
        return "?"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _timeout(escalation: dict[str, Any]) -> str:
    """What an escalation does when nobody answers: `escalate to `cfo``, `escalate one step up`, `deny`."""
    timeout = escalation.get("on_timeout") or {"then": "escalate"}
    if timeout.get("then", "escalate") != "escalate":
        return _show(timeout["then"])
    return f"escalate to `{timeout['role']}`" if timeout.get("role") else "escalate one step up"


def role_renames(old: dict[str, tuple[str, str | None]], new: dict[str, tuple[str, str | None]]) -> dict[str, str]:
    """Roles that only changed their id: each role id gone from old, mapped to the id added in new with
    the same title (or the same description). Both maps give each role id its (title, description)."""
    renamed: dict[str, str] = {}
    added = sorted(set(new) - set(old))
    for gone in sorted(set(old) - set(new)):
        match = next((a for a in added if new[a][0] == old[gone][0] or (new[a][1] and new[a][1] == old[gone][1])), None)
        if match and match not in renamed.values():
            renamed[gone] = match
    return renamed


def _roles(escalation: dict[str, Any] | None) -> list[str]:
    return [stage["role"] for stage in (escalation or {}).get("stages", [])]


def _top_roles(version: _Version) -> tuple[str, ...]:
    return tuple(sorted(r for r, role in version.roles.items() if not role.get("reports_to")))


class _Differ:
    def __init__(self, base: _Version, head: _Version) -> None:
        self.base, self.head = base, head
        self.changes: list[Change] = []

    def add(self, kind: str, subject: str, text: str, owners: tuple[str, ...] | list[str] = ()) -> None:
        self.changes.append(Change(kind, subject, text, tuple(sorted(set(owners)))))

    def policy_owners(self, *policy_ids: str) -> list[str]:
        return [v.policies[p]["owner"] for v in (self.base, self.head) for p in policy_ids if p in v.policies]

    def threshold_owners(self, name: str) -> list[str]:
        owners = []
        for version in (self.base, self.head):
            for policy in version.compiled.policies.values():
                if any(c.threshold == name for r in policy.rules for c in r.condition.comparisons()) or \
                        policy.min_confidence_threshold == name:
                    owners.append(policy.owner)
        return owners or list(_top_roles(self.head))

    # --------------------------------------------------------------------------------------------
    def manifest(self) -> None:
        old, new = self.base.manifest, self.head.manifest
        top = _top_roles(self.head)
        for key in sorted(DeepDiff(old, new).affected_root_keys if old != new else []):
            if key == "$schema":
                continue
            if key == "default_escalation":
                before, after = _roles(old.get(key)), _roles(new.get(key))
                text = (f"requests no rule covers now go to {', '.join(map(repr, after))} (was {', '.join(before)})"
                        if before != after else "the default escalation's SLA, timeout or attachments changed")
                self.add("manifest", key, text.replace("'", "`"), top)
            elif key == "agents":
                bar_before = (old.get("agents") or {}).get("min_confidence")
                bar_after = (new.get("agents") or {}).get("min_confidence")
                self.add("manifest", "agents.min_confidence", f"agents' confidence bar {bar_before} → {bar_after}", top)
            else:
                self.add("manifest", key, f"{key.replace('_', ' ')} {_show(old.get(key))} → {_show(new.get(key))}",
                         top)

    def roles(self) -> None:
        old, new = self.base.roles, self.head.roles
        removed, added = sorted(set(old) - set(new)), sorted(set(new) - set(old))
        renamed = role_renames({r: (v["title"], v.get("description")) for r, v in old.items()},
                               {r: (v["title"], v.get("description")) for r, v in new.items()})
        top = _top_roles(self.head)
        for gone, now in renamed.items():
            self.add("role", now, f"role `{gone}` renamed to `{now}`", top)
        for role in removed:
            if role not in renamed:
                self.add("role", role, f"role `{role}` ({old[role]['title']}) removed", top)
        for role in added:
            if role not in renamed.values():
                self.add("role", role, f"role `{role}` ({new[role]['title']}) added", top)
        for role in sorted(set(old) & set(new)):
            a, b = old[role], new[role]
            if a.get("reports_to") != b.get("reports_to"):
                self.add("role", role, f"role `{role}` now reports to `{b.get('reports_to') or 'nobody'}` "
                         f"(was `{a.get('reports_to') or 'nobody'}`)", top)
            if a["authority"] != b["authority"]:
                self.add("role", role, f"role `{role}` authority {a['authority']} → {b['authority']}", top)
            if a["title"] != b["title"]:
                self.add("role", role, f"role `{role}` title \"{a['title']}\" → \"{b['title']}\"", top)

    def people(self) -> None:
        old, new = self.base.people, self.head.people
        top = _top_roles(self.head)
        for person in sorted(set(old) | set(new)):
            if person not in new:
                self.add("person", person, f"{old[person]['name']} (`{person}`) removed", top)
            elif person not in old:
                self.add("person", person, f"{new[person]['name']} (`{person}`) added as "
                         f"{', '.join(new[person]['roles'])}", top)
            else:
                a, b = old[person], new[person]
                if a["roles"] != b["roles"]:
                    self.add("person", person, f"{b['name']} now holds {', '.join(b['roles']) or 'no role'} "
                             f"(was {', '.join(a['roles']) or 'no role'})", top)
                if a.get("out_of_office") != b.get("out_of_office"):
                    periods = "; ".join(f"{p['from']} to {p['until']}, covered by `{p['delegate']}`"
                                        for p in b.get("out_of_office", [])) or "none"
                    self.add("person", person, f"{b['name']}'s absences now: {periods}", top)
                contact = ("handles", "email", "name")
                if [a.get(k) for k in contact] != [b.get(k) for k in contact]:
                    self.add("person", person, f"{b['name']}'s name or contact details changed", top)

    def thresholds(self) -> None:
        old, new = self.base.thresholds, self.head.thresholds
        for name in sorted(set(old) | set(new)):
            owners = self.threshold_owners(name)
            if name not in new:
                self.add("threshold", name, f"threshold `{name}` removed (was {_show(old[name]['value'])})", owners)
            elif name not in old:
                self.add("threshold", name, f"threshold `{name}` added: {_show(new[name]['value'])}", owners)
            elif old[name]["value"] != new[name]["value"]:
                self.add("threshold", name, f"threshold `{name}` {_show(old[name]['value'])} → "
                         f"{_show(new[name]['value'])}", owners)
            elif old[name] != new[name]:
                self.add("threshold", name, f"threshold `{name}`: description or unit reworded", owners)

    def policies(self) -> None:
        old, new = self.base.policies, self.head.policies
        for policy in sorted(set(old) | set(new)):
            owners = self.policy_owners(policy)
            if policy not in new:
                self.add("policy", policy, f"policy `{policy}` ({old[policy]['title']}) removed, with its "
                         f"{len(old[policy]['rules'])} rule(s)", owners)
                continue
            if policy not in old:
                self.add("policy", policy, f"policy `{policy}` ({new[policy]['title']}) added with "
                         f"{len(new[policy]['rules'])} rule(s)", owners)
                continue
            a, b = old[policy], new[policy]
            for key in sorted(DeepDiff(a, b).affected_root_keys if a != b else []):
                if key == "rules":
                    self.rules(policy, a["rules"], b["rules"], owners)
                elif key == "owner":
                    self.add("policy", policy, f"policy `{policy}` now owned by `{b['owner']}` (was `{a['owner']}`)",
                             owners)
                elif key == "actions":
                    gained = sorted(set(b["actions"]) - set(a["actions"]))
                    lost = sorted(set(a["actions"]) - set(b["actions"]))
                    parts = ([f"now governs {', '.join(f'`{x}`' for x in gained)}"] if gained else []) + \
                            ([f"no longer governs {', '.join(f'`{x}`' for x in lost)}"] if lost else [])
                    self.add("policy", policy, f"policy `{policy}` {' and '.join(parts) or 'reordered its actions'}",
                             owners)
                elif key in ("summary", "title", "synonyms"):
                    self.add("policy", policy, f"policy `{policy}`: {key} reworded", owners)
                elif key != "$schema":
                    self.add("policy", policy, f"policy `{policy}` {key.replace('_', ' ')} {_show(a.get(key))} → "
                             f"{_show(b.get(key))}", owners)

    def rules(self, policy: str, old_rules: list[dict[str, Any]], new_rules: list[dict[str, Any]],
              owners: list[str]) -> None:
        old, new = {r["id"]: r for r in old_rules}, {r["id"]: r for r in new_rules}
        for rule in [r["id"] for r in new_rules] + [r for r in old if r not in new]:
            if rule not in new:
                self.add("rule", rule, f"rule `{rule}` ({old[rule]['outcome']}) removed from policy `{policy}`", owners)
            elif rule not in old:
                self.add("rule", rule, f"rule `{rule}` ({new[rule]['outcome']}) added to policy `{policy}`", owners)
            elif old[rule] != new[rule]:
                for text in self.rule_parts(rule, old[rule], new[rule]):
                    self.add("rule", rule, text, owners)
        if [r for r in old if r in new] != [r for r in new if r in old]:
            self.add("policy", policy, f"policy `{policy}`: rules reordered (the order of reasons only)", owners)

    def rule_parts(self, rule: str, a: dict[str, Any], b: dict[str, Any]) -> Iterator[str]:
        for key in sorted(DeepDiff(a, b).affected_root_keys):
            if key == "when":
                yield (f"rule `{rule}` now applies when {self.head.condition_text(rule)} "
                       f"(was: {self.base.condition_text(rule)})")
            elif key == "outcome":
                yield f"rule `{rule}` outcome {a['outcome']} → {b['outcome']}"
            elif key == "escalation":
                yield from self.escalation_parts(rule, a.get("escalation") or {}, b.get("escalation") or {})
            elif key == "reason":
                yield f"rule `{rule}`: reason reworded"
            elif key in ("effective_from", "effective_until"):
                yield f"rule `{rule}` {key.replace('_', ' ')} {a.get(key) or 'unset'} → {b.get(key) or 'unset'}"
            else:
                yield f"rule `{rule}`: {key} changed"

    def escalation_parts(self, rule: str, a: dict[str, Any], b: dict[str, Any]) -> Iterator[str]:
        if _roles(a) != _roles(b):
            before = " then ".join(f"`{r}`" for r in _roles(a)) or "nobody"
            after = " then ".join(f"`{r}`" for r in _roles(b)) or "nobody"
            yield f"rule `{rule}` now escalates to {after} (was {before})"
        if a.get("sla") != b.get("sla"):
            yield f"rule `{rule}` SLA {_show(a.get('sla'))} → {_show(b.get('sla'))}"
        if a.get("on_timeout") != b.get("on_timeout"):
            yield f"rule `{rule}` on timeout now {_timeout(b)} (was {_timeout(a)})"
        if a.get("require") != b.get("require"):
            yield f"rule `{rule}`: the information approvers need changed"
        if [s.get("approvals", 1) for s in a.get("stages", [])] != [s.get("approvals", 1) for s in b.get("stages", [])]:
            yield f"rule `{rule}`: number of approvals per stage changed"

    def sops(self) -> None:
        old, new = self.base.sops, self.head.sops
        for sop in sorted(set(old) | set(new)):
            owners = [v.sops[sop]["owner"] for v in (self.base, self.head) if sop in v.sops]
            if sop not in new:
                self.add("sop", sop, f"SOP `{sop}` ({old[sop]['title']}) removed", owners)
            elif sop not in old:
                self.add("sop", sop, f"SOP `{sop}` ({new[sop]['title']}) added", owners)
            elif old[sop] != new[sop]:
                for key in sorted(DeepDiff(old[sop], new[sop]).affected_root_keys):
                    if key == "steps":
                        self.steps(sop, old[sop]["steps"], new[sop]["steps"], owners)
                    elif key != "$schema":
                        self.add("sop", sop, f"SOP `{sop}`: {key.replace('_', ' ')} changed", owners)

    def steps(self, sop: str, old_steps: list[dict[str, Any]], new_steps: list[dict[str, Any]],
              owners: list[str]) -> None:
        old = {s["id"]: s for s in old_steps}
        for number, step in enumerate(new_steps, 1):
            name = f"SOP `{sop}` step {number} (`{step['id']}`)"
            before = old.get(step["id"])
            if before is None:
                self.add("step", f"{sop}/{step['id']}", f"{name} added: {step['title']}", owners)
                continue
            doer = step.get("role") or step.get("agent")
            if (before.get("role") or before.get("agent")) != doer:
                self.add("step", f"{sop}/{step['id']}", f"{name} now done by `{doer}` "
                         f"(was `{before.get('role') or before.get('agent')}`)", owners)
            if (before.get("gate") or {}).get("action") != (step.get("gate") or {}).get("action"):
                self.add("step", f"{sop}/{step['id']}", f"{name} now asks the engine about "
                         f"`{(step.get('gate') or {}).get('action', 'nothing')}`", owners)
            elif before.get("gate") != step.get("gate"):
                self.add("step", f"{sop}/{step['id']}", f"{name}: the gate's question changed", owners)
            rest = {k: v for k, v in step.items() if k not in ("role", "agent", "gate")}
            if rest != {k: v for k, v in before.items() if k not in ("role", "agent", "gate")}:
                self.add("step", f"{sop}/{step['id']}", f"{name}: title, instructions, SLA or next steps changed",
                         owners)
        for gone in [s for s in old if s not in {step["id"] for step in new_steps}]:
            self.add("step", f"{sop}/{gone}", f"SOP `{sop}` step `{gone}` removed", owners)
        kept_old = [s["id"] for s in old_steps if s["id"] in {step["id"] for step in new_steps}]
        kept_new = [s["id"] for s in new_steps if s["id"] in old]
        if kept_old != kept_new:  # the order is the flow wherever a step has no `next`
            self.add("sop", sop, f"SOP `{sop}`: steps reordered, now {', '.join(kept_new)}", owners)

    def scenarios(self) -> None:
        old, new = self.base.scenarios, self.head.scenarios
        for scenario in sorted(set(old) | set(new)):
            action = (new.get(scenario) or old[scenario])["request"]["action"]
            owners = [p.owner for v in (self.base, self.head) for p in v.compiled.policies.values()
                      if action in p.actions] or list(_top_roles(self.head))
            if scenario not in new:
                self.add("scenario", scenario, f"scenario `{scenario}` removed", owners)
            elif scenario not in old:
                self.add("scenario", scenario, f"scenario `{scenario}` added, expecting "
                         f"{new[scenario]['expect']['decision']}", owners)
            elif old[scenario]["expect"] != new[scenario]["expect"]:
                self.add("scenario", scenario, f"scenario `{scenario}` now expects "
                         f"{_expectation(new[scenario]['expect'])} (was {_expectation(old[scenario]['expect'])})",
                         owners)
            elif old[scenario] != new[scenario]:
                self.add("scenario", scenario, f"scenario `{scenario}`: request or description changed", owners)


def _expectation(expect: dict[str, Any]) -> str:
    return expect["decision"] + (f" to `{expect['role']}`" if expect.get("role") else "")


def file_changes(base: CheckResult, head: CheckResult) -> list[Change]:
    """Every change between two valid versions, in the constitution's words, in a stable order.

    A file whose contents differ but for which no part was put in words is still reported, as
    changed, so `--fail-on any-change` never misses a change."""
    differ = _Differ(_Version.of(base), _Version.of(head))
    for part in (differ.manifest, differ.roles, differ.people, differ.thresholds, differ.policies, differ.sops,
                 differ.scenarios):
        part()
    before = {d.relative: d.data for d in base.documents}
    after = {d.relative: d.data for d in head.documents}
    for relative in sorted(set(before) | set(after)):
        old, new = before.get(relative), after.get(relative)
        if _without_schema(old) != _without_schema(new) and not _covered(relative, old, new, differ.changes):
            differ.add("file", relative, f"`{relative}` changed", _top_roles(differ.head))
    return differ.changes


def _without_schema(data: Any) -> Any:
    return {k: v for k, v in data.items() if k != "$schema"} if isinstance(data, dict) else data


def _ids(old: Any, new: Any, key: str) -> set[str]:
    return {item["id"] for data in (old, new) if isinstance(data, dict)
            for item in data.get(key, []) if isinstance(item, dict) and isinstance(item.get("id"), str)}


def _covered(relative: str, old: Any, new: Any, changes: list[Change]) -> bool:
    """Whether some change already speaks of this file's contents."""
    single = {"constitution.json": {"manifest"}, "org.json": {"role", "person"}, "thresholds.json": {"threshold"}}
    if relative in single:
        return any(c.kind in single[relative] for c in changes)
    own = {data.get("id") for data in (old, new) if isinstance(data, dict)} - {None}
    folder = relative.split("/", 1)[0]
    if folder == "policies":
        rules = _ids(old, new, "rules")
        return any((c.kind == "policy" and c.subject in own) or (c.kind == "rule" and c.subject in rules)
                   for c in changes)
    if folder == "sops":
        return any(c.kind in ("sop", "step") and c.subject.split("/")[0] in own for c in changes)
    scenarios = _ids(old, new, "scenarios")
    return any(c.kind == "scenario" and c.subject in scenarios for c in changes)

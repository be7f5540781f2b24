"""Check the constitution as a whole: every name used is defined, once, and the org chart holds.

Runs on documents that passed their schema. Ids are gathered from every parsed document (so a file
with a schema error does not make its ids look unknown elsewhere), but only valid documents are
checked, so one mistake is reported once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from aios_policy import diagnostics as dx

from .dates import DATE_RANGE, parse_day, parse_moment, zone
from .load import Document
from .schema import is_valid_schema


@dataclass
class _Index:
    """Every id defined anywhere, with the document and pointer that defines it first."""

    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    actions: set[str] = field(default_factory=set)
    policies: set[str] = field(default_factory=set)
    rules: set[str] = field(default_factory=set)


def _items(value: Any, key: str) -> list[tuple[int, dict[str, Any]]]:
    """(index, item) for the object items of a list under key, skipping anything malformed."""
    items = value.get(key) if isinstance(value, dict) else None
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)] if isinstance(items, list) else []


def _history_actions(condition: Any, pointer: str) -> Iterator[tuple[str, Any]]:
    """(pointer, action) of every history comparison in a condition, however deeply nested."""
    stack = [(condition, pointer)]
    while stack:
        node, at = stack.pop()
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("history"), dict):
            yield f"{at}/history/action", node["history"].get("action")
        stack.extend((child, f"{at}/{key}/{i}") for key in ("all", "any") if isinstance(node.get(key), list)
                     for i, child in enumerate(node[key]))
        stack.append((node.get("not"), f"{at}/not"))


def _index(documents: Iterable[Document]) -> _Index:
    index = _Index()
    for document in documents:
        data = document.data
        if document.kind == "org":
            index.roles.update({r["id"]: r for _, r in _items(data, "roles") if isinstance(r.get("id"), str)})
            index.people.update({p["id"]: p for _, p in _items(data, "people") if isinstance(p.get("id"), str)})
        elif document.kind == "policy" and isinstance(data, dict):
            if isinstance(data.get("id"), str):  # a broken id is the schema's to report, not ours to crash on
                index.policies.add(data["id"])
            actions = data.get("actions")
            if isinstance(actions, list):
                index.actions.update(a for a in actions if isinstance(a, str))
            index.rules.update(r["id"] for _, r in _items(data, "rules") if isinstance(r.get("id"), str))
    return index


class _Checker:
    def __init__(self, index: _Index, unreadable: Set[str]) -> None:
        self.index = index
        self.unreadable = unreadable  # kinds with a file that did not parse: their ids are unknown
        self.found: list[dx.Diagnostic] = []
        self.first_seen: dict[tuple[str, str], tuple[Document, str]] = {}

    def report(self, document: Document, code: str, pointer: str, message: str, hint: str | None = None) -> None:
        self.found.append(document.diagnostic(code, message, pointer, hint))

    def unique(self, document: Document, what: str, value: Any, pointer: str, scope: str = "") -> None:
        key = (f"{what}:{scope}", value)
        if key in self.first_seen:
            first, first_pointer = self.first_seen[key]
            line, column = first.at(first_pointer)  # positions are worked out only for files with problems
            self.report(document, "ID001", pointer, f"{what} id `{value}` is already used",
                        f"first defined at {first.file}:{line}:{column}; ids must be unique")
        else:
            self.first_seen[key] = (document, pointer)

    def role(self, document: Document, value: Any, pointer: str) -> None:
        if isinstance(value, str) and value not in self.index.roles and "org" not in self.unreadable:
            self.report(document, "REF001", pointer, f"unknown role `{value}`",
                        dx.did_you_mean(value, self.index.roles) or "define it under roles in org.json")

    def person(self, document: Document, value: Any, pointer: str) -> None:
        if isinstance(value, str) and value not in self.index.people and "org" not in self.unreadable:
            self.report(document, "REF002", pointer, f"unknown person `{value}`",
                        dx.did_you_mean(value, self.index.people) or "define them under people in org.json")

    def action(self, document: Document, value: Any, pointer: str) -> None:
        if isinstance(value, str) and value not in self.index.actions and "policy" not in self.unreadable:
            self.report(document, "REF004", pointer, f"unknown action `{value}`: no policy governs it",
                        dx.did_you_mean(value, self.index.actions) or "add it to the actions of a policy")

    def escalation(self, document: Document, raw: dict[str, Any], pointer: str) -> None:
        for i, stage in _items(raw, "stages"):
            self.role(document, stage.get("role"), f"{pointer}/stages/{i}/role")
        if "require" in raw:
            problem = is_valid_schema(raw["require"])
            if problem:
                self.report(document, "ESC001", f"{pointer}/require",
                            f"`require` is not a valid JSON Schema: {problem[0]}", problem[1])
        timeout = raw.get("on_timeout", {})
        if "role" in timeout:
            self.role(document, timeout["role"], f"{pointer}/on_timeout/role")
            if timeout.get("then") != "escalate":
                self.report(document, "ESC002", f"{pointer}/on_timeout/role",
                            f"a role is named but then is `{timeout.get('then')}`",
                            "set then to escalate, or remove the role")

    def dates(self, document: Document, raw: dict[str, Any], pointer: str, start: str, end: str) -> None:
        utc = ZoneInfo("UTC")
        first = parse_moment(raw[start], utc) if isinstance(raw.get(start), str) else None
        last = parse_moment(raw[end], utc, True) if isinstance(raw.get(end), str) else None
        for key, value in ((start, first), (end, last)):
            if isinstance(raw.get(key), str) and value is None:
                self.report(document, "DATE001", f"{pointer}/{key}", f"`{raw[key]}` is not a real date "
                            f"from {DATE_RANGE}", "write YYYY-MM-DD")
        if first and last and last <= first:
            self.report(document, "DATE001", f"{pointer}/{end}", f"`{raw[end]}` is before `{raw[start]}`",
                        f"{end} must not be before {start}")

    # files ------------------------------------------------------------------------------------
    def manifest(self, document: Document) -> None:
        data = document.data
        if zone(data["timezone"]) is None:
            self.report(document, "MAN001", "/timezone", f"unknown time zone `{data['timezone']}`",
                        "use an IANA name such as America/New_York or Europe/London")
        hours = data.get("business_hours")
        if hours and hours["end"] <= hours["start"]:
            self.report(document, "MAN001", "/business_hours/end", f"business hours end at {hours['end']}, "
                        f"not after they start at {hours['start']}", "end must be later than start")
        for i, day in enumerate(data.get("holidays", [])):
            if parse_day(day) is None:
                self.report(document, "DATE001", f"/holidays/{i}", f"`{day}` is not a real date from {DATE_RANGE}",
                            "write YYYY-MM-DD")
        self.escalation(document, data["default_escalation"], "/default_escalation")

    def org(self, document: Document) -> None:
        roles = _items(document.data, "roles")
        for i, role in roles:
            self.unique(document, "role", role["id"], f"/roles/{i}/id")
            if "reports_to" in role:
                self.role(document, role["reports_to"], f"/roles/{i}/reports_to")
        self.cycles(document, roles)
        holders: dict[str, int] = {}
        for i, person in _items(document.data, "people"):
            self.unique(document, "person", person["id"], f"/people/{i}/id")
            for j, role in enumerate(person["roles"]):
                self.role(document, role, f"/people/{i}/roles/{j}")
                holders[role] = holders.get(role, 0) + 1
            for j, absence in enumerate(person.get("out_of_office", [])):
                where = f"/people/{i}/out_of_office/{j}"
                self.dates(document, absence, where, "from", "until")
                delegate = absence["delegate"]
                if delegate == person["id"]:
                    self.report(document, "ORG002", f"{where}/delegate", "a person cannot delegate to themself",
                                "name a colleague who can approve in their place")
                elif delegate not in self.index.people:
                    self.report(document, "ORG002", f"{where}/delegate", f"delegate `{delegate}` does not exist",
                                dx.did_you_mean(delegate, self.index.people) or "name a person from people")
        for i, role in roles:
            if role["id"] in holders:
                continue
            if "reports_to" in role:
                self.report(document, "ORG004", f"/roles/{i}", f"nobody holds role `{role['id']}`",
                            f"its escalations go to `{role['reports_to']}`; give the role to someone")
            else:
                self.report(document, "ORG005", f"/roles/{i}", f"nobody holds the top role `{role['id']}`",
                            "escalations that reach it would have nobody to go to; give the role to someone")

    def cycles(self, document: Document, roles: list[tuple[int, dict[str, Any]]]) -> None:
        manager = {r["id"]: r.get("reports_to") for _, r in roles}
        where = {r["id"]: i for i, r in roles}
        walked: set[str] = set()  # each role is walked up from once: linear in the number of roles
        for start in manager:
            chain: dict[str, int] = {}  # the roles of this walk, in order
            current = start
            while current in manager and current not in chain and current not in walked:
                chain[current] = len(chain)
                current = manager[current]
            walked.update(chain)
            if current in chain:
                loop = list(chain)[chain[current]:]
                first = min(loop, key=lambda r: where[r])
                self.report(document, "ORG001", f"/roles/{where[first]}/reports_to",
                            "reports_to goes round in a circle: " + " → ".join([*loop, current]),
                            "the top role must report to nobody")
        for i, role in roles:
            reports_to = role.get("reports_to")  # the schema makes it a role id when present
            boss = self.index.roles.get(reports_to) if isinstance(reports_to, str) else None
            if boss and isinstance(boss.get("authority"), int) and boss["authority"] <= role["authority"]:
                self.report(document, "ORG003", f"/roles/{i}/authority",
                            f"`{role['id']}` has authority {role['authority']}, not below its manager "
                            f"`{boss['id']}` ({boss['authority']})", "give a manager more authority than its reports")

    def policy(self, document: Document) -> None:
        data = document.data
        self.unique(document, "policy", data["id"], "/id")
        self.role(document, data["owner"], "/owner")
        self.dates(document, data, "", "effective_from", "effective_until")
        for i, rule in _items(data, "rules"):
            where = f"/rules/{i}"
            self.unique(document, "rule", rule["id"], f"{where}/id")
            self.dates(document, rule, where, "effective_from", "effective_until")
            if "escalation" in rule:
                self.escalation(document, rule["escalation"], f"{where}/escalation")
            for pointer, action in _history_actions(rule.get("when"), f"{where}/when"):
                self.action(document, action, pointer)
            for j, obligation in _items(rule, "obligations"):
                self.role(document, obligation.get("role"), f"{where}/obligations/{j}/role")

    def sop(self, document: Document) -> None:
        data = document.data
        self.unique(document, "SOP", data["id"], "/id")
        self.role(document, data["owner"], "/owner")
        for i, policy in enumerate(data.get("policies", [])):
            if policy not in self.index.policies and "policy" not in self.unreadable:
                self.report(document, "REF005", f"/policies/{i}", f"unknown policy `{policy}`",
                            dx.did_you_mean(policy, filter(None, self.index.policies)) or "name a policy id")
        steps = _items(data, "steps")
        ids = {step["id"] for _, step in steps}
        for i, step in steps:
            where = f"/steps/{i}"
            self.unique(document, "step", step["id"], f"{where}/id", scope=data["id"])
            self.role(document, step.get("role"), f"{where}/role")
            if "gate" in step:
                self.action(document, step["gate"]["action"], f"{where}/gate/action")
            if ("gate" in step) != ("on" in step):
                self.report(document, "SOP001", where, "a gate needs `on`, and `on` needs a gate",
                            "say which step follows each outcome of the gate" if "gate" in step else "add a gate")
            for outcome, target in [*step.get("on", {}).items(), ("next", step.get("next"))]:
                if target is not None and target != "end" and target not in ids:
                    pointer = f"{where}/next" if outcome == "next" else f"{where}/on/{outcome}"
                    self.report(document, "REF007", pointer, f"unknown step `{target}`",
                                dx.did_you_mean(target, ids) or "name a step of this SOP, or end")
        for i in _unreachable(steps):
            self.report(document, "SOP002", f"/steps/{i}", f"no path reaches step `{steps[i][1]['id']}`",
                        "point a next or on at it, or remove it")

    def scenario(self, document: Document) -> None:
        for i, scenario in _items(document.data, "scenarios"):
            where = f"/scenarios/{i}"
            self.unique(document, "scenario", scenario["id"], f"{where}/id")
            request, expect = scenario["request"], scenario["expect"]
            action = request["action"]
            if action not in self.index.actions and dx.did_you_mean(action, self.index.actions):
                self.action(document, action, f"{where}/request/action")  # an unknown action is a fair test
            if isinstance(request.get("at"), str) and parse_moment(request["at"], ZoneInfo("UTC")) is None:
                self.report(document, "DATE001", f"{where}/request/at", f"`{request['at']}` is not a real moment "
                            f"from {DATE_RANGE}", "write e.g. 2025-03-04T10:00:00Z")
            actor = request["actor"]
            if actor["kind"] == "human":
                self.person(document, actor["id"], f"{where}/request/actor/id")
            if "role" in actor:
                self.role(document, actor["role"], f"{where}/request/actor/role")
            self.role(document, expect.get("role"), f"{where}/expect/role")
            for j, person in enumerate(expect.get("approvers", [])):
                self.person(document, person, f"{where}/expect/approvers/{j}")
            for j, stage in enumerate(expect.get("stages", [])):
                self.role(document, stage.get("role"), f"{where}/expect/stages/{j}/role")
                for k, person in enumerate(stage.get("approvers", [])):
                    self.person(document, person, f"{where}/expect/stages/{j}/approvers/{k}")
            for j, rule in enumerate(expect.get("rules", [])):
                if rule not in self.index.rules and "policy" not in self.unreadable:
                    self.report(document, "REF006", f"{where}/expect/rules/{j}", f"unknown rule `{rule}`",
                                dx.did_you_mean(rule, filter(None, self.index.rules)) or "name a rule id")


def _unreachable(steps: list[tuple[int, dict[str, Any]]]) -> Iterator[int]:
    ids: dict[str, int] = {}
    for position, (_, step) in enumerate(steps):
        ids.setdefault(step["id"], position)
    reached, frontier = set(), [0] if steps else []
    while frontier:
        position = frontier.pop()
        if position in reached or position >= len(steps):
            continue
        reached.add(position)
        step = steps[position][1]
        targets = list(step.get("on", {}).values()) if "on" in step else [step.get("next")]
        for target in targets:
            if target is None:
                frontier.append(position + 1)
            elif target in ids:
                frontier.append(ids[target])
    yield from (steps[p][0] for p in range(len(steps)) if p not in reached)


def check(all_documents: list[Document], valid_documents: list[Document],
          unreadable_kinds: Set[str]) -> list[dx.Diagnostic]:
    """Cross-reference diagnostics for the valid documents, with ids gathered from all of them.

    Where a file of some kind could not be parsed, names of that kind are not reported unknown:
    the one real problem (the broken file) is already reported.
    """
    checker = _Checker(_index(all_documents), unreadable_kinds)
    for document in sorted(valid_documents, key=lambda d: d.file):
        handler = {"constitution": checker.manifest, "org": checker.org, "policy": checker.policy,
                   "sop": checker.sop, "scenario": checker.scenario}.get(document.kind)
        if handler:
            handler(document)
    return checker.found

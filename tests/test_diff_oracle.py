"""The diff's regions against brute force: each class of change made in a real git repository, then
tens of thousands of requests (amounts at and around every cut, other days, every requester) decided
under both versions. Every request answered differently lies in a reported region with that move,
every request answered alike lies in none, and every region's example reproduces (`_diff` checks it)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import git
from test_diff import NOW, _diff, _edit, _rule, _set_threshold, company  # noqa: F401 - the fixture

from aios_policy import Constitution, check
from aios_policy.analysis.seen import Seen, Sides
from aios_policy.engine.history import NONE_EARLIER

REQUESTS = 20_000
CUTS = (0, 100, 250, 400, 2000, 5000, 50000)
# the days the changes below start or end on, and the absences already in the fixture
DAYS = ("2026-12-01", "2026-12-04", "2026-12-07", "2026-12-12", "2026-12-15", "2026-12-16", "2026-12-20",
        "2027-01-01")


def _requests(people: list[str], tz: Any, seed: int) -> list[tuple[dict[str, Any], datetime]]:
    """Requests for both actions with a moment each, drawn without looking at the engine or the diff."""
    generator = random.Random(seed)
    boundaries = [datetime.combine(datetime.fromisoformat(d).date(), time(0), tz) for d in DAYS]
    found = []
    for _ in range(REQUESTS):
        request: dict[str, Any] = {"action": generator.choice(("refund.issue", "refund.issue", "vendor.pay"))}
        roll = generator.random()
        if roll < 0.45:
            request["amount"] = generator.choice(CUTS) + generator.choice((0, 0.01, -0.01, 0.5))
        elif roll < 0.95:
            request["amount"] = round(generator.uniform(0, 60_000), 2)
        request["amount"] = max(request.get("amount", 0), 0) if "amount" in request else None
        if request["amount"] is None:
            del request["amount"]
        attributes: dict[str, Any] = {}
        for name, values in (("client_status", ("blocked", "vip", "ok")), ("vendor_is_new", (True, False)),
                             ("days_overdue", (0, 30, 31, 45)), ("sanctions_hit", (True, False))):
            if generator.random() < 0.85:
                attributes[name] = generator.choice(values)
        request["attributes"] = attributes
        if generator.random() < 0.5:
            request["actor"] = {"id": "bot-7", "kind": "agent"}
            if generator.random() < 0.9:
                request["confidence"] = generator.choice((0.1, 0.8, 0.85, 0.9, 1.0, round(generator.random(), 3)))
        else:
            request["actor"] = {"id": generator.choice(people), "kind": "human"}
        if generator.random() < 0.3:
            moment = generator.choice(boundaries) + timedelta(minutes=generator.choice((0, 1, -1)))
        else:
            moment = NOW + timedelta(days=generator.uniform(0, 70))
        moment = max(moment, NOW)
        request["at"] = moment.isoformat()
        found.append((request, moment))
    return found


def _answer(constitution: Constitution, request: dict[str, Any], moment: datetime) -> Seen:
    return Seen.of(constitution.decide_dict(request, moment, counterfactuals=False, history=NONE_EARLIER))


def _add_absence(person: str, first: str, last: str, delegate: str) -> Callable[[dict], None]:
    def change(org: dict) -> None:
        holder = next(p for p in org["people"] if p["id"] == person)
        holder.setdefault("out_of_office", []).append({"from": first, "until": last, "delegate": delegate})
    return change


def _reports_to(role: str, manager: str) -> Callable[[dict], None]:
    def change(org: dict) -> None:
        next(r for r in org["roles"] if r["id"] == role)["reports_to"] = manager
    return change


CHANGES: dict[str, Callable[[Path], None]] = {
    "money: a threshold raised": lambda c: _set_threshold(c, "refunds.auto_limit", 400),
    "time: a deny rule ends mid-December": lambda c: _edit(
        c, "policies/refunds.json", lambda d: _rule(d, "refund-blocked-client").update(effective_until="2026-12-15")),
    "time: a rule starts later": lambda c: _edit(
        c, "policies/vendors.json", lambda d: _rule(d, "vendor-new").update(effective_from="2026-12-16")),
    "org chart: a role reports elsewhere": lambda c: _edit(c, "org.json", _reports_to("ops", "owner")),
    "people: an absence with a delegate": lambda c: _edit(c, "org.json", _add_absence(
        "fiona", "2026-12-07", "2026-12-11", "dana")),
    "people: a clerk covers for the ops manager": lambda c: _edit(c, "org.json", _add_absence(
        "dana", "2026-12-12", "2026-12-15", "cleo")),
    "escalation: timeout target, SLA and attachments": lambda c: _edit(c, "policies/refunds.json", lambda d: _rule(
        d, "refund-medium")["escalation"].update(on_timeout={"then": "escalate", "role": "owner"},
                                                 sla="2 business days",
                                                 require={"type": "object", "required": ["order_id"]})),
    "a consistent rename": lambda c: [path.write_text(path.read_text().replace('"ops"', '"operations"'))
                                      for path in (c / "constitution").rglob("*.json")],
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_every_changed_request_lies_in_a_region_and_no_other(company: Path, name: str) -> None:  # noqa: F811
    CHANGES[name](company)
    report = _diff(company)
    base = Constitution(check(company / "constitution", report.base.commit))
    head = Constitution(check(company / "constitution"))
    sides = Sides(base.compiled, head.compiled)
    people = sorted(set(base.compiled.people) | set(head.compiled.people))
    changed = 0
    for request, moment in _requests(people, head.compiled.manifest.timezone, seed=len(name)):
        before = sides.renamed(_answer(base, request, moment))
        after = _answer(head, request, moment)
        holding = [r for r in report.regions if r.holds(request, moment)]
        if before == after:
            assert not holding, (request, moment, [r.describe() for r in holding])
            continue
        changed += 1
        assert any(r.base == before.outcome and r.head == after.outcome for r in holding), (
            request, moment, sides.text(before, after), [r.describe() for r in holding])
    if name == "a consistent rename":
        assert changed == 0 and not report.regions
    else:
        assert changed and report.regions, "the change should move some decision"
    git(company, "status")  # the repository is still sound after the diff read both versions

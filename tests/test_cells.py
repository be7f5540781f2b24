"""The cells decide exactly as the rule-by-rule evaluator (the oracle): byte-identical decisions on every
scenario and on 100,000 generated requests over both example constitutions and the engine fixture, with
values at and around every cut, missing fields, odd kinds, people and agents, currencies, moments and
the rules' own dates; and what the cells share between decisions cannot be changed through one of them."""

from __future__ import annotations

import copy
import json
import pickle
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import ENGINE, REPO

from aios_policy import Constitution
from aios_policy.constitution.dates import Deadlines, add_duration, parse_duration
from aios_policy.engine.cells import MAX_ROUTINGS, _keep
from aios_policy.engine.decide import Engine
from aios_policy.engine.request import request_problems

CONSTITUTIONS = {"example": REPO / "constitution", "niu": REPO / "examples" / "niu-purchasing" / "constitution",
                 "fixture": ENGINE}
GENERATED = {"example": 45_000, "niu": 45_000, "fixture": 10_000}  # 100,000 in all
CHUNKS = 5
ODD = ["12", "", [], {}, True, False, None, [1], {"amount": 1}, 1e308, -0.0]


def _engine(name: str) -> Engine:
    return Constitution.load(CONSTITUTIONS[name]).engine


def _set(request: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    place = request
    for part in parents:
        child = place.get(part)
        if not isinstance(child, dict):
            child = place[part] = {}
        place = child
    if value is _DROP:
        place.pop(last, None)
    else:
        place[last] = value


_DROP: Any = object()


class Generator:
    """Requests for one constitution: its scenarios' requests varied at the fields its rules read, with
    values at and beside every number and text the rules name, odd kinds and missing fields."""

    def __init__(self, engine: Engine, seed: int) -> None:
        self.engine, self.chance = engine, random.Random(seed)
        compiled = engine.constitution
        self.bases = [s.request for s in compiled.scenarios if isinstance(s.request, dict)]
        self.values: dict[str, dict[str, list[Any]]] = {}
        for action, comparisons in engine.comparisons.items():
            values = self.values.setdefault(action, {})
            for comparison in comparisons:
                literals = comparison.value if isinstance(comparison.value, list) else [comparison.value]
                found = values.setdefault(comparison.path, [])
                for literal in literals:
                    if isinstance(literal, bool) or not isinstance(literal, int | float):
                        found.extend([literal, f"{literal}x" if isinstance(literal, str) else literal])
                    else:
                        found.extend([literal, literal - 1, literal + 1, literal - 0.01, literal + 0.01,
                                      literal * 2, max(0, literal // 2)])
                if comparison.op in ("contains", "in"):
                    found.append([*(v for v in literals if not isinstance(v, list)), "other"])
            values.setdefault("confidence", []).extend(
                [engine.bars[action], engine.bars[action] - 0.001, 0, 0.5, 0.8, 0.9, 0.95, 0.99, 1, 1.01])
            values.setdefault("amount", []).extend([0, 1, 99.99, 100, 250, 500, 1000, 5000, 10_000, 1e6, -1])
        self.actors: list[Any] = [{"id": "an-agent", "kind": "agent"}, {"id": "stranger", "kind": "human"},
                                  None, "not an actor"]
        for person in compiled.people.values():
            self.actors.append({"id": person.id, "kind": "human"})
            self.actors.append({"id": person.id.upper(), "kind": "human", "role": person.roles[0]})
        for role in compiled.roles:
            self.actors.append({"id": "an-agent", "kind": "agent", "role": role})
        self.currencies: list[Any] = [_DROP, compiled.manifest.currency, "XXX", 5, *compiled.exchange_rates]
        moments = {datetime(2026, 11, 10, 15, tzinfo=UTC), datetime(2026, 11, 14, 12, tzinfo=UTC),
                   datetime(2026, 12, 24, 23, 59, tzinfo=UTC)}
        for rule in compiled.rules:
            for bound in (rule.effective_from, rule.effective_until):
                if bound is not None:
                    moments.update({bound, bound - timedelta(seconds=1), bound + timedelta(days=3)})
        for person in compiled.people.values():
            for absence in person.out_of_office:
                moments.add(datetime.combine(absence.first_day, datetime.min.time(), UTC) + timedelta(hours=15))
        self.moments = sorted(moments)

    def request(self) -> tuple[dict[str, Any], datetime]:
        chance = self.chance
        request = copy.deepcopy(chance.choice(self.bases))
        action = request.get("action")
        if chance.random() < 0.05:
            action = request["action"] = chance.choice([*self.values, "no.such.action"])
        values = self.values.get(action, {})
        for path in chance.sample(sorted(values), min(len(values), chance.randint(1, 4))):
            roll = chance.random()
            value = _DROP if roll < 0.1 else chance.choice(ODD) if roll < 0.17 else chance.choice(values[path])
            _set(request, path, value)
        if chance.random() < 0.4:
            request["actor"] = chance.choice(self.actors)
        if chance.random() < 0.2:
            _set(request, "currency", chance.choice(self.currencies))
        now = chance.choice(self.moments)
        roll = chance.random()
        if roll < 0.15:
            request.pop("at", None)
        elif roll < 0.5:
            request["at"] = chance.choice(self.moments).isoformat()
        elif roll < 0.52:
            request["at"] = chance.choice(["yesterday", 7, "2026-13-01T00:00:00Z"])
        return request, now


def _both(engine: Engine, request: Any, now: datetime, counterfactuals: bool) -> tuple[str, str]:
    problems = request_problems(request, engine.constitution)
    safe = request if isinstance(request, dict) else {}
    by_cells = engine.decide(copy.deepcopy(safe), now, False, problems, counterfactuals)
    by_rules = engine.decide_by_rules(copy.deepcopy(safe), now, False, problems, counterfactuals)
    return json.dumps(by_cells), json.dumps(by_rules)


@pytest.mark.parametrize("name", sorted(CONSTITUTIONS))
def test_every_scenario_is_decided_alike(name: str) -> None:
    engine = _engine(name)
    for scenario in engine.constitution.scenarios:
        request = scenario.request
        now = datetime.fromisoformat(request["at"]) if isinstance(request.get("at"), str) else datetime.now(UTC)
        for counterfactuals in (True, False):
            for _ in range(2):  # the first works a cell out, the second takes it from the cell
                by_cells, by_rules = _both(engine, request, now, counterfactuals)
                assert by_cells == by_rules, scenario.id


@pytest.mark.parametrize("chunk", range(CHUNKS))
@pytest.mark.parametrize("name", sorted(CONSTITUTIONS))
def test_generated_requests_are_decided_alike(name: str, chunk: int) -> None:
    engine = _engine(name)
    generator = Generator(engine, seed=chunk * 7919 + len(name))
    placed = 0
    for index in range(GENERATED[name] // CHUNKS):
        request, now = generator.request()
        counterfactuals = index % 4 == 0  # the counterfactual walk is the slow part of the oracle
        by_cells, by_rules = _both(engine, request, now, counterfactuals)
        assert by_cells == by_rules, json.dumps(request)
        if isinstance(request, dict) and not request_problems(request, engine.constitution):
            assert engine.outcome(request, now) == engine.outcome_by_rules(request, now), json.dumps(request)
        placed += engine.cells.decide(copy.deepcopy(request), now, False) is not None
    assert placed > GENERATED[name] // CHUNKS // 2  # most requests really are decided by their cell


def test_a_shared_part_of_a_decision_cannot_be_changed_in_place() -> None:
    engine = _engine("example")
    request = next(s.request for s in engine.constitution.scenarios
                   if s.expect.get("decision") == "escalate")
    now = datetime.fromisoformat(request["at"])
    first = engine.decide(copy.deepcopy(request), now)
    with pytest.raises(TypeError, match="shared with other decisions"):
        first["reasons"].append({"rule": "mine"})
    with pytest.raises(TypeError, match="shared with other decisions"):
        first["escalation"]["stages"][0]["approvers"].clear()
    mine = copy.deepcopy(first)
    mine["reasons"].append({"rule": "mine"})
    assert pickle.loads(pickle.dumps(first)) == first
    assert json.dumps(engine.decide(copy.deepcopy(request), now)) == json.dumps(first)


def test_the_caches_stay_bounded() -> None:
    kept: dict[int, int] = {}
    for key in range(3 * MAX_ROUTINGS):
        _keep(kept, key, key, MAX_ROUTINGS)
    assert len(kept) == MAX_ROUTINGS and min(kept) == 2 * MAX_ROUTINGS


def test_kept_deadlines_match_counting_them_out() -> None:
    chance = random.Random(4)
    engine = _engine("example")
    manifest = engine.manifest
    hours = manifest.business_hours
    deadlines = Deadlines(manifest.timezone, hours.days, hours.start, hours.end, manifest.holidays)
    durations = ["4 business hours", "1 business day", "3 business days", "30 minutes", "2 days", "1 hour"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(20_000):
        moment = start + timedelta(minutes=chance.randrange(0, 2 * 365 * 24 * 60), seconds=chance.random())
        duration = parse_duration(chance.choice(durations))
        assert duration is not None
        expected = add_duration(moment, duration, manifest.timezone, hours.days, hours.start, hours.end,
                                manifest.holidays)
        assert deadlines.due(moment, duration) == expected, (moment, duration)

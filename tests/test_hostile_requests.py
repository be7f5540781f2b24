"""Hostile and malformed requests never crash the engine and never automate."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import EXAMPLE

from aios_policy import Constitution

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
BASE = {"action": "refund.issue", "actor": {"id": "billing-agent", "kind": "agent"}, "amount": 100,
        "confidence": 0.99, "attributes": {"chargeback_open": False, "to_original_payment_method": True},
        "at": "2026-11-10T10:00:00-05:00"}  # a request that automates; each defect below must stop that


@pytest.fixture(scope="module")
def constitution() -> Constitution:
    return Constitution.load(EXAMPLE)


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"x": value}
    return value


def junk(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON-like value: scalars of every kind (non-finite and huge numbers, odd text), lists, objects."""
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([0, 1, -1, 7, 2**63, -(2**70), 10**30, rng.randint(-10**6, 10**6)])
    if kind == 3:
        return rng.choice([0.5, -0.0, 1e308, -1e-308, math.nan, math.inf, -math.inf, rng.uniform(-1e6, 1e6)])
    if kind in (4, 5):
        return "".join(rng.choice("aZ09 .-_\n\t\u00e9\u202e\ud800\x00\"{}$") for _ in range(rng.randrange(20)))
    if kind in (6, 7):
        return [junk(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {junk_key(rng): junk(rng, depth + 1) for _ in range(rng.randrange(5))}


def junk_key(rng: random.Random) -> str:
    return "".join(rng.choice("abc_\u00e9\ud800 ") for _ in range(rng.randrange(9)))


def junk_except(rng: random.Random, unwanted: Callable[[Any], bool]) -> Any:
    value = junk(rng)
    while unwanted(value):
        value = junk(rng)
    return value


BAD_NUMBERS = [math.nan, math.inf, -math.inf, -1, 10**400, -(10**400), 1e308, True, "100", None, [], {}]


def _set(request: dict, path: str, value: object) -> dict:
    result = {**request, "actor": dict(request["actor"]), "attributes": dict(request["attributes"])}
    head, _, rest = path.partition(".")
    if rest:
        result[head] = {**result[head], rest: value} if isinstance(result[head], dict) else {rest: value}
    else:
        result[head] = value
    return result


def _drop(request: dict, key: str) -> dict:
    return {k: v for k, v in request.items() if k != key}


# One generator per class of defect, each its own test so that xdist spreads them over its workers. A class
# with few possible values (a bad number, a dropped key) is tried exhaustively; the others get EXAMPLES each,
# over 10,000 in all. Plain seeded generators rather than hypothesis: the same classes of input at a tenth of
# the cost, and every run the same.
def _exhaustive(values: list[Any], make: Callable[[Any], Any]) -> Callable[[random.Random], list[Any]]:
    return lambda rng: [make(v) for v in values]


def _sampled(make: Callable[[random.Random], Any]) -> Callable[[random.Random], list[Any]]:
    return lambda rng: [make(rng) for _ in range(EXAMPLES)]


EXAMPLES = 1_250
defects: dict[str, Callable[[random.Random], list[Any]]] = {
    "bad-amount": _exhaustive(BAD_NUMBERS, lambda v: _set(BASE, "amount", v)),
    "bad-confidence": _exhaustive(BAD_NUMBERS, lambda v: _set(BASE, "confidence", v)),
    "junk-action": _sampled(lambda r: _set(BASE, "action", junk_except(r, lambda v: v == "refund.issue"))),
    "junk-actor": _sampled(lambda r: _set(BASE, "actor", junk(r))),
    "junk-actor-kind": _sampled(lambda r: _set(BASE, "actor.kind", junk_except(r, lambda v: v in ("agent", "human")))),
    "attributes-not-an-object": _sampled(lambda r: _set(BASE, "attributes",
                                                        junk_except(r, lambda v: isinstance(v, dict)))),
    "junk-flag": _sampled(lambda r: _set(BASE, "attributes.chargeback_open", junk_except(r, lambda v: v is False))),
    "junk-at": _sampled(lambda r: _set(BASE, "at", junk_except(r, lambda v: isinstance(v, str) and v[:4] == "2026"))),
    "deep-attribute": _exhaustive(list(range(65, 401)), lambda d: _set(BASE, "attributes.deep", _nested(d))),
    "dropped-key": _exhaustive(["action", "actor", "amount", "attributes"], lambda k: _drop(BASE, k)),
    "unknown-key": _sampled(lambda r: {**BASE, junk_except(r, lambda k: not isinstance(k, str) or not k or k in BASE):
                                       junk(r)}),
    "not-an-object": _sampled(lambda r: junk_except(r, lambda v: isinstance(v, dict))),
}


@pytest.mark.parametrize("defect", sorted(defects))
def test_malformed_requests_never_crash_and_never_automate(constitution: Constitution, defect: str) -> None:
    for request in defects[defect](random.Random(defect)):
        decision = constitution.decide_dict(request, NOW)
        assert decision["decision"] != "automate", (request, decision["summary"])
        assert decision["reasons"], request


def test_the_base_request_does_automate(constitution: Constitution) -> None:
    assert constitution.decide_dict(BASE, NOW)["decision"] == "automate"


OFFER = {"action": "offer.extend", "actor": {"id": "recruiting-agent", "kind": "agent"}, "amount": 105000,
         "confidence": 0.95, "attributes": {"salary_band_max": 120000, "headcount_approved": True, "signing_bonus": 0},
         "at": "2026-10-29T10:00:00-04:00"}  # automates through a raw JMESPath rule (amount <= band)


# a band of every kind but a number, in three tests that xdist spreads: 2,100 examples
bands: dict[str, Callable[[random.Random], Any]] = {
    "scalar": lambda r: r.choice([None, True, False, junk_except(r, lambda v: not isinstance(v, str))]),
    "list": lambda r: [junk(r) for _ in range(r.randrange(5))],
    "object": lambda r: {junk_key(r): junk(r) for _ in range(r.randrange(5))},
}


@pytest.mark.parametrize("kind", sorted(bands))
def test_raw_jmespath_rules_fail_closed_on_fields_of_the_wrong_kind(constitution: Constitution, kind: str) -> None:
    rng = random.Random(kind)
    for _ in range(700):
        band = bands[kind](rng)
        request = {**OFFER, "attributes": {**OFFER["attributes"], "salary_band_max": band}}
        assert constitution.decide_dict(request, NOW)["decision"] != "automate", band


def test_the_offer_request_does_automate(constitution: Constitution) -> None:
    assert constitution.decide_dict(OFFER, NOW)["decision"] == "automate"

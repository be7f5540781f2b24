"""Hostile and malformed requests never crash the engine and never automate."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from conftest import EXAMPLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


junk = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
bad_numbers = st.sampled_from([math.nan, math.inf, -math.inf, -1, 10**400, -(10**400), 1e308, True, "100", None, [],
                               {}])


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


# One strategy per class of defect, each its own test so that xdist spreads them over its workers. A class
# with few possible values (a bad number, a dropped key) is tried exhaustively; the others get EXAMPLES each,
# over 10,000 in all.
defects = {
    "bad-amount": st.builds(lambda v: _set(BASE, "amount", v), bad_numbers),
    "bad-confidence": st.builds(lambda v: _set(BASE, "confidence", v), bad_numbers),
    "junk-action": st.builds(lambda v: _set(BASE, "action", v), junk.filter(lambda v: v != "refund.issue")),
    "junk-actor": st.builds(lambda v: _set(BASE, "actor", v), junk),
    "junk-actor-kind": st.builds(lambda v: _set(BASE, "actor.kind", v),
                                 junk.filter(lambda v: v not in ("agent", "human"))),
    "attributes-not-an-object": st.builds(lambda v: _set(BASE, "attributes", v),
                                          junk.filter(lambda v: not isinstance(v, dict))),
    "junk-flag": st.builds(lambda v: _set(BASE, "attributes.chargeback_open", v),
                           junk.filter(lambda v: v is not False)),
    "junk-at": st.builds(lambda v: _set(BASE, "at", v),
                         junk.filter(lambda v: not isinstance(v, str) or v[:4] != "2026")),
    "deep-attribute": st.builds(lambda d: _set(BASE, "attributes.deep", _nested(d)), st.integers(65, 400)),
    "dropped-key": st.builds(lambda k: _drop(BASE, k), st.sampled_from(["action", "actor", "amount", "attributes"])),
    "unknown-key": st.builds(lambda k, v: {**BASE, k: v},
                             st.text(min_size=1, max_size=10).filter(lambda k: k not in BASE), junk),
    "not-an-object": junk.filter(lambda v: not isinstance(v, dict)),
}
EXAMPLES = 1_250


@pytest.mark.parametrize("defect", sorted(defects))
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def test_malformed_requests_never_crash_and_never_automate(constitution: Constitution, defect: str,
                                                           data: st.DataObject) -> None:
    request = data.draw(defects[defect], label=defect)
    decision = constitution.decide_dict(request, NOW)
    assert decision["decision"] != "automate", (request, decision["summary"])
    assert decision["reasons"], request


def test_the_base_request_does_automate(constitution: Constitution) -> None:
    assert constitution.decide_dict(BASE, NOW)["decision"] == "automate"


OFFER = {"action": "offer.extend", "actor": {"id": "recruiting-agent", "kind": "agent"}, "amount": 105000,
         "confidence": 0.95, "attributes": {"salary_band_max": 120000, "headcount_approved": True, "signing_bonus": 0},
         "at": "2026-10-29T10:00:00-04:00"}  # automates through a raw JMESPath rule (amount <= band)


# a band of every kind but a number, in three tests that xdist spreads: 2,100 examples, as many as before
bands = {"scalar": st.none() | st.booleans() | st.text(max_size=20),
         "list": st.lists(junk, max_size=4),
         "object": st.dictionaries(st.text(max_size=8), junk, max_size=4)}


@pytest.mark.parametrize("kind", sorted(bands))
@settings(max_examples=700, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def test_raw_jmespath_rules_fail_closed_on_fields_of_the_wrong_kind(constitution: Constitution, kind: str,
                                                                   data: st.DataObject) -> None:
    band = data.draw(bands[kind], label=f"salary_band_max ({kind})")
    request = {**OFFER, "attributes": {**OFFER["attributes"], "salary_band_max": band}}
    assert constitution.decide_dict(request, NOW)["decision"] != "automate", band


def test_the_offer_request_does_automate(constitution: Constitution) -> None:
    assert constitution.decide_dict(OFFER, NOW)["decision"] == "automate"

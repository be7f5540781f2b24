"""Identity: an actor id compares with org.json in one canonical form, and an actor who is not a person
there is trusted no more than an agent."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import MINIMAL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aios_policy import Constitution
from aios_policy.engine.people import canonical_id, person_of

NOW = datetime(2026, 3, 2, 15, tzinfo=UTC)
PEOPLE = ["olivia", "dana", "sam", "cleo"]
ORG_SCHEMA = Path(__file__).parents[1] / "schemas" / "org.schema.json"
ID_PATTERN = json.loads(ORG_SCHEMA.read_text())["$defs"]["id"]["pattern"]
INVISIBLE = ["\u200b", "\u200d", "\u00ad", "\u2060"]  # zero-width space and joiner, soft hyphen, word joiner


@pytest.fixture(scope="module")
def loaded() -> Constitution:
    return Constitution.load(MINIMAL)


def _variant(person: str, draw: st.DrawFn) -> str:
    """The same id as someone might type it: case changed, spaces around, full-width, zero-width inside."""
    letters = [c.upper() if draw(st.booleans()) else c for c in person]
    if draw(st.booleans()):
        letters = [chr(ord(c) + 0xFEE0) if c.isalpha() and draw(st.booleans()) else c for c in letters]  # full width
    if draw(st.booleans()):
        letters.insert(draw(st.integers(0, len(letters))), draw(st.sampled_from(INVISIBLE)))
    pad = draw(st.sampled_from(["", " ", "\t", "\u00a0", "\u3000"]))
    return pad + "".join(letters) + draw(st.sampled_from(["", " ", "\n", "\u2003"]))


@st.composite
def variants(draw: st.DrawFn) -> tuple[str, str]:
    person = draw(st.sampled_from(PEOPLE))
    return person, _variant(person, draw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pair=variants())
def test_every_spelling_of_a_persons_id_names_that_person(loaded: Constitution, pair: tuple[str, str]) -> None:
    person, spelled = pair
    found = person_of(loaded.compiled, spelled)
    assert found is not None and found.id == person


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pair=variants())
def test_a_person_in_any_spelling_cannot_act_as_an_agent(loaded: Constitution, pair: tuple[str, str]) -> None:
    person, spelled = pair
    decision = loaded.decide_dict({"action": "refund.issue", "actor": {"id": spelled, "kind": "agent"},
                                   "amount": 10, "confidence": 0.99}, NOW)
    assert decision["decision"] == "escalate"
    assert any(f"`{person}` in org.json" in e or "is a person in org.json" in e for e in decision["errors"])
    assert all("\n" not in e for e in decision["errors"])  # the actor's text is quoted on one line


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_requester_in_any_spelling_never_approves_their_own_request(loaded: Constitution,
                                                                      data: st.DataObject) -> None:
    requester = data.draw(st.sampled_from(["dana", "sam", "olivia"]))
    spelled = _variant(requester, data.draw)
    amount = 900 if requester != "olivia" else 5000  # ops_manager approves 250..2000, owner above
    for kind in ("human", "agent"):
        decision = loaded.decide_dict({"action": "refund.issue", "actor": {"id": spelled, "kind": kind},
                                       "amount": amount, "confidence": 0.99}, NOW)
        approvers = [a["id"] for stage in decision["escalation"]["stages"] for a in stage["approvers"]]
        assert decision["decision"] == "escalate"
        if requester != "olivia":  # olivia holds the top role: noted, she cannot be avoided
            assert requester not in approvers, (spelled, approvers)


def test_dana_away_is_covered_by_sam_and_sam_asking_goes_up(loaded: Constitution) -> None:
    away = datetime(2026, 12, 2, 15, tzinfo=UTC)  # dana is away, sam is her delegate
    decision = loaded.decide_dict({"action": "refund.issue", "actor": {"id": " SAM ", "kind": "human"},
                                   "amount": 900}, away)
    approvers = [a["id"] for stage in decision["escalation"]["stages"] for a in stage["approvers"]]
    assert "sam" not in approvers and approvers


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actor=st.text(min_size=1, max_size=40).filter(lambda t: canonical_id(t) not in PEOPLE),
       confidence=st.none() | st.floats(0, 0.79))
def test_an_unknown_human_below_the_bar_is_never_automated(loaded: Constitution, actor: str,
                                                           confidence: float | None) -> None:
    request = {"action": "refund.issue", "actor": {"id": actor, "kind": "human"}, "amount": 10}
    if confidence is not None:
        request["confidence"] = confidence
    decision = loaded.decide_dict(request, NOW)
    assert decision["decision"] == "escalate"
    if not decision["errors"]:  # a well-formed request: the reason says why it is held to the bar
        assert "is not a person in org.json, so it is held to the agents' bar" in decision["reasons"][0]["text"]
        assert "\n" not in decision["summary"]


def test_an_unknown_human_meeting_the_bar_automates_like_an_agent(loaded: Constitution) -> None:
    for kind in ("human", "agent"):
        decision = loaded.decide_dict({"action": "refund.issue", "actor": {"id": "intern-bot", "kind": kind},
                                       "amount": 10, "confidence": 0.8}, NOW)
        assert decision["decision"] == "automate"


def test_a_person_in_org_json_needs_no_confidence(loaded: Constitution) -> None:
    for spelled in ("cleo", "CLEO", " Cleo "):
        decision = loaded.decide_dict({"action": "refund.issue", "actor": {"id": spelled, "kind": "human"},
                                       "amount": 10}, NOW)
        assert decision["decision"] == "automate", decision["summary"]


def test_a_role_claim_is_checked_against_the_person_in_any_spelling(loaded: Constitution) -> None:
    claimed = loaded.decide_dict({"action": "refund.issue", "actor": {"id": "DANA", "kind": "human",
                                                                       "role": "owner"}, "amount": 10}, NOW)
    assert claimed["decision"] == "escalate"
    assert "`DANA` (`dana` in org.json) does not hold role `owner`" in claimed["errors"][0]
    held = loaded.decide_dict({"action": "refund.issue", "actor": {"id": "Dana", "kind": "human",
                                                                    "role": "ops_manager"}, "amount": 10}, NOW)
    assert held["decision"] == "automate" and not held["errors"]


@given(st.from_regex(re.compile(ID_PATTERN.replace("$", r"\Z")), fullmatch=True))
def test_every_id_org_json_allows_is_already_canonical(person_id: str) -> None:
    # so org.json's ids are looked up, and shown, as written
    assert canonical_id(person_id) == person_id

"""The engine's semantics, one named case each (cases in tests/data/engine_cases.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TESTS

from aios_policy import Constitution
from aios_policy.constitution.dates import parse_moment

ENGINE = TESTS / "fixtures" / "engine"
CASES = json.loads((TESTS / "data" / "engine_cases.json").read_text())


@pytest.fixture(scope="module")
def constitution() -> Constitution:
    return Constitution.load(ENGINE)


def _decide(constitution: Constitution, request: dict) -> dict:
    now = parse_moment(request["at"], constitution.compiled.manifest.timezone)
    return constitution.decide_dict(request, now)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(constitution: Constitution, case: dict) -> None:
    decision, expect = _decide(constitution, case["request"]), case["expect"]
    summary = json.dumps(decision, indent=1)
    assert decision["decision"] == expect["decision"], summary
    escalation = decision["escalation"] or {}
    if "role" in expect:
        assert escalation.get("role") == expect["role"], summary
    if "approvers" in expect:
        assert [a["id"] for a in escalation["stages"][0]["approvers"]] == expect["approvers"], summary
    if "covering_for" in expect:
        assert {a["id"]: a["covering_for"] for a in escalation["stages"][0]["approvers"]} == expect["covering_for"]
    if "stages" in expect:
        assert [s["role"] for s in escalation["stages"]] == expect["stages"]
    if "due" in expect:
        assert escalation["due"] == expect["due"]
    if "on_timeout" in expect:
        assert escalation["on_timeout"]["then"] == expect["on_timeout"]
    rules = [r["rule"] for r in decision["reasons"]]
    assert set(expect.get("rules", [])) <= set(rules), summary
    if "first_rule" in expect:
        assert rules[0] == expect["first_rule"]
    if "missing" in expect:
        assert [m["field"] for m in decision["missing"]] == expect["missing"], summary
    if "missing_outcomes" in expect:
        [missing] = decision["missing"]
        assert {o["when"]: o["decision"] for o in missing["outcomes"]} == expect["missing_outcomes"]
    if "counterfactuals" in expect:
        assert decision["counterfactuals"] == expect["counterfactuals"]
    if "obligations" in expect:
        assert [o["text"] for o in decision["obligations"]] == expect["obligations"]
    if "error_mentions" in expect:
        assert any(expect["error_mentions"] in e for e in decision["errors"]), summary
    if expect["decision"] != "automate":
        assert decision["obligations"] == [] or expect["decision"] in ("escalate", "deny")


def test_same_request_and_time_give_byte_identical_decisions(constitution: Constitution) -> None:
    request = CASES[6]["request"]
    first, second = _decide(constitution, request), _decide(constitution, request)
    assert first["id"] != second["id"]
    first["id"] = second["id"] = "dec_x"
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    reloaded = Constitution.load(ENGINE)
    third = _decide(reloaded, request)
    third["id"] = "dec_x"
    assert json.dumps(third) == json.dumps(first)


def test_explain_traces_every_rule_of_the_action(constitution: Constitution) -> None:
    request = CASES[6]["request"]
    now = parse_moment(request["at"], constitution.compiled.manifest.timezone)
    decision = constitution.decide_dict(request, now, explain=True)
    trace = {entry["rule"]: entry for entry in decision["trace"]}
    assert set(trace) == {"refund-small", "refund-medium", "refund-large", "refund-blocked-client",
                          "refund-year-end-freeze"}
    assert trace["refund-medium"]["matched"] is True
    assert trace["refund-medium"]["why"] == ("matched: amount > refunds.auto_limit (250) and "
                                             "amount ≤ refunds.manager_limit (2000)")
    assert trace["refund-small"]["why"] == "did not match: amount ≤ refunds.auto_limit (250)"
    assert trace["refund-year-end-freeze"]["why"].startswith("not in effect at 2026-11-10")


def test_python_api_returns_a_pydantic_decision(constitution: Constitution) -> None:
    from aios_policy import Decision, Request

    request = Request.model_validate(CASES[6]["request"])
    decision = constitution.decide(request, now=parse_moment(request.at, constitution.compiled.manifest.timezone))
    assert isinstance(decision, Decision)
    assert decision.escalation.role == "ops" and decision.escalation.stages[0].approvers[0].name == "Dana Ops"
    assert decision.constitution.name == "Engine Test Co"


def test_decisions_follow_the_decision_schema(constitution: Constitution) -> None:
    from aios_policy.constitution.schema import validator

    for case in CASES:
        decision = _decide(constitution, case["request"])
        errors = [e.message for e in validator("decision").iter_errors(decision)]
        assert not errors, (case["name"], errors)


def test_engine_fixture_is_clean() -> None:
    from aios_policy import check

    result = check(ENGINE)
    assert not result.errors, [d.render() for d in result.errors]
    assert Path(ENGINE / "scenarios" / "basic.json").exists()

"""Scenarios pin whole escalations: `expect.stages` is compared stage by stage, and the count of stages too.

The constitutions are copies of the small fixture whose large refunds go through two stages (operations
review by the ops manager, then the owner's sign-off); each test writes the scenarios it needs.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import invoke
from hypothesis import given, settings
from hypothesis import strategies as st

from aios_policy import Constitution
from aios_policy.analysis.scenarios import Mismatch, compare, coverage, run
from aios_policy.cli.decide import _failure_text
from aios_policy.constitution.model import RelativeApprover
from aios_policy.errors import InvalidConstitution

AT = "2026-11-10T10:00:00-05:00"
LARGE = {"action": "refund.issue", "actor": {"id": "billing-agent", "kind": "agent"}, "amount": 5000,
         "confidence": 0.95, "at": AT}
MEDIUM = {**LARGE, "amount": 800}
RIGHT_STAGES = [
    {"name": "operations review", "role": "ops_manager", "kind": "approve", "approvals": 1,
     "sla": "1 business day", "approvers": ["sam", "dana"]},
    {"name": "owner sign-off", "role": "owner", "kind": "approve", "approvals": 1, "sla": "1 business day",
     "approvers": ["olivia"]},
]


def two_stages(constitution: Path) -> Path:
    """The fixture with refund-large going to the ops manager first, then to the owner."""
    policy = constitution / "policies" / "refunds.json"
    text = policy.read_text()
    one = '"stages": [{"role": "owner"}],'
    assert one in text
    policy.write_text(text.replace(one, '"stages": [{"role": "ops_manager", "name": "operations review"}, '
                                        '{"role": "owner", "name": "owner sign-off"}],'))
    return constitution


def with_scenarios(constitution: Path, *scenarios: dict[str, Any]) -> Path:
    (constitution / "scenarios" / "refunds.json").write_text(json.dumps(
        {"$schema": "../../../../schemas/scenario.schema.json", "scenarios": list(scenarios)}, indent=2))
    return constitution


def large(expect: dict[str, Any], scenario_id: str = "large-refund-two-stages") -> dict[str, Any]:
    return {"id": scenario_id, "description": "A $5,000 refund: operations review, then the owner.",
            "request": LARGE, "expect": {"decision": "escalate", **expect}}


def medium() -> dict[str, Any]:
    return {"id": "medium-refund-one-stage", "description": "An $800 refund goes to the ops manager.",
            "request": MEDIUM, "expect": {"decision": "escalate", "role": "ops_manager",
                                          "stages": [{"role": "ops_manager", "approvers": ["dana", "sam"]}]}}


def mismatches(folder: Path) -> list[Mismatch]:
    return [m for outcome in run(Constitution.load(folder)) for m in outcome.mismatches]


def failure_lines(folder: Path) -> list[str]:
    done = invoke("test", "--constitution", str(folder))
    assert done.returncode == 1, done.stdout + done.stderr
    return done.stdout.splitlines()


def test_the_right_whole_escalation_passes_in_the_api_and_the_cli(constitution: Path) -> None:
    folder = with_scenarios(two_stages(constitution), large({"role": "ops_manager", "stages": RIGHT_STAGES}),
                            medium())
    assert mismatches(folder) == []
    done = invoke("test", "--constitution", str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "2 scenarios: 2 passed, 0 failed"


def test_a_wrong_second_stage_role_fails_with_the_stage_named(constitution: Path) -> None:
    stages = [RIGHT_STAGES[0], {**RIGHT_STAGES[1], "role": "ops_manager"}]
    folder = with_scenarios(two_stages(constitution), large({"role": "ops_manager", "stages": stages}))
    assert mismatches(folder) == [Mismatch("stage 2 (owner sign-off): role", "ops_manager", "owner")]
    lines = failure_lines(folder)
    assert lines[0].startswith("FAIL large-refund-two-stages (")
    assert lines[1] == "  stage 2 (owner sign-off): role expected ops_manager, got owner"


def test_the_first_stage_checks_alone_miss_a_wrong_second_stage_but_stages_do_not(constitution: Path) -> None:
    folder = with_scenarios(two_stages(constitution),
                            large({"role": "ops_manager", "approvers": ["dana", "sam"]}, "first-stage-only"),
                            large({"stages": [{"role": "ops_manager"}, {"role": "clerk"}]}, "whole"))
    outcomes = {o.scenario.id: o for o in run(Constitution.load(folder))}
    assert outcomes["first-stage-only"].passed
    assert outcomes["whole"].mismatches == [Mismatch("stage 2 (owner sign-off): role", "clerk", "owner")]


def test_too_many_stages_expected_names_the_missing_one(constitution: Path) -> None:
    stages = [*RIGHT_STAGES, {"name": "signature", "role": "owner", "kind": "sign"}]
    folder = with_scenarios(two_stages(constitution), large({"stages": stages}))
    assert mismatches(folder) == [Mismatch("stages", 3, 2, "missing: signature by owner")]
    assert failure_lines(folder)[1] == "  stages: expected 3, got 2 (missing: signature by owner)"


def test_too_few_stages_expected_names_the_extra_one(constitution: Path) -> None:
    folder = with_scenarios(two_stages(constitution), large({"stages": [{"role": "ops_manager"}]}))
    assert failure_lines(folder)[1] == "  stages: expected 1, got 2 (extra: owner sign-off by owner)"


def test_a_stage_missing_in_the_middle_does_not_shift_the_others() -> None:
    decision = escalate([stage("functional", "ops_manager", ["dana"]), stage("signature", "owner", ["olivia"])])
    expect = {"decision": "escalate", "stages": [{"role": "ops_manager"}, {"name": "financial", "role": "cfo"},
                                                 {"role": "owner"}]}
    assert compare(expect, decision) == [Mismatch("stages", 3, 2, "missing: financial by cfo")]
    expect["stages"] = [{"role": "ops_manager"}]
    assert compare(expect, decision) == [Mismatch("stages", 1, 2, "extra: signature by owner")]
    expect["stages"] = [{"role": "clerk"}]
    assert compare(expect, decision) == [Mismatch("stages", 1, 2, "missing: a stage by clerk; extra: functional "
                                                                  "by ops_manager, signature by owner")]


def test_a_wrong_approver_set_fails_and_order_and_repeats_do_not_matter(constitution: Path) -> None:
    wrong = [{**RIGHT_STAGES[0], "approvers": ["dana"]}, {**RIGHT_STAGES[1], "approvers": ["olivia", "olivia"]}]
    folder = with_scenarios(two_stages(constitution), large({"stages": wrong}))
    assert mismatches(folder) == [Mismatch("stage 1 (operations review): approvers", ["dana"], ["dana", "sam"])]
    assert failure_lines(folder)[1] == "  stage 1 (operations review): approvers expected dana, got dana, sam"


def test_kind_and_sla_are_compared_per_stage(constitution: Path) -> None:
    stages = [{**RIGHT_STAGES[0], "sla": "4 business hours"}, {**RIGHT_STAGES[1], "kind": "sign"}]
    folder = with_scenarios(two_stages(constitution), large({"stages": stages}))
    assert mismatches(folder) == [Mismatch("stage 1 (operations review): sla", "4 business hours", "1 business day"),
                                  Mismatch("stage 2 (owner sign-off): kind", "sign", "approve")]
    assert failure_lines(folder)[1:3] == [
        "  stage 1 (operations review): sla expected 4 business hours, got 1 business day",
        "  stage 2 (owner sign-off): kind expected sign, got approve"]


def test_stages_expected_of_a_decision_that_does_not_escalate_are_all_missing(constitution: Path) -> None:
    small = {**LARGE, "amount": 100}
    folder = with_scenarios(two_stages(constitution), {
        "id": "small", "description": "A $100 refund.", "request": small,
        "expect": {"decision": "escalate", "stages": [{"role": "owner"}]}})
    assert mismatches(folder) == [Mismatch("decision", "escalate", "automate"),
                                  Mismatch("stages", 1, 0, "missing: a stage by owner")]


def test_an_unknown_role_or_person_in_an_expected_stage_is_a_reference_error(constitution: Path) -> None:
    folder = with_scenarios(two_stages(constitution), large({"stages": [
        {"role": "ops_manager", "approvers": ["dana", "samm"]}, {"role": "ownr"}]}))
    with pytest.raises(InvalidConstitution):
        Constitution.load(folder)
    done = invoke("validate", "-c", str(folder))
    assert done.returncode == 1
    found = [line for line in done.stdout.splitlines() if " REF00" in line]
    assert len(found) == 2, done.stdout
    assert "REF002 unknown person `samm` at /scenarios/0/expect/stages/0/approvers/1; did you mean `sam`?" in found[0]
    assert "REF001 unknown role `ownr` at /scenarios/0/expect/stages/1/role; did you mean `owner`?" in found[1]


@pytest.mark.parametrize("stage_entry", [{"role": "owner", "kind": "approves"}, {"role": "owner", "sla": "soon"},
                                         {"role": "owner", "approvals": "two"}, {"role": "owner", "by": "olivia"},
                                         {"approvers": "olivia"}, {"phase": "Financial review"}])
def test_a_malformed_expected_stage_is_a_schema_error_not_a_crash(constitution: Path,
                                                                  stage_entry: dict[str, Any]) -> None:
    folder = with_scenarios(two_stages(constitution), large({"stages": [stage_entry]}))
    done = invoke("test", "--constitution", str(folder))
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    assert "scenarios/refunds.json" in done.stdout + done.stderr


def test_coverage_counts_every_stage_of_every_decision(constitution: Path) -> None:
    folder = with_scenarios(two_stages(constitution), medium())
    loaded = Constitution.load(folder)
    assert coverage(loaded, run(loaded)).untested_roles == ["owner"]  # refund-large's second stage
    folder = with_scenarios(folder, medium(), large({"stages": RIGHT_STAGES}))
    loaded = Constitution.load(folder)
    assert coverage(loaded, run(loaded)).untested_roles == []


def test_a_relative_approver_is_pinned_by_the_role_it_resolved_to_and_covered_by_its_spec(constitution: Path) -> None:
    policy = constitution / "policies" / "refunds.json"
    written = json.loads(policy.read_text())
    written["rules"].append({"id": "refund-by-staff", "when": {"path": "actor.kind", "op": "eq", "value": "human"},
                             "outcome": "escalate", "reason": "A refund staff ask for needs their manager.",
                             "escalation": {"stages": [{"approver": {"manager_of": "requester"},
                                                        "name": "manager check"}]}})
    policy.write_text(json.dumps(written))
    folder = with_scenarios(constitution, medium())
    loaded = Constitution.load(folder)
    assert coverage(loaded, run(loaded)).untested_roles == ["manager_of:requester", "owner"]
    staff = {"id": "clerk-refund", "description": "Cleo the clerk asks for a $100 refund.",
             "request": {"action": "refund.issue", "actor": {"id": "cleo", "kind": "human"}, "amount": 100, "at": AT},
             "expect": {"decision": "escalate", "stages": [{"name": "manager check", "role": "ops_manager",
                                                            "approvers": ["dana", "sam"]}]}}
    loaded = Constitution.load(with_scenarios(folder, medium(), staff))
    outcomes = run(loaded)
    assert [o.mismatches for o in outcomes] == [[], []]
    assert coverage(loaded, outcomes).untested_roles == ["owner"]


def test_coverage_counts_a_relative_approver_reached_by_its_spec_not_by_the_role_it_resolved_to() -> None:
    stages = (SimpleNamespace(role=None, approver=RelativeApprover("manager_of", "requester")),
              SimpleNamespace(role=None, approver=RelativeApprover("head_of", "attributes.cost_center")),
              SimpleNamespace(role="owner", approver=None))
    rule = SimpleNamespace(id="r", condition=SimpleNamespace(comparisons=lambda: []),
                           escalation=SimpleNamespace(sla_threshold=None, stages=stages))
    loaded: Any = SimpleNamespace(compiled=SimpleNamespace(rules=[rule]))
    manager = {**stage(None, "ops_manager", ["dana"]),
               "approver": {"relation": "manager_of", "of": "requester", "unit": None}}
    outcome: Any = SimpleNamespace(decision={"reasons": [{"rule": "r"}], **escalate([manager])})
    # the manager held ops_manager and owner was never asked: the head of the unit and the owner stay unreached
    assert coverage(loaded, [outcome]).untested_roles == ["head_of:attributes.cost_center", "owner"]
    old: Any = SimpleNamespace(decision={"reasons": [{"rule": "r"}], "escalation": {"stages": [{"role": "owner"}]}})
    assert coverage(loaded, [old]).untested_roles == ["head_of:attributes.cost_center", "manager_of:requester"]


def test_money_and_history_figures_are_compared_as_numbers() -> None:
    decision = {**escalate([stage(None, "owner", ["olivia"])]),
                "money": {"amount": 800, "currency": "EUR", "rate": 1.08, "rate_from": "2026-01-01",
                          "converted": 864.0000000001},
                "history": [{"rule": "vendor-annual", "value": 12000.0}]}
    assert compare({"decision": "escalate", "money": {"converted": 864, "rate": 1.08},
                    "history": [{"value": 12000}]}, decision) == []
    assert compare({"decision": "escalate", "money": {"converted": 800}, "history": [{"value": 11000}]},
                   decision) == [Mismatch("money: converted", 800, 864.0000000001),
                                 Mismatch("history 1 (vendor-annual): value", 11000, 12000.0)]
    assert compare({"decision": "escalate", "money": {"rate": 1.08}, "history": [{"value": 1}, {"value": 2}]},
                   {**decision, "money": None}) == [
        Mismatch("money: rate", 1.08, None),
        Mismatch("history", 2, 1, "the decision names 12000.0 (vendor-annual)")]


# generated: a decision's own stages, as an expectation, always pass; one changed key fails on that key alone

ROLES = st.sampled_from(["owner", "ops_manager", "clerk", "cfo"])
PEOPLE = st.lists(st.sampled_from(["dana", "sam", "olivia", "cleo"]), unique=True, max_size=3)
TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)
STAGE = st.builds(lambda name, role, kind, approvals, sla, people, phase: {
    "name": name, "phase": phase, "kind": kind, "role": role, "approver": None, "approvals": approvals,
    "approvers": [{"id": p} for p in people], "sla": sla, "due": None, "on_timeout": {"then": "deny", "role": None},
    "rules": ["r"]}, st.none() | TEXT, ROLES, st.sampled_from(["approve", "sign", "advise", "notify"]),
    st.integers(0, 5), st.none() | st.sampled_from(["1 business day", "4 hours"]), PEOPLE,
    st.none() | st.sampled_from(["functional", "financial", "legal"]))


def expected_from(actual: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    values = {"approvers": [a["id"] for a in actual["approvers"]]}
    return {key: values.get(key, actual[key]) for key in keys if actual.get(key) is not None}


@settings(max_examples=300, deadline=None)
@given(st.lists(STAGE, max_size=5), st.data())
def test_generated_escalations_pass_as_themselves_and_fail_on_one_changed_key(stages: list[dict[str, Any]],
                                                                              data: st.DataObject) -> None:
    keys = ["role", "kind", "approvals", "sla", "approvers", "phase", "name"]
    expect = {"decision": "escalate",
              "stages": [expected_from(s, data.draw(st.lists(st.sampled_from(keys), unique=True))) for s in stages]}
    decision = escalate(stages)
    assert compare(expect, decision) == []
    if not stages:
        return
    n = data.draw(st.integers(0, len(stages) - 1))
    expect["stages"][n] = {**expect["stages"][n], "approvals": stages[n]["approvals"] + 1}
    found = compare(expect, decision)
    assert [(m.what.endswith(": approvals"), m.what.startswith(f"stage {n + 1}")) for m in found] == [(True, True)]
    assert len(rendered(found, decision)) == 3  # FAIL, the one mismatch on one line (any name), the summary
    expect["stages"].pop(n)
    (count,) = compare(expect, decision)
    assert (count.what, count.expected, count.actual) == ("stages", len(stages) - 1, len(stages))
    assert count.note.startswith("extra: ")
    lines = rendered([count], decision)
    assert len(lines) == 3 and lines[1].startswith(f"  stages: expected {len(stages) - 1}, got {len(stages)} (extra: ")


def rendered(found: list[Mismatch], decision: dict[str, Any]) -> list[str]:
    """aios test's text for a failed scenario, as lines."""
    outcome = SimpleNamespace(scenario=SimpleNamespace(id="s", description="d", origin=SimpleNamespace(
        file="scenarios/x.json", pointer="/scenarios/0")), decision=decision, mismatches=found)
    return _failure_text(outcome).splitlines()


def stage(name: str | None, role: str, people: list[str]) -> dict[str, Any]:
    return {"name": name, "role": role, "approvals": 1, "approvers": [{"id": p} for p in people]}


def escalate(stages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"decision": "escalate", "summary": "escalated", "reasons": [], "missing": [],
            "escalation": {"role": stages[0]["role"] if stages else None, "stages": stages, "sla": "1 business day"}}

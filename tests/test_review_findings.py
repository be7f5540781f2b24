"""Defects a review found, each reproduced exactly as reported and now closed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLE, invoke, run_sql

from aios_policy import Constitution
from aios_policy.constitution.conditions import compile_condition
from aios_policy.constitution.dates import parse_moment


@pytest.fixture(scope="module")
def example() -> Constitution:
    return Constitution.load(EXAMPLE)


def _decide(constitution: Constitution, request: dict, now: str) -> dict:
    return constitution.decide_dict(request, parse_moment(now, constitution.compiled.manifest.timezone))


def test_leaving_out_two_facts_a_deny_rule_needs_asks_for_both(example: Constitution) -> None:
    request = {"action": "vendor.pay", "actor": {"id": "ap-agent", "kind": "agent"}, "amount": 100,
               "confidence": 0.99, "attributes": {"invoice_matches_po": True, "vendor_onboarded": True}}
    decision = _decide(example, request, "2026-11-10T10:00:00-05:00")
    assert decision["decision"] == "needs_info"
    assert {m["field"] for m in decision["missing"]} == {"attributes.bank_details_changed",
                                                        "attributes.bank_change_verified"}
    assert decision["missing"][0]["outcomes"][0]["decision"] == "be denied"


def test_a_backdated_request_cannot_dodge_a_rule_in_force_now(example: Constitution) -> None:
    request = {"action": "discount.apply", "actor": {"id": "sales-agent", "kind": "agent"}, "confidence": 0.99,
               "attributes": {"discount_pct": 5, "client_tier": "standard"}, "at": "2026-12-01"}
    decision = _decide(example, request, "2026-12-20T10:00:00-05:00")
    assert decision["decision"] == "escalate"
    assert decision["reasons"][0]["rule"] == "discount-year-end-freeze"


@pytest.mark.parametrize("actor", [
    {"id": "omar.siddiqui", "kind": "human", "role": "managing_partner"},  # a role he does not hold
    {"id": "omar.siddiqui", "kind": "agent"},                              # a person posing as an agent
    {"id": "contract-bot", "kind": "agent", "role": "managing_partner"},    # a role claimed by a non-person
])
def test_an_identity_org_json_denies_is_refused(example: Constitution, actor: dict) -> None:
    request = {"action": "contract.sign", "actor": actor, "amount": 1000, "confidence": 1,
               "attributes": {"contract_type": "sow", "uses_standard_template": True, "unlimited_liability": False}}
    decision = _decide(example, request, "2026-11-10T10:00:00-05:00")
    assert decision["decision"] == "escalate" and decision["escalation"]["role"] == "managing_partner"
    assert decision["errors"] and "org.json" in decision["errors"][0]


def test_one_person_never_approves_two_stages(example: Constitution) -> None:
    request = {"action": "refund.issue", "actor": {"id": "billing-agent", "kind": "agent"}, "amount": 20000,
               "confidence": 0.99, "attributes": {"chargeback_open": False, "to_original_payment_method": True}}
    decision = _decide(example, request, "2027-08-05T10:00:00-04:00")  # the managing partner is away
    waited = [{a["id"] for a in stage["approvers"]} for stage in decision["escalation"]["stages"]
              if stage["kind"] in ("approve", "sign")]  # advise and notify stages inform, they do not approve
    assert len(waited) == 2
    first, second = waited
    assert not first & second, (first, second)


def test_a_quoted_field_is_the_same_plain_field() -> None:
    condition, problems = compile_condition({"path": 'attributes."vendor_onboarded"', "op": "eq", "value": True}, {})
    assert not problems and condition.simple and condition.path == "attributes.vendor_onboarded"


@pytest.mark.parametrize("text", ['{"action": "refund.issue", "amount": NaN}', "[" * 100_000 + "]" * 100_000],
                         ids=["nan", "deep"])
def test_unreadable_cli_input_is_a_usage_error_not_a_crash(tmp_path: Path, text: str) -> None:
    done = invoke("decide", "-", "--no-log", "-c", str(EXAMPLE), input=text)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "internal error" not in done.stderr


def test_text_that_is_not_unicode_is_logged_and_the_chain_holds(tmp_path: Path) -> None:
    log = tmp_path / "log.sqlite"
    request = '{"action": "refund.issue", "actor": {"id": "b\\ud800", "kind": "agent"}, "attributes": {"a": "\\ud800"}}'
    done = invoke("decide", "-", "--log", str(log), "-c", str(EXAMPLE), input=request)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["decision"] == "escalate"
    assert invoke("log", "verify", "--log", str(log)).returncode == 0


def test_removing_the_newest_entries_is_caught(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "constitution")
    request = json.dumps({"action": "payroll.run", "actor": {"id": "bot", "kind": "agent"}})
    for _ in range(2):
        assert invoke("decide", "-", cwd=tmp_path, input=request).returncode == 0
    log = tmp_path / ".aios" / "decisions.sqlite"
    run_sql(log, "DELETE FROM entries WHERE seq=2; UPDATE sqlite_sequence SET seq=1")
    done = invoke("log", "verify", cwd=tmp_path)
    assert done.returncode == 1 and "the newest entries were removed" in done.stdout


def test_set_never_silently_replaces_fields_set_before() -> None:
    done = invoke("decide", "--set", "amount.x=1", "--set", "amount=5", "--no-log", "-c", str(EXAMPLE))
    assert done.returncode == 2 and "would replace the fields already set inside it" in done.stderr



@pytest.mark.parametrize("bad_id", [["a", "list"], 5])
def test_a_broken_policy_id_is_a_schema_error_not_a_crash(tmp_path: Path, bad_id: object) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "constitution")
    policy = tmp_path / "constitution" / "policies" / "ndas.json"
    data = json.loads(policy.read_text())
    data["id"] = bad_id
    data["rules"][0]["id"] = bad_id
    policy.write_text(json.dumps(data))
    sop = tmp_path / "constitution" / "sops" / "refund-dispute.json"
    sop.write_text(sop.read_text().replace('"client-refunds"', '"client-refundz"'))
    done = invoke("validate", cwd=tmp_path)
    assert done.returncode == 1 and "SCHEMA002" in done.stdout and "internal error" not in done.stderr


def test_ask_reads_a_negation_inside_a_fact(example: Constitution) -> None:
    from aios_policy.guide.ask import ask

    now = parse_moment("2026-11-24T10:00:00-05:00", example.compiled.manifest.timezone)
    answer = ask(example, "a client wants a refund of $800, it is not going to the original payment method", now)
    assert answer.match and answer.match["id"] == "refund-dispute"
    assert answer.facts["attributes.to_original_payment_method"] is False


def test_when_the_only_person_left_already_approves_the_note_says_two_person_control_is_lost(
        example: Constitution) -> None:
    """The finance manager's own expense: his manager (the managing partner) approves the claim, and the
    finance stage, which he cannot take, passes up to her too. The decision says so truthfully."""
    request = {"action": "expense.reimburse", "actor": {"id": "david.okafor", "kind": "human"}, "amount": 3000,
               "attributes": {"category": "office_supplies", "has_receipt": False, "days_since_expense": 6}}
    decision = _decide(example, request, "2026-09-15T10:00:00-04:00")
    notes = [r["text"] for r in decision["reasons"] if r["rule"] == "routing"]
    assert any(note.startswith("two-person control cannot be kept") for note in notes), notes
    assert not any("the requester holds the top role" in note for note in notes), notes

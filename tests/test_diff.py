"""The behavioural diff on real git repositories: each kind of change against a hand-computed result."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ENGINE, committed, git, invoke, run_aios

from aios_policy import Constitution, check
from aios_policy.analysis.diff import DiffReport, behavioural_diff
from aios_policy.analysis.regions import EXAMPLE_ACTOR, Region
from aios_policy.analysis.seen import Seen, Sides

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
ORDINARY = "cleo"  # the engine fixture's person of least authority: the region example of "a person"


@pytest.fixture
def company(tmp_path: Path) -> Path:
    """A repository whose main branch holds the engine test constitution."""
    return committed(tmp_path, ENGINE, "base")


def _edit(company: Path, relative: str, change: Callable[[dict], None]) -> None:
    path = company / "constitution" / relative
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2) + "\n")


def _rule(data: dict, rule_id: str) -> dict:
    return next(r for r in data["rules"] if r["id"] == rule_id)


def _diff(company: Path, log: Path | None = None) -> DiffReport:
    """The diff of the working tree against main, each region's example checked under both versions."""
    report = behavioural_diff(company / "constitution", "main", None, NOW, log)
    _assert_examples_reproduce_both_outcomes(company, report)
    return report


def _assert_examples_reproduce_both_outcomes(company: Path, report: DiffReport) -> None:
    """Every region's example, decided again by the engine at its moment, gets the region's outcome
    before and after (the roles after routing, approvals and timeout)."""
    base = Constitution(check(company / "constitution", report.base.commit))
    head = Constitution(check(company / "constitution"))
    sides = Sides(base.compiled, head.compiled)
    for region in report.regions:
        moment = datetime.fromisoformat(region.example["at"])
        for version, expected in ((base, region.base), (head, region.head)):
            found = Seen.of(version.decide_dict(region.example, moment)).outcome
            if version is base:
                found = sides.renamed(Seen(found)).outcome
            assert found == expected, (region.describe(), found)


def _today(report: DiffReport) -> list[Region]:
    """The regions that hold a request made now by an agent or by someone with no approving role."""
    return [r for r in report.regions if r.example["at"] == NOW.isoformat()
            and r.example["actor"]["id"] in (EXAMPLE_ACTOR, ORDINARY)]


def _set_threshold(company: Path, name: str, value: float) -> None:
    _edit(company, "thresholds.json", lambda d: d["thresholds"][name].update(value=value))


def test_raising_a_threshold_loosens_exactly_the_new_range(company: Path) -> None:
    _set_threshold(company, "refunds.auto_limit", 400)
    report = _diff(company)
    assert [c.text for c in report.changes] == ["threshold `refunds.auto_limit` 250 → 400"]
    assert report.changes[0].owners == ("ops",)  # the refunds policy's owner reviews it
    assert _today(report) and {r.action for r in _today(report)} == {"refund.issue"}
    assert all("amount above $250 up to $400" in r.conditions for r in _today(report))
    loosened = [r for r in _today(report) if r.risk == "loosened"]
    assert loosened and {(r.base[0], r.head[0]) for r in loosened} == {("escalate", "automate")}
    # an agent below the bar now meets the automate rule and goes to the policy owner, whose
    # escalation (the manifest's default) is denied when nobody answers: stricter than before
    for region in _today(report):
        if region.risk != "loosened":
            assert region.risk == "tightened" and "requested by an agent" in region.conditions
            assert region.head[:4] == ("escalate", ("ops",), (1,), "deny") and region.base[3] == "escalate"
    assert report.loosens


def test_lowering_a_threshold_tightens(company: Path) -> None:
    _set_threshold(company, "refunds.auto_limit", 200)
    report = _diff(company)
    assert all("amount above $200 up to $250" in r.conditions for r in _today(report))
    tightened = [r for r in _today(report) if r.risk == "tightened"]
    assert tightened and {(r.base[0], r.head[0]) for r in tightened} == {("automate", "escalate")}
    for region in _today(report):  # agents below the bar: denied on timeout before, escalated now
        if region.risk != "tightened":
            assert region.risk == "loosened" and (region.base[3], region.head[3]) == ("deny", "escalate")
    assert report.summary()["tightened"] >= len(tightened)


def test_adding_a_deny_rule_tightens_only_where_it_applies(company: Path) -> None:
    _edit(company, "policies/refunds.json", lambda d: d["rules"].append(
        {"id": "refund-fraud", "when": {"path": "attributes.client_status", "op": "eq", "value": "fraud"},
         "outcome": "deny", "reason": "Clients under a fraud review get no refunds."}))
    report = _diff(company)
    assert "rule `refund-fraud` (deny) added to policy `refunds`" in [c.text for c in report.changes]
    assert _today(report) and {r.head[:4] for r in _today(report)} == {("deny", (), (), "")}
    assert {r.risk for r in _today(report)} == {"tightened"}
    assert all("attributes.client_status is `fraud`" in r.conditions for r in _today(report))


def test_moving_an_escalation_to_a_role_of_equal_authority_re_routes(company: Path) -> None:
    def add_role(org: dict) -> None:
        org["roles"].append({"id": "controller", "title": "Controller", "reports_to": "finance", "authority": 60})
        org["people"].append({"id": "carl", "name": "Carl Controller", "roles": ["controller"]})

    _edit(company, "org.json", add_role)
    _edit(company, "policies/refunds.json",
          lambda d: _rule(d, "refund-medium")["escalation"].update(stages=[{"role": "controller"}]))
    report = _diff(company)
    assert "rule `refund-medium` now escalates to `controller` (was `ops`)" in [c.text for c in report.changes]
    assert {r.risk for r in _today(report)} == {"re-routed"}
    moves = {(r.base[:2], r.head[:2]) for r in _today(report)}
    assert moves == {(("escalate", ("ops",)), ("escalate", ("controller",)))}
    assert report.summary()["rerouted"] >= len(_today(report))


def test_escalating_to_a_lower_role_loosens(company: Path) -> None:
    _edit(company, "policies/refunds.json",
          lambda d: _rule(d, "refund-medium")["escalation"].update(stages=[{"role": "clerk"}]))
    report = _diff(company)
    assert _today(report) and {r.risk for r in _today(report)} == {"loosened"}


def test_lowering_a_confidence_bar_loosens_for_agents_between_the_bars(company: Path) -> None:
    _set_threshold(company, "refunds.min_confidence", 0.85)
    report = _diff(company)
    assert [c.text for c in report.changes] == ["threshold `refunds.min_confidence` 0.9 → 0.85"]
    assert _today(report) and {r.risk for r in _today(report)} == {"loosened"}
    for region in _today(report):
        assert "confidence from 0.85 below 0.9" in region.conditions and "requested by an agent" in region.conditions
        assert region.base[:2] == ("escalate", ("ops",)) and region.head[:4] == ("automate", (), (), "")


def test_a_bar_is_cut_even_where_a_rule_also_reads_confidence(company: Path) -> None:
    """The bar's band is a region of its own although a rule compares confidence at another value."""
    guard = {"id": "refund-unsure", "when": {"path": "confidence", "op": "lt", "value": 0.1},
             "outcome": "deny", "reason": "An agent this unsure must not refund."}
    _edit(company, "policies/refunds.json", lambda d: d["rules"].append(guard))
    git(company, "commit", "-qam", "a rule reads confidence")
    _set_threshold(company, "refunds.min_confidence", 0.85)
    report = _diff(company)
    loosened = [r for r in report.regions if r.risk == "loosened"]
    assert loosened and {r.risk for r in report.regions} == {"loosened"}
    assert all("confidence from 0.85 below 0.9" in r.conditions for r in loosened)
    explained = invoke("explain", "refund.issue", "--constitution", str(company / "constitution"))
    assert explained.returncode == 0 and "100%" not in explained.stdout and "85%" in explained.stdout


def test_deleting_a_policy_sends_its_action_to_the_default(company: Path) -> None:
    (company / "constitution" / "policies" / "vendors.json").unlink()
    report = _diff(company)
    assert "policy `vendors` (Vendor payments) removed, with its 6 rule(s)" in [c.text for c in report.changes]
    assert {r.action for r in _today(report)} == {"vendor.pay"}
    assert {r.head[:2] for r in _today(report)} == {("escalate", ("owner",))}
    denied = [r for r in _today(report) if r.base[0] == "deny"]
    assert denied and {r.risk for r in denied} == {"loosened"}  # a deny became a mere escalation
    assert {r.risk for r in _today(report) if r.base[0] == "automate"} == {"tightened"}


def test_renaming_a_role_is_said_in_words_and_changes_no_decision(company: Path) -> None:
    constitution = company / "constitution"
    for path in constitution.rglob("*.json"):
        path.write_text(path.read_text().replace('"ops"', '"operations"'))
    report = _diff(company)
    assert "role `ops` renamed to `operations`" in [c.text for c in report.changes]
    assert not report.regions and not report.scenarios  # the same people approve the same requests


def test_reformatting_and_rewording_change_no_decision(company: Path) -> None:
    assert invoke("fmt", cwd=company).returncode == 0
    _edit(company, "policies/refunds.json", lambda d: d.update(summary="Refunds, explained better."))
    _edit(company, "thresholds.json", lambda d: d["thresholds"]["refunds.auto_limit"].update(
        description="The largest refund an agent may send without asking."))
    report = _diff(company)
    assert sorted(c.text for c in report.changes) == ["policy `refunds`: summary reworded",
                                                      "threshold `refunds.auto_limit`: description or unit reworded"]
    assert report.regions == [] and report.scenarios == [] and report.actions_analysed == []
    assert report.fails("any-change") and not report.fails("loosening")  # the files changed, nothing loosens


def test_a_decision_change_without_an_updated_expectation_fails(company: Path) -> None:
    _set_threshold(company, "refunds.auto_limit", 1000)
    report = _diff(company)
    [scenario] = report.scenarios
    assert scenario.id == "medium-refund-goes-to-ops" and scenario.stale
    assert (scenario.base, scenario.head) == ("escalate to ops", "automate")
    assert report.fails("loosening") and not report.fails("never")
    _edit(company, "scenarios/basic.json", lambda d: d["scenarios"][0].update(expect={"decision": "automate"}))
    updated = _diff(company)
    assert not updated.scenarios[0].stale


def test_committed_refs_and_the_cli(company: Path) -> None:
    git(company, "checkout", "-q", "-b", "raise")
    _set_threshold(company, "refunds.auto_limit", 400)
    git(company, "commit", "-qam", "raise the limit")
    done = run_aios("diff", "main", "raise", "--format", "json", "--now", "2026-11-10T10:00:00-05:00",
                    "--fail-on", "never", cwd=company)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == {"base", "head", "summary", "headlines", "changes", "scenarios", "replay", "regions"}
    assert report["base"]["commit"] == git(company, "rev-parse", "main")
    assert isinstance(report["summary"]["loosened"], int) and report["summary"]["loosened"] > 0
    assert report["replay"] is None
    failing = invoke("diff", "main", "raise", "--fail-on", "loosening", cwd=company)
    assert failing.returncode == 1 and "LOOSENED" in failing.stdout
    markdown = invoke("diff", "main", "raise", "--format", "markdown", "--fail-on", "never", cwd=company)
    assert markdown.stdout.startswith("<!-- aios-policy-diff -->\n## aios-policy: behavioural impact")
    assert "⚠️ loosens control" in markdown.stdout


def test_default_base_is_where_the_branch_left_main(company: Path) -> None:
    git(company, "checkout", "-q", "-b", "feature")
    _set_threshold(company, "refunds.auto_limit", 400)
    done = invoke("diff", "--format", "json", "--fail-on", "never", cwd=company)
    report = json.loads(done.stdout)
    assert report["base"]["commit"] == git(company, "rev-parse", "main")
    assert report["head"]["ref"] == "working tree" and report["head"]["dirty"] is True


def test_replay_of_the_decision_log(company: Path) -> None:
    requests = [{"action": "refund.issue", "actor": {"id": "billing-agent", "kind": "agent"}, "amount": amount,
                 "confidence": 0.95, "attributes": {"client_status": "active"}, "at": "2026-11-10T10:00:00-05:00"}
                for amount in (100, 300, 350, 800)]
    lines = "\n".join(json.dumps(r) for r in requests) + "\n"
    assert invoke("decide", "-", "--now", "2026-11-10T10:00:00-05:00", cwd=company, input=lines).returncode == 0
    _set_threshold(company, "refunds.auto_limit", 400)
    report = _diff(company, log=company / ".aios" / "decisions.sqlite")
    assert report.replay is not None and report.replay.total == 4 and report.replay.changed == 2
    assert report.replay.transitions["refund.issue"]["escalate to ops → automate"] == 2
    assert report.replay.newly_automated == 650
    assert report.replay.risks["loosened"] == 2


def test_no_log_is_said_plainly(company: Path) -> None:
    _set_threshold(company, "refunds.auto_limit", 400)
    done = invoke("diff", "--fail-on", "never", cwd=company)
    assert "No decision log was found to replay" in done.stdout


def test_an_invalid_head_is_a_clear_error(company: Path) -> None:
    _edit(company, "policies/refunds.json", lambda d: d.update(owner="nobody"))
    done = invoke("diff", "main", cwd=company)
    assert done.returncode == 2 and "HEAD (the working tree) is not a valid constitution" in done.stderr


def test_git_range_spellings(company: Path) -> None:
    git(company, "checkout", "-q", "-b", "raise")
    _set_threshold(company, "refunds.auto_limit", 400)
    git(company, "commit", "-qam", "raise the limit")
    for spelling in ("main...raise", "main..raise"):
        done = invoke("diff", spelling, "--format", "json", "--fail-on", "never", cwd=company)
        report = json.loads(done.stdout)
        assert report["base"]["commit"] == git(company, "rev-parse", "main"), spelling
        assert report["head"]["commit"] == git(company, "rev-parse", "raise"), spelling


def test_dropping_the_second_approval_loosens(company: Path) -> None:
    _edit(company, "policies/refunds.json",
          lambda d: _rule(d, "refund-large")["escalation"]["stages"][1].update(approvals=2))
    git(company, "commit", "-qam", "two finance approvals")
    _edit(company, "policies/refunds.json",
          lambda d: _rule(d, "refund-large")["escalation"]["stages"][1].update(approvals=1))
    report = _diff(company)
    assert "rule `refund-large`: number of approvals per stage changed" in [c.text for c in report.changes]
    assert _today(report) and {r.risk for r in _today(report)} == {"loosened"}
    assert {(r.base[2], r.head[2]) for r in _today(report)} == {((1, 2), (1, 1))}


def test_approving_on_timeout_loosens(company: Path) -> None:
    _edit(company, "policies/refunds.json",
          lambda d: _rule(d, "refund-large")["escalation"].update(on_timeout={"then": "approve"}))
    report = _diff(company)
    assert "rule `refund-large` on timeout now approve (was deny)" in [c.text for c in report.changes]
    assert _today(report) and {r.risk for r in _today(report)} == {"loosened"} and report.loosens
    assert all(r.head[3] == "approve" for r in _today(report))


def test_reordered_steps_and_a_changed_gate_question_are_reported(company: Path) -> None:
    (company / "constitution" / "sops").mkdir()
    sop = (ENGINE.parent / "minimal" / "sops" / "refund-dispute.json").read_text().replace('"ops_manager"', '"ops"')
    (company / "constitution" / "sops" / "refund-dispute.json").write_text(sop)
    git(company, "add", "-A")
    git(company, "commit", "-qm", "a procedure")

    def change(sop: dict) -> None:
        sop["steps"][2], sop["steps"][3] = sop["steps"][3], sop["steps"][2]
        sop["steps"][1]["gate"]["question"] = "May we refund any amount without asking anyone?"

    _edit(company, "sops/refund-dispute.json", change)
    texts = [c.text for c in _diff(company).changes]
    assert "SOP `refund-dispute`: steps reordered, now acknowledge, decide, refund, wait" in texts
    assert "SOP `refund-dispute` step 2 (`decide`): the gate's question changed" in texts


def test_any_change_in_a_file_is_reported_even_without_words_for_it(company: Path) -> None:
    _edit(company, "constitution.json", lambda d: d.update(description="Now with a description."))
    report = _diff(company)
    assert report.changes and report.fails("any-change")


def test_markdown_cannot_be_broken_by_constitution_text(company: Path) -> None:
    _edit(company, "policies/refunds.json", lambda d: d["rules"].append(
        {"id": "refund-odd", "when": {"path": "attributes.client_status", "op": "eq", "value": "big`one | </details>"},
         "outcome": "deny", "reason": "An odd value."}))
    done = invoke("diff", "main", "--format", "markdown", "--fail-on", "never", cwd=company)
    assert "</details>`" not in done.stdout and "&lt;/details&gt;" in done.stdout
    assert done.stdout.count("<details>") == done.stdout.count("</details>")


def test_a_bad_log_is_a_usage_error_not_a_loosening(company: Path) -> None:
    (company / "not-a-log").write_text("hello")
    done = invoke("diff", "main", "--log", str(company / "not-a-log"), cwd=company)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    unknown = invoke("diff", "main...nope", cwd=company)
    assert unknown.returncode == 2 and "unknown git ref `nope`" in unknown.stderr


@pytest.mark.parametrize(("change", "expected"), [
    ({"sla": "2 business days"}, "loosened"),  # a longer SLA
    ({"sla": "1 hours"}, "tightened"),
    ({"on_timeout": {"then": "escalate", "role": "clerk"}}, "loosened"),  # to a lower authority on timeout
    ({"on_timeout": {"then": "escalate", "role": "owner"}}, "tightened"),
    ({"require": {"type": "object", "required": ["order_id"]}}, "tightened"),  # more for the approver
])
def test_every_part_of_an_escalation_has_a_risk(company: Path, change: dict, expected: str) -> None:
    _edit(company, "policies/refunds.json", lambda d: _rule(d, "refund-medium")["escalation"].update(change))
    report = _diff(company)
    today = _today(report)
    assert today and {r.risk for r in today} == {expected}, [r.describe() for r in today]
    assert all(r.base[:2] == r.head[:2] for r in today)  # the same approver: only the stage's terms moved
    assert report.loosens == (expected == "loosened")


def test_a_move_that_loosens_and_tightens_is_mixed(company: Path) -> None:
    """One approval fewer but denied on timeout: neither side's part wins alone."""
    _edit(company, "policies/refunds.json", lambda d: _rule(d, "refund-large")["escalation"].update(
        stages=[{"role": "finance"}], on_timeout={"then": "deny"}))
    git(company, "commit", "-qam", "large refunds: finance only")
    _edit(company, "policies/refunds.json", lambda d: _rule(d, "refund-large")["escalation"].update(
        stages=[{"role": "ops"}, {"role": "finance"}], on_timeout={"then": "approve"}))
    report = _diff(company)
    assert {r.risk for r in _today(report)} == {"mixed"} and report.loosens


def test_headlines_group_one_move_over_people_and_days(company: Path) -> None:
    """An absence moves a week of one role's approvals to the delegate: the regions name the people,
    the headline says the move once."""
    def away(org: dict) -> None:
        dana = next(p for p in org["people"] if p["id"] == "dana")
        dana["out_of_office"].append({"from": "2026-11-16", "until": "2026-11-20", "delegate": "cleo"})

    _edit(company, "org.json", away)
    report = _diff(company)
    assert report.regions and all("from 2026-11-16 until 2026-11-20" in r.conditions for r in report.regions)
    assert any("(Cleo Clerk)" in r.change for r in report.regions)
    headlines = report.headlines()
    assert len(headlines) < len(report.regions) and all("Cleo" not in h["change"] for h in headlines)
    assert {o["role"] for o in report.owners} >= {"ops"}  # the role whose approvals move reviews
    assert report.to_json()["headlines"] == headlines


def test_raw_jmespath_is_sampled_by_the_types_it_uses(company: Path) -> None:
    """A flag read by a raw expression is sampled as true, false and absent (not on a numeric grid), its
    amounts cut at the literal; the regions say they were sampled and still fail a loosening gate."""
    vip = {"id": "refund-vip", "when": {"jmespath": "attributes.vip && amount > `100`"}, "outcome": "deny",
           "reason": "VIP refunds above $100 go through the account team, not this flow."}
    _edit(company, "policies/refunds.json", lambda d: d["rules"].append(vip))
    git(company, "commit", "-qam", "VIP refunds")
    _edit(company, "policies/refunds.json", lambda d: _rule(d, "refund-vip").update(
        when={"jmespath": "attributes.vip && amount > `500`"}))
    report = _diff(company)
    today = _today(report)
    assert today and {r.risk for r in today} == {"loosened"} and all(r.sampled for r in report.regions)
    words = " ".join(w for r in today for w in r.conditions)
    assert "attributes.vip is true" in words and "1000000" not in words and "1,000,000" not in words
    amounts = {c for r in today for c in r.conditions if c.startswith("amount")}
    assert amounts <= {"amount above $100 up to $250", "amount above $250 up to $500", "amount above $100 up to $500"}
    assert any(a.endswith("up to $500") for a in amounts)  # cut at the new literal, not only at the rules' cuts
    markdown = run_aios("diff", "--format", "markdown", cwd=company)
    assert markdown.returncode == 1 and "not analysed exactly" in markdown.stdout
    assert "✅ no loosening" not in markdown.stdout


def test_side_effects_are_listed_apart_from_what_updated_scenarios_show(company: Path) -> None:
    """Raising the auto limit past the scenario's $800 with its expectation updated: that move is
    intended; what else moves (agents below the bar now reach the policy's owner) is a side effect."""
    _set_threshold(company, "refunds.auto_limit", 1000)

    def expect_automation(data: dict) -> None:
        data["scenarios"][0]["expect"] = {"decision": "automate"}

    _edit(company, "scenarios/basic.json", expect_automation)
    report = _diff(company)
    headlines = report.headlines()
    intended = [h for h in headlines if h["intended"]]
    assert intended and all(h["change"].endswith("→ automate") for h in intended)
    assert any(h["intended"] is False for h in headlines)  # the agents below the bar
    text = run_aios("diff", "--fail-on", "never", cwd=company).stdout
    assert "Headlines: intended (an updated scenario shows it)" in text
    assert "Headlines: side effects (no updated scenario shows them)" in text


def test_reordering_the_approval_phases_is_analysed(company: Path) -> None:
    """The manifest alone changes: stages now run finance first, and the diff says where."""
    def phased(data: dict) -> None:
        stages = _rule(data, "refund-large")["escalation"]["stages"]
        stages[0]["phase"], stages[1]["phase"] = "functional", "financial"

    _edit(company, "policies/refunds.json", phased)
    git(company, "commit", "-qam", "phases")
    _edit(company, "constitution.json", lambda d: d.update(approval_phases=["financial", "functional"]))
    report = _diff(company)
    today = _today(report)
    assert today and all("amount above $2,000" in r.conditions for r in today)
    moves = {(r.base[1], r.head[1]) for r in today if r.base[0] == "escalate"}
    assert (("ops", "finance"), ("finance", "ops")) in moves

"""`aios decide` and `aios test` as a user runs them: real git repositories, the command in-process, and one
real subprocess reading standard input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ENGINE, EXAMPLE, committed, git, invoke, run_aios

from aios_policy.constitution.schema import validator

MEDIUM = {"action": "refund.issue", "actor": {"id": "billing-agent", "kind": "agent"}, "amount": 800,
          "confidence": 0.95, "attributes": {"client_status": "active"}, "at": "2026-11-10T10:00:00-05:00"}
NOW = "2026-11-10T10:00:00-05:00"


@pytest.fixture
def company(tmp_path: Path) -> Path:
    """A company folder holding the engine test constitution; the decision log goes beside it."""
    shutil.copytree(ENGINE, tmp_path / "constitution")
    return tmp_path


def _decide(company: Path, *args: str, input: str | None = None):
    return invoke("decide", *args, cwd=company, input=input)


def test_decide_a_request_file_and_log_it(company: Path) -> None:
    (company / "request.json").write_text(json.dumps(MEDIUM))
    done = _decide(company, "request.json", "--now", NOW)
    assert done.returncode == 0, done.stderr
    decision = json.loads(done.stdout)
    assert not list(validator("decision").iter_errors(decision))
    assert decision["decision"] == "escalate" and decision["escalation"]["role"] == "ops"
    assert decision["escalation"]["stages"][0]["approvers"][0]["name"] == "Dana Ops"
    assert decision["escalation"]["due"] == "2026-11-10T14:00:00-05:00"
    listed = invoke("log", "list", "--format", "json", cwd=company)
    assert listed.returncode == 0, listed.stderr
    assert decision["id"] in listed.stdout
    assert (company / ".aios" / "decisions.sqlite").is_file()


def test_decide_from_standard_input_without_logging(company: Path) -> None:
    done = run_aios("decide", "-", "--no-log", "--now", NOW, cwd=company, input=json.dumps(MEDIUM))  # the real thing
    assert done.returncode == 0 and json.loads(done.stdout)["decision"] == "escalate"
    assert not (company / ".aios").exists()


def test_decide_from_set_fields(company: Path) -> None:
    done = _decide(company, "--set", "action=refund.issue", "--set", "amount=100", "--set", "actor.kind=agent",
                   "--set", "actor.id=billing-agent", "--set", "confidence=0.95",
                   "--set", "attributes.client_status=active", "--now", NOW, "--no-log")
    assert done.returncode == 0, done.stderr
    decision = json.loads(done.stdout)
    assert decision["decision"] == "automate"
    assert decision["counterfactuals"] == ["would escalate to the Operations Manager above $250 up to $2,000"]


def test_json_lines_in_json_lines_out(company: Path) -> None:
    lines = [json.dumps({**MEDIUM, "amount": amount, "id": f"r{amount}"}) for amount in (100, 800, 5000)]
    done = _decide(company, "-", "--no-log", "--now", NOW, input="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(d["request_id"], d["decision"]) for d in out] == [("r100", "automate"), ("r800", "escalate"),
                                                              ("r5000", "escalate")]


def test_text_format_and_explain(company: Path) -> None:
    done = _decide(company, "-", "--no-log", "--now", NOW, "--format", "text", "--explain", input=json.dumps(MEDIUM))
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0] == ("ESCALATE  refund.issue: escalated to the Operations Manager (rule `refund-medium`): "
                        "Mid-size refunds need ops.")
    assert "  stage 1: ops: Dana Ops (dana@example.com)" in lines
    assert "  would automate at or below $250" in lines
    assert any(line.startswith("  trace refunds/refund-small: did not match") for line in lines)


def test_same_request_and_moment_give_the_same_bytes(company: Path) -> None:
    runs = [json.loads(_decide(company, "-", "--no-log", "--now", NOW, input=json.dumps(MEDIUM)).stdout)
            for _ in range(2)]
    for run in runs:
        run.pop("id")
    assert json.dumps(runs[0]) == json.dumps(runs[1])


def test_malformed_input_is_a_clear_error(company: Path) -> None:
    done = _decide(company, "-", "--no-log", input='{"action": "refund.issue",\n "amount": }')
    assert done.returncode == 2
    assert "standard input:2:12: the request is not valid JSON" in done.stderr and "Traceback" not in done.stderr
    assert _decide(company, "missing.json").returncode == 2


def test_a_malformed_request_fails_closed_and_says_why(company: Path) -> None:
    done = _decide(company, "-", "--no-log", "--now", NOW, input=json.dumps({"action": "refund.issue"}))
    decision = json.loads(done.stdout)
    assert decision["decision"] == "escalate" and decision["escalation"]["role"] == "owner"
    assert any("actor" in error for error in decision["errors"])


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """A repository whose refund auto limit was 250 in January and 500 from June."""
    committed(tmp_path, ENGINE, "limit 250", date="2026-01-10T12:00:00+00:00")
    thresholds = tmp_path / "constitution" / "thresholds.json"
    thresholds.write_text(thresholds.read_text().replace('"value": 250', '"value": 500'))
    git(tmp_path, "commit", "-qam", "limit 500", date="2026-06-10T12:00:00+00:00")
    return tmp_path


def _outcome(history: Path, *args: str) -> dict:
    request = {**MEDIUM, "amount": 400}
    request.pop("at")
    done = _decide(history, "-", "--no-log", *args, input=json.dumps(request))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_ref_decides_with_an_older_commit(history: Path) -> None:
    now = ("--now", NOW)
    assert _outcome(history, *now)["decision"] == "automate"
    older = _outcome(history, "--ref", "HEAD~1", *now)
    assert older["decision"] == "escalate"
    assert older["constitution"]["commit"] == git(history, "rev-parse", "HEAD~1")
    assert older["constitution"]["ref"] == "HEAD~1"


def test_at_replays_the_constitution_as_it_stood_on_that_date(history: Path) -> None:
    march = _outcome(history, "--at", "2026-03-01")
    assert march["decision"] == "escalate"
    assert march["constitution"]["commit"] == git(history, "rev-parse", "HEAD~1")
    assert march["decided_at"].startswith("2026-03-01T12:00:00")
    july = _outcome(history, "--at", "2026-07-01")
    assert july["decision"] == "automate" and july["constitution"]["commit"] == git(history, "rev-parse", "HEAD")
    too_early = invoke("decide", "--set", "action=refund.issue", "--at", "2025-01-01", "--no-log", cwd=history)
    assert too_early.returncode == 2 and "no commit on `main` at or before" in too_early.stderr


def test_aios_test_passes_on_the_example() -> None:
    done = invoke("test", "-c", str(EXAMPLE))
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[-1].endswith(" passed, 0 failed")
    assert "coverage: 89 of 89 rules exercised (100.0%)" in done.stdout


def test_aios_test_shows_a_readable_diff_when_an_expectation_is_wrong(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "constitution")
    path = tmp_path / "constitution" / "scenarios" / "refunds.json"
    data = json.loads(path.read_text())
    scenario = next(s for s in data["scenarios"] if s["expect"]["decision"] == "escalate" and "role" in s["expect"])
    scenario["expect"]["decision"] = "automate"
    path.write_text(json.dumps(data, indent=2))
    done = invoke("test", cwd=tmp_path)
    assert done.returncode == 1
    assert f"FAIL {scenario['id']} (constitution/scenarios/refunds.json at /scenarios/" in done.stdout
    assert "  decision: expected automate, got escalate" in done.stdout
    assert done.stdout.splitlines()[-1].endswith(" passed, 1 failed")


def test_min_coverage_fails_below_the_bar(company: Path) -> None:
    done = invoke("test", "--min-coverage", "50", cwd=company)
    assert done.returncode == 1
    assert "coverage 9.1% is below the minimum 50%" in done.stdout
    assert "rules no scenario exercised: refund-small" in done.stdout

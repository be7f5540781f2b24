"""The decision log: real SQLite files, the `aios` command, and plain SQL (Python's sqlite3) to tamper with."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import REPO, invoke, run_sql

from aios_policy.record.log import GENESIS, DecisionLog, LogError, default_log_path

DECISION_SCHEMA = json.loads((REPO / "schemas" / "decision.schema.json").read_text())
REQUEST_SCHEMA = json.loads((REPO / "schemas" / "request.schema.json").read_text())
PEOPLE = {"dana": "Dana Lee", "sam": "Sam Ortiz", "olivia": "Olivia Owner", "cleo": "Cleo Clerk"}
COMMIT = "7d0d8589c00b7f9148d9027226a347447cc2ffb8"
AT = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


def request(action: str = "refund.issue", amount: float = 120, actor: str = "support-bot") -> dict[str, Any]:
    made = {"action": action, "actor": {"id": actor, "kind": "agent", "role": "clerk"}, "amount": amount,
            "currency": "USD", "attributes": {"order_id": "A-1001"}, "confidence": 0.97,
            "at": "2026-11-20T14:00:00Z"}
    jsonschema.validate(made, REQUEST_SCHEMA)
    return made


def decision(number: int, outcome: str = "automate", action: str = "refund.issue",
             stages: list[tuple[str, str, int, list[str]]] | None = None) -> dict[str, Any]:
    """A decision as the engine writes it; `stages` are (name, role, approvals, approver ids)."""
    escalation = None
    if stages:
        escalation = {
            "role": stages[0][1],
            "stages": [{"name": name, "role": role, "approvals": approvals,
                        "approvers": [{"id": p, "name": PEOPLE[p], "email": f"{p}@example.com",
                                       "handles": {"github": p}, "covering_for": None} for p in people]}
                       for name, role, approvals, people in stages],
            "require": {"type": "object", "required": ["order_id"]},
            "sla": "4 business hours", "due": "2026-11-20T18:00:00Z",
            "on_timeout": {"then": "escalate", "role": "owner"}}
    made = {"id": f"dec_{number:04d}", "decided_at": f"2026-11-20T14:{number % 60:02d}:00Z",
            "request_id": f"req-{number}", "action": action, "decision": outcome,
            "summary": f"{outcome} {action}", "escalation": escalation,
            "reasons": [{"policy": "refunds", "rule": "refund-rule", "outcome": outcome, "text": "Because."}],
            "counterfactuals": [], "obligations": [], "errors": [],
            "constitution": {"name": "Test Co", "commit": COMMIT, "ref": None, "dirty": False}}
    jsonschema.validate(made, DECISION_SCHEMA)
    return made


ONE_STAGE = [("functional", "ops_manager", 1, ["dana", "sam"])]
TWO_STAGES = [("functional", "ops_manager", 1, ["dana", "sam"]), ("financial", "owner", 1, ["olivia"])]


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    """A log of three decisions: automate, an escalation to the ops managers, a deny."""
    path = tmp_path / ".aios" / "decisions.sqlite"
    with DecisionLog(path) as log:
        log.append(decision(1), request())
        log.append(decision(2, "escalate", stages=ONE_STAGE), request(amount=900))
        log.append(decision(3, "deny", action="vendor.pay"), request("vendor.pay", 50_000))
    return path


def aios_log(log_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return invoke(*args, "--log", str(log_file))


def test_appended_decisions_come_back_newest_first_with_their_request(tmp_path: Path) -> None:
    with DecisionLog(tmp_path / "log.sqlite") as log:
        assert log.append(decision(1), request()) == 1
        assert log.append(decision(2, "escalate", stages=ONE_STAGE), request(amount=900)) == 2
        entries = log.entries()
        assert [e.id for e in entries] == ["dec_0002", "dec_0001"]
        latest = log.get("dec_0002")
    assert (latest.seq, latest.outcome, latest.status, latest.actor, latest.commit) == (
        2, "escalate", "pending", "support-bot", COMMIT)
    assert latest.request == request(amount=900) and latest.decision == decision(2, "escalate", stages=ONE_STAGE)
    assert [a["id"] for a in latest.awaiting] == ["dana", "sam"]


def test_log_list_prints_aligned_columns_newest_first(log_file: Path) -> None:
    done = aios_log(log_file, "log", "list")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "SEQ  DECIDED AT            ID        ACTION        OUTCOME   STATUS    ACTOR        COMMIT",
        "3    2026-11-20T14:03:00Z  dec_0003  vendor.pay    deny      deny      support-bot  7d0d8589c00b",
        "2    2026-11-20T14:02:00Z  dec_0002  refund.issue  escalate  pending   support-bot  7d0d8589c00b",
        "1    2026-11-20T14:01:00Z  dec_0001  refund.issue  automate  automate  support-bot  7d0d8589c00b",
    ]


def test_log_list_filters_by_action_and_status_and_speaks_stable_json(log_file: Path) -> None:
    done = aios_log(log_file, "log", "list", "--action", "refund.issue", "--status", "pending", "--format", "json")
    assert done.returncode == 0, done.stderr
    [listed] = json.loads(done.stdout)
    assert listed == {"seq": 2, "id": "dec_0002", "decided_at": "2026-11-20T14:02:00Z", "action": "refund.issue",
                      "outcome": "escalate", "status": "pending", "actor": {"id": "support-bot", "kind": "agent"},
                      "commit": COMMIT, "resolutions": []}
    assert done.stdout == json.dumps([listed], indent=2, sort_keys=True) + "\n"
    assert aios_log(log_file, "log", "list", "--status", "approved").stdout == "no decisions match\n"


def test_log_show_gives_the_decision_its_request_and_its_resolutions(log_file: Path) -> None:
    resolved = aios_log(log_file, "resolve", "dec_0002", "approve", "--by", "sam", "--note", "order checked")
    assert resolved.returncode == 0, resolved.stderr
    shown = json.loads(aios_log(log_file, "log", "show", "dec_0002", "--format", "json").stdout)
    assert shown["decision"] == decision(2, "escalate", stages=ONE_STAGE)
    assert shown["request"] == request(amount=900)
    [resolution] = shown["resolutions"]
    assert {k: resolution[k] for k in ("by", "outcome", "note", "status")} == {
        "by": "sam", "outcome": "approve", "note": "order checked", "status": "approved"}
    text = aios_log(log_file, "log", "show", "dec_0002").stdout
    assert "  outcome     escalate, approved\n" in text
    assert "  stage       functional: 1 of dana (Dana Lee), sam (Sam Ortiz)\n" in text
    assert "approve by sam: order checked (now approved)" in text
    assert '    "amount": 900,' in text


def test_fresh_log_verifies_intact(log_file: Path) -> None:
    done = aios_log(log_file, "log", "verify")
    assert (done.returncode, done.stdout.splitlines()[0]) == (0, "decision log intact: 3 entries")


def test_edited_row_breaks_the_chain_and_names_the_entry(log_file: Path) -> None:
    run_sql(log_file, "UPDATE entries SET outcome = 'automate' WHERE seq = 2")
    done = aios_log(log_file, "log", "verify")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "entry 2 (decision `dec_0002`): its hash does not match its contents: the entry was edited",
        "decision log broken: 1 problem(s) in 3 entries"]


def test_deleted_row_breaks_the_chain_at_the_entry_after_it(log_file: Path) -> None:
    run_sql(log_file, "DELETE FROM entries WHERE seq = 2")
    done = aios_log(log_file, "log", "verify")
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == ("entry 3 (decision `dec_0003`): its prev_hash does not match the entry "
                                           "before it: an entry was removed or reordered")


def test_deleted_last_row_is_caught(log_file: Path) -> None:
    run_sql(log_file, "DELETE FROM entries WHERE seq = 3")
    done = aios_log(log_file, "log", "verify")
    assert done.returncode == 1
    assert "entry 3: missing: the log once reached entry 3, so the entries after 2 were removed" in done.stdout


def test_first_entry_chains_to_64_zeros(log_file: Path) -> None:
    assert run_sql(log_file, "SELECT prev_hash FROM entries WHERE seq = 1") == [(GENESIS,)]


def test_named_approver_resolves_and_the_escalation_is_approved(log_file: Path) -> None:
    done = aios_log(log_file, "resolve", "dec_0002", "approve", "--by", "dana", "--note", "refund is fair")
    assert (done.returncode, done.stdout) == (0, "recorded: dana approved dec_0002; the escalation is now approved\n")
    with DecisionLog(log_file) as log:
        entry = log.get("dec_0002")
        assert entry.status == "approved" and entry.awaiting == []
        assert [(r.by, r.outcome, r.note) for r in entry.resolutions] == [("dana", "approve", "refund is fair")]
        assert [e.id for e in log.entries(status="approved")] == ["dec_0002"]
    assert aios_log(log_file, "log", "verify").stdout.splitlines()[0] == "decision log intact: 4 entries"


def test_person_not_named_is_refused_with_who_may_resolve(log_file: Path) -> None:
    done = aios_log(log_file, "resolve", "dec_0002", "approve", "--by", "cleo", "--note", "looks fine")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "aios: error: `cleo` may not resolve decision `dec_0002`: not one of the approvers it named",
        "hint: who may resolve it: `dana` (Dana Lee), `sam` (Sam Ortiz)"]


def test_deny_by_any_named_approver_ends_it_as_denied(tmp_path: Path) -> None:
    with DecisionLog(tmp_path / "log.sqlite") as log:
        log.append(decision(7, "escalate", stages=TWO_STAGES), request())
        denied = log.resolve("dec_0007", "deny", "olivia", "not in budget", AT)
        assert (denied.status, denied.at) == ("denied", AT)
        with pytest.raises(LogError, match=r"decision `dec_0007` is already denied \(`olivia` denied\)"):
            log.resolve("dec_0007", "approve", "dana", "fine by me", AT)
        assert log.get("dec_0007").status == "denied"


def test_two_stage_escalation_needs_both_stages(tmp_path: Path) -> None:
    with DecisionLog(tmp_path / "log.sqlite") as log:
        log.append(decision(8, "escalate", stages=TWO_STAGES), request())
        assert log.resolve("dec_0008", "approve", "dana", "ops ok", AT).status == "pending"
        assert [a["id"] for a in log.get("dec_0008").awaiting] == ["olivia"]
        with pytest.raises(LogError, match="the approval of `sam` is not needed") as refused:
            log.resolve("dec_0008", "approve", "sam", "me too", AT)
        assert refused.value.hint == "who may still approve it: `olivia` (Olivia Owner); `sam` may still deny it"
        assert log.resolve("dec_0008", "approve", "olivia", "budget ok", AT).status == "approved"
        assert [r.status for r in log.get("dec_0008").resolutions] == ["pending", "approved"]


def test_stage_needing_two_approvals_counts_each_approver_once(tmp_path: Path) -> None:
    with DecisionLog(tmp_path / "log.sqlite") as log:
        log.append(decision(9, "escalate", stages=[("functional", "ops_manager", 2, ["dana", "sam"])]), request())
        assert log.resolve("dec_0009", "approve", "dana", "ok", AT).status == "pending"
        with pytest.raises(LogError, match=r"`dana` already resolved decision `dec_0009` \(approve, ") as twice:
            log.resolve("dec_0009", "approve", "dana", "really ok", AT)
        assert twice.value.hint == "who may resolve it: `sam` (Sam Ortiz)"
        assert log.resolve("dec_0009", "approve", "sam", "ok", AT).status == "approved"


def test_resolving_an_automate_decision_is_refused(log_file: Path) -> None:
    done = aios_log(log_file, "resolve", "dec_0001", "approve", "--by", "dana", "--note", "ok")
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == ("aios: error: decision `dec_0001` is `automate`, not an escalation: "
                                           "there is nothing to resolve")


def test_unknown_id_gets_a_did_you_mean_hint(log_file: Path) -> None:
    for args in (["resolve", "dec_002", "approve", "--by", "dana", "--note", "ok"], ["log", "show", "dec_002"]):
        done = aios_log(log_file, *args)
        assert done.returncode == 1
        assert done.stderr.splitlines() == [f"aios: error: no decision `dec_002` in the decision log `{log_file}`",
                                            "hint: did you mean `dec_0002`?"]


def test_resolutions_are_chained_so_editing_one_shows_in_verify(log_file: Path) -> None:
    assert aios_log(log_file, "resolve", "dec_0002", "deny", "--by", "sam", "--note", "duplicate").returncode == 0
    run_sql(log_file, "UPDATE entries SET outcome = 'approve' WHERE kind = 'resolution'")
    done = aios_log(log_file, "log", "verify")
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == ("entry 4 (resolution of `dec_0002`): its hash does not match its "
                                           "contents: the entry was edited")


def test_a_decision_is_logged_once(log_file: Path) -> None:
    with DecisionLog(log_file) as log, pytest.raises(LogError, match="`dec_0001` is already in the decision log"):
        log.append(decision(1), request())


def test_a_malformed_request_is_logged_and_verifies(tmp_path: Path) -> None:
    with DecisionLog(tmp_path / "log.sqlite") as log:
        log.append(decision(1, "escalate", stages=ONE_STAGE), {"invalid": [1, 2]})
        log.append(decision(2, "escalate", stages=ONE_STAGE), {"action": "refund.issue", "actor": {"id": 42}})
        assert [(e.actor, e.actor_kind) for e in log.entries()] == [("42", None), (None, None)]
        assert log.verify() == []


def test_aios_decide_logs_the_decision_and_a_named_approver_resolves_it(constitution: Path) -> None:
    decided = invoke("decide", "-c", str(constitution), "--set", "action=refund.issue", "--set", "amount=400",
                       "--set", "actor.kind=agent", "--set", "actor.id=refund-bot", "--set", "confidence=0.95",
                       "--now", "2026-11-18T10:00:00-05:00")
    assert decided.returncode == 0, decided.stderr
    decision_id = json.loads(decided.stdout)["id"]
    [listed] = json.loads(invoke("log", "list", "-c", str(constitution), "--format", "json").stdout)
    assert (listed["id"], listed["status"], listed["actor"]["id"]) == (decision_id, "pending", "refund-bot")
    resolved = invoke("resolve", decision_id, "approve", "--by", "sam", "--note", "ok", "-c", str(constitution))
    assert resolved.returncode == 0, resolved.stderr
    assert resolved.stdout.endswith("the escalation is now approved\n")


def _append_many(path: str, first: int, start: Any) -> None:
    start.wait()
    with DecisionLog(path) as log:
        for number in range(first, first + 50):
            log.append(decision(number), request())


def test_concurrent_appends_from_four_processes_leave_an_intact_chain(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "decisions.sqlite"
    context = multiprocessing.get_context("fork")
    start = context.Barrier(4)
    writers = [context.Process(target=_append_many, args=(str(path), 1000 + 50 * n, start)) for n in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
    assert [writer.exitcode for writer in writers] == [0, 0, 0, 0]
    with DecisionLog(path) as log:
        assert (log.count(), log.verify()) == (200, [])
        assert len({e.id for e in log.entries(limit=500)}) == 200
    assert aios_log(path, "log", "verify").stdout.splitlines()[0] == "decision log intact: 200 entries"


@pytest.mark.parametrize("command", [["log", "list"], ["log", "verify"], ["log", "show", "dec_0001"],
                                     ["resolve", "dec_0001", "deny", "--by", "dana", "--note", "no"]])
def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "decisions.sqlite"
    path.write_text("these are my notes, not a database\n" * 100)
    done = aios_log(path, *command)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"aios: error: `{path}` is not an aios decision log: file is not a database\n")
    assert path.read_text() == "these are my notes, not a database\n" * 100


def test_another_sqlite_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    run_sql(path, "CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(LogError, match="is not an aios decision log") as refused:
        DecisionLog(path)
    assert refused.value.exit_code == 1
    done = aios_log(path, "log", "verify")
    assert done.returncode == 1 and "Traceback" not in done.stderr


def test_a_missing_log_is_a_clear_error(tmp_path: Path) -> None:
    done = invoke("log", "list", "-c", str(tmp_path / "constitution"))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"aios: error: no decision log at `{tmp_path / '.aios' / 'decisions.sqlite'}`",
        "hint: decisions are logged by `aios decide`; pass --log PATH"]
    assert not (tmp_path / ".aios").exists()


def test_the_log_lives_beside_the_constitution_by_default(tmp_path: Path, constitution: Path) -> None:
    assert default_log_path("constitution") == Path(".aios/decisions.sqlite")
    assert default_log_path(constitution) == tmp_path / ".aios" / "decisions.sqlite"
    with DecisionLog(default_log_path(constitution)) as log:
        log.append(decision(1), request())
    assert invoke("log", "verify", cwd=tmp_path).stdout.splitlines()[0] == "decision log intact: 1 entry"
    assert "dec_0001" in invoke("log", "list", "-c", str(constitution)).stdout


@pytest.mark.parametrize("command", [["log"], ["log", "list"], ["log", "show"], ["log", "verify"], ["resolve"]])
def test_every_log_command_has_help_with_examples(command: list[str]) -> None:
    done = invoke(*command, "--help")
    assert done.returncode == 0 and "Examples:" in done.stdout

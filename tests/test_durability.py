"""Nothing answered is lost: a decision is committed before its answer leaves, across `kill -9`; and the
head anchor catches what the hash chain alone cannot (the newest entries cut off, the file replaced)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ENGINE, MINIMAL, aios_command, committed, invoke, run_sql
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aios_policy.record.log import DecisionLog, LogError
from aios_policy.serve.identity import Identity, add_token
from aios_policy.serve.writer import LogWriter

PAYMENT = {"action": "vendor.pay", "amount": 120, "confidence": 0.95,
           "attributes": {"vendor_is_new": False, "days_overdue": 0, "sanctions_hit": False}}


# A real server killed under load, ten times


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(root: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if k != "AIOS_CONSTITUTION"}
    with (root / f"serve-{port}.log").open("wb") as errors:
        process = subprocess.Popen([*aios_command(), "serve", "--constitution", str(root / "constitution"),
                                    "--port", str(port), "--tokens", str(root / "secrets" / "tokens.json"),
                                    "--log", str(log)], stdout=subprocess.DEVNULL, stderr=errors, env=environment)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, (root / f"serve-{port}.log").read_text()
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("aios serve did not answer within 30 s")


def _client(url: str, token: str, batch: int, stop: threading.Event, answered: list[str]) -> None:
    """Decide until the server dies or `stop`; every decision id received goes into `answered`."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
        while not stop.is_set():
            try:
                if batch > 1:
                    response = http.post("/v1/decide/batch", json={"requests": [PAYMENT] * batch})
                else:
                    response = http.post("/v1/decide", json=PAYMENT)
            except httpx.TransportError:
                return  # killed: whatever was not answered may be lost
            if response.status_code == 200:
                body = response.json()
                answered.extend(d["id"] for d in body["decisions"]) if batch > 1 else answered.append(body["id"])


def test_every_answered_decision_survives_ten_kill_9s_under_batched_load(tmp_path: Path) -> None:
    committed(tmp_path, ENGINE)
    token = add_token(tmp_path / "secrets" / "tokens.json", Identity("billing-agent", "agent"), datetime.now(UTC))
    log = tmp_path / "logs" / "decisions.sqlite"
    answered: list[str] = []
    for round_number in range(10):
        process, url = _serve(tmp_path, log)
        stop, received = threading.Event(), [list[str]() for _ in range(4)]
        clients = [threading.Thread(target=_client, args=(url, token, size, stop, received[n]))
                   for n, size in enumerate((100, 100, 1, 1))]
        for client in clients:
            client.start()
        time.sleep(0.8 + 0.05 * round_number)  # a different moment of the load each round
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        stop.set()
        for client in clients:
            client.join(15)
        this_round = [i for ids in received for i in ids]
        assert this_round, f"round {round_number}: no decision was answered"
        answered += this_round
    with DecisionLog(log, create=False) as decision_log:
        logged = {decision_id for decision_id, _, _ in decision_log.logged_requests()}
        assert decision_log.verify() == []
    lost = sorted(set(answered) - logged)
    assert not lost, f"{len(lost)} of {len(answered)} answered decisions are not in the log, e.g. {lost[:3]}"
    done = invoke("log", "verify", "--log", str(log))
    assert done.returncode == 0 and done.stdout.startswith("decision log intact:"), done.stdout


# The writer: answers wait for the commit; a failed commit answers nobody


def _decision(number: int, action: str = "refund.issue") -> tuple[dict[str, Any], dict[str, Any]]:
    return ({"id": f"dec_{number:06d}", "decided_at": "2026-11-10T10:00:00+00:00", "action": action,
             "decision": "automate", "constitution": {"commit": "abc"}},
            {"action": action, "amount": number, "actor": {"id": "bot", "kind": "agent"}})


def test_a_future_resolves_only_once_its_decisions_are_committed(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "decisions.sqlite")
    writer.start()
    try:
        futures = [writer.submit_waiting([_decision(n * 10 + k) for k in range(10)]) for n in range(50)]
        for future in futures:
            future.result(30)
            # committed: a second connection, in another thread, already sees them
        with DecisionLog(tmp_path / "decisions.sqlite") as other:
            assert other.count() == 500
        assert writer.commits < 50  # grouped: fewer transactions than callers
    finally:
        writer.close()


def test_a_bad_entry_fails_only_its_own_caller_and_nothing_unlogged_is_confirmed(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "decisions.sqlite")
    writer.start()
    try:
        good = writer.submit_waiting([_decision(1)])
        bad = writer.submit_waiting([_decision(2), ({"id": "dec_broken"}, {})])  # no decided_at, no action
        duplicate = writer.submit_waiting([_decision(1)])
        later = writer.submit_waiting([_decision(3)])
        good.result(30)
        later.result(30)
        with pytest.raises(LogError):
            bad.result(30)
        with pytest.raises(LogError, match="already in the decision log"):
            duplicate.result(30)
        with DecisionLog(tmp_path / "decisions.sqlite") as other:
            ids = {i for i, _, _ in other.logged_requests()}
        assert ids == {"dec_000001", "dec_000003"}  # dec_000002 went with its caller's failed group
        assert writer.failed == 3
    finally:
        writer.close()
    with pytest.raises(LogError, match="not being written"):
        writer.append_waiting(*_decision(4))


def test_the_writer_anchors_the_head_when_asked(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "decisions.sqlite", anchor_every=0)
    writer.start()
    try:
        writer.append_waiting(*_decision(1))
        writer.append_waiting(*_decision(2))
    finally:
        writer.close()
    lines = [json.loads(line) for line in (tmp_path / "decisions.anchor").read_text().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2]
    assert invoke("log", "verify", "--log", str(tmp_path / "decisions.sqlite"), "--anchor",
                  str(tmp_path / "decisions.anchor")).returncode == 0


# The head anchor


def _log(path: Path, numbers: range) -> Path:
    with DecisionLog(path) as log:
        log.append_many([_decision(n) for n in numbers])
    return path


def _verify(log: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return invoke("log", "verify", "--log", str(log), *extra)


def test_an_untouched_log_passes_its_anchors_and_verify_says_what_it_proves(tmp_path: Path) -> None:
    log = _log(tmp_path / "decisions.sqlite", range(1, 6))
    done = invoke("log", "anchor", "--log", str(log))
    assert done.returncode == 0 and "anchored entry 5" in done.stdout and "copy " in done.stdout
    _log(log, range(6, 9))  # the log grows after the anchor: still fine
    assert invoke("log", "anchor", "--log", str(log)).returncode == 0
    anchored = _verify(log, "--anchor", str(tmp_path / "decisions.anchor"))
    assert anchored.returncode == 0, anchored.stdout
    assert "all 2 head(s)" in anchored.stdout and "(the newest: entry 8)" in anchored.stdout
    plain = _verify(log)
    assert plain.returncode == 0
    assert "cannot by itself prove that the newest entries were not cut off" in plain.stdout
    with DecisionLog(log) as reopened:
        assert f"head: entry 8, hash {reopened.head().hash}" in plain.stdout


def test_cutting_off_the_newest_entries_passes_the_chain_but_fails_the_anchor(tmp_path: Path) -> None:
    log = _log(tmp_path / "decisions.sqlite", range(1, 11))
    anchors = tmp_path / "elsewhere" / "anchors.jsonl"
    assert invoke("log", "anchor", "--log", str(log), "--to", str(anchors)).returncode == 0
    # a careful cut: the newest entries, the stored head and the sequence counter, all made consistent
    (seven,) = run_sql(log, "SELECT hash FROM entries WHERE seq = 7")
    run_sql(log, f"DELETE FROM entries WHERE seq > 7; UPDATE aios_log_meta SET value = '7:{seven[0]}' "
                 "WHERE key = 'head'; UPDATE sqlite_sequence SET seq = 7 WHERE name = 'entries'")
    assert _verify(log).returncode == 0  # what the chain alone cannot see
    done = _verify(log, "--anchor", str(anchors))
    assert done.returncode == 1
    problems = done.stdout.splitlines()[:-1]
    assert problems == [f"entry 10: anchored at {anchors}:1 ({problems[0].split('(')[1].split(')')[0]}), but the "
                        "log no longer holds it: the newest entries were cut off or the file replaced"]
    assert done.stdout.splitlines()[-1] == "decision log broken: 1 problem(s) in 7 entries"


@pytest.mark.parametrize("entries", [range(100, 110), range(100, 120), range(100, 103)])
def test_a_freshly_written_valid_log_in_place_of_the_old_fails_the_anchor(tmp_path: Path, entries: range) -> None:
    log = _log(tmp_path / "decisions.sqlite", range(1, 11))
    assert invoke("log", "anchor", "--log", str(log), "--to", str(tmp_path / "a.anchor")).returncode == 0
    for suffix in ("", "-wal", "-shm"):
        Path(f"{log}{suffix}").unlink(missing_ok=True)
    _log(log, entries)  # shorter, as long, or longer than the original
    assert _verify(log).returncode == 0
    done = _verify(log, "--anchor", str(tmp_path / "a.anchor"))
    assert done.returncode == 1
    (problem,) = done.stdout.splitlines()[:-1]
    assert problem.startswith("entry 10: ")
    assert ("no longer holds it" in problem) if len(entries) < 10 else ("replaced or rewritten" in problem)


anchor_lines = st.one_of(
    st.text(max_size=80),
    st.builds(json.dumps, st.dictionaries(st.sampled_from(["seq", "hash", "at", "x"]),
                                          st.one_of(st.integers(-5, 30), st.text(max_size=70), st.none(),
                                                    st.booleans(), st.floats(allow_nan=True)))),
    st.builds(lambda seq, digit: json.dumps({"seq": seq, "hash": digit * 64, "at": "x\ny"}),
              st.integers(0, 12), st.sampled_from("0af")),
    st.just("x" * 5000))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(anchor_lines, max_size=6))
def test_any_anchor_file_gives_an_answer_with_one_line_per_problem(tmp_path: Path, lines: list[str]) -> None:
    log = tmp_path / "decisions.sqlite"
    if not log.exists():
        _log(log, range(1, 11))
    anchors = tmp_path / "hostile.anchor"
    anchors.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    done = _verify(log, "--anchor", str(anchors))
    assert done.returncode in (0, 1), done.stderr
    if done.returncode == 1:
        *problems, verdict = done.stdout.splitlines()
        assert verdict == f"decision log broken: {len(problems)} problem(s) in 10 entries"
        assert all(len(problem) < 600 for problem in problems)


def test_aios_serve_passes_its_anchor_options_to_the_log_writer(tmp_path: Path) -> None:
    from aios_policy.serve.http import create_app

    company = committed(tmp_path / "company", MINIMAL)
    tokens = tmp_path / "tokens.json"
    add_token(tokens, Identity("billing-agent", "agent"), datetime.now(UTC))
    app = create_app(company / "constitution", "main", tokens, tmp_path / "log.sqlite", anchor_every=5,
                     anchor_to=tmp_path / "elsewhere.anchor")
    writer = app.state.service.log
    assert (writer.anchor_every, writer.anchor_to) == (5, tmp_path / "elsewhere.anchor")

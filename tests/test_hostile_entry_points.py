"""Hostile requests through every door: the Python API and the real `aios decide` (single, standard
input, JSON Lines batches with bad lines in the middle, `--now` at the ends of time, a closed pipe).
Never exit 3, never a traceback, never an automated malformed request, and every answered decision is
in the decision log."""

from __future__ import annotations

import json
import random
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import MINIMAL, aios_command, run_aios
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aios_policy import Constitution
from aios_policy.record.log import DecisionLog

NOW = datetime(2026, 3, 2, 15, tzinfo=UTC)  # a Monday, in business hours
AUTOMATED = {"action": "refund.issue", "actor": {"id": "billing-agent", "kind": "agent"}, "amount": 10,
             "confidence": 0.99, "attributes": {"order": "A-1"}}
ESCALATED = {**AUTOMATED, "amount": 900}


@pytest.fixture(scope="module")
def loaded() -> Constitution:
    return Constitution.load(MINIMAL)


class Custom:
    """An object JSON cannot carry."""


# values JSON cannot carry, or carries only past our bounds
HOSTILE = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False), st.binary(max_size=4), st.frozensets(st.integers(), max_size=2),
    st.sets(st.integers(), max_size=2), st.tuples(st.integers()), st.builds(Custom),
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    st.integers(min_value=2**63).map(lambda n: n if n % 2 else -n - 1), st.just(10**5000),
    st.dictionaries(st.integers() | st.tuples(st.integers()), st.integers(), min_size=1, max_size=2),
    st.text(min_size=1, max_size=4).map(lambda t: t + "\ud800"),
)
PLACES = [("attributes", "x"), ("attributes", "deep", "deeper"), ("amount",), ("confidence",), ("id",),
          ("actor", "id"), ("attributes", "list")]


def _placed(request: dict[str, Any], place: tuple[str, ...], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(request))
    target = copy
    for key in place[:-1]:
        target = target.setdefault(key, {})
    target[place[-1]] = [value] if place[-1] == "list" else value
    return copy


def _serialisable(decision: dict[str, Any]) -> str:
    text = json.dumps(decision, allow_nan=False, ensure_ascii=False)
    text.encode("utf-8")  # no lone surrogate left in anything it says
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=HOSTILE, place=st.sampled_from(PLACES), base=st.sampled_from([AUTOMATED, ESCALATED]))
def test_a_value_json_cannot_carry_is_malformed_and_escalated_never_raised(
        loaded: Constitution, value: Any, place: tuple[str, ...], base: dict[str, Any]) -> None:
    request = _placed(base, place, value)
    decision = loaded.decide_dict(request, NOW)
    assert decision["decision"] == "escalate"
    assert any("/" + "/".join(place) in error or "/" in error for error in decision["errors"]), decision["errors"]
    _serialisable(decision)
    assert "\n" not in " ".join(decision["errors"])
    # the pydantic door decides the same
    assert loaded.decide(request, NOW).decision == "escalate"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=12)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attributes=st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=4))
def test_plain_json_anywhere_in_attributes_is_decided_and_the_decision_is_json(
        loaded: Constitution, attributes: dict[str, Any]) -> None:
    decision = loaded.decide_dict({**AUTOMATED, "attributes": attributes}, NOW)
    assert decision["decision"] in ("automate", "escalate", "deny", "needs_info")
    _serialisable(decision)


def test_a_malformed_request_never_automates_whatever_its_shape(loaded: Constitution) -> None:
    generator = random.Random(10)
    for _ in range(300):
        request: Any = _placed(AUTOMATED, generator.choice(PLACES), generator.choice(
            [Decimal("1"), b"", {1}, (1,), Custom(), float("nan"), 2**64, -(2**63) - 1, "\udfff", {3: 1}]))
        assert loaded.decide_dict(request, NOW)["decision"] != "automate"
    for top in (None, [], "text", 5, b"{}", (("action", "refund.issue"),), {1: "a"}):
        assert loaded.decide_dict(top, NOW)["decision"] == "escalate"


def test_integers_within_int64_are_fine_and_one_past_is_refused(loaded: Constitution) -> None:
    assert loaded.decide_dict({**AUTOMATED, "attributes": {"n": 2**63 - 1}}, NOW)["decision"] == "automate"
    assert loaded.decide_dict({**AUTOMATED, "attributes": {"n": -(2**63)}}, NOW)["decision"] == "automate"
    refused = loaded.decide_dict({**AUTOMATED, "attributes": {"n": 2**63}}, NOW)
    assert refused["decision"] == "escalate" and "/attributes/n: an integer of 19 digits" in refused["errors"][0]


# the real command -------------------------------------------------------------------------------


def _decide(tmp_path: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_aios("decide", "--constitution", str(MINIMAL), "--log", str(tmp_path / "log.sqlite"), *args,
                    input=input)


def _clean(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode != 3, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr


def _logged(tmp_path: Path) -> dict[str, dict[str, Any]]:
    with DecisionLog(tmp_path / "log.sqlite") as log:
        return {entry.id: entry.decision for entry in log.entries(limit=100_000)}


@pytest.mark.parametrize("field", ["id", "action", "actor.id", "attributes.note", "attributes.k\ud800ey"])
def test_a_lone_surrogate_anywhere_is_printed_logged_and_escalated(tmp_path: Path, field: str) -> None:
    request = json.loads(json.dumps(AUTOMATED))
    *parents, last = field.split(".")
    target = request
    for key in parents:
        target = target[key]
    target[last] = "x\ud800y" if "\ud800" not in last else "v"
    done = _decide(tmp_path, "-", input=json.dumps(request))  # json.dumps writes it as the escape \ud800
    _clean(done)
    decision = json.loads(done.stdout)
    assert done.returncode == 0 and decision["decision"] == "escalate"
    assert "lone surrogate" in " ".join(decision["errors"])
    assert decision["id"] in _logged(tmp_path)


def test_a_5000_digit_number_is_a_one_line_error_naming_the_input(tmp_path: Path) -> None:
    text = json.dumps(AUTOMATED).replace('"amount": 10', '"amount": ' + "9" * 5000)
    done = _decide(tmp_path, "-", input=text)
    _clean(done)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines()[0] == "aios: error: standard input: a number of 5,000 digits is too long to read"


@pytest.mark.parametrize("now", ["9999-12-31", "9999-12-31T23:59:59", "9999-12-31T16:59", "9999-12-30T17:30",
                                 "0001-01-01", "0001-01-01T00:00:00", "0001-01-02T12:00"])
@pytest.mark.parametrize("amount", [10, 900, 5000])
def test_now_at_the_ends_of_time_decides_and_fails_closed(tmp_path: Path, now: str, amount: int) -> None:
    done = _decide(tmp_path, "-", "--now", now, input=json.dumps({**AUTOMATED, "amount": amount}))
    _clean(done)
    assert done.returncode in (0, 2), done.stderr
    if done.returncode == 0:
        decision = json.loads(done.stdout)
        escalation = decision["escalation"]
        if escalation and escalation["due"] is None and escalation["sla"]:
            assert any("no due time" in e for e in decision["errors"])
            assert decision["decision"] == "escalate"
        assert decision["id"] in _logged(tmp_path)


BAD_LINES = ["{bad", "[1,", '{"action": NaN}', '{"amount": ' + "7" * 5000 + "}", "Infinity", '"unterminated',
             "[" * 100_000, '{"a": 1} trailing', "\u2028 {oops"]


def test_a_batch_with_bad_lines_decides_every_good_line_and_reports_every_bad_one(tmp_path: Path) -> None:
    generator = random.Random(9)
    lines, bad = [], []
    for number in range(1, 201):
        if generator.random() < 0.15:
            lines.append(generator.choice(BAD_LINES))
            bad.append(number)
        else:
            request = {**generator.choice([AUTOMATED, ESCALATED]), "id": f"req-{number}"}
            # some good lines hold text JSON allows and str.splitlines() would cut
            request["attributes"] = {"note": "a\u2028b\u0085c"} if number % 7 == 0 else {}
            lines.append(json.dumps(request, ensure_ascii=False))
    done = _decide(tmp_path, "-", input="\n".join(lines) + "\n")
    _clean(done)
    assert done.returncode == 1
    decisions = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(decisions) == len(lines)
    for number, decision in enumerate(decisions, 1):
        if number in bad:
            assert decision["decision"] == "escalate" and decision["request_id"] is None
            assert f":{number}" in decision["errors"][0]
        else:
            assert decision["request_id"] == f"req-{number}"
    for number in bad:
        assert f"standard input:{number}:" in done.stderr
    assert f"{len(bad)} of {len(lines)} lines could not be read as JSON" in done.stderr
    logged = _logged(tmp_path)
    assert {d["id"] for d in decisions} == set(logged)
    assert all(logged[d["id"]] == d for d in decisions)


def test_a_bad_first_line_of_a_batch_is_one_bad_line_not_the_whole_input(tmp_path: Path) -> None:
    text = "{bad\n" + json.dumps(AUTOMATED) + "\n"
    done = _decide(tmp_path, "-", "--no-log", input=text)
    _clean(done)
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert done.returncode == 1 and first["decision"] == "escalate" and second["decision"] == "automate"


def test_a_closed_pipe_exits_quietly_with_141_and_what_was_printed_is_logged(tmp_path: Path) -> None:
    batch = "\n".join(json.dumps({**AUTOMATED, "id": f"r{n}"}) for n in range(3000)) + "\n"
    process = subprocess.Popen([*aios_command(), "decide", "-", "--constitution", str(MINIMAL), "--log",
                                str(tmp_path / "log.sqlite")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdin and process.stdout and process.stderr
    process.stdin.write(batch)
    process.stdin.close()
    first = json.loads(process.stdout.readline())
    process.stdout.close()  # like `| head -1`
    error = process.stderr.read()
    assert process.wait(timeout=120) == 141
    assert "Traceback" not in error and "internal error" not in error and "Broken pipe" not in error, error
    assert first["id"] in _logged(tmp_path)


@pytest.mark.parametrize("request_", [
    {**AUTOMATED, "attributes": {"n": 2**64}}, {**AUTOMATED, "actor": {"id": "DANA", "kind": "agent"}},
    {**AUTOMATED, "actor": {"id": "stranger", "kind": "human"}, "confidence": 0.1}, {**AUTOMATED, "id": "a\ud800"},
    {"action": "refund.issue"}, [1, 2]])
def test_the_command_and_the_python_api_give_the_same_decision(loaded: Constitution, tmp_path: Path,
                                                               request_: Any) -> None:
    done = _decide(tmp_path, "-", "--now", NOW.isoformat(), input=json.dumps(request_))
    _clean(done)
    by_command = json.loads(done.stdout)
    by_api = loaded.decide_dict(request_, NOW)
    for decision in (by_command, by_api):
        decision.pop("id")
    assert by_command == by_api

"""`aios mcp` decides what HTTP and Python decide: the same request checks (`request_problems` on what the client
sent, after the session's identity replaces the actor) and the same decision, for generated hostile requests. The
real command over stdio, driven by the mcp SDK's own client; the session's identity rule; unknown resources."""

from __future__ import annotations

import copy
import itertools
import json
import os
import random
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import ENGINE, aios_command, committed, invoke
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from aios_policy.constitution.pipeline import check
from aios_policy.engine.facade import Constitution
from aios_policy.engine.request import request_problems
from aios_policy.record.log import DecisionLog
from aios_policy.serve.identity import Identity, ServedRequest, acting_as

AT = "2026-11-10T15:00:00Z"
REFUND = {"action": "refund.issue", "amount": 100, "confidence": 0.99, "currency": "USD", "at": AT,
          "attributes": {"client_status": "active"}}
PAYMENT = {"action": "vendor.pay", "amount": 100, "confidence": 0.99, "at": AT,
           "attributes": {"vendor_is_new": False, "days_overdue": 0, "sanctions_hit": False}}
AGENT = Identity("mcp", "agent")
INVALID_PARAMS = -32602

# values a client may send where the schema wants something else, the coercions pydantic's lax mode makes first
HOSTILE = [True, False, None, 0, 1, -1, 0.5, 1.5, 1e308, -1e308, 2**53 + 1, 10**30, "", " ", "800", "0.99", "1",
           "true", "1e3", "NaN", "Infinity", "USD", "refund.issue", [], [0.99], [800], {}, {"value": 0.99},
           "x" * 5000, "\u202eevil", "olivia", {"id": "olivia", "kind": "human"}]
PLACES = [("amount",), ("confidence",), ("currency",), ("action",), ("at",), ("id",), ("attributes",),
          ("attributes", "vendor_is_new"), ("attributes", "client_status"), ("actor",), ("actor", "id"),
          ("actor", "kind"), ("actor", "role"), ("surprise",)]
WHOLE = [[], "a request", 1, 0.99, True, None, [REFUND], {}, {"request": REFUND}]
# the four the issue names: each was coerced by the SDK and automated (or, for "800", decided as 800)
COERCED = [("confidence", True), ("confidence", "0.99"), ("amount", True), ("amount", "800")]


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return committed(tmp_path_factory.mktemp("company"), ENGINE, "base")


@pytest.fixture(scope="module")
def engine(company: Path) -> Constitution:
    return Constitution(check(company / "constitution"))


def session_with(args: list[str], body: Callable[[ClientSession], Awaitable[Any]], errlog: Path) -> Any:
    """Start `aios mcp ARGS` as an agent framework would, its stderr to errlog, and run body against it."""
    command, *prefix = aios_command()
    environment = {k: v for k, v in os.environ.items() if k != "AIOS_CONSTITUTION"}
    parameters = StdioServerParameters(command=command, args=[*prefix, "mcp", *args], env=environment)

    async def run() -> Any:
        with anyio.fail_after(120), errlog.open("a", encoding="utf-8") as log:
            async with stdio_client(parameters, errlog=log) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                return await body(session)

    return anyio.run(run)


def _set(request: Any, place: tuple[str, ...], value: Any) -> Any:
    changed = copy.deepcopy(request)
    target = changed
    for key in place[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[place[-1]] = value
    return changed


def _without(request: dict[str, Any], place: tuple[str, ...]) -> dict[str, Any]:
    changed = copy.deepcopy(request)
    target = changed
    for key in place[:-1]:
        target = target.get(key) if isinstance(target.get(key), dict) else {}
    target.pop(place[-1], None)
    return changed


def hostile_requests() -> Iterator[Any]:
    """Every hostile value at every place of both base requests, every field left out, whole requests that are
    not objects, and 300 seeded requests with two or three hostile values at once."""
    for base in (REFUND, PAYMENT):
        yield base
        for place, value in itertools.product(PLACES, HOSTILE):
            yield _set(base, place, value)
        for place in PLACES:
            yield _without(base, place)
    yield from WHOLE
    chance = random.Random(10)
    for _ in range(300):
        request = chance.choice((REFUND, PAYMENT))
        for place in chance.sample(PLACES, chance.choice((2, 3))):
            request = _set(request, place, chance.choice(HOSTILE))
        yield request


def comparable(decision: dict[str, Any]) -> dict[str, Any]:
    """A decision without what differs between two deciders of the same request: its id and clock (the due
    moments move with the clock inside business hours)."""
    kept = {k: v for k, v in decision.items() if k not in ("id", "decided_at")}
    escalation = kept.get("escalation")
    if isinstance(escalation, dict):
        stages = [{k: v for k, v in stage.items() if k != "due"} for stage in escalation["stages"]]
        kept["escalation"] = {**{k: v for k, v in escalation.items() if k != "due"}, "stages": stages}
    return kept


def expected(engine: Constitution, sent: Any, identity: Identity) -> tuple[list[str], dict[str, Any] | None]:
    """What HTTP and Python do with what was sent: the problems, or the decision."""
    request = acting_as(sent, identity)
    problems = request_problems(request, engine.compiled)
    if problems:
        return problems, None
    return [], comparable(engine.decide_dict(request, datetime.now(UTC), False))


def _coerced_by_pydantic(sent: Any) -> bool:
    """Whether the old tool signature (a lax ServedRequest) would have taken this request."""
    try:
        ServedRequest.model_validate(sent)
    except ValidationError:
        return False
    return True


def _decide_all(requests: list[Any]) -> Callable[[ClientSession], Awaitable[list[Any]]]:
    async def body(session: ClientSession) -> list[Any]:
        return [await session.call_tool("decide", {"request": request}) for request in requests]
    return body


def test_mcp_refuses_what_http_refuses_and_decides_the_rest_alike(company: Path, engine: Constitution,
                                                                  tmp_path: Path) -> None:
    requests = list(hostile_requests())
    errlog = tmp_path / "stderr.txt"
    results = session_with(["-c", str(company / "constitution"), "--no-log"], _decide_all(requests), errlog)
    assert len(results) == len(requests) > 1000

    coerced_refused = 0
    for sent, result in zip(requests, results, strict=True):
        problems, decision = expected(engine, sent, AGENT)
        text = result.content[0].text
        if problems:
            assert result.is_error, (sent, text[:300])
            assert text.startswith("Error executing tool decide: the request does not follow the request schema: ")
            assert "\n" not in text
            assert all(problem in text for problem in problems[:20]), (problems, text[:500])
            coerced_refused += isinstance(sent, dict) and _coerced_by_pydantic(sent)
        else:
            assert not result.is_error, (sent, text[:300])
            assert comparable(json.loads(text)) == decision, sent
    assert coerced_refused >= 20  # the class the old signature (a lax ServedRequest) let through
    assert "Traceback" not in errlog.read_text(encoding="utf-8")


def test_no_coerced_value_is_decided(company: Path, tmp_path: Path) -> None:
    cases = [(field, {**base, field: value}) for field, value in COERCED for base in (REFUND, PAYMENT)]
    results = session_with(["-c", str(company / "constitution"), "--no-log"],
                           _decide_all([request for _, request in cases]), tmp_path / "stderr.txt")
    for (field, request), result in zip(cases, results, strict=True):
        assert _coerced_by_pydantic(request)  # what the SDK used to take, and decide
        assert result.is_error and f"/{field}: " in result.content[0].text, result.content[0].text


def test_a_request_sent_as_a_json_string_is_read_as_that_json(company: Path, engine: Constitution,
                                                              tmp_path: Path) -> None:
    """Some clients send an object as a string of JSON; the SDK decodes it, and what it holds is judged as sent."""
    requests = [json.dumps(REFUND), json.dumps({**REFUND, "confidence": "0.99"}), json.dumps("not an object")]
    results = session_with(["-c", str(company / "constitution"), "--no-log"], _decide_all(requests),
                           tmp_path / "stderr.txt")
    assert comparable(json.loads(results[0].content[0].text)) == expected(engine, REFUND, AGENT)[1]
    assert results[1].is_error and "/confidence: " in results[1].content[0].text
    assert results[2].is_error and "must be a JSON object" in results[2].content[0].text


def test_a_session_without_actor_is_the_agent_mcp_whatever_the_request_claims(company: Path,
                                                                              tmp_path: Path) -> None:
    log = tmp_path / "decisions.sqlite"
    claims = [{"id": "olivia", "kind": "human"}, {"id": "OLIVIA", "kind": "human"}, {"id": "billing-agent",
              "kind": "agent"}, {"id": "fiona"}, {"kind": "human"}, None]

    async def body(session: ClientSession) -> dict[str, Any]:
        decided = [await session.call_tool("decide", {"request": {**PAYMENT, "amount": 6000, "actor": claim}})
                   for claim in claims]
        as_owner = await session.call_tool("decide", {"request": {**PAYMENT, "actor": {"role": "owner"}}})
        decision_id = json.loads(decided[0].content[0].text)["id"]
        resolve = [await session.call_tool("resolve_escalation", {
            "decision_id": decision_id, "outcome": "approve", "note": "fine", **({"by": by} if by else {})})
            for by in (None, "dana", "olivia")]
        return {"decided": decided, "as_owner": as_owner, "resolve": resolve}

    seen = session_with(["-c", str(company / "constitution"), "--log", str(log)], body, tmp_path / "stderr.txt")
    ids = [json.loads(result.content[0].text)["id"] for result in seen["decided"]]
    with DecisionLog(log) as decision_log:
        assert {decision_log.get(i).actor for i in ids} == {"mcp"}
        assert {decision_log.get(i).status for i in ids} == {"pending"}
    assert seen["as_owner"].is_error
    assert "actor `mcp` is not a person in org.json, so it cannot act as `owner`" in seen["as_owner"].content[0].text
    for refused in seen["resolve"]:
        assert refused.is_error and "this session acts as the agent `mcp`" in refused.content[0].text


def test_a_session_pinned_to_a_person_is_that_person_and_resolves_only_as_them(
        company: Path, engine: Constitution, tmp_path: Path) -> None:
    log = tmp_path / "decisions.sqlite"
    olivia = Identity("olivia", "human")
    requests = [{**PAYMENT, "amount": 60000, "actor": {"id": "billing-agent", "kind": "agent"}},
                {**PAYMENT, "amount": 60000, "actor": {"id": "fiona", "kind": "human", "role": "owner"}},
                {**PAYMENT, "actor": {"role": "finance"}}, {**REFUND, "confidence": True},
                *itertools.islice(hostile_requests(), 0, 200, 7)]

    async def body(session: ClientSession) -> dict[str, Any]:
        decided = [await session.call_tool("decide", {"request": request}) for request in requests]
        decision_id = json.loads(decided[0].content[0].text)["id"]
        as_other = await session.call_tool("resolve_escalation", {"decision_id": decision_id, "outcome": "approve",
                                                                  "note": "fine", "by": "fiona"})
        # the $60k payment waits on operations first (both tiers apply): the owner, named at the second stage,
        # may already deny it, as herself
        resolved = await session.call_tool("resolve_escalation", {"decision_id": decision_id, "outcome": "deny",
                                                                  "note": "not this quarter"})
        return {"decided": decided, "as_other": as_other, "resolved": resolved}

    seen = session_with(["-c", str(company / "constitution"), "--log", str(log), "--actor", "OLIVIA"], body,
                        tmp_path / "stderr.txt")
    for sent, result in zip(requests, seen["decided"], strict=True):
        problems, decision = expected(engine, sent, olivia)
        assert result.is_error == bool(problems), (sent, result.content[0].text[:300])
        if decision is not None:
            assert comparable(json.loads(result.content[0].text)) == decision
    assert "does not hold role `finance`" in seen["decided"][2].content[0].text
    first = json.loads(seen["decided"][0].content[0].text)
    assert seen["as_other"].is_error and "cannot resolve as `fiona`" in seen["as_other"].content[0].text
    resolved = json.loads(seen["resolved"].content[0].text)
    assert resolved["by"] == "olivia" and resolved["status"] == "denied"
    with DecisionLog(log) as decision_log:
        assert decision_log.get(first["id"]).actor == "olivia"


@pytest.mark.parametrize("actor", ["", "   ", "two\nlines", "x" * 201, "tab\there"])
def test_an_actor_that_names_nobody_is_refused_at_start(company: Path, actor: str) -> None:
    done = invoke("mcp", "-c", str(company / "constitution"), "--no-log", "--actor", actor)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("aios: error: --actor `") and lines[1].startswith("hint: ")
    assert len(lines) == 2


HOSTILE_IDS = ["nope", "", "a/b", "../refunds", "%00", "refunds%20", "REFUNDS", "x" * 3000, "ü", "\u202e", "a?b",
               "a#b", "{policy_id}", "refunds/"]


def test_unknown_resources_are_a_clean_not_found(company: Path, tmp_path: Path) -> None:
    uris = [f"{scheme}://{ident}" for scheme in ("policy", "sop") for ident in HOSTILE_IDS]
    uris += ["constitution://nope", "unknown://x", "policy:nope", "file:///etc/passwd", "http://example.com/"]
    errlog = tmp_path / "stderr.txt"

    async def body(session: ClientSession) -> dict[str, Any]:
        answers: dict[str, Any] = {}
        for uri in uris:
            try:
                answers[uri] = await session.read_resource(uri)
            except MCPError as error:
                answers[uri] = error
        answers["good"] = await session.read_resource("policy://refunds")
        return answers

    answers = session_with(["-c", str(company / "constitution"), "--no-log"], body, errlog)
    for uri in uris:
        error = answers[uri]
        assert isinstance(error, MCPError), (uri, error)
        assert error.code == INVALID_PARAMS, (uri, error.message)
        assert "\n" not in error.message
    assert json.loads(answers["good"].contents[0].text)["id"] == "refunds"
    assert "Traceback" not in errlog.read_text(encoding="utf-8")

"""`aios serve`: a real server on 127.0.0.1 over a constitution in a real git repository.

Each server is the real `aios serve` command in a subprocess; the tests talk to it with httpx.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ENGINE, aios_command, committed, git, run_aios

from aios_policy.engine.shapes import Decision, Request
from aios_policy.record.log import DecisionLog
from aios_policy.serve.identity import Identity, add_token, revoke_tokens

PEOPLE = ("dana", "fiona", "olivia", "cleo")
KNOWN_VENDOR = {"vendor_is_new": False, "days_overdue": 0, "sanctions_hit": False}


def vendor_payment(amount: float, **fields: Any) -> dict[str, Any]:
    """A payment to a known vendor: automated up to $5,000, escalated to ops above (the engine fixture)."""
    return {"action": "vendor.pay", "amount": amount, "confidence": 0.95, "attributes": dict(KNOWN_VENDOR), **fields}


@dataclass
class Company:
    root: Path
    constitution: Path
    tokens_file: Path
    log: Path
    tokens: dict[str, str]

    def commit(self, message: str, edit: Callable[[Path], None]) -> str:
        edit(self.constitution)
        git(self.root, "commit", "-qam", message)
        return git(self.root, "rev-parse", "HEAD")


def make_company(root: Path) -> Company:
    """The engine fixture in a fresh git repository, with a token for an agent and for each person."""
    committed(root, ENGINE, "base")
    tokens_file = root / "secrets" / "tokens.json"
    now = datetime(2026, 11, 10, tzinfo=UTC)
    tokens = {"billing-agent": add_token(tokens_file, Identity("billing-agent", "agent"), now)}
    tokens.update({person: add_token(tokens_file, Identity(person, "human"), now) for person in PEOPLE})
    return Company(root, root / "constitution", tokens_file, root / "logs" / "decisions.sqlite", tokens)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    stderr: Path
    company: Company

    def client(self, who: str | None = "billing-agent") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.company.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def stop(self) -> bool:
        """SIGTERM, as a service manager stops it; True when it shut down cleanly (uvicorn re-raises the signal
        once it has shut down, so the exit status is the signal's)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30) in (0, -signal.SIGTERM) and "Application shutdown complete" in \
            self.output()

    def output(self) -> str:
        return self.stderr.read_text()


def start_server(company: Company, *extra: str) -> Server:
    """`aios serve` on a free port of 127.0.0.1, once it answers /v1/health."""
    port = free_port()
    stderr = company.root / f"serve-{port}.log"
    environment = {k: v for k, v in os.environ.items() if k != "AIOS_CONSTITUTION"}
    with stderr.open("wb") as errors:
        process = subprocess.Popen([*aios_command(), "serve", "--constitution", str(company.constitution),
                                    "--port", str(port), "--tokens", str(company.tokens_file),
                                    "--log", str(company.log), *extra],
                                   stdout=subprocess.DEVNULL, stderr=errors, env=environment)
    server = Server(f"http://127.0.0.1:{port}", process, stderr, company)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"aios serve exited with {process.returncode}:\n{server.output()}")
        try:
            if httpx.get(f"{server.url}/v1/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.stop()
    raise AssertionError(f"aios serve did not answer within 30 s:\n{server.output()}")


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Company:
    return make_company(tmp_path_factory.mktemp("company"))


@pytest.fixture(scope="module")
def server(company: Company) -> Iterator[Server]:
    running = start_server(company)
    yield running
    assert running.stop(), running.output()


def logged(company: Company, decision_id: str, timeout: float = 10) -> Any:
    """The log entry of a decision, once the server's writer thread has written it."""
    deadline = time.monotonic() + timeout
    while True:
        with DecisionLog(company.log) as log:
            found = [e for e in log.entries(limit=10_000) if e.id == decision_id]
        if found or time.monotonic() > deadline:
            assert found, f"decision {decision_id} never reached the log"
            return found[0]
        time.sleep(0.05)


def escalated(client: httpx.Client) -> dict[str, Any]:
    decision = client.post("/v1/decide", json=vendor_payment(6000)).json()
    assert decision["decision"] == "escalate", decision
    return decision


# Tokens

def test_token_add_prints_the_token_once_and_stores_only_its_hash(company: Company, tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens.json"
    done = run_aios("token", "add", "support-agent", "--kind", "agent", "--tokens", str(tokens_file),
                    "-c", str(company.constitution))
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token.startswith("aios_") and len(token) > 40 and "shown only now" in done.stderr
    stored = tokens_file.read_text()
    assert token not in stored and hashlib.sha256(token.encode()).hexdigest() in stored
    assert json.loads(stored)["tokens"][0]["identity"] == {"id": "support-agent", "kind": "agent"}
    assert tokens_file.stat().st_mode & 0o777 == 0o600
    listed = run_aios("token", "list", "--tokens", str(tokens_file), "-c", str(company.constitution))
    assert "support-agent  agent" in listed.stdout and token not in listed.stdout


def test_a_persons_token_must_name_a_person_in_org_json(company: Company, tmp_path: Path) -> None:
    done = run_aios("token", "add", "dnaa", "--kind", "human", "--tokens", str(tmp_path / "t.json"),
                    "-c", str(company.constitution))
    assert done.returncode == 2
    assert "`dnaa` is not a person in org.json" in done.stderr and "did you mean `dana`?" in done.stderr
    as_agent = run_aios("token", "add", "dana", "--kind", "agent", "--tokens", str(tmp_path / "t.json"),
                        "-c", str(company.constitution))
    assert as_agent.returncode == 2 and "so they act as `human`, not `agent`" in as_agent.stderr


def test_tokens_are_never_kept_inside_the_constitution(company: Company) -> None:
    inside = company.constitution / "tokens.json"
    done = run_aios("token", "add", "x-agent", "--kind", "agent", "--tokens", str(inside),
                    "-c", str(company.constitution))
    assert done.returncode == 2 and "is inside the constitution folder" in done.stderr
    assert not inside.exists()
    serve = run_aios("serve", "-c", str(company.constitution), "--tokens", str(inside), "--port", "1")
    assert serve.returncode == 2 and "is inside the constitution folder" in serve.stderr


# Deciding

def test_decide_names_the_commit_and_logs_the_tokens_identity_as_actor(server: Server, company: Company) -> None:
    body = vendor_payment(100, actor={"id": "olivia", "kind": "human"})  # claims to be the owner: ignored
    with server.client() as client:
        response = client.post("/v1/decide", json=body)
    assert response.status_code == 200, response.text
    decision = Decision.model_validate(response.json())
    assert decision.decision == "automate"
    assert decision.constitution.commit == git(company.root, "rev-parse", "HEAD")
    entry = logged(company, decision.id)
    assert (entry.actor, entry.actor_kind) == ("billing-agent", "agent")
    assert entry.request["actor"] == {"id": "billing-agent", "kind": "agent"}
    assert entry.commit == decision.constitution.commit


def test_a_person_may_claim_a_role_they_hold_but_no_other(server: Server) -> None:
    with server.client("dana") as client:
        held = client.post("/v1/decide", json=vendor_payment(100, actor={"role": "ops"}))
        other = client.post("/v1/decide", json=vendor_payment(100, actor={"role": "finance"}))
    assert held.status_code == 200, held.text
    assert other.status_code == 422
    assert "`dana` does not hold role `finance`" in " ".join(other.json()["problems"])


def test_batch_decides_every_request_with_one_commit(server: Server, company: Company) -> None:
    requests = [vendor_payment(amount) for amount in (100, 6000, 60000)] + [{"action": "vendor.pay"}]
    with server.client() as client:
        response = client.post("/v1/decide/batch", json={"requests": requests})
    assert response.status_code == 200, response.text
    decisions = response.json()["decisions"]
    assert [d["decision"] for d in decisions] == ["automate", "escalate", "escalate", "needs_info"]
    assert [s["role"] for s in decisions[2]["escalation"]["stages"]] == ["ops", "owner"]  # both tiers apply
    assert {d["constitution"]["commit"] for d in decisions} == {git(company.root, "rev-parse", "HEAD")}
    assert logged(company, decisions[-1]["id"]).actor == "billing-agent"


def test_a_batch_with_a_malformed_request_decides_none_and_says_which(server: Server) -> None:
    with server.client() as client:
        bad = client.post("/v1/decide/batch", json={"requests": [vendor_payment(1), {"action": "vendor.pay",
                                                                                       "amount": "lots"}]})
        too_many = client.post("/v1/decide/batch", json={"requests": [vendor_payment(1)] * 1001})
        empty = client.post("/v1/decide/batch", json={"requests": []})
    assert bad.status_code == 422 and "none was decided" in bad.json()["error"]
    assert bad.json()["problems"] == ["requests/1: /amount: expected a number, got `\"lots\"` (expected: Money "
                                      "involved, in currency (or the constitution's currency).)"]
    assert too_many.status_code == 422 and too_many.json() == {
        "error": "a batch holds 1 to 1000 requests, not 1001", "hint": "split the batch"}
    assert empty.status_code == 422


# Refusals

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer aios_wrong"}, {"Authorization": "Basic eDp5"}])
def test_a_missing_or_wrong_token_is_401(server: Server, headers: dict[str, str]) -> None:
    for method, path in (("POST", "/v1/decide"), ("POST", "/v1/decide/batch"), ("GET", "/v1/constitution"),
                         ("GET", "/v1/escalations"), ("GET", "/v1/explain/vendor.pay"),
                         ("POST", "/v1/escalations/dec_x/resolve"), ("POST", "/v1/ask")):
        response = httpx.request(method, server.url + path, headers=headers, json=vendor_payment(1))
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"] in ("no bearer token", "unknown bearer token")
    assert httpx.get(server.url + "/v1/health").json()["status"] == "ok"  # health needs no token


@pytest.mark.parametrize(("body", "status", "error"), [
    (b'{"action": ', 400, "the body is not valid JSON"),
    (b'{"action": "vendor.pay", "amount": NaN}', 400, "`NaN` is not a JSON number"),
    (b"\xff\xfe not utf-8", 400, "the body is not"),
    (b"[" * 100_000 + b"]" * 100_000, 400, "the body's JSON is nested too deeply"),
    (b"[1, 2]", 422, "the request does not follow the request schema"),
    (b'{"action": "vendor.pay", "amount": -5, "surprise": 1}', 422, "the request does not follow the request schema"),
    (b'{"action": "vendor.pay", "actor": "me"}', 422, "the request does not follow the request schema"),
])
def test_malformed_bodies_get_a_4xx_that_says_what_is_wrong(server: Server, body: bytes, status: int,
                                                            error: str) -> None:
    with server.client() as client:
        response = client.post("/v1/decide", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert error in response.json()["error"] and response.json()["hint"]


def test_schema_problems_are_listed_one_by_one(server: Server) -> None:
    with server.client() as client:
        response = client.post("/v1/decide", json={"action": "vendor.pay", "amount": -5, "surprise": 1})
    problems = response.json()["problems"]
    assert any("/amount" in p for p in problems) and any("surprise" in p for p in problems), problems


def test_a_body_over_1_mib_is_413_declared_or_streamed(server: Server) -> None:
    big = b'{"action": "vendor.pay", "attributes": {"x": "' + b"a" * (1024 * 1024) + b'"}}'
    with server.client() as client:
        declared = client.post("/v1/decide", content=big)
        streamed = client.post("/v1/decide", content=iter([big[:600_000], big[600_000:]]))
    assert declared.status_code == 413 and declared.json()["error"] == (
        f"the request body is {len(big)} bytes; the limit is 1048576 bytes")
    assert streamed.status_code == 413 and "past the limit" in streamed.json()["error"]


def test_unknown_routes_and_methods_answer_json(server: Server) -> None:
    with server.client() as client:
        missing = client.get("/v1/nothing")
        wrong_method = client.get("/v1/decide")
    assert (missing.status_code, missing.json()["error"]) == (404, "no such endpoint `/v1/nothing`")
    assert (wrong_method.status_code, wrong_method.json()["error"]) == (405, "`GET` is not allowed on `/v1/decide`")


# Escalations

def test_the_named_approver_resolves_an_escalation_and_nobody_else(server: Server, company: Company) -> None:
    with server.client() as agent:
        decision = escalated(agent)
        named = {a["id"] for s in decision["escalation"]["stages"] for a in s["approvers"]}
        pending = agent.get("/v1/escalations", params={"status": "pending"}).json()["escalations"]
        assert decision["id"] in [e["id"] for e in pending]
        by_agent = agent.post(f"/v1/escalations/{decision['id']}/resolve", json={"outcome": "approve", "note": "x"})
    assert by_agent.status_code == 403 and "only the people an escalation names" in by_agent.json()["error"]
    approver = sorted(named)[0]
    outsider = next(p for p in PEOPLE if p not in named)
    body = {"outcome": "approve", "note": "invoice matches the purchase order"}
    with server.client(outsider) as client:
        refused = client.post(f"/v1/escalations/{decision['id']}/resolve", json=body)
    assert refused.status_code == 403
    assert refused.json()["error"] == f"`{outsider}` may not resolve decision `{decision['id']}`: not one of the " \
                                      "approvers it named"
    assert approver in refused.json()["hint"]
    with server.client(approver) as client:
        done = client.post(f"/v1/escalations/{decision['id']}/resolve", json=body)
        again = client.post(f"/v1/escalations/{decision['id']}/resolve", json=body)
        unknown = client.post("/v1/escalations/dec_000000000000000000000000/resolve", json=body)
        malformed = client.post(f"/v1/escalations/{decision['id']}/resolve", json={"outcome": "maybe"})
        approved = client.get("/v1/escalations", params={"status": "approved"}).json()["escalations"]
    assert done.status_code == 200, done.text
    assert {k: done.json()[k] for k in ("decision_id", "outcome", "by", "status")} == {
        "decision_id": decision["id"], "outcome": "approve", "by": approver, "status": "approved"}
    assert again.status_code == 409 and "already approved" in again.json()["error"]
    assert unknown.status_code == 404 and "no decision" in unknown.json()["error"]
    assert malformed.status_code == 422 and len(malformed.json()["problems"]) == 2
    assert decision["id"] in [e["id"] for e in approved]
    with DecisionLog(company.log) as log:
        [resolution] = log.get(decision["id"]).resolutions
    assert (resolution.by, resolution.note) == (approver, body["note"])


def test_an_unknown_status_filter_is_422(server: Server) -> None:
    with server.client() as client:
        response = client.get("/v1/escalations", params={"status": "lost"})
    assert response.status_code == 422 and response.json()["problems"]


# Explain, ask, status

def test_explain_gives_the_decision_table_of_an_action(server: Server) -> None:
    with server.client() as client:
        table = client.get("/v1/explain/vendor.pay")
        unknown = client.get("/v1/explain/vendor.payy")
    assert table.status_code == 200, table.text
    assert table.json()["action"] == "vendor.pay" and table.json()["regions"]
    assert unknown.status_code == 404 and "vendor.payy" in unknown.json()["error"]


def test_ask_answers_a_question_in_plain_english(server: Server) -> None:
    with server.client("dana") as client:
        answer = client.post("/v1/ask", json={"question": "what happens when we pay a new vendor $6,000?"})
        empty = client.post("/v1/ask", json={"question": ""})
    assert answer.status_code == 200, answer.text
    assert answer.json()["question"] == "what happens when we pay a new vendor $6,000?"
    assert "vendor" in json.dumps(answer.json()).lower()
    assert empty.status_code == 422


def test_constitution_status_names_the_serving_commit(server: Server, company: Company) -> None:
    with server.client() as client:
        status = client.get("/v1/constitution").json()
    assert status["commit"] == git(company.root, "rev-parse", "HEAD") and status["ref"] == "main"
    assert status["name"] == "Engine Test Co" and status["reload_error"] is None
    assert datetime.fromisoformat(status["loaded_at"]) <= datetime.now(UTC)


def test_openapi_is_generated_from_the_pydantic_models(server: Server) -> None:
    document = httpx.get(server.url + "/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert set(schemas["Decision"]["properties"]) == set(Decision.model_fields)
    decide = document["paths"]["/v1/decide"]["post"]
    assert decide["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Decision"}
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert set(document["paths"]) == {"/v1/decide", "/v1/decide/batch", "/v1/explain/{action}", "/v1/ask",
                                      "/v1/constitution", "/v1/health", "/v1/escalations",
                                      "/v1/escalations/{decision_id}/resolve"}


def test_openapi_describes_the_decide_bodies_with_the_requests_fields(server: Server) -> None:
    paths = httpx.get(server.url + "/openapi.json").json()["paths"]

    def body(path: str) -> Any:
        request_body = paths[path]["post"]["requestBody"]
        assert request_body["required"] is True
        return request_body["content"]["application/json"]["schema"]

    one = body("/v1/decide")
    assert set(one["properties"]) == set(Request.model_fields)
    assert one["properties"]["action"]["type"] == "string" and one["required"] == ["action"]
    actor = next(s for s in one["properties"]["actor"]["anyOf"] if s.get("type") == "object")
    assert set(actor["properties"]) == {"id", "kind", "role"}  # inlined: the document holds no dangling $ref
    batch = body("/v1/decide/batch")["properties"]["requests"]
    assert (batch["minItems"], batch["maxItems"]) == (1, 1000)
    assert set(batch["items"]["properties"]) == set(Request.model_fields)
    assert body("/v1/ask") == {"$ref": "#/components/schemas/Question"}


def test_every_error_in_the_openapi_document_has_the_one_error_shape(server: Server) -> None:
    document = httpx.get(server.url + "/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/ErrorBody"}, (method, path, status)


def test_property_based_requests_never_get_a_5xx(server: Server) -> None:
    """Schemathesis generates valid and invalid calls of every operation from /openapi.json."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {server.company.tokens['dana']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    strategy = st.one_of([op.as_strategy(mode) for op in operations
                          for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)])
    seen: list[int] = []

    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def no_server_error(case: Any) -> None:
        response = case.call(base_url=server.url, headers=headers, timeout=10)
        seen.append(response.status_code)
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"

    started = time.monotonic()
    no_server_error()
    assert len(seen) >= 100 and time.monotonic() - started < 60
    assert any(200 <= status < 300 for status in seen) and any(400 <= status < 500 for status in seen)


def test_health_and_404_bodies_hold_no_file_path(server: Server, company: Company) -> None:
    with server.client("dana") as client:
        bodies = [httpx.get(server.url + "/v1/health"), client.get("/v1/nothing"), client.get("/v1/explain/x.y"),
                  client.post("/v1/escalations/dec_000000000000000000000000/resolve",
                              json={"outcome": "approve", "note": "x"})]
    assert [b.status_code for b in bodies] == [200, 404, 404, 404]
    assert bodies[0].json()["log"]["kind"] == "sqlite" and bodies[0].json()["log"]["state"] == "writing"
    assert "decision log `decisions.sqlite`" in bodies[3].json()["error"]
    for body in bodies:
        for private in {company.root, company.root.resolve()}:
            assert str(private) not in body.text, body.text


def test_a_slow_batch_leaves_the_event_loop_free_for_health(server: Server) -> None:
    """A batch of 1,000 is decided in the thread pool: /v1/health answers all the while the server works on it
    (from the moment the batch is sent until its response's headers arrive)."""
    window: dict[str, float] = {}

    def decide_a_thousand() -> None:
        hooks = {"request": [lambda _: window.setdefault("sent", time.monotonic())],
                 "response": [lambda _: window.setdefault("answered", time.monotonic())]}
        with server.client() as client:
            client.event_hooks = hooks
            response = client.post("/v1/decide/batch", params={"explain": "true"},
                                   json={"requests": [vendor_payment(6000)] * 1000})
        window["status"] = response.status_code

    thread = threading.Thread(target=decide_a_thousand)
    answers: list[tuple[float, float]] = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        thread.start()
        while thread.is_alive():
            started = time.monotonic()
            assert client.get("/v1/health").status_code == 200
            answers.append((started, time.monotonic()))
    thread.join()
    assert window["status"] == 200
    inside = [a for a in answers if window["sent"] < a[0] and a[1] < window["answered"]]
    # on a blocked loop none would fit: each health request would wait for the batch to be answered
    assert len(inside) >= 5, (window, answers)


def test_the_engine_explain_and_ask_never_run_on_the_event_loop(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Every call into the engine, explain or ask, in-process, notes whether an event loop runs in its thread."""
    from fastapi.testclient import TestClient

    from aios_policy.engine.facade import Constitution
    from aios_policy.serve.http import create_app, routes

    on_loop: dict[str, list[bool]] = {}

    def watched(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            on_loop.setdefault(name, []).append(_running_an_event_loop())
            return function(*args, **kwargs)
        return call

    monkeypatch.setattr(Constitution, "decide_dict", watched("decide", Constitution.decide_dict))
    for name in ("request_problems", "explain_action", "answer"):
        monkeypatch.setattr(routes, name, watched(name, getattr(routes, name)))
    company = make_company(tmp_path)
    app = create_app(company.constitution, tokens=company.tokens_file, log=company.log)
    with TestClient(app, headers={"Authorization": f"Bearer {company.tokens['dana']}"}) as client:
        assert client.post("/v1/decide", json=vendor_payment(100)).status_code == 200
        assert client.post("/v1/decide/batch", json={"requests": [vendor_payment(100)] * 3}).status_code == 200
        assert client.get("/v1/explain/vendor.pay").status_code == 200
        assert client.post("/v1/ask", json={"question": "what happens when we pay a vendor?"}).status_code == 200
    assert set(on_loop) == {"decide", "request_problems", "explain_action", "answer"}
    assert not any(any(calls) for calls in on_loop.values()), on_loop


def _running_an_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# The decision log under load

def test_http_and_the_cli_write_one_log_at_once_without_breaking_it(server: Server, company: Company) -> None:
    """8 HTTP clients and 2 `aios decide` processes append to the same SQLite log at the same time."""
    request_file = company.root / "request.json"
    request_file.write_text(json.dumps({**vendor_payment(100), "actor": {"id": "cli-agent", "kind": "agent"}}))
    ids: list[str] = []

    def client_thread() -> None:
        with server.client() as client:
            for _ in range(15):
                ids.append(client.post("/v1/decide", json=vendor_payment(100)).json()["id"])

    cli = [subprocess.Popen([*aios_command(), "decide", str(request_file), "-c", str(company.constitution),
                             "--log", str(company.log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
           for _ in range(2)]
    threads = [threading.Thread(target=client_thread) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cli_ids = [json.loads(process.communicate(timeout=60)[0])["id"] for process in cli]
    assert len(ids) == 120
    logged(company, ids[-1])
    time.sleep(0.2)
    with DecisionLog(company.log) as log:
        entries = {e.id: e for e in log.entries(limit=100_000)}
        assert log.verify() == []
    assert all(i in entries for i in ids + cli_ids)
    assert {entries[i].actor for i in cli_ids} == {"cli-agent"}
    assert run_aios("log", "verify", "--log", str(company.log)).returncode == 0


def test_shutdown_writes_every_queued_decision(tmp_path: Path) -> None:
    company = make_company(tmp_path)
    server = start_server(company)
    with server.client() as client:
        for _ in range(3):
            response = client.post("/v1/decide/batch", json={"requests": [vendor_payment(100)] * 100})
            assert response.status_code == 200
    assert server.stop(), server.output()
    assert "decision log flushed: 300 written, 0 failed" in server.output()
    with DecisionLog(company.log) as log:
        assert len(log.entries(limit=1000)) == 300


# Hot reload

def _wait_for(condition: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_new_commit_is_served_an_invalid_one_refused_and_the_error_reported(tmp_path: Path) -> None:
    company = make_company(tmp_path)
    server = start_server(company, "--reload-interval", "0.2")
    try:
        with server.client() as client:
            first = client.post("/v1/decide", json=vendor_payment(6000)).json()
            assert first["decision"] == "escalate"

            raised = company.commit("large payments from 10,000", lambda c: _replace(
                c / "policies" / "vendors.json", '"op": "gt", "value": 5000', '"op": "gt", "value": 10000'))
            _wait_for(lambda: client.get("/v1/constitution").json()["commit"] == raised, "the new commit")
            second = client.post("/v1/decide", json=vendor_payment(6000)).json()
            assert (second["decision"], second["constitution"]["commit"]) == ("automate", raised)

            broken = company.commit("typo", lambda c: _replace(
                c / "policies" / "vendors.json", '"owner": "finance"', '"owner": "finanse"'))
            status = _wait_for(lambda: (s := client.get("/v1/constitution").json())["reload_error"] and s,
                               "the refusal")
            assert status["commit"] == raised
            assert status["reload_error"]["commit"] == broken
            assert status["reload_error"]["message"].startswith("the constitution has 1 error(s)")
            assert any("REF001 unknown role `finanse`" in line for line in status["reload_error"]["diagnostics"])
            third = client.post("/v1/decide", json=vendor_payment(6000)).json()
            assert (third["decision"], third["constitution"]["commit"]) == ("automate", raised)
            assert logged(company, third["id"]).commit == raised

            fixed = company.commit("fix the typo", lambda c: _replace(
                c / "policies" / "vendors.json", '"owner": "finanse"', '"owner": "finance"'))
            status = _wait_for(lambda: (s := client.get("/v1/constitution").json())["commit"] == fixed and s,
                               "the fixed commit")
            assert status["reload_error"] is None

            revoke_tokens(company.tokens_file, "billing-agent")
            _wait_for(lambda: client.get("/v1/constitution").status_code == 401, "the revoked token to be refused")
    finally:
        server.stop()
    log = server.output()
    assert f"refused commit {broken[:12]} of `main`, still serving {raised[:12]}" in log
    assert f"serving commit {fixed[:12]} of `main`" in log


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))

"""`aios mcp`: the real command over stdio, driven by the mcp SDK's own client (stdio_client + ClientSession)."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import ENGINE, aios_command, committed, git
from mcp import ClientSession, StdioServerParameters, stdio_client

from aios_policy.record.log import DecisionLog

PAYMENT = {"action": "vendor.pay", "amount": 6000, "confidence": 0.95,
           "attributes": {"vendor_is_new": False, "days_overdue": 0, "sanctions_hit": False}}


@pytest.fixture
def company(tmp_path: Path) -> Path:
    return committed(tmp_path, ENGINE, "base")


def session_with(args: list[str], body: Callable[[ClientSession], Awaitable[Any]]) -> Any:
    """Start `aios mcp ARGS` as an agent framework would, and run body against an initialised session."""
    command, *prefix = aios_command()
    environment = {k: v for k, v in os.environ.items() if k != "AIOS_CONSTITUTION"}
    parameters = StdioServerParameters(command=command, args=[*prefix, "mcp", *args], env=environment)

    async def run() -> Any:
        with anyio.fail_after(60):
            async with stdio_client(parameters) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                return await body(session)

    return anyio.run(run)


def structured(result: Any) -> Any:
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


def test_mcp_lists_its_tools_and_decides(company: Path) -> None:
    log = company / "logs" / "decisions.sqlite"

    async def body(session: ClientSession) -> dict[str, Any]:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        decision = structured(await session.call_tool("decide", {"request": {
            **PAYMENT, "actor": {"id": "billing-agent", "kind": "agent"}}}))
        refused = await session.call_tool("decide", {"request": {**PAYMENT, "amount": "lots"}})
        resources = [str(r.uri) for r in (await session.list_resources()).resources]
        policy = json.loads((await session.read_resource("policy://vendors")).contents[0].text)
        pending = structured(await session.call_tool("list_escalations", {}))
        return {"tools": tools, "decision": decision, "refused": refused, "resources": resources, "policy": policy,
                "pending": pending}

    seen = session_with(["--constitution", str(company / "constitution"), "--log", str(log)], body)
    tools = seen["tools"]
    assert {"decide", "explain", "ask", "list_escalations", "resolve_escalation"} <= set(tools)
    request_schema = tools["decide"].input_schema
    assert request_schema["required"] == ["request"]
    assert {"action", "actor", "amount", "attributes", "confidence"} <= set(
        request_schema["$defs"]["ServedRequest"]["properties"])
    assert tools["resolve_escalation"].input_schema["properties"]["outcome"]["enum"] == ["approve", "deny"]

    decision = seen["decision"]
    assert decision["decision"] == "escalate" and decision["escalation"]["role"] == "ops"
    assert decision["constitution"]["commit"] == git(company, "rev-parse", "HEAD")
    assert seen["refused"].is_error
    assert {"constitution://overview", "policy://vendors", "policy://refunds"} <= set(seen["resources"])
    assert seen["policy"]["summary"].startswith("Known vendors are paid automatically")
    assert seen["policy"]["policy"]["rules"][0]["id"] == "vendor-known-auto"
    assert [e["id"] for e in seen["pending"]["escalations"]] == [decision["id"]]
    with DecisionLog(log) as decision_log:
        assert decision_log.get(decision["id"]).actor == "mcp"


def test_mcp_with_a_pinned_actor_decides_and_resolves_as_that_person(company: Path) -> None:
    log = company / "logs" / "decisions.sqlite"

    async def as_agent(session: ClientSession) -> dict[str, Any]:
        return structured(await session.call_tool("decide", {"request": PAYMENT}))

    decision = session_with(["-c", str(company / "constitution"), "--log", str(log), "--actor", "billing-agent"],
                            as_agent)
    approver = decision["escalation"]["stages"][0]["approvers"][0]["id"]
    outsider = "olivia" if approver != "olivia" else "cleo"

    def resolving(person: str) -> Any:
        async def body(session: ClientSession) -> Any:
            return await session.call_tool("resolve_escalation", {"decision_id": decision["id"],
                                                                   "outcome": "approve", "note": "checked"})
        return session_with(["-c", str(company / "constitution"), "--log", str(log), "--actor", person], body)

    refused = resolving(outsider)
    assert refused.is_error and f"`{outsider}` may not resolve decision" in refused.content[0].text
    resolved = structured(resolving(approver))
    assert (resolved["by"], resolved["status"]) == (approver, "approved")
    with DecisionLog(log) as decision_log:
        entry = decision_log.get(decision["id"])
    assert entry.actor == "billing-agent" and entry.status == "approved"


def test_mcp_explains_an_action(company: Path) -> None:
    async def body(session: ClientSession) -> Any:
        return structured(await session.call_tool("explain", {"action": "vendor.pay"}))

    table = session_with(["-c", str(company / "constitution"), "--no-log"], body)
    assert table["action"] == "vendor.pay" and table["regions"]

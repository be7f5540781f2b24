"""`aios mcp`: the constitution as a Model Context Protocol server over stdio. The `mcp` SDK has its home here.

Tools: `decide`, `explain`, `ask`, `list_escalations` and `resolve_escalation`, each with a JSON Schema
for its input generated from its typed signature (`decide` takes the same `ServedRequest` model as
`POST /v1/decide`). Resources: every policy (`policy://ID`) and procedure (`sop://ID`) as JSON with
its summary, and `constitution://overview`.

An agent framework starts the server itself, as the user who runs it, so it trusts its caller as the
CLI does: the actor is the request's, unless `--actor ID` pins it for the whole session (then the
request's actor id and kind are replaced, as the HTTP service does with a token's identity).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from aios_policy.engine.facade import request_problems
from aios_policy.errors import AiosError
from aios_policy.guide.ask import ask as answer
from aios_policy.guide.explain import explain_action
from aios_policy.record.log import DecisionLog, LogError

from .identity import Identity, ServedRequest, acting_as, identity_problem
from .live import DEFAULT_RELOAD_SECONDS, LiveConstitution, Loaded
from .writer import LogWriter

try:  # mcp 2.x renamed FastMCP to MCPServer; the decorators used here are the same in both
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
except ImportError:  # pragma: no cover  (mcp 1.x)
    # checked against mcp 2.x, where these 1.x names no longer exist (and they redefine the 2.x ones)
    from mcp.server.fastmcp import FastMCP as MCPServer  # type: ignore[no-redef, attr-defined]
    from mcp.server.fastmcp.exceptions import ToolError  # type: ignore[no-redef, import-not-found]

INSTRUCTIONS = """\
This server answers from a company's constitution: its policies, procedures, people and thresholds.
Before an action that a policy may govern (a refund, a payment, a discount...), call `decide` with the
action and the facts; do what the decision says: automate means go ahead, escalate means hand the case
to the approvers it names with what it says to attach, deny means do not, needs_info means ask for the
missing fields and decide again. `explain` shows an action's whole decision table, `ask` answers
"what happens when ..." questions, and the policy:// and sop:// resources hold the rules themselves."""


class McpService:
    """The constitution, the log writer and the pinned identity behind one stdio session."""

    def __init__(self, constitution: str | os.PathLike[str], ref: str | None, log_path: str | os.PathLike[str] | None,
                 reload_interval: float = DEFAULT_RELOAD_SECONDS, actor: str | None = None) -> None:
        self.live = LiveConstitution(constitution, ref, reload_interval)
        self.log = LogWriter(log_path) if log_path else None
        self.identity: Identity | None = None
        if actor is not None:
            people = self.live.current.constitution.compiled.people
            self.identity = Identity(actor, "human" if actor in people else "agent")

    def decide(self, request: dict[str, Any], explain: bool) -> dict[str, Any]:
        loaded = self.live.current
        if self.identity is not None:
            self._refuse_identity(loaded, self.identity)
            request = acting_as(request, self.identity)
        problems = request_problems(request, loaded.constitution.compiled)
        if problems:
            raise ToolError("the request does not follow the request schema: " + "; ".join(problems[:20]))
        decision = loaded.constitution.decide_dict(request, datetime.now(UTC), explain)
        if self.log is not None:
            self.log.append_waiting(decision, request)
        return decision

    @staticmethod
    def _refuse_identity(loaded: Loaded, identity: Identity) -> None:
        problem = identity_problem(identity, loaded.constitution.compiled)
        if problem:
            raise ToolError(problem)

    def resolve(self, decision_id: str, outcome: str, note: str, by: str | None) -> dict[str, Any]:
        if self.identity is not None:
            if self.identity.kind != "human":
                raise ToolError(f"`{self.identity.id}` is an agent; only the people an escalation names resolve it")
            if by not in (None, self.identity.id):
                raise ToolError(f"this session acts as `{self.identity.id}`; it cannot resolve as `{by}`")
            by = self.identity.id
        if not by:
            raise ToolError("say who resolves: `by`, a person id in org.json")
        if by not in self.live.current.constitution.compiled.people:
            raise ToolError(f"`{by}` is not a person in org.json")

        def record(log: DecisionLog) -> dict[str, Any]:
            resolution = log.resolve(decision_id, outcome, by, note, datetime.now(UTC))
            return {**resolution.to_json(), "awaiting": log.get(decision_id).awaiting}

        return self._with_log(record)

    def escalations(self, status: str, limit: int) -> list[dict[str, Any]]:
        def read(log: DecisionLog) -> list[dict[str, Any]]:
            return [{**e.to_json(full=False), "summary": e.decision.get("summary"), "awaiting": e.awaiting}
                    for e in log.entries(limit=limit, status=status)]

        return self._with_log(read)

    def _with_log(self, function: Any) -> Any:
        if self.log is None:
            raise ToolError("this server runs without a decision log (--no-log)")
        try:
            return self.log.call(function)
        except LogError as error:
            raise ToolError(f"{error.message}" + (f" ({error.hint})" if error.hint else "")) from error

    def start(self) -> None:
        if self.log is not None:
            self.log.start()
        self.live.start()

    def stop(self) -> None:
        self.live.stop()
        if self.log is not None:
            self.log.close()


def _document(loaded: Loaded, kind: str, ident: str) -> dict[str, Any] | None:
    """The file of a policy or SOP as it is in the constitution."""
    for document in loaded.constitution.result.documents:
        if document.kind == kind and isinstance(document.data, dict) and document.data.get("id") == ident:
            return {"file": document.relative, "content": document.data}
    return None


def _policy_resource(service: McpService, policy_id: str) -> str:
    loaded = service.live.current
    policy = loaded.constitution.compiled.policies.get(policy_id)
    if policy is None:
        raise ValueError(f"no policy `{policy_id}` at commit {(loaded.commit or 'none')[:12]}")
    found = _document(loaded, "policy", policy_id) or {}
    return json.dumps({"id": policy.id, "title": policy.title, "owner": policy.owner, "summary": policy.summary,
                       "actions": list(policy.actions), "commit": loaded.commit, "file": found.get("file"),
                       "policy": found.get("content")}, indent=2, ensure_ascii=False)


def _sop_resource(service: McpService, sop_id: str) -> str:
    loaded = service.live.current
    sop = loaded.constitution.compiled.sops.get(sop_id)
    if sop is None:
        raise ValueError(f"no procedure `{sop_id}` at commit {(loaded.commit or 'none')[:12]}")
    found = _document(loaded, "sop", sop_id) or {}
    return json.dumps({"id": sop.id, "title": sop.title, "owner": sop.owner, "summary": sop.summary,
                       "trigger": sop.trigger, "commit": loaded.commit, "file": found.get("file"),
                       "sop": found.get("content")}, indent=2, ensure_ascii=False)


def _overview(service: McpService) -> str:
    loaded = service.live.current
    compiled = loaded.constitution.compiled
    return json.dumps({**loaded.to_json(),
                       "policies": {p.id: {"title": p.title, "summary": p.summary, "actions": list(p.actions),
                                           "uri": f"policy://{p.id}"} for p in compiled.policies.values()},
                       "sops": {s.id: {"title": s.title, "summary": s.summary, "uri": f"sop://{s.id}"}
                                for s in compiled.sops.values()},
                       "actions": sorted(compiled.rules_by_action)}, indent=2, ensure_ascii=False)


def _reader(function: Callable[..., str], *arguments: Any) -> Callable[[], str]:
    """A resource reader without parameters (the SDK reads a static resource's parameters as template variables)."""
    def read() -> str:
        return function(*arguments)

    return read


def create_server(service: McpService) -> Any:
    """The MCP server with its tools and resources; run it with `.run("stdio")` between service.start/stop."""
    loaded = service.live.current
    server = MCPServer(name="aios-policy", instructions=INSTRUCTIONS)

    @server.tool(description="Decide whether an action may be done: automate, escalate (to whom, with what, by "
                             "when), deny or needs_info (which facts are missing), with the reasons and the commit "
                             "of the constitution that decided. Every decision is logged.")
    def decide(request: ServedRequest,
               explain: Annotated[bool, Field(description="Add the trace of every rule considered.")] = False,
               ) -> dict[str, Any]:
        return service.decide(request.to_dict(), explain)

    @server.tool(description="The complete decision table of an action (e.g. refund.issue): every region of "
                             "requests and what happens to it, strictest first, with approvers and rule ids.")
    def explain(action: Annotated[str, Field(min_length=1, max_length=80, description="Dotted action name.")],
                ) -> dict[str, Any]:
        try:
            return explain_action(service.live.current.constitution, action, datetime.now(UTC)).to_json()
        except AiosError as error:
            raise ToolError(str(error)) from error

    @server.tool(description="Answer a plain-English question such as 'what happens when a customer disputes a "
                             "refund of $800?': the procedure, its steps, the decision at each gate, who and when.")
    def ask(question: Annotated[str, Field(min_length=1, max_length=2000, description="The question.")],
            ) -> dict[str, Any]:
        try:
            return answer(service.live.current.constitution, question, datetime.now(UTC)).to_json()
        except AiosError as error:
            raise ToolError(str(error)) from error

    @server.tool(description="Logged escalations, newest first (pending by default), with who may still approve.")
    def list_escalations(status: Literal["pending", "approved", "denied"] = "pending",
                         limit: Annotated[int, Field(ge=1, le=500)] = 50) -> dict[str, Any]:
        return {"escalations": service.escalations(status, limit)}

    @server.tool(description="For people: approve or deny an escalation you were named for, with a note. Refused "
                             "for anyone the decision did not name.")
    def resolve_escalation(decision_id: Annotated[str, Field(min_length=1, max_length=200)],
                           outcome: Literal["approve", "deny"],
                           note: Annotated[str, Field(min_length=1, max_length=4000, description="Why; logged.")],
                           by: Annotated[str | None, Field(description="Your person id in org.json (not needed when "
                                                                       "the server was started with --actor).")] = None,
                           ) -> dict[str, Any]:
        return service.resolve(decision_id, outcome, note, by)

    server.resource("constitution://overview", name="overview", mime_type="application/json",
                    description="The constitution: commit, policies, procedures, actions.")(_reader(_overview, service))
    for policy in loaded.constitution.compiled.policies.values():
        server.resource(f"policy://{policy.id}", name=f"policy {policy.id}", title=policy.title,
                        description=policy.summary, mime_type="application/json")(
            _reader(_policy_resource, service, policy.id))
    for sop in loaded.constitution.compiled.sops.values():
        server.resource(f"sop://{sop.id}", name=f"sop {sop.id}", title=sop.title, description=sop.summary,
                        mime_type="application/json")(_reader(_sop_resource, service, sop.id))

    @server.resource("policy://{policy_id}", name="policy", mime_type="application/json",
                     description="Any policy by id, at the serving commit (new ones appear as commits land).")
    def any_policy(policy_id: str) -> str:
        return _policy_resource(service, policy_id)

    @server.resource("sop://{sop_id}", name="sop", mime_type="application/json",
                     description="Any procedure by id, at the serving commit.")
    def any_sop(sop_id: str) -> str:
        return _sop_resource(service, sop_id)

    return server


def run_stdio(service: McpService) -> None:
    server = create_server(service)
    service.start()
    try:
        server.run("stdio")
    finally:
        service.stop()

"""`aios mcp`: the constitution as a Model Context Protocol server over stdio. The `mcp` SDK has its home here.

Tools: `decide`, `explain`, `ask`, `list_escalations` and `resolve_escalation`, each with a JSON Schema
for its input generated from its typed signature. `decide` takes the request as the client sent it: its
schema is the `ServedRequest` model of `POST /v1/decide`, but the SDK checks nothing in it (no pydantic
coercion: `"0.99"` stays a string, `true` stays a boolean); the engine's `request_problems` judges it,
as over HTTP, and a malformed request is a tool error naming each problem, as a 422 is over HTTP.
Resources: every policy (`policy://ID`) and procedure (`sop://ID`) as JSON with its summary, and
`constitution://overview`; an unknown one is a clean "not found" error.

Who is asking: the session's identity, never the request's. Without `--actor` the session is the agent
`mcp`; `--actor NAME` names the agent, and `--actor PERSON` (a person in org.json) makes the session
that person. Either way the request's actor id and kind are replaced, as the HTTP service does with a
token's identity (`acting_as`), and only `actor.role` is kept for the rules to judge. Only a session
that is a person resolves escalations, as that person.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator

from aios_policy.engine.facade import request_problems
from aios_policy.engine.people import canonical_id, person_of
from aios_policy.errors import AiosError
from aios_policy.guide.ask import ask as answer
from aios_policy.guide.explain import explain_action
from aios_policy.record.log import DecisionLog, LogError, LogHistory
from aios_policy.words.decision import one_line

from .identity import Identity, ServedRequest, acting_as, identity_problem
from .live import DEFAULT_RELOAD_SECONDS, LiveConstitution, Loaded
from .writer import LogWriter

try:  # mcp 2.x renamed FastMCP to MCPServer; the decorators used here are the same in both
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ResourceError, ToolError
except ImportError:  # pragma: no cover  (mcp 1.x)
    # checked against mcp 2.x, where these 1.x names no longer exist (and they redefine the 2.x ones)
    from mcp.server.fastmcp import FastMCP as MCPServer  # type: ignore[no-redef, attr-defined]
    from mcp.server.fastmcp.exceptions import (  # type: ignore[no-redef, import-not-found]
        ResourceError,
        ToolError,
    )

try:  # a clean "not found" (-32602) rather than an internal error; mcp 1.x has only ResourceError
    from mcp.server.mcpserver.exceptions import ResourceNotFoundError
except ImportError:  # pragma: no cover  (mcp 1.x)
    ResourceNotFoundError = ResourceError  # type: ignore[misc, assignment]

SESSION_AGENT = "mcp"  # who a session is without --actor
MAX_PROBLEMS_SHOWN = 20
REQUEST_HINT = "see the decide tool's input schema (schemas/request.schema.json)"


class SessionError(AiosError):
    """`aios mcp --actor` names no usable identity."""

    exit_code = 2


def _as_sent(value: Any) -> Any:
    """The decide tool's `request` exactly as the client sent it: the SDK coerces nothing; the engine judges."""
    return value


# The schema clients see is ServedRequest's; what is checked is request_problems, on the value as sent.
RequestAsSent = Annotated[Any, PlainValidator(_as_sent, json_schema_input_type=ServedRequest),
                          Field(description="The request (schemas/request.schema.json). The actor's id and kind are "
                                            "this session's; only `actor.role` is kept from what you send.")]

INSTRUCTIONS = """\
This server answers from a company's constitution: its policies, procedures, people and thresholds.
Before an action that a policy may govern (a refund, a payment, a discount...), call `decide` with the
action and the facts; do what the decision says: automate means go ahead, escalate means hand the case
to the approvers it names with what it says to attach, deny means do not, needs_info means ask for the
missing fields and decide again. `explain` shows an action's whole decision table, `ask` answers
"what happens when ..." questions, and the policy:// and sop:// resources hold the rules themselves."""


class McpService:
    """The constitution, the log writer and the identity behind one stdio session."""

    def __init__(self, constitution: str | os.PathLike[str], ref: str | None, log_path: str | os.PathLike[str] | None,
                 reload_interval: float = DEFAULT_RELOAD_SECONDS, actor: str | None = None) -> None:
        self.live = LiveConstitution(constitution, ref, reload_interval)
        self.log = LogWriter(log_path) if log_path else None
        self.identity = session_identity(actor, self.live.current)

    def decide(self, raw: Any, explain: bool) -> dict[str, Any]:
        """Decide what the client sent, as this session: the same checks and the same decision as over HTTP."""
        loaded = self.live.current
        self._refuse_identity(loaded)
        request = acting_as(raw, self.identity)
        problems = request_problems(request, loaded.constitution.compiled)
        if problems:
            raise ToolError(refusal(problems))
        writer = self.log
        history = LogHistory(lambda *key: writer.call(lambda log: log.history_total(*key))) if writer else None
        decision = loaded.constitution.decide_dict(request, datetime.now(UTC), explain, history=history)
        if self.log is not None:
            self.log.append_waiting(decision, request)
        return decision

    def _refuse_identity(self, loaded: Loaded) -> None:
        identity = self.identity
        if identity.kind == "human" and person_of(loaded.constitution.compiled, identity.id) is None:
            raise ToolError(f"this session acts as `{identity.id}` (--actor), who is not a person in org.json at "
                            f"commit {_short(loaded.commit)}; restart it with --actor naming a person or an agent")
        problem = identity_problem(identity, loaded.constitution.compiled)
        if problem:
            raise ToolError(f"this session's identity is refused: {problem}; restart it with another --actor")

    def resolve(self, decision_id: str, outcome: str, note: str, by: str | None) -> dict[str, Any]:
        """Resolve as this session's person: `by`, when sent, must be that person; it never names anyone else."""
        identity = self.identity
        if identity.kind != "human":
            raise ToolError(f"this session acts as the agent `{identity.id}`; only a person resolves an escalation: "
                            "start `aios mcp --actor PERSON` with your id in org.json")
        if by is not None and canonical_id(by) != canonical_id(identity.id):
            raise ToolError(f"this session acts as `{identity.id}`; it cannot resolve as `{one_line(by)}`")
        self._refuse_identity(self.live.current)

        def record(log: DecisionLog) -> dict[str, Any]:
            resolution = log.resolve(decision_id, outcome, identity.id, note, datetime.now(UTC))
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


def session_identity(actor: str | None, loaded: Loaded) -> Identity:
    """Who a session is: the agent `mcp` without --actor; the person --actor names (in canonical form), who
    acts as human; anyone else --actor names, as an agent. A SessionError when --actor names nobody usable."""
    if actor is None:
        return Identity(SESSION_AGENT, "agent")
    if not actor.strip() or len(actor) > 200 or one_line(actor, limit=200) != actor:
        raise SessionError(f"--actor `{one_line(actor)}` is not an identity: 1 to 200 printable characters",
                           "name an agent (e.g. --actor billing-agent) or a person's id in org.json")
    person = person_of(loaded.constitution.compiled, actor)
    identity = Identity(person.id, "human") if person is not None else Identity(actor, "agent")
    problem = identity_problem(identity, loaded.constitution.compiled)
    if problem:
        raise SessionError(f"--actor `{one_line(actor)}`: {problem}", "name another agent or a person in org.json")
    return identity


def refusal(problems: list[str]) -> str:
    """A malformed request's tool error: every problem, as a 422 lists them over HTTP (the first 20 here)."""
    shown = problems[:MAX_PROBLEMS_SHOWN]
    more = f"; and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
    return f"the request does not follow the request schema: {'; '.join(shown)}{more} ({REQUEST_HINT})"


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
        raise ResourceNotFoundError(f"no policy `{one_line(policy_id)}` at commit {_short(loaded.commit)}")
    found = _document(loaded, "policy", policy_id) or {}
    return json.dumps({"id": policy.id, "title": policy.title, "owner": policy.owner, "summary": policy.summary,
                       "actions": list(policy.actions), "commit": loaded.commit, "file": found.get("file"),
                       "policy": found.get("content")}, indent=2, ensure_ascii=False)


def _sop_resource(service: McpService, sop_id: str) -> str:
    loaded = service.live.current
    sop = loaded.constitution.compiled.sops.get(sop_id)
    if sop is None:
        raise ResourceNotFoundError(f"no procedure `{one_line(sop_id)}` at commit {_short(loaded.commit)}")
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
    def decide(request: RequestAsSent,
               explain: Annotated[bool, Field(strict=True, description="Add the trace of every rule considered.")]
               = False) -> dict[str, Any]:
        return service.decide(request, explain)

    @server.tool(description="The complete decision table of an action (e.g. refund.issue): every region of "
                             "requests and what happens to it, strictest first, with approvers and rule ids.")
    def explain(action: Annotated[str, Field(min_length=1, max_length=80, description="Dotted action name.")],
                ) -> dict[str, Any]:
        return _as_tool(lambda: explain_action(service.live.current.constitution, action, datetime.now(UTC)))

    @server.tool(description="Answer a plain-English question such as 'what happens when a customer disputes a "
                             "refund of $800?': the procedure, its steps, the decision at each gate, who and when.")
    def ask(question: Annotated[str, Field(min_length=1, max_length=2000, description="The question.")],
            ) -> dict[str, Any]:
        return _as_tool(lambda: answer(service.live.current.constitution, question, datetime.now(UTC)))

    @server.tool(description="Logged escalations, newest first (pending by default), with who may still approve.")
    def list_escalations(status: Literal["pending", "approved", "denied"] = "pending",
                         limit: Annotated[int, Field(ge=1, le=500)] = 50) -> dict[str, Any]:
        return {"escalations": service.escalations(status, limit)}

    @server.tool(description="For people: approve or deny an escalation you were named for, with a note. Only a "
                             "session started as a person (`aios mcp --actor PERSON`) resolves, as that person; "
                             "refused for anyone the decision did not name.")
    def resolve_escalation(decision_id: Annotated[str, Field(min_length=1, max_length=200)],
                           outcome: Literal["approve", "deny"],
                           note: Annotated[str, Field(min_length=1, max_length=4000, description="Why; logged.")],
                           by: Annotated[str | None, Field(max_length=200, description="Optional: your person id in "
                                                           "org.json, checked against the session's person.")] = None,
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


def _short(commit: str | None) -> str:
    return commit[:12] if commit else "(none)"


def run_stdio(service: McpService) -> None:
    server = create_server(service)
    service.start()
    try:
        server.run("stdio")
    finally:
        service.stop()


def _as_tool(make: Callable[[], Any]) -> dict[str, Any]:
    """A guide's answer as a tool result; a user's mistake (an unknown action) as a tool error."""
    try:
        result: dict[str, Any] = make().to_json()
        return result
    except AiosError as error:
        raise ToolError(str(error)) from error

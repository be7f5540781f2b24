"""The routes, one `APIRouter` per area: deciding, explaining and asking, status, escalations.

A handler authenticates (the `Caller` dependency), hands the work to the thread pool and queues what it
decided for the log. The engine, explain, ask and the log never run on the event loop: each handler's
work is a plain function given to `run_in_threadpool`, so one slow batch does not hold up the others.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import Request as HttpRequest

from aios_policy.engine.facade import request_problems
from aios_policy.engine.shapes import Decision
from aios_policy.errors import AiosError
from aios_policy.guide.ask import ask as answer
from aios_policy.guide.explain import explain_action
from aios_policy.record.log import DecisionLog, Entry, LogError, LogHistory
from aios_policy.serve.identity import Identity, ServedRequest, acting_as, identity_problem
from aios_policy.serve.live import Loaded

from .bodies import (
    MAX_BATCH,
    BatchDecisions,
    BatchRequest,
    ConstitutionStatus,
    EscalationItem,
    Escalations,
    Health,
    LogStatus,
    Question,
    ResolutionRequest,
    Resolved,
    json_body,
    read_json,
)
from .errors import ApiError, error_responses
from .service import Logged, Service

REQUEST_HINT = "see schemas/request.schema.json, or /openapi.json"


async def _service(request: HttpRequest) -> Service:
    service: Service = request.app.state.service
    return service


_bearer = HTTPBearer(auto_error=False, description="A token from `aios token add`, bound to an agent or a person.")


async def _caller(service: Annotated[Service, Depends(_service)],
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]) -> Identity:
    return service.identify(credentials)


Served = Annotated[Service, Depends(_service)]
Caller = Annotated[Identity, Depends(_caller)]
Explain = Annotated[bool, Query(description="Add the trace of every rule considered.")]
Counterfactuals = Annotated[bool, Query(description="Say what would change the outcome (off is faster).")]


def _refuse_identity(loaded: Loaded, identity: Identity) -> None:
    problem = identity_problem(identity, loaded.constitution.compiled)
    if problem:
        raise ApiError(403, problem, "fix the token: `aios token add` with the right --kind, or revoke it")


def _checked(loaded: Loaded, identity: Identity, raw: Any, where: str = "") -> tuple[dict[str, Any], list[str]]:
    """The request as the caller's identity, and why it does not follow the request schema (if it does not)."""
    request = acting_as(raw, identity)
    problems = request_problems(request, loaded.constitution.compiled)
    return request, [f"{where}{problem}" for problem in problems]


def _decided(loaded: Loaded, request: dict[str, Any], now: datetime, explain: bool,
             counterfactuals: bool, history: LogHistory) -> tuple[Decision, Logged]:
    """The engine's decision, checked against the Decision model here so that FastAPI's check is a formality.
    History conditions read the log through its writer thread, and the batch's earlier decisions."""
    decision = loaded.constitution.decide_dict(request, now, explain, counterfactuals, history=history)
    history.add(decision, request)
    return Decision.model_validate(decision), (decision, request)


# Deciding: the body is any JSON, judged by the engine (`request_problems`), not by FastAPI.

decide_router = APIRouter(prefix="/v1", tags=["decide"])


def _decide_one(loaded: Loaded, identity: Identity, body: bytes, explain: bool,
                counterfactuals: bool, history: LogHistory) -> tuple[Decision, Logged]:
    _refuse_identity(loaded, identity)
    request, problems = _checked(loaded, identity, read_json(body))
    if problems:
        raise ApiError(422, "the request does not follow the request schema", REQUEST_HINT, problems)
    return _decided(loaded, request, datetime.now(UTC), explain, counterfactuals, history)


@decide_router.post("/decide", summary="Decide one request", response_model_exclude_unset=True,
                    responses=error_responses(400, 401, 403, 413, 422), openapi_extra=json_body(ServedRequest))
async def decide(request: HttpRequest, service: Served, identity: Caller, explain: Explain = False,
                 counterfactuals: Counterfactuals = True) -> Decision:
    """Decide one request: automate, escalate, deny or needs_info, with who, why, by when and the commit."""
    body = await request.body()
    decision, logged = await run_in_threadpool(_decide_one, service.live.current, identity, body, explain,
                                               counterfactuals, service.history())
    await service.record([logged])
    return decision


def _decide_batch(loaded: Loaded, identity: Identity, body: bytes, explain: bool,
                  counterfactuals: bool, history: LogHistory) -> tuple[BatchDecisions, list[Logged]]:
    _refuse_identity(loaded, identity)
    batch = read_json(body)
    if not isinstance(batch, dict) or set(batch) != {"requests"} or not isinstance(batch["requests"], list):
        raise ApiError(422, 'the body must be {"requests": [...]}', f"1 to {MAX_BATCH} requests")
    raws = batch["requests"]
    if not 1 <= len(raws) <= MAX_BATCH:
        raise ApiError(422, f"a batch holds 1 to {MAX_BATCH} requests, not {len(raws)}", "split the batch")
    checked = [_checked(loaded, identity, raw, f"requests/{number}: ") for number, raw in enumerate(raws)]
    problems = [problem for _, found in checked for problem in found]
    if problems:
        raise ApiError(422, "requests in the batch do not follow the request schema; none was decided",
                       REQUEST_HINT, problems)
    now = datetime.now(UTC)
    decided = [_decided(loaded, request, now, explain, counterfactuals, history) for request, _ in checked]
    return BatchDecisions(decisions=[decision for decision, _ in decided]), [logged for _, logged in decided]


@decide_router.post("/decide/batch", summary="Decide up to 1,000 requests", response_model_exclude_unset=True,
                    responses=error_responses(400, 401, 403, 413, 422), openapi_extra=json_body(BatchRequest))
async def decide_batch(request: HttpRequest, service: Served, identity: Caller, explain: Explain = False,
                       counterfactuals: Counterfactuals = True) -> BatchDecisions:
    """Decide up to 1,000 requests at once, all by the same commit; all or nothing when one is malformed."""
    body = await request.body()
    decisions, logged = await run_in_threadpool(_decide_batch, service.live.current, identity, body, explain,
                                                counterfactuals, service.history())
    await service.record(logged)
    return decisions


# Explaining and asking

explain_router = APIRouter(prefix="/v1", tags=["explain"])


def _explain(loaded: Loaded, action: str) -> dict[str, Any]:
    try:
        return explain_action(loaded.constitution, action, datetime.now(UTC)).to_json()
    except AiosError as error:
        raise ApiError(404, error.message, error.hint) from error


@explain_router.get("/explain/{action}", summary="Explain an action", responses=error_responses(401, 404, 422))
async def explain(action: str, service: Served, identity: Caller) -> dict[str, Any]:
    """The complete decision table of an action, as regions in plain English with their rule ids."""
    return await run_in_threadpool(_explain, service.live.current, action)


def _ask(loaded: Loaded, question: str) -> dict[str, Any]:
    try:
        return answer(loaded.constitution, question, datetime.now(UTC)).to_json()
    except AiosError as error:
        raise ApiError(422, error.message, error.hint) from error


@explain_router.post("/ask", summary="Ask what happens when ...", responses=error_responses(400, 401, 413, 422))
async def ask(question: Question, service: Served, identity: Caller) -> dict[str, Any]:
    """What happens when ...: the procedure that applies, its steps and the decision at each gate."""
    return await run_in_threadpool(_ask, service.live.current, question.question)


# Status

status_router = APIRouter(prefix="/v1", tags=["status"])


@status_router.get("/constitution", summary="The serving commit", responses=error_responses(401))
async def constitution_status(service: Served, identity: Caller) -> ConstitutionStatus:
    """The commit decisions are made at, when it was loaded, and why a newer commit was refused, if one was."""
    live = service.live
    reload_error = live.reload_error
    return ConstitutionStatus.model_validate({
        **live.current.to_json(), "ref": live.ref, "reload_interval": live.interval,
        "reload_error": reload_error.to_json() if reload_error else None})


@status_router.get("/health", summary="Liveness (no token needed)")
async def health(service: Served) -> Health:
    """Liveness for load balancers; needs no token. `degraded` when the decision log is not being written."""
    log = service.log
    state: Literal["writing", "failing", "stopped"] = (
        "stopped" if not log.alive else "failing" if log.failed else "writing")
    return Health(status="ok" if state == "writing" else "degraded", commit=service.live.current.commit,
                  log=LogStatus(kind="sqlite", state=state, queued=log.pending, written=log.written,
                                failed=log.failed, writer_alive=log.alive))


# Escalations

escalations_router = APIRouter(prefix="/v1", tags=["escalations"])


def _escalation_item(entry: Entry) -> EscalationItem:
    return EscalationItem(id=entry.id, decided_at=entry.decided_at, action=entry.action, status=entry.status,
                          actor={"id": entry.actor, "kind": entry.actor_kind}, commit=entry.commit,
                          summary=entry.decision.get("summary"), escalation=entry.decision.get("escalation"),
                          awaiting=entry.awaiting, resolutions=[r.to_json() for r in entry.resolutions])


@escalations_router.get("/escalations", summary="Logged escalations", responses=error_responses(401, 422, 503))
async def escalations(service: Served, identity: Caller,
                      status: Annotated[Literal["pending", "approved", "denied"], Query()] = "pending",
                      action: Annotated[str | None, Query(max_length=80, description="Only this action.")] = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Escalations:
    """Logged escalations, newest first: pending ones by default, with who may still approve each."""
    def read(log: DecisionLog) -> Escalations:
        found = log.entries(limit=limit, action=action, status=status)
        return Escalations(escalations=[_escalation_item(entry) for entry in found])

    return await run_in_threadpool(service.log.call, read)


def _resolve(service: Service, identity: Identity, decision_id: str, resolution: ResolutionRequest) -> Resolved:
    if identity.kind != "human":
        raise ApiError(403, f"`{identity.id}` is an agent; only the people an escalation names resolve it",
                       "resolve with a person's token")
    _refuse_identity(service.live.current, identity)

    def record(log: DecisionLog) -> Resolved:
        try:
            entry = log.get(decision_id)
        except LogError as error:
            raise ApiError(404, error.message, error.hint) from error
        named = {a.get("id") for stage in ((entry.decision.get("escalation") or {}).get("stages") or [])
                 for a in stage.get("approvers") or []}
        if entry.outcome == "escalate" and identity.id not in named:
            who = ", ".join(f"`{name}`" for name in sorted(named)) or "nobody"
            raise ApiError(403, f"`{identity.id}` may not resolve decision `{decision_id}`: not one of the approvers "
                           "it named", f"who may resolve it: {who}")
        try:
            done = log.resolve(decision_id, resolution.outcome, identity.id, resolution.note, datetime.now(UTC))
        except LogError as error:
            raise ApiError(409, error.message, error.hint) from error
        return Resolved.model_validate({**done.to_json(), "awaiting": log.get(decision_id).awaiting})

    return service.log.call(record)


@escalations_router.post("/escalations/{decision_id}/resolve", summary="Approve or deny an escalation",
                         responses=error_responses(400, 401, 403, 404, 409, 413, 422, 503))
async def resolve(decision_id: str, resolution: ResolutionRequest, service: Served, identity: Caller) -> Resolved:
    """Approve or deny an escalation, as one of the people it named. The caller's token says who."""
    return await run_in_threadpool(_resolve, service, identity, decision_id, resolution)


routers = (decide_router, explain_router, status_router, escalations_router)

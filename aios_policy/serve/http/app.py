"""`aios serve`: the decision service over HTTP. FastAPI has its home here.

    app = create_app("constitution", ref="main", tokens=".aios/tokens.json")
    uvicorn.run(app, host="127.0.0.1", port=8181)

Everything a server holds lives in one `Service` on `app.state`; nothing is global, so tests can run
several apps in one process. The engine is the library's (`Constitution.decide_dict`); this module
authenticates, parses, maps errors to HTTP statuses and queues decisions for the log.

Error bodies are always `{"error": "...", "hint": "...", "problems": [...]}` (hint and problems when
there are some): 400 a body that is not JSON, 401 no or a wrong token, 403 an identity that may not
do this, 404 unknown route, decision or action, 409 an escalation that takes no more resolutions,
413 a body over the limit, 422 a request that does not follow the request schema. A 500 is a bug in
aios-policy, never the caller's doing.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, FastAPI, Query, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request as HttpRequest

from aios_policy import __version__
from aios_policy.engine.facade import request_problems
from aios_policy.engine.shapes import Decision
from aios_policy.errors import AiosError
from aios_policy.guide.ask import ask as answer
from aios_policy.guide.explain import explain_action
from aios_policy.record.log import DecisionLog, Entry, LogError, default_log_path
from aios_policy.serve.identity import (
    Identity,
    ServedRequest,
    TokenError,
    Tokens,
    acting_as,
    default_tokens_path,
    identity_problem,
    load_tokens,
    refuse_inside,
)
from aios_policy.serve.live import DEFAULT_RELOAD_SECONDS, LiveConstitution, Loaded
from aios_policy.serve.writer import LogWriter

logger = logging.getLogger("aios.serve")
M = TypeVar("M", bound=BaseModel)

MAX_BODY_BYTES = 1024 * 1024
MAX_BATCH = 1000
MAX_PROBLEMS = 50

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ApiError(Exception):
    """A refusal with its HTTP status, in the shape every error body has."""

    def __init__(self, status: int, message: str, hint: str | None = None, problems: list[str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.hint, self.problems, self.headers = status, message, hint, problems, headers

    def response(self) -> JSONResponse:
        return _error(self.status, self.message, self.hint, self.problems, self.headers)


def _error(status: int, message: str, hint: str | None = None, problems: list[str] | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if hint:
        body["hint"] = hint
    if problems:
        body["problems"] = problems[:MAX_PROBLEMS] + (
            [f"... and {len(problems) - MAX_PROBLEMS} more"] if len(problems) > MAX_PROBLEMS else [])
    return JSONResponse(body, status_code=status, headers=headers)


# The bodies other than Request and Decision (which come from aios_policy.messages).

class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BatchRequest(_Body):
    requests: list[ServedRequest] = Field(min_length=1, max_length=MAX_BATCH,
                                          description=f"1 to {MAX_BATCH} requests, decided by one commit.")


class BatchDecisions(_Body):
    decisions: list[Decision] = Field(description="One decision per request, in order.")


class Question(_Body):
    question: str = Field(min_length=1, max_length=2000, description="A question in plain English.")


class ResolutionRequest(_Body):
    outcome: Literal["approve", "deny"] = Field(description="approve or deny the escalation.")
    note: str = Field(min_length=1, max_length=4000, description="Why; kept in the log beside the decision.")


class ErrorBody(_Body):
    error: str = Field(description="One line saying what is wrong.")
    hint: str | None = Field(default=None, description="What to do about it.")
    problems: list[str] | None = Field(default=None, description="Every problem found, where there are several.")


class ReloadProblem(_Body):
    commit: str | None
    at: str
    message: str
    diagnostics: list[str]


class ConstitutionStatus(_Body):
    name: str
    commit: str | None = Field(description="The commit every decision is made at now.")
    ref: str | None = Field(description="The git ref the server follows.")
    loaded_at: str = Field(description="When that commit started serving.")
    counts: dict[str, int]
    reload_interval: float = Field(description="Seconds between looks at the ref.")
    reload_error: ReloadProblem | None = Field(description="Why the ref's newest commit is not serving, if it is not.")


class LogStatus(_Body):
    path: str
    queued: int
    written: int
    failed: int
    writer_alive: bool


class Health(_Body):
    status: Literal["ok", "degraded"]
    commit: str | None
    log: LogStatus


class Resolved(_Body):
    decision_id: str
    outcome: Literal["approve", "deny"]
    by: str
    note: str
    at: str
    status: str = Field(description="The escalation's status now: pending, approved or denied.")
    awaiting: list[dict[str, Any]] = Field(description="The approvers whose approval would still count.")


class EscalationItem(_Body):
    id: str
    decided_at: str
    action: str
    status: str
    actor: dict[str, Any]
    commit: str | None
    summary: str | None
    escalation: dict[str, Any] | None
    awaiting: list[dict[str, Any]]
    resolutions: list[dict[str, Any]]


class Escalations(_Body):
    escalations: list[EscalationItem]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """openapi_extra naming the body's schema, for routes that read the raw body themselves."""
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


class Service:
    """All one server holds: the live constitution, the accepted tokens, the log writer."""

    def __init__(self, constitution: str | os.PathLike[str], ref: str | None, tokens_path: Path, log_path: Path,
                 reload_interval: float) -> None:
        if not ref:
            raise AiosError("aios serve follows a git ref", "pass --ref BRANCH (the default is main)")
        refuse_inside(tokens_path, constitution)
        self.tokens_path = tokens_path
        self.tokens = load_tokens(tokens_path)
        if not self.tokens.entries:
            raise TokenError(f"the tokens file `{tokens_path}` holds no tokens",
                             f"add one with `aios token add ID --kind agent --tokens {tokens_path}`")
        self._tokens_stamp = _stamp(tokens_path)
        self.live = LiveConstitution(constitution, ref, reload_interval, on_poll=(self.refresh_tokens,))
        self.log = LogWriter(log_path)

    def refresh_tokens(self) -> None:
        """Pick up a changed tokens file (a new or revoked token) without a restart."""
        stamp = _stamp(self.tokens_path)
        if stamp == self._tokens_stamp:
            return
        if stamp is None:  # the file was removed: that revokes every token
            self.tokens = Tokens(())
            logger.warning("tokens file `%s` removed: no token is accepted until it is back", self.tokens_path)
        else:
            try:
                self.tokens = load_tokens(self.tokens_path)
                logger.info("tokens reloaded: %d token(s)", len(self.tokens.entries))
            except TokenError as error:  # a hand edit gone wrong: do not lock everyone out
                logger.error("tokens file unreadable, keeping the previous tokens: %s", error)
        self._tokens_stamp = stamp

    def start(self) -> None:
        self.log.start()
        self.live.start()
        loaded = self.live.current
        logger.info("serving %s at commit %s (following `%s`), %d token(s), decision log %s",
                    loaded.constitution.compiled.manifest.name, (loaded.commit or "none")[:12], self.live.ref,
                    len(self.tokens.entries), self.log.path)

    def stop(self) -> None:
        self.live.stop()
        self.log.close()
        logger.info("decision log flushed: %d written, %d failed", self.log.written, self.log.failed)

    def identify(self, credentials: HTTPAuthorizationCredentials | None) -> Identity:
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None:
            raise ApiError(401, "no bearer token", "send `Authorization: Bearer <token>`; "
                           "`aios token add` makes one", headers=challenge)
        identity = self.tokens.identify(credentials.credentials)
        if identity is None:
            raise ApiError(401, "unknown bearer token", "check the token, or make a new one with `aios token add`",
                           headers=challenge)
        return identity

    async def record(self, decided: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        """Queue (decision, request) pairs for the log; when the queue is full, wait for room off the event loop.
        A decision the log cannot take is not given out (503): every answer is on the record."""
        if not self.log.alive:
            raise ApiError(503, f"the decision log `{self.log.path}` is not being written", "restart the server")
        for number, (decision, request) in enumerate(decided):
            if not self.log.append(decision, request):
                await run_in_threadpool(self._wait_and_queue, decided[number:])
                return

    def _wait_and_queue(self, decided: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        for decision, request in decided:
            self.log.append_waiting(decision, request)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


def _service(request: HttpRequest) -> Service:
    service: Service = request.app.state.service
    return service


_bearer = HTTPBearer(auto_error=False, description="A token from `aios token add`, bound to an agent or a person.")


async def _caller(request: HttpRequest,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]) -> Identity:
    return _service(request).identify(credentials)


Caller = Annotated[Identity, Depends(_caller)]


def _read_json(body: bytes) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"`{constant}` is not a JSON number")

    try:
        return json.loads(body, parse_constant=refuse)
    except UnicodeDecodeError as error:
        raise ApiError(400, "the body is not UTF-8 text", "send JSON encoded as UTF-8") from error
    except RecursionError as error:
        raise ApiError(400, "the body's JSON is nested too deeply", "flatten the request") from error
    except ValueError as error:
        raise ApiError(400, f"the body is not valid JSON: {error}", "send one JSON object") from error


def _parsed(model: type[M], body: bytes) -> M:
    """A small body read with its model: JSON whatever the Content-Type says, 422 naming every problem."""
    try:
        return model.model_validate(_read_json(body))
    except ValidationError as error:
        problems = [f"/{'/'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
        raise ApiError(422, "the body is not valid", "see /openapi.json for what this endpoint takes",
                       problems) from error


def _checked(loaded: Loaded, identity: Identity, raw: Any, where: str = "") -> tuple[dict[str, Any], list[str]]:
    """The request as the caller's identity, and why it does not follow the request schema (if it does not)."""
    request = acting_as(raw, identity)
    problems = request_problems(request, loaded.constitution.compiled)
    return request, [f"{where}{problem}" for problem in problems]


def _refuse_identity(loaded: Loaded, identity: Identity) -> None:
    problem = identity_problem(identity, loaded.constitution.compiled)
    if problem:
        raise ApiError(403, problem, "fix the token: `aios token add` with the right --kind, or revoke it")


_REQUEST_HINT = "see schemas/request.schema.json, or /openapi.json"


Explain = Annotated[bool, Query(description="Add the trace of every rule considered.")]
Counterfactuals = Annotated[bool, Query(description="Say what would change the outcome (off is faster).")]


async def decide(request: HttpRequest, identity: Caller, explain: Explain = False,
                 counterfactuals: Counterfactuals = True) -> JSONResponse:
    """Decide one request: automate, escalate, deny or needs_info, with who, why, by when and the commit."""
    service = _service(request)
    loaded = service.live.current
    _refuse_identity(loaded, identity)
    checked, problems = _checked(loaded, identity, _read_json(await request.body()))
    if problems:
        raise ApiError(422, "the request does not follow the request schema", _REQUEST_HINT, problems)
    decision = loaded.constitution.decide_dict(checked, datetime.now(UTC), explain, counterfactuals)
    await service.record([(decision, checked)])
    return JSONResponse(decision)


async def decide_batch(request: HttpRequest, identity: Caller, explain: Explain = False,
                       counterfactuals: Counterfactuals = True) -> JSONResponse:
    """Decide up to 1,000 requests at once, all by the same commit; all or nothing when one is malformed."""
    service = _service(request)
    loaded = service.live.current
    _refuse_identity(loaded, identity)
    body = _read_json(await request.body())
    if not isinstance(body, dict) or set(body) != {"requests"} or not isinstance(body["requests"], list):
        raise ApiError(422, 'the body must be {"requests": [...]}', f"1 to {MAX_BATCH} requests")
    raws = body["requests"]
    if not 1 <= len(raws) <= MAX_BATCH:
        raise ApiError(422, f"a batch holds 1 to {MAX_BATCH} requests, not {len(raws)}", "split the batch")

    def decide_all() -> list[tuple[dict[str, Any], dict[str, Any]]]:
        checked = [_checked(loaded, identity, raw, f"requests/{number}: ") for number, raw in enumerate(raws)]
        problems = [problem for _, found in checked for problem in found]
        if problems:
            raise ApiError(422, "requests in the batch do not follow the request schema; none was decided",
                           _REQUEST_HINT, problems)
        now = datetime.now(UTC)
        return [(loaded.constitution.decide_dict(req, now, explain, counterfactuals), req) for req, _ in checked]

    decided = await run_in_threadpool(decide_all)
    await service.record(decided)
    return JSONResponse({"decisions": [decision for decision, _ in decided]})


async def explain(action: str, request: HttpRequest, identity: Caller) -> JSONResponse:
    """The complete decision table of an action, as regions in plain English with their rule ids."""
    loaded = _service(request).live.current

    def run() -> Any:
        try:
            return explain_action(loaded.constitution, action, datetime.now(UTC)).to_json()
        except AiosError as error:
            raise ApiError(404, error.message, error.hint) from error

    return JSONResponse(await run_in_threadpool(run))


async def ask(request: HttpRequest, identity: Caller) -> JSONResponse:
    """What happens when ...: the procedure that applies, its steps and the decision at each gate."""
    body = _parsed(Question, await request.body())
    loaded = _service(request).live.current

    def run() -> Any:
        try:
            return answer(loaded.constitution, body.question, datetime.now(UTC)).to_json()
        except AiosError as error:
            raise ApiError(422, error.message, error.hint) from error

    return JSONResponse(await run_in_threadpool(run))


async def constitution_status(request: HttpRequest, identity: Caller) -> JSONResponse:
    """The commit decisions are made at, when it was loaded, and why a newer commit was refused, if one was."""
    live = _service(request).live
    reload_error = live.reload_error
    return JSONResponse({**live.current.to_json(), "ref": live.ref, "reload_interval": live.interval,
                         "reload_error": reload_error.to_json() if reload_error else None})


async def health(request: HttpRequest) -> JSONResponse:
    """Liveness for load balancers; needs no token. `degraded` when the decision log is not being written."""
    service = _service(request)
    log = service.log
    ok = log.alive and log.failed == 0
    return JSONResponse({"status": "ok" if ok else "degraded", "commit": service.live.current.commit,
                         "log": {"path": str(log.path), "queued": log.pending, "written": log.written,
                                 "failed": log.failed, "writer_alive": log.alive}})


def _escalation_item(entry: Entry) -> dict[str, Any]:
    return {"id": entry.id, "decided_at": entry.decided_at, "action": entry.action, "status": entry.status,
            "actor": {"id": entry.actor, "kind": entry.actor_kind}, "commit": entry.commit,
            "summary": entry.decision.get("summary"), "escalation": entry.decision.get("escalation"),
            "awaiting": entry.awaiting, "resolutions": [r.to_json() for r in entry.resolutions]}


async def escalations(request: HttpRequest, identity: Caller,
                      status: Annotated[Literal["pending", "approved", "denied"], Query()] = "pending",
                      action: Annotated[str | None, Query(max_length=80, description="Only this action.")] = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> JSONResponse:
    """Logged escalations, newest first: pending ones by default, with who may still approve each."""
    def read(log: DecisionLog) -> list[dict[str, Any]]:
        return [_escalation_item(e) for e in log.entries(limit=limit, action=action, status=status)]

    found = await run_in_threadpool(_service(request).log.call, read)
    return JSONResponse({"escalations": found})


async def resolve(decision_id: str, request: HttpRequest, identity: Caller) -> JSONResponse:
    """Approve or deny an escalation, as one of the people it named. The caller's token says who."""
    body = _parsed(ResolutionRequest, await request.body())
    service = _service(request)
    if identity.kind != "human":
        raise ApiError(403, f"`{identity.id}` is an agent; only the people an escalation names resolve it",
                       "resolve with a person's token")
    _refuse_identity(service.live.current, identity)

    def record(log: DecisionLog) -> dict[str, Any]:
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
            resolution = log.resolve(decision_id, body.outcome, identity.id, body.note, datetime.now(UTC))
        except LogError as error:
            raise ApiError(409, error.message, error.hint) from error
        return {**resolution.to_json(), "awaiting": log.get(decision_id).awaiting}

    return JSONResponse(await run_in_threadpool(service.log.call, record))


def _routes(app: FastAPI) -> None:
    authenticated = _errors(401, 403)
    app.add_api_route("/v1/decide", decide, methods=["POST"], summary="Decide one request",
                      responses={200: {"model": Decision}, **authenticated, **_errors(400, 413, 422)},
                      openapi_extra=_json_body(ServedRequest), tags=["decide"])
    app.add_api_route("/v1/decide/batch", decide_batch, methods=["POST"], summary="Decide up to 1,000 requests",
                      responses={200: {"model": BatchDecisions}, **authenticated, **_errors(400, 413, 422)},
                      openapi_extra=_json_body(BatchRequest), tags=["decide"])
    app.add_api_route("/v1/explain/{action}", explain, methods=["GET"], summary="Explain an action",
                      responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}},
                                 **authenticated, **_errors(404)}, tags=["explain"])
    app.add_api_route("/v1/ask", ask, methods=["POST"], summary="Ask what happens when ...",
                      responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}},
                                 **authenticated, **_errors(400, 413, 422)},
                      openapi_extra=_json_body(Question), tags=["explain"])
    app.add_api_route("/v1/constitution", constitution_status, methods=["GET"], summary="The serving commit",
                      responses={200: {"model": ConstitutionStatus}, **authenticated}, tags=["status"])
    app.add_api_route("/v1/health", health, methods=["GET"], summary="Liveness (no token needed)",
                      responses={200: {"model": Health}}, tags=["status"])
    app.add_api_route("/v1/escalations", escalations, methods=["GET"], summary="Logged escalations",
                      responses={200: {"model": Escalations}, **authenticated, **_errors(422)},
                      tags=["escalations"])
    app.add_api_route("/v1/escalations/{decision_id}/resolve", resolve, methods=["POST"],
                      summary="Approve or deny an escalation",
                      responses={200: {"model": Resolved}, **authenticated, **_errors(400, 404, 409, 413, 422)},
                      openapi_extra=_json_body(ResolutionRequest), tags=["escalations"])


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: HttpRequest, error: ApiError) -> JSONResponse:
        return error.response()

    @app.exception_handler(RequestValidationError)
    async def invalid(request: HttpRequest, error: RequestValidationError) -> JSONResponse:
        found = error.errors()
        if any(e.get("type") == "json_invalid" for e in found):
            return _error(400, "the body is not valid JSON", "send one JSON object")
        problems = [f"{'/'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in found]
        return _error(422, "the request is not valid", "see /openapi.json for what this endpoint takes", problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: HttpRequest, error: StarletteHTTPException) -> JSONResponse:
        message = {404: f"no such endpoint `{request.url.path}`",
                   405: f"`{request.method}` is not allowed on `{request.url.path}`"}.get(error.status_code,
                                                                                          str(error.detail))
        return _error(error.status_code, message, "see /openapi.json for the endpoints",
                      headers=getattr(error, "headers", None))

    @app.exception_handler(AiosError)
    async def aios_error(request: HttpRequest, error: AiosError) -> JSONResponse:
        return _error(503 if isinstance(error, LogError) else 422, error.message, error.hint)

    @app.exception_handler(Exception)
    async def bug(request: HttpRequest, error: Exception) -> JSONResponse:
        logger.exception("internal error on %s %s", request.method, request.url.path)
        return _error(500, f"internal error: {type(error).__name__}",
                      "this is a bug in aios-policy; the server log has the traceback")


class BodyLimit:
    """Refuse bodies over the limit with a 413 before the application reads them (declared or streamed)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send, int(declared) if declared.isdigit() else None)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message, receive), send)  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._refuse(scope, receive, send, None)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(chunks, None, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: int | None) -> None:
        what = f"is {size} bytes" if size is not None else "goes on past the limit"
        response = _error(413, f"the request body {what}; the limit is {self.limit} bytes",
                          f"split a batch into smaller ones (at most {MAX_BATCH} requests)",
                          headers={"Connection": "close"})
        await response(scope, receive, send)


def _replay(chunks: list[bytes], other: Message | None, receive: Receive) -> Receive:
    """A receive() that gives the body already read, then whatever the client sends next."""
    first: list[Message] = [other] if other else [{"type": "http.request", "body": b"".join(chunks),
                                                    "more_body": False}]

    async def replay() -> Message:
        return first.pop() if first else await receive()

    return replay


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the schemas of the bodies the decide routes read themselves."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        bodies = (ServedRequest, BatchRequest, Question, ResolutionRequest)
        _, defs = models_json_schema([(model, "validation") for model in bodies],
                                     ref_template="#/components/schemas/{model}")
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in defs.get("$defs", {}).items():
            schemas.setdefault(name, schema)
        for operation in (op for path in document["paths"].values() for op in path.values()):
            invalid = operation.get("responses", {}).get("422")  # FastAPI's default: our errors have one shape
            if invalid is not None:
                invalid["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        app.openapi_schema = document
    return app.openapi_schema


def create_app(constitution: str | os.PathLike[str], ref: str | None = "main",
               tokens: str | os.PathLike[str] | None = None, log: str | os.PathLike[str] | None = None,
               reload_interval: float = DEFAULT_RELOAD_SECONDS, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The decision service for the constitution folder at `ref`. Raises AiosError (an invalid constitution,
    an unreadable tokens file) before anything listens. The log writer and the reload thread run between the
    app's startup and shutdown; shutdown writes every queued decision."""
    service = Service(constitution, ref, Path(tokens) if tokens else default_tokens_path(constitution),
                      Path(log) if log else default_log_path(constitution), reload_interval)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(title="aios-policy decision service", version=__version__, lifespan=lifespan,
                  description="Decisions (automate / escalate / deny / needs_info) from a company's constitution "
                              "as code, at the newest valid commit of a git ref. Every decision is logged with "
                              "the caller's identity (from the bearer token) as its actor.")
    app.state.service = service
    _routes(app)
    _handlers(app)
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]  # FastAPI's documented way to extend it
    return app


"""The one shape of every error body, and the handlers that give every refusal that shape.

    {"error": "one line saying what is wrong", "hint": "what to do about it", "problems": ["...", "..."]}

`hint` and `problems` appear when there are some. 400 a body that cannot be read as JSON, 401 no or a
wrong token, 403 an identity that may not do this, 404 an unknown route, decision or action, 405 a
method the route does not take, 409 an escalation that takes no more resolutions, 413 a body over the
limit, 422 a request that does not follow its schema, 503 a decision log that is not being written.
A 500 is a bug in aios-policy, never the caller's doing.

No error body shows where the server keeps its files: a message naming the decision log, the tokens
file or the constitution folder names it by its last part only (`HiddenPaths`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request as HttpRequest

from aios_policy.errors import AiosError
from aios_policy.record.log import LogError

logger = logging.getLogger("aios.serve")

MAX_PROBLEMS = 50
SEE_THE_SCHEMA = "see /openapi.json for what this endpoint takes"


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error: str = Field(description="One line saying what is wrong.")
    hint: str | None = Field(default=None, description="What to do about it.")
    problems: list[str] | None = Field(default=None, description="Every problem found, where there are several.")


class ApiError(Exception):
    """A refusal with its HTTP status, in the shape every error body has."""

    def __init__(self, status: int, message: str, hint: str | None = None, problems: list[str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.hint, self.problems, self.headers = status, message, hint, problems, headers


@dataclass(frozen=True)
class HiddenPaths:
    """The server's own file paths, each spelled as given and resolved, and the last part that replaces it."""

    replacements: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, *paths: Path) -> HiddenPaths:
        spelled = {str(form): path.name for path in paths for form in (path, path.resolve())}
        shown = [(text, name) for text, name in spelled.items() if text not in ("", ".", name)]
        return cls(tuple(sorted(shown, key=lambda pair: len(pair[0]), reverse=True)))  # the longest first

    def hide(self, text: str) -> str:
        for written, name in self.replacements:
            text = text.replace(written, name)
        return text


def error_response(status: int, message: str, hint: str | None = None, problems: list[str] | None = None,
                   headers: dict[str, str] | None = None, hidden: HiddenPaths = HiddenPaths()) -> JSONResponse:
    """The error body of a refusal, its problems capped at MAX_PROBLEMS, the server's paths hidden."""
    body: dict[str, Any] = {"error": hidden.hide(message)}
    if hint:
        body["hint"] = hidden.hide(hint)
    if problems:
        shown = [hidden.hide(problem) for problem in problems[:MAX_PROBLEMS]]
        body["problems"] = shown + ([f"... and {len(problems) - MAX_PROBLEMS} more"]
                                    if len(problems) > MAX_PROBLEMS else [])
    return JSONResponse(body, status_code=status, headers=headers)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: these statuses answer with an ErrorBody (which keeps FastAPI's own 422 shape out)."""
    return {status: {"model": ErrorBody} for status in statuses}


_HTTP_MESSAGES = {400: "the body cannot be read as JSON"}
_HTTP_HINTS = {400: "send one JSON object, encoded as UTF-8"}


def install_handlers(app: FastAPI, hidden: HiddenPaths) -> None:
    """Every refusal FastAPI, Starlette or aios-policy raises, answered in the one error shape."""

    @app.exception_handler(ApiError)
    async def api_error(request: HttpRequest, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.message, error.hint, error.problems, error.headers, hidden)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: HttpRequest, error: RequestValidationError) -> JSONResponse:
        found = error.errors()
        for unreadable in (e for e in found if e.get("type") == "json_invalid"):
            reason, where = (unreadable.get("ctx") or {}).get("error", "malformed"), unreadable.get("loc", ())[-1:]
            at = f" (character {where[0]})" if where else ""
            return error_response(400, f"the body is not valid JSON: {reason}{at}", "send one JSON object")
        problems = [f"{'/'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in found]
        return error_response(422, "the request is not valid", SEE_THE_SCHEMA, problems, hidden=hidden)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: HttpRequest, error: StarletteHTTPException) -> JSONResponse:
        status, path = error.status_code, request.url.path
        message = {404: f"no such endpoint `{path}`", 405: f"`{request.method}` is not allowed on `{path}`",
                   **_HTTP_MESSAGES}.get(status, str(error.detail))
        return error_response(status, message, _HTTP_HINTS.get(status, "see /openapi.json for the endpoints"),
                              headers=getattr(error, "headers", None), hidden=hidden)

    @app.exception_handler(AiosError)
    async def aios_error(request: HttpRequest, error: AiosError) -> JSONResponse:
        status = 503 if isinstance(error, LogError) else 422
        return error_response(status, error.message, error.hint, hidden=hidden)

    @app.exception_handler(Exception)
    async def bug(request: HttpRequest, error: Exception) -> JSONResponse:
        logger.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(500, f"internal error: {type(error).__name__}",
                              "this is a bug in aios-policy; the server log has the traceback")

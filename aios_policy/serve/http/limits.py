"""The body limit: a request body over it is refused with a 413 before the application reads a byte of it.

A plain ASGI middleware rather than FastAPI's own `max_body_size`, so that the refusal says how big the
body was and what the limit is, in the one error shape, whether the size was declared or streamed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .bodies import MAX_BATCH
from .errors import error_response

MAX_BODY_BYTES = 1024 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Refuse bodies over the limit with a 413 (declared in Content-Length or streamed past it)."""

    def __init__(self, app: App, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and not declared.isdigit():
            await _refuse(scope, receive, send, 400, "the Content-Length header is not a number",
                          "send the body's size in bytes, or no Content-Length")
            return
        if declared is not None and int(declared) > self.limit:
            await self._refuse_size(scope, receive, send, f"is {int(declared)} bytes")
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
                await self._refuse_size(scope, receive, send, "goes on past the limit")
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(chunks, None, receive), send)

    async def _refuse_size(self, scope: Scope, receive: Receive, send: Send, what: str) -> None:
        await _refuse(scope, receive, send, 413, f"the request body {what}; the limit is {self.limit} bytes",
                      f"split a batch into smaller ones (at most {MAX_BATCH} requests)")


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str, hint: str) -> None:
    response = error_response(status, message, hint, headers={"Connection": "close"})
    await response(scope, receive, send)


def _replay(chunks: list[bytes], other: Message | None, receive: Receive) -> Receive:
    """A receive() that gives the body already read, then whatever the client sends next."""
    first: list[Message] = [other] if other else [{"type": "http.request", "body": b"".join(chunks),
                                                    "more_body": False}]

    async def replay() -> Message:
        return first.pop() if first else await receive()

    return replay

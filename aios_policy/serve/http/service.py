"""All one server holds: the live constitution, the tokens it accepts, the decision log's writer.

One `Service` lives on `app.state`; nothing is global, so tests can run several apps in one process.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials

from aios_policy.errors import AiosError
from aios_policy.record.log import LogError, LogHistory
from aios_policy.serve.identity import Identity, TokenError, Tokens, load_tokens, refuse_inside
from aios_policy.serve.live import LiveConstitution
from aios_policy.serve.writer import LOG_WAIT_SECONDS, LogWriter

from .errors import ApiError, HiddenPaths

logger = logging.getLogger("aios.serve")

Logged = tuple[dict[str, Any], dict[str, Any]]  # a decision and the request it answered, as the log keeps them


class Service:
    """The live constitution, the accepted tokens (reloaded when their file changes) and the log writer."""

    def __init__(self, constitution: str | os.PathLike[str], ref: str | None, tokens_path: Path, log_path: Path,
                 reload_interval: float, anchor_every: float | None = None,
                 anchor_to: Path | None = None) -> None:
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
        self.log = LogWriter(log_path, anchor_every=anchor_every, anchor_to=anchor_to)
        self.hidden = HiddenPaths.of(Path(constitution), tokens_path, log_path)

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

    def history(self) -> LogHistory:
        """The decision log's history for one call's decisions, read in the writer thread (which owns the
        log's connection), after every decision queued before the read: history conditions see them."""
        def read(*key: Any) -> float:
            return self.log.call(lambda log: log.history_total(*key))
        return LogHistory(read)

    async def record(self, decided: list[Logged]) -> None:
        """Log decisions and return once the transaction holding them has committed (group commit: the writer
        commits everything queued at once). The event loop never waits: the writer thread resolves a future
        this coroutine awaits; only when the queue is full does a pool thread wait for room. A decision the
        log cannot take or commit is not given out (503): every answer is on disk before it leaves."""
        if not self.log.alive:
            raise ApiError(503, "the decision log is not being written", "restart the server")
        committed = self.log.submit(decided)
        if committed is None:  # the queue is full: back-pressure, off the event loop
            committed = await run_in_threadpool(self.log.submit_waiting, decided)
        try:
            await asyncio.wait_for(asyncio.wrap_future(committed), LOG_WAIT_SECONDS)
        except TimeoutError as error:
            raise LogError(f"the decision log `{self.log.path}` did not commit within {LOG_WAIT_SECONDS} s",
                           "try again in a moment") from error

def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size

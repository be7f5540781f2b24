"""What a long-running server needs around the engine, whatever its protocol (HTTP or MCP):

- `LiveConstitution`: the constitution at a git ref, polled in a background thread. A new commit is
  validated and, when valid, swapped in whole: one assignment of an immutable `Loaded`, so a request
  sees the old constitution or the new one, never a mix. An invalid commit is refused; the last good
  constitution keeps serving and `reload_error` says why.
- `LogWriter`: the one thread that writes the decision log. Answers never wait on SQLite: decisions
  are queued and appended in order; resolutions and reads go through the same queue, so they see
  every decision answered before them. The queue is flushed on close.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field

from . import diagnostics as dx
from .api import Constitution
from .check import check_snapshot, read
from .decision_log import DecisionLog, LogError
from .errors import AiosError, InvalidConstitution
from .messages import Actor, Request
from .model import CompiledConstitution
from .source import commit_of
from .tokens import Identity

logger = logging.getLogger("aios.serve")
T = TypeVar("T")

DEFAULT_RELOAD_SECONDS = 2.0
LOG_QUEUE_SIZE = 10_000
LOG_WAIT_SECONDS = 60


class ServedRequest(Request):
    """A request sent to `aios serve` or `aios mcp`: a Request whose actor is whoever is calling.

    The server sets `actor.id` and `actor.kind` from the caller's identity (the bearer token's);
    what the body says there is replaced. `actor.role` may still name the role a person acts in.
    """

    actor: Actor | None = Field(  # type: ignore[assignment]  # optional here: the server fills it in
        default=None, description="Replaced by the caller's identity; only `role` is kept from it.")


def without_nulls(request: Any) -> Any:
    """A null field is an absent one, as `Request.to_dict()` has it for the Python API (top level and actor)."""
    if not isinstance(request, dict):
        return request
    kept = {key: value for key, value in request.items() if value is not None}
    if isinstance(kept.get("actor"), dict):
        kept["actor"] = {key: value for key, value in kept["actor"].items() if value is not None}
    return kept


def acting_as(request: Any, identity: Identity) -> Any:
    """The request with its actor's id and kind set to the caller's identity (anything else is left for
    request_problems to judge). Null fields count as absent."""
    request = without_nulls(request)
    if not isinstance(request, dict):
        return request
    claimed = request.get("actor")
    if claimed is not None and not isinstance(claimed, dict):
        return request  # left as sent, so request_problems refuses it: an actor is an object
    kept = {k: v for k, v in (claimed or {}).items() if k not in ("id", "kind")}
    return {**request, "actor": {"id": identity.id, "kind": identity.kind, **kept}}


def identity_problem(identity: Identity, constitution: CompiledConstitution) -> str | None:
    """Why this identity may not act under this version of the constitution, if it may not."""
    if identity.kind == "human" and identity.id not in constitution.people:
        return f"`{identity.id}` holds a person's token but is not a person in org.json at this commit"
    if identity.kind == "agent" and identity.id in constitution.people:
        return f"`{identity.id}` is a person in org.json, so their token must be a human token"
    return None


@dataclass(frozen=True)
class Loaded:
    """One validated version of the constitution, and when it started serving."""

    constitution: Constitution
    commit: str | None
    loaded_at: datetime

    def to_json(self) -> dict[str, Any]:
        compiled = self.constitution.compiled
        return {"name": compiled.manifest.name, "commit": self.commit, "ref": compiled.provenance.ref,
                "loaded_at": self.loaded_at.isoformat(),
                "counts": {"policies": len(compiled.policies), "rules": len(compiled.rules),
                           "sops": len(compiled.sops), "people": len(compiled.people)}}


@dataclass(frozen=True)
class ReloadError:
    """Why the newest commit of the ref is not serving."""

    commit: str | None
    at: datetime
    message: str
    diagnostics: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit, "at": self.at.isoformat(), "message": self.message,
                "diagnostics": list(self.diagnostics)}


class LiveConstitution:
    """The constitution at `ref`, following the ref as commits land on it."""

    def __init__(self, path: str | os.PathLike[str], ref: str | None, interval: float = DEFAULT_RELOAD_SECONDS,
                 on_poll: tuple[Callable[[], None], ...] = ()) -> None:
        self.path, self.ref, self.interval, self.on_poll = path, ref, interval, on_poll
        snapshot = read(path, ref)
        self.current = Loaded(Constitution(check_snapshot(snapshot)), snapshot.commit, datetime.now(UTC))
        self.reload_error: ReloadError | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> bool:
        """Look at the ref once; True when a new commit was swapped in. Never raises for a bad commit."""
        for hook in self.on_poll:
            hook()
        if self.ref is None:
            return False  # a working tree has no commits to follow
        try:
            commit = commit_of(self.path, self.ref)  # cheap: the files are read only when the ref moved
            if commit == self.current.commit:
                self.reload_error = None  # the ref came back to the serving commit (a bad one was reverted away)
                return False
            if self.reload_error is not None and commit == self.reload_error.commit:
                return False  # refused already; said so once
            snapshot = read(self.path, self.ref)
        except AiosError as error:
            return self._refuse(None, error.message, ())
        try:
            loaded = Loaded(Constitution(check_snapshot(snapshot)), snapshot.commit, datetime.now(UTC))
        except InvalidConstitution as error:
            errors = [d.render() for d in error.diagnostics if d.severity is dx.Severity.ERROR]
            return self._refuse(snapshot.commit, error.message, tuple(errors[:20]))
        self.current, self.reload_error = loaded, None  # the swap: one reference each
        logger.info("serving commit %s of `%s`", _short(loaded.commit), self.ref)
        return True

    def _refuse(self, commit: str | None, message: str, diagnostics: tuple[str, ...]) -> bool:
        earlier = self.reload_error
        if earlier is not None and (earlier.commit, earlier.message) == (commit, message):
            return False  # an unreadable ref stays unreadable: say so once
        self.reload_error = ReloadError(commit, datetime.now(UTC), message, diagnostics)
        logger.error("refused commit %s of `%s`, still serving %s: %s", _short(commit), self.ref,
                     _short(self.current.commit), message)
        return False

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="aios-reload", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:  # a bug must not stop the server following its ref: log it and go on
                logger.exception("reloading the constitution failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


def _short(commit: str | None) -> str:
    return commit[:12] if commit else "(none)"


_CLOSE = object()
LOG_BATCH = 500  # decisions written in one transaction at most


class LogWriter:
    """The decision log's one writer thread, with its own DecisionLog (SQLite objects stay in one thread)."""

    def __init__(self, path: str | os.PathLike[str], queue_size: int = LOG_QUEUE_SIZE) -> None:
        self.path = Path(path)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._opened = threading.Event()
        self._open_error: BaseException | None = None
        self.written = 0
        self.failed = 0

    def start(self) -> None:
        """Open the log in the writer thread; raises what opening raised (not a log, not writable)."""
        self._thread = threading.Thread(target=self._run, name="aios-log-writer", daemon=True)
        self._thread.start()
        self._opened.wait()
        if self._open_error is not None:
            self._thread.join()
            self._thread = None
            raise self._open_error

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def append(self, decision: dict[str, Any], request: dict[str, Any]) -> bool:
        """Queue a decision; False (with no wait) when the queue is full, so the caller can wait elsewhere."""
        try:
            self._queue.put_nowait((decision, request))
            return True
        except queue.Full:
            return False

    def append_waiting(self, decision: dict[str, Any], request: dict[str, Any]) -> None:
        """Queue a decision, waiting for room: back-pressure when SQLite falls behind."""
        self._refuse_unless_alive()
        try:
            self._queue.put((decision, request), timeout=LOG_WAIT_SECONDS)
        except queue.Full as error:
            raise LogError(f"the decision log `{self.path}` fell {self._queue.maxsize} decisions behind for "
                           f"{LOG_WAIT_SECONDS} s", "try again in a moment") from error

    def call(self, function: Callable[[DecisionLog], T], timeout: float = LOG_WAIT_SECONDS) -> T:
        """Run function(log) in the writer thread after everything queued before it; its result or error."""
        self._refuse_unless_alive()
        future: Future[T] = Future()
        try:
            self._queue.put((function, future), timeout=timeout)
            return future.result(timeout)
        except (queue.Full, FutureTimeout) as error:
            raise LogError(f"the decision log `{self.path}` did not answer within {timeout:g} s",
                           "try again in a moment") from error

    def _refuse_unless_alive(self) -> None:
        if not self.alive:
            raise LogError(f"the decision log `{self.path}` is not being written", "restart the server")

    def close(self, timeout: float = 60) -> None:
        """Write everything queued, then stop."""
        if self._thread is not None:
            self._queue.put(_CLOSE)
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        try:
            log = DecisionLog(self.path)
        except BaseException as error:  # reported by start() in the caller's thread
            self._open_error = error
            self._opened.set()
            return
        self._opened.set()
        with log:
            item = self._queue.get()
            while item is not _CLOSE:
                first, second = item
                if isinstance(second, Future):
                    self._run_call(log, first, second)
                    item = self._queue.get()
                    continue
                batch = [item]  # decisions waiting together go in one transaction, in order
                while len(batch) < LOG_BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        item = None
                        break
                    if item is _CLOSE or isinstance(item[1], Future):
                        break
                    batch.append(item)
                self._append(log, batch)
                item = self._queue.get() if item is None else item

    def _append(self, log: DecisionLog, batch: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        try:
            log.append_many(batch)
            self.written += len(batch)
        except Exception:  # the answers have gone out; losing log entries must be loud, not fatal
            for decision, request in batch:  # one by one, so one bad entry does not lose the others
                try:
                    log.append(decision, request)
                    self.written += 1
                except Exception:
                    self.failed += 1
                    logger.exception("could not log decision %s", decision.get("id"))

    @staticmethod
    def _run_call(log: DecisionLog, function: Callable[[DecisionLog], Any], future: Future[Any]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(function(log))
        except Exception as error:
            future.set_exception(error)

"""The decision log's one writer thread, whatever the protocol (HTTP or MCP).

Group commit: a caller hands its decisions to the writer and gets a future; the writer takes everything
queued into one transaction (many decisions, one fsync), commits, and only then resolves the futures of
every caller in it. An answer waits for that future, so a decision is on disk before it is given out, and
a `kill -9` can lose a decision only if nobody was answered it. A transaction that fails resolves its
futures with a LogError: the caller answers 503, never an unlogged decision. Resolutions and reads go
through the same queue, so they see every decision committed before them. The queue is written out on
close.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from aios_policy.record.log import DecisionLog, LogError, append_anchor

logger = logging.getLogger("aios.serve")
T = TypeVar("T")
LOG_QUEUE_SIZE = 10_000  # groups of decisions (a call's decisions are one group) and calls waiting
LOG_WAIT_SECONDS = 60
LOG_GROUP = 5_000  # decisions committed in one transaction at most (a batch call's group is never split)

Pair = tuple[dict[str, Any], dict[str, Any]]  # a decision and the request it answered


@dataclass
class _Decisions:
    """One caller's decisions and the future resolved once the transaction holding them has committed."""

    pairs: Sequence[Pair]
    committed: Future[None] = field(default_factory=Future)


@dataclass
class _Call:
    function: Callable[[DecisionLog], Any]
    result: Future[Any] = field(default_factory=Future)


_CLOSE = object()


def _running(future: Future[T]) -> Future[T]:
    """A future that can no longer be cancelled: a waiter that gives up does not unlog its decisions."""
    future.set_running_or_notify_cancel()
    return future


def _settle(future: Future[Any], error: BaseException | None = None, result: Any = None) -> None:
    """Give the waiter its answer; a future settled already (cannot happen for a running one) keeps its own."""
    with contextlib.suppress(InvalidStateError):
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)


class LogWriter:
    """The decision log's one writer thread, with its own DecisionLog (SQLite objects stay in one thread).

    `anchor_every` seconds (None: never), the writer appends the chain's head to `anchor_to` (default: the
    anchor file beside the log) after a commit, so `aios log verify --anchor` can prove nothing was cut off.
    """

    def __init__(self, path: str | os.PathLike[str], queue_size: int = LOG_QUEUE_SIZE,
                 anchor_every: float | None = None, anchor_to: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._opened = threading.Event()
        self._open_error: BaseException | None = None
        self._queued = 0
        self._count_lock = threading.Lock()
        self.anchor_every = anchor_every
        self.anchor_to = Path(anchor_to) if anchor_to else None
        self._anchored_at = time.monotonic()
        self.written = 0
        self.failed = 0
        self.commits = 0

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
        """Decisions handed to the writer and not yet committed (or failed)."""
        return self._queued

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, pairs: Sequence[Pair]) -> Future[None] | None:
        """Hand decisions to the writer without waiting: the future resolves once they are committed (or
        fails with a LogError); None when the queue is full, so the caller can wait for room elsewhere."""
        self._refuse_unless_alive()
        item = _Decisions(pairs, _running(Future()))
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            return None
        self._count(len(pairs))
        return item.committed

    def submit_waiting(self, pairs: Sequence[Pair], timeout: float = LOG_WAIT_SECONDS) -> Future[None]:
        """Hand decisions to the writer, waiting for room (back-pressure when SQLite falls behind)."""
        self._refuse_unless_alive()
        item = _Decisions(pairs, _running(Future()))
        try:
            self._queue.put(item, timeout=timeout)
        except queue.Full as error:
            raise LogError(f"the decision log `{self.path}` fell {self._queue.maxsize} writes behind for "
                           f"{timeout:g} s", "try again in a moment") from error
        self._count(len(pairs))
        return item.committed

    def append_waiting(self, decision: dict[str, Any], request: dict[str, Any],
                       timeout: float = LOG_WAIT_SECONDS) -> None:
        """Log one decision and return once it is committed; LogError when it could not be."""
        committed = self.submit_waiting([(decision, request)], timeout)
        try:
            committed.result(timeout)
        except FutureTimeout as error:
            raise LogError(f"the decision log `{self.path}` did not commit within {timeout:g} s",
                           "try again in a moment") from error

    def call(self, function: Callable[[DecisionLog], T], timeout: float = LOG_WAIT_SECONDS) -> T:
        """Run function(log) in the writer thread after everything queued before it; its result or error."""
        self._refuse_unless_alive()
        item = _Call(function)
        try:
            self._queue.put(item, timeout=timeout)
            result: T = item.result.result(timeout)
            return result
        except (queue.Full, FutureTimeout) as error:
            raise LogError(f"the decision log `{self.path}` did not answer within {timeout:g} s",
                           "try again in a moment") from error

    def _refuse_unless_alive(self) -> None:
        if not self.alive:
            raise LogError(f"the decision log `{self.path}` is not being written", "restart the server")

    def _count(self, number: int) -> None:
        with self._count_lock:
            self._queued += number

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
        try:
            with log:
                self._serve(log)
        finally:  # nothing handed over is left waiting: what was not committed fails
            self._fail_the_rest()

    def _serve(self, log: DecisionLog) -> None:
        item = self._queue.get()
        while item is not _CLOSE:
            if isinstance(item, _Call):
                self._run_call(log, item)
                item = self._queue.get()
                continue
            group, size, item = [item], len(item.pairs), None  # everything waiting goes in one transaction
            while size < LOG_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
                    break
                if not isinstance(item, _Decisions):
                    break
                group.append(item)
                size += len(item.pairs)
                item = None
            self._commit(log, group)
            self._anchor_if_due(log)
            if item is None:
                item = self._queue.get()

    def _commit(self, log: DecisionLog, group: list[_Decisions]) -> None:
        """One transaction for the group; if it fails, each caller's decisions alone, so one bad entry fails
        only its own caller. Futures resolve only after COMMIT returned."""
        size = sum(len(item.pairs) for item in group)
        try:
            log.append_many([pair for item in group for pair in item.pairs])
        except Exception as error:
            if len(group) > 1:
                for item in group:
                    self._commit(log, [item])
                return
            self._fail(group[0], error)
            return
        self.written += size
        self.commits += 1
        self._count(-size)
        for item in group:
            _settle(item.committed)

    def _fail(self, item: _Decisions, error: Exception) -> None:
        self.failed += len(item.pairs)
        self._count(-len(item.pairs))
        logger.error("could not log %d decision(s), none of them answered: %s", len(item.pairs), error)
        refused = error if isinstance(error, LogError) else LogError(
            f"the decision log `{self.path}` could not be written: {error}", "try again in a moment")
        _settle(item.committed, refused)

    def _fail_the_rest(self) -> None:
        stopped = LogError(f"the decision log `{self.path}` is not being written", "restart the server")
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Decisions):
                self._fail(item, stopped)
            elif isinstance(item, _Call):
                _settle(item.result, stopped)

    def _anchor_if_due(self, log: DecisionLog) -> None:
        if self.anchor_every is None or time.monotonic() - self._anchored_at < self.anchor_every:
            return
        self._anchored_at = time.monotonic()
        try:
            append_anchor(log, datetime.now(UTC), self.anchor_to)
        except LogError as error:  # the decisions are committed; a missed anchor is loud, not fatal
            logger.error("could not anchor the decision log: %s", error)

    @staticmethod
    def _run_call(log: DecisionLog, call: _Call) -> None:
        if not call.result.set_running_or_notify_cancel():
            return
        try:
            _settle(call.result, result=call.function(log))
        except Exception as error:
            _settle(call.result, error)

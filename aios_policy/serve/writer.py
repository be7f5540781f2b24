"""The decision log's one writer thread, whatever the protocol (HTTP or MCP).

Answers never wait on SQLite: decisions are queued and appended in order, many to a transaction;
resolutions and reads go through the same queue, so they see every decision answered before them.
The queue is flushed on close.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, TypeVar

from aios_policy.record.log import DecisionLog, LogError

logger = logging.getLogger("aios.serve")
T = TypeVar("T")
LOG_QUEUE_SIZE = 10_000
LOG_WAIT_SECONDS = 60


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

"""The constitution a long-running server follows (HTTP or MCP alike).

`LiveConstitution` reads the constitution at a git ref and polls it in a background thread. A new
commit is validated and, when valid, swapped in whole: one assignment of an immutable `Loaded`, so
a request sees the old constitution or the new one, never a mix. An invalid commit is refused; the
last good constitution keeps serving and `reload_error` says why.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aios_policy import diagnostics as dx
from aios_policy.constitution.pipeline import check_snapshot, read
from aios_policy.constitution.source import commit_of
from aios_policy.engine.facade import Constitution
from aios_policy.errors import AiosError, InvalidConstitution

logger = logging.getLogger("aios.serve")
DEFAULT_RELOAD_SECONDS = 2.0


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



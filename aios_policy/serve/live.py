"""The constitution a long-running server follows (HTTP or MCP alike).

`LiveConstitution` reads the constitution at a git ref and polls it in a background thread. A new
commit is validated and, when valid, swapped in whole: one assignment of an immutable `Loaded`, so
a request sees the old constitution or the new one, never a mix. A commit that cannot serve (invalid,
or unreadable: a broken ref, a missing git object, a bug while loading it) is refused: the last good
constitution keeps serving, `reload_error` says why until a good commit serves, and the log says it
once, not at every poll.
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
from aios_policy.words.decision import one_line

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
    definitive: bool = True  # the commit itself is invalid (no need to read it again), not a failure to read it

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit, "at": self.at.isoformat(), "message": self.message,
                "diagnostics": list(self.diagnostics)}


class LiveConstitution:
    """The constitution at `ref`, following the ref as commits land on it."""

    def __init__(self, path: str | os.PathLike[str], ref: str | None, interval: float = DEFAULT_RELOAD_SECONDS,
                 on_poll: tuple[Callable[[], None], ...] = ()) -> None:
        self.path, self.ref, self.interval, self.on_poll = path, ref, interval, on_poll
        snapshot = read(path, ref)
        self.current = Loaded(Constitution(check_snapshot(snapshot, warnings=False)), snapshot.commit,
                              datetime.now(UTC))
        self.reload_error: ReloadError | None = None
        self._hook_failures: dict[Callable[[], None], str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> bool:
        """Look at the ref once; True when a new commit was swapped in. Never raises: whatever stops a commit
        from serving (an invalid constitution, an unreadable ref or repository, a bug while loading it) is
        refused, kept in `reload_error` until a good commit serves, and logged once."""
        self._run_hooks()
        if self.ref is None:
            return False  # a working tree has no commits to follow
        try:
            commit = commit_of(self.path, self.ref)  # cheap: the files are read only when the ref moved
        except Exception as error:  # gitpython raises more than SourceError on a broken repository
            return self._refuse(None, _reason(error, "the ref"), (), definitive=False)
        if commit == self.current.commit:
            if self.reload_error is not None:
                logger.info("`%s` is back at the serving commit %s", self.ref, _short(commit))
            self.reload_error = None  # the ref came back to the serving commit (a bad one was reverted away)
            return False
        earlier = self.reload_error
        if earlier is not None and earlier.definitive and commit == earlier.commit:
            return False  # refused already: said so once, and the commit will not change
        try:
            snapshot = read(self.path, self.ref)
            loaded = Loaded(Constitution(check_snapshot(snapshot, warnings=False)), snapshot.commit,
                            datetime.now(UTC))
        except InvalidConstitution as error:
            errors = [d.render() for d in error.diagnostics if d.severity is dx.Severity.ERROR]
            return self._refuse(commit, error.message, tuple(errors[:20]), definitive=True)
        except Exception as error:  # a missing git object, a bug: refuse the commit, keep serving
            return self._refuse(commit, _reason(error, "the commit"), (), definitive=False)
        self.current, self.reload_error = loaded, None  # the swap: one reference each
        logger.info("serving commit %s of `%s`", _short(loaded.commit), self.ref)
        return True

    def _run_hooks(self) -> None:
        """What else the server looks at on each poll (the HTTP server's tokens file); one failing hook does
        not stop the others or the reload, and its failure is logged once while it lasts."""
        for hook in self.on_poll:
            try:
                hook()
            except Exception as error:  # logged; the constitution still follows its ref
                reason = _reason(error, "it")
                if self._hook_failures.get(hook) != reason:
                    logger.error("%s failed: %s", getattr(hook, "__name__", "a poll hook"), reason)
                self._hook_failures[hook] = reason
            else:
                self._hook_failures.pop(hook, None)

    def _refuse(self, commit: str | None, message: str, diagnostics: tuple[str, ...], definitive: bool) -> bool:
        """Keep serving the last good commit and say why the newest is not serving: once per commit and reason."""
        earlier = self.reload_error
        if earlier is not None and (earlier.commit, earlier.message) == (commit, message):
            return False  # the same refusal as at the last poll: said so once
        self.reload_error = ReloadError(commit, datetime.now(UTC), message, diagnostics, definitive)
        logger.error("refused commit %s of `%s`, still serving %s: %s", _short(commit), self.ref,
                     _short(self.current.commit), message)
        logger.debug("the refusal's cause", exc_info=True)  # the traceback, for a bug report (--log-level debug)
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


def _reason(error: Exception, what: str) -> str:
    """Why what could not be read, on one line: the message of our errors, the type and text of others."""
    if isinstance(error, AiosError):
        return one_line(error.message)
    return one_line(f"cannot read {what}: {type(error).__name__}: {error}".rstrip(": "))


def _short(commit: str | None) -> str:
    return commit[:12] if commit else "(none)"



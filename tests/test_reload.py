"""The live constitution of `aios serve` and `aios mcp`: a commit that cannot serve is refused, said once in the
log, and kept in `reload_error` until a good commit serves. Real git repositories in temp folders."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MINIMAL, committed, git

from aios_policy.serve.live import LiveConstitution

POLLS = 5


def _rewrite(name: str, change: Callable[[dict[str, object]], object]) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        path = root / "constitution" / name
        document = json.loads(path.read_text(encoding="utf-8"))
        change(document)
        path.write_text(json.dumps(document), encoding="utf-8")
        _commit(root)
    return mutate


def _write(name: str, content: bytes) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        (root / "constitution" / name).write_bytes(content)
        _commit(root)
    return mutate


def _commit(root: Path, message: str = "a change") -> None:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message, "--allow-empty")


def _removed_folder(root: Path) -> None:
    shutil.rmtree(root / "constitution")
    _commit(root)


def _missing_object(spec: str) -> Callable[[Path], None]:
    """A commit whose tree or file object is gone from .git/objects (gitpython raises ValueError, not ours)."""
    def mutate(root: Path) -> None:
        (root / "constitution" / "notes.json").write_text('{"a": "new file"}\n', encoding="utf-8")
        _commit(root)
        sha = git(root, "rev-parse", spec)
        os.unlink(root / ".git" / "objects" / sha[:2] / sha[2:])
    return mutate


def _ref_file(content: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        (root / ".git" / "refs" / "heads" / "main").write_text(content, encoding="utf-8")
    return mutate


def _deleted_branch(root: Path) -> None:
    git(root, "checkout", "-qb", "elsewhere")
    git(root, "branch", "-D", "main")


BAD = {
    "malformed JSON": _write("constitution.json", b'{"name": '),
    "not UTF-8": _write("org.json", b"\xff\xfe\x00 not text"),
    "nested too deeply": _write("thresholds.json", b"[" * 50_000 + b"]" * 50_000),
    "schema violation": _rewrite("constitution.json", lambda d: d.update(name=5)),
    "unknown key": _rewrite("constitution.json", lambda d: d.update(surprise=True)),
    "no constitution folder": _removed_folder,
    "missing tree object": _missing_object("HEAD^{tree}"),
    "missing file object": _missing_object("HEAD:constitution/notes.json"),
    "empty ref file": _ref_file(""),
    "garbage ref file": _ref_file("not a sha\n"),
    "deleted branch": _deleted_branch,
}


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    return committed(tmp_path, MINIMAL)


def _refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "aios.serve" and r.levelno >= logging.ERROR]


def _repair(root: Path, good: str) -> None:
    """Make main good again, as an operator would: the branch put back at the good commit, a new commit on top."""
    (root / ".git" / "refs" / "heads" / "main").write_text(good + "\n", encoding="utf-8")
    git(root, "checkout", "-qf", "main")
    git(root, "reset", "-q", "--hard", good)
    git(root, "commit", "-qm", "a good commit", "--allow-empty")


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_commit_that_cannot_serve_is_refused_once_and_kept_until_a_good_one_serves(
        repository: Path, kind: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aios.serve")
    live = LiveConstitution(repository / "constitution", "main", interval=60)
    good = live.current.commit
    assert good is not None
    BAD[kind](repository)

    for _ in range(POLLS):
        assert live.poll() is False  # never raises, never swaps
        assert live.current.commit == good
        assert live.reload_error is not None, kind
    refused = _refusals(caplog)
    assert len(refused) == 1, refused
    assert "\n" not in refused[0] and f"still serving {good[:12]}" in refused[0]
    error = live.reload_error.to_json()
    assert error["message"] and "\n" not in error["message"]
    assert set(error) == {"commit", "at", "message", "diagnostics"}  # the shape /v1/constitution serves

    _repair(repository, good)
    assert live.poll() is True
    assert live.reload_error is None
    assert live.current.commit == git(repository, "rev-parse", "main") != good
    assert len(_refusals(caplog)) == 1  # the fix adds no error line


def test_each_bad_commit_is_said_once_and_the_newest_one_is_shown(
        repository: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aios.serve")
    live = LiveConstitution(repository / "constitution", "main", interval=60)
    # the missing tree object comes last: git itself cannot commit on top of it
    kinds = ["schema violation", "not UTF-8", "nested too deeply", "malformed JSON", "missing tree object"]
    for number, kind in enumerate(kinds, start=1):
        BAD[kind](repository)
        for _ in range(3):
            live.poll()
        assert live.reload_error is not None
        assert live.reload_error.commit == git(repository, "rev-parse", "main")
        assert len(_refusals(caplog)) == number


def test_a_ref_reverted_to_the_serving_commit_clears_the_error(repository: Path) -> None:
    live = LiveConstitution(repository / "constitution", "main", interval=60)
    good = live.current.commit
    BAD["malformed JSON"](repository)
    live.poll()
    assert live.reload_error is not None
    git(repository, "reset", "-q", "--hard", str(good))
    assert live.poll() is False
    assert live.reload_error is None and live.current.commit == good


def test_a_failing_poll_hook_is_logged_once_and_does_not_stop_the_reload(
        repository: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aios.serve")
    calls: list[int] = []

    def refresh_tokens() -> None:
        calls.append(1)
        raise ValueError("the tokens file is broken")

    live = LiveConstitution(repository / "constitution", "main", interval=60, on_poll=(refresh_tokens,))
    (repository / "constitution" / "notes.txt").write_text("a harmless file\n", encoding="utf-8")
    _commit(repository)
    assert live.poll() is True  # the hook failed, the new good commit still serves
    for _ in range(POLLS):
        live.poll()
    assert len(calls) == POLLS + 1
    failures = [m for m in _refusals(caplog) if "refresh_tokens" in m]
    assert failures == ["refresh_tokens failed: cannot read it: ValueError: the tokens file is broken"]


def test_the_background_thread_reports_a_bad_commit_once(repository: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aios.serve")
    live = LiveConstitution(repository / "constitution", "main", interval=0.05)
    BAD["missing file object"](repository)
    live.start()
    try:
        deadline = time.monotonic() + 20
        while live.reload_error is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)  # about ten more polls
    finally:
        live.stop()
    assert live.reload_error is not None
    assert len(_refusals(caplog)) == 1, _refusals(caplog)
    assert not [r for r in caplog.records if r.exc_info and r.levelno >= logging.ERROR]  # no traceback

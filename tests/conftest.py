"""Shared test helpers: a fresh copy of a small valid constitution, and the `aios` command, in-process or real."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from aios_policy.cli import main

TESTS = Path(__file__).parent
REPO = TESTS.parent
MINIMAL = TESTS / "fixtures" / "minimal"
EXAMPLE = REPO / "constitution"
ENGINE = TESTS / "fixtures" / "engine"


def aios_command() -> list[str]:
    script = Path(sys.executable).with_name("aios")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aios_policy"]


def run_aios(*args: str, cwd: Path | None = None, input: str | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `aios` command in a subprocess."""
    environment = {k: v for k, v in os.environ.items() if k != "AIOS_CONSTITUTION"}
    environment.update(env or {})
    return subprocess.run([*aios_command(), *args], cwd=cwd, input=input, capture_output=True, text=True,
                          env=environment, timeout=120)


def invoke(*args: str, cwd: Path | None = None, input: str | None = None,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `aios` in this process with click's CliRunner; the same answer as run_aios, in milliseconds.

    Like run_aios, it starts from this process's environment without AIOS_CONSTITUTION and in the
    given folder (else the current one), and both are put back afterwards, so no test leaks into the next.
    """
    runner = CliRunner()
    environment: dict[str, str | None] = {"AIOS_CONSTITUTION": None, **(env or {})}
    with contextlib.chdir(cwd or Path.cwd()):
        # catch_exceptions=False: a bug of ours fails the test with its traceback instead of an exit code
        result = runner.invoke(main, list(args), input=input, env=environment, catch_exceptions=False,
                               prog_name="aios")
    return subprocess.CompletedProcess(["aios", *args], result.exit_code, result.stdout, result.stderr)


def run_sql(path: Path, script: str) -> list[tuple[object, ...]]:
    """Run SQL statements on a database file with Python's sqlite3 (no `sqlite3` binary needed); a lone
    SELECT returns its rows. The tests tamper with the decision log this way, behind its back."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        if script.lstrip()[:6].upper() == "SELECT":
            return connection.execute(script).fetchall()
        connection.executescript(script)
        return []


@pytest.fixture
def constitution(tmp_path: Path) -> Path:
    """A writable copy of the small valid test constitution."""
    target = tmp_path / "constitution"
    shutil.copytree(MINIMAL, target)
    return target


def git(cwd: Path, *args: str, date: str | None = None) -> str:
    """Run git in a temporary repository with a fixed identity (and, with date, a fixed commit date)."""
    environment = {**os.environ, "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
                   "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com"}
    if date:
        environment.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=environment, check=True)
    return done.stdout.strip()


def committed(folder: Path, source: Path, message: str = "the constitution", date: str | None = None) -> Path:
    """A git repository at folder with source copied to constitution/ and committed on main."""
    shutil.copytree(source, folder / "constitution")
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", message, date=date)
    return folder

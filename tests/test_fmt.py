"""`aios fmt` against golden files: each case under tests/data/fmt/ holds input/ files, laid over the small
test constitution, and the expected/ text `aios fmt` must write for each of them.

- policy-keys-reversed: every key of a policy in reverse order, four-space indent, no final newline;
  comes back in schema order, exactly as the committed fixture is written
- thresholds-one-line: the whole file on one line; threshold names (which the schema does not list) keep
  the author's order, each threshold's fields take the schema's
- lists-and-unknown-keys: CRLF line ends, one-space indent, non-ASCII text; a list too long for one line
  is broken one item a line, short lists and shallow objects stay on one line, and a `require` JSON
  Schema (keys the policy schema does not name) keeps the author's key order
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import MINIMAL, TESTS, invoke

from aios_policy.constitution.fmt import WIDTH

CASES = TESTS / "data" / "fmt"


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.json"))


def _fmt(constitution: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`aios fmt` run beside the constitution, as a user does, so it names files `constitution/...`."""
    return invoke("fmt", *args, cwd=constitution.parent)


@pytest.fixture(params=sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def case(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path]:
    """(the case folder, a constitution with the case's input files laid over the small one)."""
    folder = CASES / request.param
    assert _files(folder / "input") == _files(folder / "expected"), "every input needs its expected output"
    constitution = tmp_path / "constitution"
    shutil.copytree(MINIMAL, constitution)
    shutil.copytree(folder / "input", constitution, dirs_exist_ok=True)
    return folder, constitution


def test_check_names_each_file_that_is_not_canonical_and_changes_nothing(case: tuple[Path, Path]) -> None:
    folder, constitution = case
    before = {name: (constitution / name).read_bytes() for name in _files(constitution)}
    done = _fmt(constitution, "--check")
    assert done.returncode == 1
    for name in _files(folder / "input"):
        assert f"would reformat constitution/{name}" in done.stdout.splitlines()
    assert {name: (constitution / name).read_bytes() for name in _files(constitution)} == before


def test_fmt_writes_exactly_the_expected_text(case: tuple[Path, Path]) -> None:
    folder, constitution = case
    done = _fmt(constitution)
    assert done.returncode == 0, done.stdout + done.stderr
    changed = len(_files(folder / "input"))
    assert done.stdout.splitlines()[-1] == (f"{changed} file(s) reformatted, "
                                            f"{len(_files(constitution)) - changed} already canonical")
    for name in _files(folder / "expected"):
        assert (constitution / name).read_bytes() == (folder / "expected" / name).read_bytes(), name


def test_fmt_keeps_every_value_and_is_idempotent(case: tuple[Path, Path]) -> None:
    folder, constitution = case
    assert _fmt(constitution).returncode == 0
    for name in _files(folder / "input"):
        assert json.loads((constitution / name).read_text()) == json.loads((folder / "input" / name).read_text())
    after = {name: (constitution / name).read_bytes() for name in _files(constitution)}
    again = _fmt(constitution)
    assert again.returncode == 0 and again.stdout.splitlines()[-1].startswith("0 file(s) reformatted")
    assert _fmt(constitution, "--check").returncode == 0
    assert {name: (constitution / name).read_bytes() for name in _files(constitution)} == after


@pytest.mark.parametrize("name", sorted(str(p.relative_to(CASES)) for p in CASES.glob("*/expected/**/*.json")))
def test_expected_files_have_the_canonical_layout(name: str) -> None:
    text = (CASES / name).read_text()
    assert text.endswith("}\n") and not text.endswith("\n\n"), "one newline at the end"
    assert "\r" not in text and "\t" not in text
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0, line  # two spaces a level
        assert len(line) <= WIDTH or not line.rstrip(",").endswith(("]", "}")), line  # no list or object past it
    assert json.loads(text)["$schema"] and text.startswith('{\n  "$schema": ')

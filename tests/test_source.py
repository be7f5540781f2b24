"""Loading from a folder and from git refs of a real repository built in a temporary folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import MINIMAL, committed, git, invoke

from aios_policy import SourceError, check


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A repository with two commits: the auto limit is 250, then 500."""
    repo = committed(tmp_path / "company", MINIMAL, "first constitution")
    git(repo, "tag", "v1")
    _set_limit(repo, 500)
    git(repo, "commit", "-qam", "raise the refund auto limit")
    return repo


def _set_limit(repo: Path, value: int) -> None:
    path = repo / "constitution" / "thresholds.json"
    data = json.loads(path.read_text())
    data["thresholds"]["refunds.auto_limit"]["value"] = value
    path.write_text(json.dumps(data, indent=2))


def _limit(result) -> int:
    return result.constitution.thresholds["refunds.auto_limit"].value


def test_older_commit_loads_while_the_working_tree_holds_the_newer(repository: Path) -> None:
    older = check(repository / "constitution", ref="HEAD~1")
    newer = check(repository / "constitution")
    assert _limit(older) == 250 and _limit(newer) == 500
    assert older.snapshot.commit == git(repository, "rev-parse", "HEAD~1")
    assert newer.snapshot.commit == git(repository, "rev-parse", "HEAD")
    assert older.snapshot.dirty is False and newer.snapshot.dirty is False
    assert (repository / "constitution" / "thresholds.json").read_text().count("500") == 1  # nothing checked out


def test_tag_and_sha_refs_load(repository: Path) -> None:
    sha = git(repository, "rev-parse", "v1")
    assert _limit(check(repository / "constitution", ref="v1")) == 250
    assert check(repository / "constitution", ref=sha[:10]).snapshot.commit == sha


def test_uncommitted_edit_marks_the_working_tree_dirty(repository: Path) -> None:
    _set_limit(repository, 750)
    result = check(repository / "constitution")
    assert _limit(result) == 750 and result.snapshot.dirty is True
    (repository / "constitution" / "policies" / "new.json").write_text("{}")
    git(repository, "checkout", "-q", "--", "constitution/thresholds.json")
    assert check(repository / "constitution").snapshot.dirty is True  # an untracked file counts too


def test_unknown_ref_is_a_clear_error_with_a_hint(repository: Path) -> None:
    with pytest.raises(SourceError) as raised:
        check(repository / "constitution", ref="mian")
    assert "unknown git ref `mian`" in raised.value.message
    assert raised.value.hint == "did you mean `main`?"


def test_ref_where_the_constitution_did_not_exist(repository: Path) -> None:
    (repository / "other").mkdir()
    (repository / "other" / "x.txt").write_text("x")
    git(repository, "add", "-A")
    git(repository, "commit", "-qm", "other")
    with pytest.raises(SourceError, match="does not exist at `v1`"):
        check(repository / "other", ref="v1")


def test_ref_outside_a_repository_is_a_clear_error(tmp_path: Path) -> None:
    shutil.copytree(MINIMAL, tmp_path / "constitution")
    with pytest.raises(SourceError, match="not inside a git repository"):
        check(tmp_path / "constitution", ref="main")


def test_broken_repository_is_a_clear_error_not_a_traceback(repository: Path) -> None:
    head = repository / ".git" / "HEAD"
    head.write_text("garbage\n")
    done = invoke("validate", "--ref", "main", "-c", str(repository / "constitution"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "is not a valid git repository" in done.stderr


def test_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    done = invoke("validate", "-c", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert "no constitution at" in done.stderr and "hint:" in done.stderr


def test_cli_validate_at_ref_names_the_commit(repository: Path) -> None:
    done = invoke("validate", "--ref", "v1", cwd=repository)
    sha = git(repository, "rev-parse", "v1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"at `v1`, commit {sha[:12]}, clean" in done.stdout

"""The real `aios` command: output, exit codes, help, and the README that documents it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE, REPO, invoke, run_aios

from aios_policy.cli import main
from aios_policy.diagnostics import CODES

README = (REPO / "README.md").read_text()


def test_validate_on_the_example_is_clean() -> None:
    done = run_aios("validate", "-c", str(EXAMPLE))
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r": no problems \(\d+ files, \d+ policies, \d+ rules, \d+ sops, \d+ scenarios", done.stdout)


def test_validate_reports_one_line_per_problem_and_exits_1(constitution: Path) -> None:
    policy = constitution / "policies" / "refunds.json"
    policy.write_text(policy.read_text().replace('"owner": "ops_manager"', '"owner": "ops_manger"'))
    done = invoke("validate", "-c", str(constitution))
    assert done.returncode == 1
    first = done.stdout.splitlines()[0]
    assert re.fullmatch(r".*policies/refunds\.json:5:12: REF001 unknown role `ops_manger` at /owner; "
                        r"did you mean `ops_manager`\?", first), first
    assert done.stdout.splitlines()[-1].endswith("1 error(s), 0 warning(s) (6 files, 1 policies, 1 sops; "
                                                 "no git commit: outside git, no commit yet, or the repository "
                                                 "is unreadable)")


def test_warnings_alone_exit_0(constitution: Path) -> None:
    (constitution / "notes.json").write_text("{}")
    done = invoke("validate", "-c", str(constitution))
    assert done.returncode == 0
    assert "FILE003 (warning)" in done.stdout


def test_validate_json_format(constitution: Path) -> None:
    (constitution / "org.json").write_text('{"roles": [,]}')
    done = invoke("validate", "-c", str(constitution), "--format", "json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False and report["errors"] == 1
    [diagnostic] = report["diagnostics"]
    assert diagnostic["code"] == "JSON001" and (diagnostic["line"], diagnostic["column"]) == (1, 12)


def test_constitution_from_the_environment(constitution: Path, tmp_path: Path) -> None:
    done = invoke("validate", cwd=tmp_path, env={"AIOS_CONSTITUTION": str(constitution)})
    assert done.returncode == 0, done.stderr


def test_usage_errors_exit_2() -> None:
    assert invoke("validate", "--format", "yaml").returncode == 2
    assert invoke("no-such-command").returncode == 2


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_has_help_an_example_and_a_readme_section(name: str) -> None:
    done = invoke(name, "--help")
    assert done.returncode == 0
    assert "Examples:" in done.stdout, f"`aios {name} --help` shows no example"
    assert f"aios {name}" in README, f"README does not document `aios {name}`"


def test_readme_lists_every_diagnostic_code() -> None:
    for code in CODES:
        assert f"`{code}`" in README, f"README does not explain {code}"


def test_fmt_check_then_rewrite_is_idempotent_and_keeps_every_value(constitution: Path) -> None:
    before = {p: json.loads(p.read_text()) for p in constitution.rglob("*.json")}
    policy = constitution / "policies" / "refunds.json"
    policy.write_text(json.dumps(json.loads(policy.read_text()), indent=7))
    done = invoke("fmt", "--check", "-c", str(constitution))
    assert done.returncode == 1 and "would reformat" in done.stdout and "refunds.json" in done.stdout
    assert invoke("fmt", "-c", str(constitution)).returncode == 0
    assert invoke("fmt", "--check", "-c", str(constitution)).returncode == 0
    assert {p: json.loads(p.read_text()) for p in constitution.rglob("*.json")} == before


def test_fmt_leaves_broken_files_alone(constitution: Path) -> None:
    broken = constitution / "org.json"
    broken.write_text('{"roles": [}')
    duplicated = constitution / "thresholds.json"
    duplicated.write_text('{"thresholds": {}, "thresholds": {}}')
    done = invoke("fmt", "-c", str(constitution))
    assert done.returncode == 1
    assert "JSON001" in done.stderr and "JSON002" in done.stderr
    assert broken.read_text() == '{"roles": [}'
    assert duplicated.read_text() == '{"thresholds": {}, "thresholds": {}}'


def test_example_is_canonical(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "constitution")
    done = invoke("fmt", "--check", "-c", str(tmp_path / "constitution"))
    assert done.returncode == 0, done.stdout


def test_readme_python_example_runs_and_prints_what_it_says() -> None:
    start = README.index("```python\nfrom datetime import datetime, timezone")
    code = README[start + len("```python\n"):README.index("```", start + 10)]
    expected = next(line.removeprefix("# ") for line in code.splitlines() if line.startswith("# escalate"))
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == expected

"""The house keeps its shape: layers enforced, one source per shape, a wheel that carries what it needs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

from aios_policy.engine.shapes import json_schemas, schema_text

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root,
                          capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(root), "PATH": ""})


@pytest.mark.parametrize("kind", ["request", "decision"])
def test_the_committed_schema_is_the_one_generated_from_the_models(kind: str) -> None:
    committed = (REPO / "schemas" / f"{kind}.schema.json").read_text()
    assert committed == schema_text(json_schemas()[kind]), (
        f"schemas/{kind}.schema.json differs from the pydantic models in aios_policy/engine/shapes.py; run "
        "`python -c 'from aios_policy.engine.shapes import write_schemas; write_schemas()'`")


def test_every_stage_imports_only_from_the_stages_before_it() -> None:
    done = _lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_an_upward_import_breaks_the_layers_contract(tmp_path: Path) -> None:
    shutil.copytree(REPO / "aios_policy", tmp_path / "aios_policy")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    leak = tmp_path / "aios_policy" / "engine" / "leak.py"
    leak.write_text('"""An engine module that reaches up into the commands."""\n\nfrom aios_policy.cli import main\n')
    done = _lint_imports(tmp_path)
    assert done.returncode != 0
    assert "aios_policy.engine.leak -> aios_policy.cli" in done.stdout


def test_every_subpackage_is_in_the_wheel_list() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    on_disk = {".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "aios_policy").rglob("__init__.py")}
    assert on_disk | {"aios_policy.schemas"} == listed


def test_a_wheel_carries_the_schemas_templates_and_type_marker(tmp_path: Path) -> None:
    source = tmp_path / "source"
    skipped = (".venv", ".git", "*.egg-info", "build", "__pycache__", ".aios", ".mypy_cache", ".ruff_cache",
               ".pytest_cache")
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*skipped))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("aios_policy-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in (REPO / "schemas").glob("*.schema.json"):
        assert f"aios_policy/schemas/{schema.name}" in names
    assert "aios_policy/py.typed" in names
    assert any(n.startswith("aios_policy/guide/handbook/templates/") for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: Apache-2.0" in text and "Project-URL: Changelog" in text
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert json.loads(zipfile.ZipFile(wheel).read("aios_policy/schemas/request.schema.json"))["title"]


# each third-party library has one home: swapping it touches that module (or that package) alone
HOMES = {
    "git": ["aios_policy/constitution/source.py"], "gitdb": ["aios_policy/constitution/source.py"],
    "jmespath": ["aios_policy/constitution/conditions.py"], "re2": ["aios_policy/constitution/conditions.py"],
    "jsonschema": ["aios_policy/constitution/schema.py"], "jsonschema_rs": ["aios_policy/constitution/schema.py"],
    "referencing": ["aios_policy/constitution/schema.py"], "deepdiff": ["aios_policy/analysis/changes.py"],
    "rapidfuzz": ["aios_policy/guide/ask.py"], "jinja2": ["aios_policy/guide/handbook/render.py"],
    "sqlite3": ["aios_policy/record/"], "psycopg": ["aios_policy/record/"], "psycopg_pool": ["aios_policy/record/"],
    "fastapi": ["aios_policy/serve/http/"], "starlette": ["aios_policy/serve/http/"],
    "mcp": ["aios_policy/serve/mcp.py"],
    "click": ["aios_policy/cli/"], "uvicorn": ["aios_policy/cli/serve.py", "aios_policy/serve/"],
}


def test_each_library_is_imported_only_in_its_home() -> None:
    import ast

    strays = []
    for module in (REPO / "aios_policy").rglob("*.py"):
        where = module.relative_to(REPO).as_posix()
        for node in ast.walk(ast.parse(module.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            for name in names:
                top = name.split(".")[0]
                if top in HOMES and not any(where.startswith(home) for home in HOMES[top]):
                    strays.append(f"{where} imports {name}")
    assert not strays, strays

"""Every example constitution under examples/ is valid and decides each of its scenarios as written."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, invoke

EXAMPLES = sorted(path.parent for path in (REPO / "examples").glob("*/constitution/constitution.json"))


def test_there_is_an_example_constitution() -> None:
    assert EXAMPLES, "no examples/*/constitution/constitution.json found"


@pytest.mark.parametrize("folder", EXAMPLES, ids=lambda folder: folder.parent.name)
def test_example_constitution_validates(folder: Path) -> None:
    result = invoke("validate", "--constitution", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("folder", EXAMPLES, ids=lambda folder: folder.parent.name)
def test_example_constitution_passes_its_scenarios(folder: Path) -> None:
    result = invoke("test", "--constitution", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("folder", EXAMPLES, ids=lambda folder: folder.parent.name)
def test_example_constitution_is_canonical(folder: Path) -> None:
    result = invoke("fmt", "--check", "--constitution", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("folder", EXAMPLES, ids=lambda folder: folder.parent.name)
def test_example_names_its_source(folder: Path) -> None:
    readme = folder.parent / "README.md"
    assert readme.is_file(), f"{readme} is missing: an example names its source there"
    assert "http" in readme.read_text(encoding="utf-8"), f"{readme} names no source address"

"""The pydantic models of the Python API and the JSON Schemas agents use say the same thing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import REPO
from pydantic import BaseModel

from aios_policy.engine.shapes import Decision, Request


def _follow(node: Any, root: dict[str, Any]) -> Any:
    """Resolve local $refs and pick the non-null branch of an optional."""
    while isinstance(node, dict):
        if "$ref" in node:
            target: Any = root
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        elif "anyOf" in node:
            branches = [b for b in node["anyOf"] if b.get("type") != "null"]
            node = branches[0] if len(branches) == 1 else node
            if len(branches) != 1:
                return node
        else:
            return node
    return node


def _kind(node: dict[str, Any]) -> str | None:
    kind = node.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return kinds[0] if len(kinds) == 1 else None
    return kind


def _compare(ours: Any, theirs: Any, our_root: dict, their_root: dict, where: str) -> None:
    ours, theirs = _follow(ours, our_root), _follow(theirs, their_root)
    if not isinstance(ours, dict) or not isinstance(theirs, dict):
        return
    if "enum" in ours and ("enum" in theirs or "const" in theirs):
        assert sorted(ours["enum"]) == sorted(theirs.get("enum", [theirs.get("const")])), where
    if "properties" in ours and "properties" in theirs:
        assert set(ours["properties"]) == set(theirs["properties"]), where
        assert set(ours.get("required", [])) == set(theirs.get("required", [])), f"{where}: required"
        for name in ours["properties"]:
            _compare(ours["properties"][name], theirs["properties"][name], our_root, their_root, f"{where}/{name}")
    elif _kind(ours) == "array" and "items" in ours and "items" in theirs:
        _compare(ours["items"], theirs["items"], our_root, their_root, f"{where}/items")


@pytest.mark.parametrize(("model", "name"), [(Request, "request"), (Decision, "decision")])
def test_pydantic_model_matches_the_json_schema(model: type[BaseModel], name: str) -> None:
    ours = json.loads((REPO / "schemas" / f"{name}.schema.json").read_text())
    theirs = model.model_json_schema()
    _compare(ours, theirs, ours, theirs, name)


def test_every_decision_field_is_compared() -> None:
    ours = json.loads((REPO / "schemas" / "decision.schema.json").read_text())
    assert set(ours["properties"]) == set(Decision.model_fields)

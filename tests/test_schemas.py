"""The schemas help editors, and the bundled example is a real constitution that follows them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import EXAMPLE, REPO
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from aios_policy import check
from aios_policy.constitution.load import kind_of

SCHEMAS = {p.name: json.loads(p.read_text()) for p in (REPO / "schemas").glob("*.schema.json")}


def _properties(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for name, child in node.get("properties", {}).items():
            yield f"{where}/properties/{name}", child
        for key, child in node.items():
            if key != "if":  # an `if` only tests values; it defines no property
                yield from _properties(child, f"{where}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _properties(child, f"{where}/{index}")


def test_there_is_one_schema_per_kind_of_file_plus_request_and_decision() -> None:
    assert set(SCHEMAS) == {f"{k}.schema.json" for k in
                            ("constitution", "org", "thresholds", "policy", "sop", "scenario", "request", "decision")}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_property_has_a_title_and_a_description(name: str) -> None:
    schema = SCHEMAS[name]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    missing = [where for where, child in _properties(schema, "")
               if not (child.get("title") and child.get("description"))]
    assert not missing, f"{name}: properties without title or description: {missing}"


def _example_files() -> list[Path]:
    return sorted(EXAMPLE.rglob("*.json"))


def test_every_example_file_names_its_schema_first_and_validates_with_plain_jsonschema() -> None:
    registry = Registry().with_resources((n, DRAFT202012.create_resource(s)) for n, s in SCHEMAS.items())
    files = _example_files()
    assert files
    for path in files:
        relative = path.relative_to(EXAMPLE).as_posix()
        kind = kind_of(relative)
        assert kind, relative
        data = json.loads(path.read_text())
        assert next(iter(data)) == "$schema", relative
        referenced = (path.parent / data["$schema"]).resolve()
        assert referenced == (REPO / "schemas" / f"{kind}.schema.json").resolve(), relative
        validator = jsonschema.Draft202012Validator(SCHEMAS[f"{kind}.schema.json"], registry=registry)
        errors = [e.message for e in validator.iter_errors(data)]
        assert not errors, f"{relative}: {errors}"


def test_example_is_clean_and_a_real_company() -> None:
    result = check(EXAMPLE)
    assert not result.diagnostics, [d.render() for d in result.diagnostics]
    c = result.constitution
    assert len(c.policies) >= 10 and len(c.rules) >= 60 and len(c.sops) >= 6 and len(c.scenarios) >= 40
    assert len(c.roles) >= 8 and len(c.people) == 12
    assert any(person.out_of_office for person in c.people.values())
    assert all(len(sop.questions) >= 3 for sop in c.sops.values())

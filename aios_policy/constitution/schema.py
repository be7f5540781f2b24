"""Check each constitution file against its JSON Schema (the one module that uses jsonschema).

All problems are collected; each becomes a diagnostic that names the file, the line and column of
the offending value, its JSON pointer, and a hint written for the person editing the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import jsonschema_rs
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from aios_policy import diagnostics as dx

from .load import Document

SCHEMA_FILES = {
    kind: f"{kind}.schema.json"
    for kind in ("constitution", "org", "thresholds", "policy", "sop", "scenario", "request", "decision")
}

_JSON_TYPES = {"object": "an object", "array": "a list", "string": "a string", "number": "a number",
               "integer": "a whole number", "boolean": "true or false", "null": "null"}


def schemas_dir() -> Path:
    """The installed copy (inside the package) or, in a source checkout, the repository's schemas/."""
    package = Path(__file__).parents[1]
    packaged = package / "schemas"
    return packaged if packaged.is_dir() else package.parent / "schemas"



@cache
def schema(kind: str) -> dict[str, Any]:
    return json.loads((schemas_dir() / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))


@cache
def _registry() -> Registry:
    return Registry().with_resources(
        (name, DRAFT202012.create_resource(schema(kind))) for kind, name in SCHEMA_FILES.items())


@cache
def validator(kind: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema(kind), registry=_registry())


_BASE = "https://aios-policy.invalid/schemas/"  # a name for resolving $ref between our files; never fetched


@cache
def fast_validator(kind: str) -> jsonschema_rs.Validator:
    """The same schema compiled by jsonschema-rs: a yes/no answer a hundred times faster.

    Valid files (nearly all of them) are settled here; only invalid ones go through jsonschema,
    whose errors carry everything the diagnostics need.
    """
    names = {name: kind for kind, name in SCHEMA_FILES.items()}
    return jsonschema_rs.validator_for(schema(kind), base_uri=_BASE + SCHEMA_FILES[kind],
                                       retriever=lambda uri: schema(names[uri.removeprefix(_BASE)]))


def is_valid_schema(candidate: object) -> str | None:
    """None when candidate is a valid JSON Schema (2020-12), else why not."""
    try:
        if jsonschema_rs.meta.is_valid(candidate):  # type: ignore[arg-type]  # stub says dict | bool; any value works
            return None
    except (jsonschema_rs.ReferencingError, ValueError):
        pass  # e.g. an unknown "$schema": let jsonschema say what is wrong
    try:
        jsonschema.Draft202012Validator.check_schema(candidate)
    except jsonschema.SchemaError as error:
        return error.message
    return None


def check_instance(kind: str, instance: object) -> list[tuple[str, str, str | None]]:
    """(JSON pointer, message, hint) for every way instance breaks the schema of kind."""
    found: list[tuple[str, str, str | None]] = []
    for error in validator(kind).iter_errors(instance):
        found.extend((p, m, h) for p, m, h, _ in _explain(error))
    return sorted(found)


def check_documents(documents: Iterable[Document]) -> tuple[list[dx.Diagnostic], set[str]]:
    """Diagnostics for every document, and the files that broke their schema."""
    found: list[dx.Diagnostic] = []
    broken: set[str] = set()
    for document in documents:
        problems = list(_check_schema_key(document))
        if fast_validator(document.kind).is_valid(document.data):
            explained = []
        else:
            explained = [e for error in validator(document.kind).iter_errors(document.data) for e in _explain(error)]
        for pointer, message, hint, key in _without_typo_echoes(explained):
            if message == "missing required property `$schema`":
                continue  # reported by _check_schema_key with the path to write
            problems.append(document.diagnostic("SCHEMA002", message, pointer, hint, key))
        if problems:
            broken.add(document.file)
        found.extend(problems)
    return found, broken


def _without_typo_echoes(explained: list[tuple[str, str, str | None, bool]]) -> list[tuple[str, str, str | None, bool]]:
    """Drop `missing required property x` where an unknown property is already `did you mean x?`."""
    misspelt = {(pointer.rsplit("/", 1)[0], hint) for pointer, message, hint, _ in explained
                if message.startswith("unknown property")}
    return [e for e in explained
            if not (e[1].startswith("missing required property")
                    and (e[0], "did you mean `" + e[1].split("`")[1] + "`?") in misspelt)]


def expected_schema_reference(document: Document) -> str:
    depth = len(PurePosixPath(document.relative).parts)
    return "../" * depth + "schemas/" + SCHEMA_FILES[document.kind]


def _check_schema_key(document: Document) -> Iterable[dx.Diagnostic]:
    if not isinstance(document.data, dict):
        return
    expected = SCHEMA_FILES[document.kind]
    value = document.data.get("$schema")
    fix = f'write "$schema": "{expected_schema_reference(document)}" as the first key'
    if value is None:
        yield document.diagnostic("SCHEMA001", "`$schema` is missing, so editors cannot check this file", "", fix)
    elif not isinstance(value, str) or value.split("#")[0].split("?")[0].rsplit("/", 1)[-1] != expected:
        yield document.diagnostic("SCHEMA001", f"`$schema` should name `{expected}` for a {document.kind} file",
                                  "/$schema", fix)


def _explain(error: ValidationError) -> list[tuple[str, str, str | None, bool]]:
    """(pointer, message, hint, points at a key?) for one schema error, in the editor's words."""
    pointer = dx.pointer(*error.absolute_path)
    instance, kind, expected = error.instance, error.validator, error.validator_value
    if kind in ("oneOf", "anyOf") and error.schema.get("title") == "Condition":
        present = ", ".join(f"`{k}`" for k in instance) if isinstance(instance, dict) else "nothing"
        return [(pointer, f"a condition needs exactly one of `all`, `any`, `not`, `path` with `op`, "
                          f"or `jmespath`; this one has {present}",
                 "split it: combine several conditions with {\"all\": [...]}", False)]
    if kind in ("oneOf", "anyOf") and error.context:
        return _explain(best_match(error.context))
    if kind == "required":
        missing = [name for name in expected if isinstance(instance, dict) and name not in instance]
        described = error.schema.get("properties", {})
        return [(pointer, f"missing required property `{name}`", _describe(name, described.get(name)), False)
                for name in missing]
    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = list(error.schema.get("properties", {}))
        return [(f"{pointer}/{dx.pointer(name)[1:]}", f"unknown property `{name}`",
                 dx.did_you_mean(name, allowed) or f"allowed here: {', '.join(allowed)}", True)
                for name in instance if name not in allowed]
    if kind == "not" and isinstance(expected, dict) and "required" in expected:
        names = " and ".join(f"`{n}`" for n in expected["required"])
        hint = ("only rules with outcome `escalate` take an escalation" if expected["required"] == ["escalation"]
                else "give only one of them")
        return [(pointer, f"{names} cannot be given here", hint, False)]
    return [(pointer, _message(error), _hint(error), False)]


def _describe(name: str, property_schema: object) -> str:
    if isinstance(property_schema, dict) and property_schema.get("description"):
        return f"add `{name}`: {property_schema['description']}"
    return f"add `{name}`"


def _show(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return f"`{text if len(text) <= 60 else text[:57] + '...'}`"


def _message(error: ValidationError) -> str:
    instance, kind, expected = error.instance, error.validator, error.validator_value
    if kind == "type":
        wanted = " or ".join(_JSON_TYPES.get(t, t) for t in ([expected] if isinstance(expected, str) else expected))
        return f"expected {wanted}, got {_show(instance)}"
    if kind == "enum":
        return f"{_show(instance)} is not one of {', '.join(_show(v) for v in expected)}"
    if kind == "const":
        return f"expected {_show(expected)}, got {_show(instance)}"
    if kind == "pattern":
        return f"{_show(instance)} is not in the expected form"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        word = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "above",
                "exclusiveMaximum": "below"}[kind]
        return f"{_show(instance)} must be {word} {expected}"
    if kind in ("minItems", "maxItems"):
        return f"the list must have {'at least' if kind == 'minItems' else 'at most'} {expected} item(s)"
    if kind in ("minLength", "maxLength"):
        return f"the text must be {'at least' if kind == 'minLength' else 'at most'} {expected} character(s) long"
    if kind in ("minProperties", "maxProperties"):
        return f"the object must have {'at least' if kind == 'minProperties' else 'at most'} {expected} key(s)"
    if kind == "uniqueItems":
        return "the list has the same item twice"
    if kind == "propertyNames":
        return f"the name {_show(instance)} is not allowed here"
    return error.message[0].lower() + error.message[1:]


def _hint(error: ValidationError) -> str | None:
    if error.validator == "enum":
        return dx.did_you_mean(error.instance, [str(v) for v in error.validator_value])
    description = error.schema.get("description")
    if error.validator in ("pattern", "type", "propertyNames") and description:
        return f"expected: {description}"
    if error.validator == "uniqueItems":
        return "remove the repeated item"
    return None

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
from referencing.exceptions import NoSuchResource
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


# Nothing here ever reaches the network. Our own schemas refer to each other by these names and are
# served from the package; any other URI is refused by both validators, and a `require` schema that
# names one is refused before either sees it (`is_valid_schema`).
_BASE = "https://aios-policy.invalid/schemas/"  # a name for resolving $ref between our files; never fetched
_DRAFT = "https://json-schema.org/draft/2020-12/schema"
_OWN = {_BASE + name: kind for kind, name in SCHEMA_FILES.items()}


class ForeignReference(LookupError):
    """A schema named a URI that is not one of the project's own schemas; it is never fetched."""


def _own_schema(uri: str) -> dict[str, Any]:
    """The retriever of jsonschema-rs: our schemas by their names, and nothing else."""
    kind = _OWN.get(uri.split("#")[0])
    if kind is None:
        raise ForeignReference(f"`{uri}` is not one of aios-policy's schemas; nothing is fetched")
    return schema(kind)


def _refuse(uri: str) -> Any:
    """The retriever of jsonschema's registry: every schema it may use is in it already."""
    raise NoSuchResource(uri)


@cache
def _registry() -> Registry:
    return Registry(retrieve=_refuse).with_resources(  # type: ignore[call-arg]  # attrs field
        (name, DRAFT202012.create_resource(schema(kind))) for kind, name in SCHEMA_FILES.items())


@cache
def _ecma_pattern(pattern: str) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for({"pattern": pattern})


def _strict_pattern(validator: Any, pattern: str, instance: object,
                    schema: dict[str, Any]) -> Iterable[ValidationError]:
    """`pattern` as ECMA-262 reads it, through jsonschema-rs: `$` only at the very end (Python's `$`
    also matches before a final newline), `\\d` and `\\w` ASCII only. One verdict for both validators."""
    if isinstance(instance, str) and not _ecma_pattern(pattern).is_valid(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_StrictValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _strict_pattern})


@cache
def validator(kind: str) -> jsonschema.Draft202012Validator:
    """The explaining validator: its errors carry what the diagnostics need. It never decides alone."""
    return _StrictValidator(schema(kind), registry=_registry())


@cache
def fast_validator(kind: str) -> jsonschema_rs.Validator:
    """The same schema compiled by jsonschema-rs: the verdict on every file and request, and a
    hundred times faster. Only what it refuses goes through jsonschema, for the explanation.
    """
    return jsonschema_rs.validator_for(schema(kind), base_uri=_BASE + SCHEMA_FILES[kind], retriever=_own_schema)


def _foreign_reference(candidate: object) -> tuple[str, str] | None:
    """(message, fix) for the first `$ref`, `$dynamicRef`, `$schema` or `$id` that would name a
    resource outside the schema itself: such a schema could make loading the constitution fetch a URL."""
    stack = [candidate]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if not isinstance(value, str):
                stack.append(value)
            elif key in ("$ref", "$dynamicRef", "$recursiveRef") and not value.startswith("#") \
                    and value.split("#")[0] not in _OWN:
                return (f"`{key}` names `{value}`, outside this schema; nothing is ever fetched",
                        "define it under `$defs` and write \"$ref\": \"#/$defs/NAME\"")
            elif key == "$schema" and value.rstrip("#") != _DRAFT:
                return (f"`$schema` names `{value}`; only draft 2020-12 is read, and nothing is fetched",
                        f"remove `$schema`, or write \"{_DRAFT}\"")
            elif key == "$id":
                return (f"`$id` names `{value}`; a `require` schema cannot name itself, and nothing is fetched",
                        "remove `$id`")
    return None


def is_valid_schema(candidate: object) -> tuple[str, str] | None:
    """None when candidate is a valid JSON Schema (2020-12) that refers only to itself and our own
    schemas, else (why not, how to fix it). Never reaches the network."""
    foreign = _foreign_reference(candidate)
    if foreign:
        return foreign
    fix = 'write e.g. {"type": "object", "required": ["order_id"]}'
    try:
        if not isinstance(candidate, dict | bool) or not jsonschema_rs.meta.is_valid(candidate):
            try:
                jsonschema.Draft202012Validator.check_schema(candidate)
            except jsonschema.SchemaError as error:
                return error.message, fix
            return "it does not follow the JSON Schema 2020-12 meta-schema", fix
        jsonschema_rs.validator_for(candidate, retriever=_own_schema)  # its local references resolve
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError) as error:
        return str(error).split("\n")[0], fix
    return None


def _strict_errors(kind: str, instance: object) -> list[tuple[str, str, str | None, bool]]:
    """Why jsonschema-rs refuses instance, in the editor's words where jsonschema can say it, and in
    jsonschema-rs's own where it cannot: a refused instance always has at least one explanation."""
    explained = [e for error in validator(kind).iter_errors(instance) for e in _explain(error)]
    if explained:
        return explained
    return [(dx.pointer(*error.instance_path), error.message, None, False)
            for error in fast_validator(kind).iter_errors(instance)]


def check_instance(kind: str, instance: object) -> list[tuple[str, str, str | None]]:
    """(JSON pointer, message, hint) for every way instance breaks the schema of kind; empty exactly
    when jsonschema-rs finds it valid."""
    if fast_validator(kind).is_valid(instance):
        return []
    return sorted({(p, m, h) for p, m, h, _ in _strict_errors(kind, instance)})


def check_documents(documents: Iterable[Document]) -> tuple[list[dx.Diagnostic], set[str]]:
    """Diagnostics for every document, and the files that broke their schema."""
    found: list[dx.Diagnostic] = []
    broken: set[str] = set()
    for document in documents:
        problems = list(_check_schema_key(document))
        if fast_validator(document.kind).is_valid(document.data):
            explained = []
        else:
            explained = _strict_errors(document.kind, document.data)
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

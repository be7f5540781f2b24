"""One canonical layout for constitution files, so pull-request diffs show only real changes.

Keys follow the order their schema lists them in (`$schema` first, then id, title, ...); keys the
schema does not name (attributes, a `require` schema) keep the author's order after them. Two-space
indentation; a list or object at most two levels deep stays on one line when it fits in 100
columns; one newline at the end. Values are never changed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aios_policy.files import atomic_write

from . import schema as schemas
from .load import Document, load_documents
from .source import read_directory

WIDTH = 100


@dataclass(frozen=True)
class Formatted:
    file: str
    changed: bool


def _resolve(node: Any, root: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Follow $ref (local or into a sibling schema file); returns (node, the root it lives in)."""
    while isinstance(node, dict) and "$ref" in node:
        target, _, fragment = node["$ref"].partition("#")
        if target:
            kind = target.removesuffix(".schema.json")
            root = schemas.schema(kind)
        node = root
        for part in filter(None, fragment.split("/")):
            node = node[part]
    return (node if isinstance(node, dict) else {}), root


def _properties(node: Any, root: dict[str, Any]) -> tuple[dict[str, tuple[Any, dict[str, Any]]], Any]:
    """Known properties in order, each with the root its schema lives in, and the (schema, root) for
    other keys, merging allOf/anyOf/oneOf (whose branches may live in another schema file)."""
    node, root = _resolve(node, root)
    properties = {key: (value, root) for key, value in node.get("properties", {}).items()}
    extra = node.get("additionalProperties")
    extra_root = root
    for combined in ("allOf", "anyOf", "oneOf"):
        for branch in node.get(combined, []):
            more, (more_extra, more_root) = _properties(branch, root)
            for key, value in more.items():
                properties.setdefault(key, value)
            if extra is None:
                extra, extra_root = more_extra, more_root
    return properties, (extra if isinstance(extra, dict) else {}, extra_root)


def _items(node: Any, root: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    node, root = _resolve(node, root)
    if "items" in node:
        return node["items"], root
    for combined in ("allOf", "anyOf", "oneOf"):
        for branch in node.get(combined, []):
            branch, branch_root = _resolve(branch, root)
            if "items" in branch:
                return branch["items"], branch_root
    return {}, root


def _ordered(value: Any, node: Any, root: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        properties, extra = _properties(node, root)
        known = [k for k in properties if k in value]
        rest = [k for k in value if k not in properties]
        return {k: _ordered(value[k], *properties.get(k, extra)) for k in known + rest}
    if isinstance(value, list):
        items, item_root = _items(node, root)
        return [_ordered(v, items, item_root) for v in value]
    return value


def _render(value: Any, indent: int, prefix_width: int) -> str:
    if isinstance(value, dict | list) and value:
        flat = json.dumps(value, ensure_ascii=False)
        if _depth(value) <= 2 and indent + prefix_width + len(flat) <= WIDTH:
            return flat
        pad = " " * (indent + 2)
        if isinstance(value, dict):
            lines = []
            for key, child in value.items():
                head = json.dumps(key, ensure_ascii=False) + ": "
                lines.append(pad + head + _render(child, indent + 2, len(head) + 1))
            return "{\n" + ",\n".join(lines) + "\n" + " " * indent + "}"
        return "[\n" + ",\n".join(pad + _render(c, indent + 2, 1) for c in value) + "\n" + " " * indent + "]"
    return json.dumps(value, ensure_ascii=False)


def _depth(value: Any) -> int:
    if isinstance(value, dict | list) and value:
        return 1 + max(_depth(c) for c in (value.values() if isinstance(value, dict) else value))
    return 0


def canonical(document: Document) -> str:
    """The document's text in canonical layout."""
    root = schemas.schema(document.kind)
    return _render(_ordered(document.data, root, root), 0, 0) + "\n"


def format_constitution(path: str | os.PathLike[str], check_only: bool) -> tuple[list[Formatted], list]:
    """Rewrite (or with check_only, just compare) every parseable file; returns results and load problems."""
    snapshot = read_directory(path)
    documents, problems = load_documents(snapshot)
    unsafe = {problem.file for problem in problems}  # e.g. a duplicate key: rewriting would drop a value
    results = []
    for document in documents:
        if document.file in unsafe:
            continue
        text = canonical(document)
        changed = text != document.text
        if changed and not check_only:
            atomic_write(Path(path) / document.relative, text)
        results.append(Formatted(document.file, changed))
    return results, problems

"""Turn a snapshot's bytes into parsed documents, each knowing its kind and where its values sit."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from aios_policy import diagnostics as dx

from .jsonpos import Positions, parse
from .source import Snapshot

SINGLE_FILES = {"constitution.json": "constitution", "org.json": "org", "thresholds.json": "thresholds"}
FOLDERS = {"policies": "policy", "sops": "sop", "scenarios": "scenario"}
REQUIRED = ("constitution.json", "org.json")


def kind_of(relative: str) -> str | None:
    """The kind of constitution file at a path relative to the constitution folder, or None."""
    if relative in SINGLE_FILES:
        return SINGLE_FILES[relative]
    parts = PurePosixPath(relative).parts
    return FOLDERS.get(parts[0]) if len(parts) > 1 else None


@dataclass
class Document:
    """One parsed constitution file."""

    relative: str
    file: str
    kind: str
    text: str
    data: Any
    _positions: Positions | None = field(default=None, repr=False)

    def at(self, pointer: str, key: bool = False) -> tuple[int, int]:
        """Line and column of the value (or key) at a JSON pointer; computed on first use."""
        if self._positions is None:
            self._positions = Positions(self.text)
        return self._positions.of(pointer, key)

    def diagnostic(self, code: str, message: str, pointer: str = "", hint: str | None = None,
                   key: bool = False) -> dx.Diagnostic:
        return dx.make(code, message, self.file, pointer, self.at(pointer, key), hint)


def load_documents(snapshot: Snapshot) -> tuple[list[Document], list[dx.Diagnostic]]:
    """Every constitution file parsed; files that cannot be read or parsed become diagnostics."""
    documents: list[Document] = []
    found: list[dx.Diagnostic] = []
    for unreadable in snapshot.unreadable:
        found.append(dx.make("FILE001", f"cannot read the file: {unreadable.reason}",
                             snapshot.display(unreadable.path), hint="keep constitution files small, in UTF-8, "
                             "and inside the constitution folder"))
    for relative in sorted(snapshot.files):
        file = snapshot.display(relative)
        kind = kind_of(relative)
        if kind is None:
            found.append(dx.make("FILE003", "this JSON file is not a constitution file and is ignored", file,
                                 hint="policies go in policies/, procedures in sops/, scenarios in scenarios/"))
            continue
        try:
            text = snapshot.files[relative].decode("utf-8-sig")
        except UnicodeDecodeError as error:
            found.append(dx.make("FILE001", f"cannot read the file: byte {error.start} is not UTF-8", file,
                                 hint="save the file as UTF-8"))
            continue
        value, problem, duplicates = parse(text)
        if problem is not None:
            found.append(dx.make("JSON001", f"malformed JSON: {problem.message}", file,
                                 position=(problem.line, problem.column), hint=problem.hint))
            continue
        for duplicate in duplicates:
            found.append(dx.make("JSON002", f"key `{duplicate.key}` appears twice in the same object", file,
                                 duplicate.pointer, (duplicate.line, duplicate.column),
                                 "remove or rename one of them: JSON keeps only the last"))
        documents.append(Document(relative, file, kind, text, value))
    for relative in REQUIRED:
        if relative not in snapshot.files:
            found.append(dx.make("FILE002", f"`{relative}` is missing", snapshot.display(relative),
                                 hint="every constitution needs constitution.json and org.json; "
                                 "copy them from the bundled example"))
    return documents, found

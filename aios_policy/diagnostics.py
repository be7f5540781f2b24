"""Diagnostics: every problem found in a constitution, with a stable code, a place and a fix.

Validation collects diagnostics and never raises for a user's mistake; only the CLI decides what
to print and which exit code to use.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


# code -> (severity, what it means). The README's table of codes is checked against this by a test.
CODES: dict[str, tuple[Severity, str]] = {
    "FILE001": (Severity.ERROR, "a file cannot be read: too large, not UTF-8, or a link out of the constitution"),
    "FILE002": (Severity.ERROR, "a required file is missing"),
    "FILE003": (Severity.WARNING, "a JSON file where no kind of constitution file belongs; it is ignored"),
    "JSON001": (Severity.ERROR, "malformed JSON"),
    "JSON002": (Severity.ERROR, "the same key twice in one object (JSON keeps only the last)"),
    "SCHEMA001": (Severity.ERROR, "`$schema` is missing or names the wrong schema"),
    "SCHEMA002": (Severity.ERROR, "the file does not follow its schema"),
    "REF001": (Severity.ERROR, "unknown role"),
    "REF002": (Severity.ERROR, "unknown person"),
    "REF003": (Severity.ERROR, "unknown threshold"),
    "REF004": (Severity.ERROR, "unknown action: no policy governs it"),
    "REF005": (Severity.ERROR, "unknown policy"),
    "REF006": (Severity.ERROR, "unknown rule"),
    "REF007": (Severity.ERROR, "unknown SOP step"),
    "ID001": (Severity.ERROR, "duplicate id"),
    "ORG001": (Severity.ERROR, "a cycle in reports_to"),
    "ORG002": (Severity.ERROR, "an out-of-office delegate who does not exist or is the person themself"),
    "ORG003": (Severity.WARNING, "a role does not outrank a role that reports to it"),
    "ORG004": (Severity.WARNING, "a role nobody holds: its escalations go up the chain"),
    "ORG005": (Severity.ERROR, "a top role nobody holds: escalations would dead-end"),
    "DATE001": (Severity.ERROR, "an impossible date or a period that ends before it starts"),
    "MAN001": (Severity.ERROR, "an unknown time zone or business hours that end before they start"),
    "COND001": (Severity.ERROR, "a JMESPath path or expression that does not compile"),
    "COND002": (Severity.ERROR, "an operator and value that do not fit together"),
    "COND003": (Severity.ERROR, "a regular expression that does not compile or is too costly"),
    "COND004": (Severity.ERROR, "a threshold of the wrong kind for where it is used"),
    "ESC001": (Severity.ERROR, "an escalation's `require` is not a valid JSON Schema"),
    "ESC002": (Severity.ERROR, "an on_timeout role without then=escalate"),
    "SOP001": (Severity.ERROR, "a gate without `on`, or `on` without a gate"),
    "SOP002": (Severity.WARNING, "a step no path of the procedure reaches"),
    "LINT001": (Severity.WARNING, "a rule that can never decide: stricter rules match wherever it does"),
    "LINT002": (Severity.WARNING, "a threshold no rule, SLA or confidence bar uses"),
    "LINT003": (Severity.WARNING, "a rule whose condition can never match"),
}


@dataclass(frozen=True)
class Diagnostic:
    """One problem: where it is, what it is, how to fix it."""

    code: str
    message: str
    file: str
    pointer: str = ""
    line: int = 1
    column: int = 1
    hint: str | None = None
    severity: Severity = field(default=Severity.ERROR)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.file, self.line, self.column, self.code, self.message)

    def render(self) -> str:
        """One line: `file:line:column: CODE message at /pointer; hint`, with every character that could
        break the line or fool a terminal (in a file name, a message quoting a value, a pointer, a
        hint) written as an escape. to_json keeps the raw text."""
        where = f" at {self.pointer}" if self.pointer else ""
        tag = "" if self.severity is Severity.ERROR else " (warning)"
        hint = f"; {self.hint}" if self.hint else ""
        return one_line(f"{self.file}:{self.line}:{self.column}: {self.code}{tag} {self.message}{where}{hint}")

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "pointer": self.pointer,
            "message": self.message,
            "hint": self.hint,
        }


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def one_line(text: str) -> str:
    """text on one line and safe for a terminal: every character that does not print (newlines, C0 and C1
    controls, line separators, bidirectional marks and overrides, zero-width characters, lone surrogates)
    written as an escape. The one definition; `words.decision.one_line` adds a length limit."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else _escape(c) for c in text)


def make(code: str, message: str, file: str, pointer: str = "", position: tuple[int, int] = (1, 1),
         hint: str | None = None) -> Diagnostic:
    severity = CODES[code][0]
    return Diagnostic(code, message, file, pointer, position[0], position[1], hint, severity)


def sort(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(set(diagnostics), key=Diagnostic.sort_key)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)


def did_you_mean(word: object, candidates: Iterable[str]) -> str | None:
    """A `did you mean` hint for a misspelt name, or None when nothing is close."""
    if not isinstance(word, str):
        return None
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def pointer(*parts: object) -> str:
    """A JSON pointer (RFC 6901) from path parts."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)

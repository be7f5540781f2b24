"""Exceptions a user can cause, each with its own exit code and an optional hint.

The library raises them; only the CLI turns them into a message and an exit code.
"""

from __future__ import annotations


class AiosError(Exception):
    """A problem the user can fix. `exit_code` follows the CLI's table: 1 findings, 2 usage."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class SourceError(AiosError):
    """The constitution cannot be read: a missing folder, an unknown ref, a broken repository."""


class InvalidConstitution(AiosError):
    """The constitution has errors; `diagnostics` lists them all."""

    exit_code = 1

    def __init__(self, diagnostics: list) -> None:
        errors = [d for d in diagnostics if d.severity.value == "error"]
        first = errors[0].render() if errors else "unknown problem"
        super().__init__(f"the constitution has {len(errors)} error(s), the first: {first}",
                         "run `aios validate` to see them all")
        self.diagnostics = diagnostics

"""aios-policy: a company's constitution as code."""

from .check import CheckResult, check
from .diagnostics import Diagnostic, Severity
from .errors import AiosError, InvalidConstitution, SourceError

__all__ = ["AiosError", "CheckResult", "Diagnostic", "InvalidConstitution", "Severity", "SourceError", "check"]
__version__ = "0.1.0"

"""aios-policy: a company's constitution as code."""

from .api import Constitution
from .check import CheckResult, check
from .diagnostics import Diagnostic, Severity
from .errors import AiosError, InvalidConstitution, SourceError
from .messages import Decision, Request

__all__ = ["AiosError", "CheckResult", "Constitution", "Decision", "Diagnostic", "InvalidConstitution", "Request",
           "Severity", "SourceError", "check"]
__version__ = "0.1.0"

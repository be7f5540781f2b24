"""aios-policy: a company's constitution as code."""

from aios_policy.constitution.pipeline import CheckResult, check
from aios_policy.diagnostics import Diagnostic, Severity
from aios_policy.engine.facade import Constitution
from aios_policy.engine.shapes import Decision, Request
from aios_policy.errors import AiosError, InvalidConstitution, SourceError

__all__ = ["AiosError", "CheckResult", "Constitution", "Decision", "Diagnostic", "InvalidConstitution", "Request",
           "Severity", "SourceError", "check"]
__version__ = "0.1.0"

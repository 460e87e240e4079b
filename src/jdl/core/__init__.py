"""Shared foundations: configuration, errors and the engine layer every stage runs SQL through."""

from jdl.core.config import Settings, get_settings
from jdl.core.errors import ContractError, JDLError, SubmissionRefused, UsageError

__all__ = ["ContractError", "JDLError", "Settings", "SubmissionRefused", "UsageError", "get_settings"]

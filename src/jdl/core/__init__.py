"""Shared foundations: configuration, errors and identifier formats."""

from jdl.core.config import Settings, get_settings
from jdl.core.errors import ContractError, JDLError, SubmissionRefused, UsageError

__all__ = [
    "ContractError",
    "JDLError",
    "Settings",
    "SubmissionRefused",
    "UsageError",
    "get_settings",
]

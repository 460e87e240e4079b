"""Errors raised by the matching stage: user-caused, so they print as messages."""

from __future__ import annotations

from jdl.core.errors import JDLError


class MatchingError(JDLError):
    """A matching specification cannot be run on the data given (bad column, no overlap...)."""

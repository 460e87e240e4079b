"""The report stage's user-facing error."""

from __future__ import annotations

from jdl.core.errors import JDLError


class ReportError(JDLError):
    """Released results cannot be turned into a report (not released, malformed, bad option)."""

"""Messages shared by the readers."""

from __future__ import annotations

from jdl.core.config import IntakeSettings
from jdl.core.errors import SubmissionRefused

SUPPORTED = "a CSV file, an Excel workbook (.xlsx) or a Parquet file"
TEMPLATE_HINT = "Download the template with `jdl template` and fill in one row per person."


def too_many_rows(settings: IntakeSettings) -> SubmissionRefused:
    """The refusal for a file with more rows than ``settings.max_rows``."""
    return SubmissionRefused(
        f"The file has more than {settings.max_rows:,} rows, the most the lab accepts in one "
        "submission.", hint="Check for stray content far below your data, or split the "
        "submission and tell the lab the parts belong together.")

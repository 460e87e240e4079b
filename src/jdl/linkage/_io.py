"""Reading a submission for linkage when the intake stage is not available (tests, tools).

The lab's real path is ``jdl.intake.validate_submission(path).accepted_rows()``; this minimal
reader only parses the columns linkage uses and puts IDs into canonical form. It validates
nothing: it is not a substitute for intake.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from jdl.core.errors import UsageError
from jdl.core.identifiers import normalise_pnc_id

DATE_COLUMNS = ("date_of_birth", "conviction_date", "intervention_start", "intervention_end",
                "index_date")


def read_rows_csv(path: str | Path) -> pd.DataFrame:
    """The rows of a submission CSV with dates parsed and IDs canonical (no validation)."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"No file at {path}.")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    if "row_number" not in frame:
        frame.insert(0, "row_number", range(1, len(frame) + 1))
    frame["row_number"] = frame["row_number"].astype("int64")
    for column in DATE_COLUMNS:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], errors="coerce").dt.date
    if "pnc_id" in frame:
        frame["pnc_id"] = frame["pnc_id"].map(
            lambda v: normalise_pnc_id(v) if isinstance(v, str) else None
        )
    if "prison_number" in frame:
        frame["prison_number"] = frame["prison_number"].str.replace(r"\s+", "", regex=True)
        frame["prison_number"] = frame["prison_number"].str.upper()
    return frame


def accepted_rows(path: str | Path) -> pd.DataFrame:
    """The accepted rows of a submission: through intake when it exists, else the raw rows."""
    try:
        from jdl.intake import validate_submission  # type: ignore[attr-defined]
    except ImportError:
        return read_rows_csv(path)
    return validate_submission(path).accepted_rows()

"""The contract of :meth:`Submission.accepted_rows`, the table linkage reads, as a pandera
schema (declarative, checked in tests and available to later stages)."""

from __future__ import annotations

from typing import Any

from jdl.core.identifiers import PRISON_NUMBER_PATTERN
from jdl.intake._spec import EVENT_DATE_COLUMNS

PNC_CANONICAL = r"^\d{4}/\d{7}[A-Z]$"


def accepted_rows_schema() -> Any:
    """A ``pandera`` ``DataFrameSchema`` for accepted rows (pandera is imported on demand)."""
    import pandera.pandas as pa

    def text(**kwargs: Any) -> Any:
        return pa.Column("str", **kwargs)

    def date(nullable: bool = True) -> Any:
        return pa.Column("datetime64[s]", nullable=nullable)

    return pa.DataFrameSchema(
        {
            "row_number": pa.Column("int64", pa.Check.ge(1), unique=True),
            "forename": text(checks=pa.Check.str_length(1, 100)),
            "surname": text(checks=pa.Check.str_length(1, 100)),
            "date_of_birth": date(nullable=False),
            "sex": text(checks=pa.Check.isin(["M", "F"])),
            "pnc_id": text(checks=pa.Check.str_matches(PNC_CANONICAL), nullable=True),
            "prison_number": text(checks=pa.Check.str_matches(PRISON_NUMBER_PATTERN.pattern),
                                  nullable=True),
            "conviction_date": date(),
            "intervention_start": date(),
            "intervention_end": date(),
            "index_date": date(),
        },
        checks=pa.Check(lambda frame: frame[list(EVENT_DATE_COLUMNS)].notna().any(axis=1),
                        error="every row has an index, conviction or intervention start date"),
        strict=True,
        ordered=True,
        name="accepted_rows",
    )

"""The outcome of validation: every row of the file, with its status, and every problem found.

Nothing is lost: ``rows`` has one entry per row between the headings and the last non-blank row,
each ``accepted`` or ``rejected`` (with reasons), so the counts always add up to the rows in the
file. A submission refused as a whole carries its :class:`Refusal` as data (for the service) and
:meth:`Submission.raise_if_refused` turns it into the project's error (for scripts).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from jdl.core.errors import SubmissionRefused
from jdl.intake._programme import Programme
from jdl.intake._readers import SourceInfo
from jdl.intake._registration import OrgVariable
from jdl.intake._safe import csv_safe_frame
from jdl.intake._spec import CANONICAL_COLUMNS

RefusalCode = Literal["file", "columns", "too_small"]
ISSUE_COLUMNS = ("row_number", "column", "field", "value", "code", "severity", "message", "fix")
ROW_COLUMNS = ("row_number", "status", "reasons", *CANONICAL_COLUMNS)


@dataclass(frozen=True)
class Refusal:
    """Why a whole submission cannot be used: ``file`` (unreadable, wrong type, too big),
    ``columns`` (required columns missing or ambiguous) or ``too_small`` (under the minimum
    cohort)."""

    code: RefusalCode
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class Counts:
    """Row counts; ``rows == accepted + rejected`` always (``blank`` rows are among the
    rejected; ``with_warnings`` counts accepted rows that have a warning)."""

    rows: int
    accepted: int
    rejected: int
    blank: int
    with_warnings: int

    def as_dict(self) -> dict[str, int]:
        return {"rows": self.rows, "accepted": self.accepted, "rejected": self.rejected,
                "blank": self.blank, "with_warnings": self.with_warnings}


class IntakeRefused(SubmissionRefused):
    """A submission refused as a whole; the validated :class:`Submission` rides along."""

    def __init__(self, submission: Submission) -> None:
        refusal = submission.refusal
        assert refusal is not None
        super().__init__(refusal.message, hint=refusal.hint)
        self.submission = submission
        self.code = refusal.code


@dataclass(frozen=True)
class Submission:
    """A validated submission.

    ``rows``: ``row_number`` (as the user sees it), ``status`` (``accepted``/``rejected``),
    ``reasons`` (short text, empty when accepted) and the canonical columns as parsed: names as
    typed (trimmed), dates as ``datetime64[s]``, ``sex`` ``M``/``F``, ``pnc_id`` canonical
    ``YYYY/NNNNNNNC``, ``prison_number`` upper case; values that failed their check are missing.
    ``issues``: one row per problem (``row_number`` missing for file-level notes).
    """

    source: SourceInfo | None
    rows: pd.DataFrame
    issues: pd.DataFrame
    column_map: dict[str, str]  # canonical column -> heading in the user's file
    refusal: Refusal | None = None
    programme: Programme | None = None
    #: the organisation's declared extra columns (its plan's); ``rows`` has one column each
    variables: tuple[OrgVariable, ...] = ()

    @property
    def counts(self) -> Counts:
        status = self.rows["status"]
        rejected = int((status == "rejected").sum())
        blank = int((self.issues["code"] == "blank_row").sum())
        warned = self.issues.loc[self.issues["severity"] == "warning", "row_number"].dropna()
        accepted_rows = self.rows.loc[status == "accepted", "row_number"]
        return Counts(len(self.rows), len(self.rows) - rejected, rejected, blank,
                      int(accepted_rows.isin(warned).sum()))

    @property
    def acceptable(self) -> bool:
        """True when the lab can go on to link this submission."""
        return self.refusal is None

    @property
    def errors(self) -> pd.DataFrame:
        """Problems that rejected a row."""
        return self.issues[self.issues["severity"] == "error"].reset_index(drop=True)

    @property
    def warnings(self) -> pd.DataFrame:
        """Problems worth checking that did not reject anything."""
        return self.issues[self.issues["severity"] == "warning"].reset_index(drop=True)

    def accepted_rows(self) -> pd.DataFrame:
        """``row_number`` and the canonical columns of the accepted rows (what linkage reads)."""
        accepted = self.rows[self.rows["status"] == "accepted"]
        return accepted[["row_number", *CANONICAL_COLUMNS]].reset_index(drop=True)

    def variable_values(self) -> pd.DataFrame:
        """``row_number`` and the declared variables' values of the accepted rows (what the
        registered sub-analyses read; missing where the cell was blank)."""
        accepted = self.rows[self.rows["status"] == "accepted"]
        names = [v.name for v in self.variables if v.name in self.rows.columns]
        return accepted[["row_number", *names]].reset_index(drop=True)

    def rejected_rows(self) -> pd.DataFrame:
        """``row_number`` and ``reasons`` of every rejected row."""
        rejected = self.rows[self.rows["status"] == "rejected"]
        return rejected[["row_number", "reasons"]].reset_index(drop=True)

    def raise_if_refused(self) -> Submission:
        """Return ``self``, or raise :class:`IntakeRefused` if the submission was refused."""
        if self.refusal is not None:
            raise IntakeRefused(self)
        return self

    def write_error_report(self, path: str | Path) -> Path:
        """All problems as a CSV for the organisation, safe to open in Excel (values that look
        like formulas are prefixed with an apostrophe)."""
        path = Path(path)
        report = self.issues.astype({"row_number": "Int64"})
        csv_safe_frame(report.astype(object)).to_csv(path, index=False, encoding="utf-8-sig")
        return path

    def to_dict(self, *, max_issues: int | None = None) -> dict[str, Any]:
        """A JSON-ready summary: source, counts, refusal, issues (first ``max_issues``)."""
        from jdl.intake._feedback import summarise_problems

        issues = self.issues if max_issues is None else self.issues.head(max_issues)
        rejected = set(self.rows.loc[self.rows["status"] == "rejected", "row_number"]
                       .astype(int))
        records = [
            {k: (None if pd.isna(v) else int(v) if k == "row_number" else v)
             for k, v in row.items()}
            for row in issues.to_dict(orient="records")
        ]
        for record in records:  # a warning on a rejected row is not "the row is kept"
            record["row_rejected"] = record["row_number"] in rejected
        source = self.source
        return {
            "file": source.file_name if source else None,
            "format": source.format if source else None,
            "read_as": source.describe() if source else None,
            "acceptable": self.acceptable,
            "refusal": None if self.refusal is None else {
                "code": self.refusal.code, "message": self.refusal.message,
                "hint": self.refusal.hint},
            "counts": self.counts.as_dict(),
            "columns": self.column_map,
            "issues_total": len(self.issues),
            # grouped by column and kind, value-free (kept with the submission)
            "summary": [g.as_dict() for g in summarise_problems(self)],
            "issues": records,
        }


def empty_issues() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in ISSUE_COLUMNS})


def empty_rows() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in ROW_COLUMNS})

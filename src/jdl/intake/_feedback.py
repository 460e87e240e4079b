"""Feedback an organisation can act on: problems grouped by column and kind, and every problem
row as a CSV.

One repeated mistake in a 3,400-row file is one thing to fix, not 3,400 lines to read: the
summary has one entry per (column, kind of problem) with how many rows have it, how many of
them are rejected, the first few row numbers and the fix. Its wording comes from
:data:`KINDS`, which never quotes a cell, so the summary holds no personal data and can be kept
with the submission; the per-row messages (which quote the cell) go only to the organisation,
in the CSV from :func:`problem_rows_csv`.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import pandas as pd

from jdl.intake._rules import RULES
from jdl.intake._safe import csv_safe_frame


class Submission(Protocol):
    """What the feedback reads of a validated :class:`jdl.intake.Submission` (a protocol, so
    this module does not import the one that calls it)."""

    @property
    def rows(self) -> pd.DataFrame: ...

    @property
    def issues(self) -> pd.DataFrame: ...

#: How many row numbers each group quotes as examples.
MAX_EXAMPLES = 5

#: Each kind of problem in words that never quote a cell (``{column}``: the file's heading).
KINDS: dict[str, str] = {
    "blank_row": "The row is empty",
    "row_overflow": "The row has more values than there are column headings",
    "missing_required": "{column} is blank",
    "formula": "{column} holds a formula or starts with =, +, - or @",
    "name_no_letters": "{column} does not look like a name",
    "name_placeholder": "{column} is a placeholder, not a name",
    "name_too_long": "{column} is longer than 100 characters",
    "name_has_digits": "{column} contains digits",
    "cell_too_long": "{column} holds far more text than any value the lab reads",
    "sex_invalid": "{column} is not M or F",
    "date_unreadable": "{column} is not a date the lab can read",
    "date_impossible": "{column} is not a real date",
    "date_two_digit_year": "{column} has a two-digit year",
    "date_us_order": "{column} only makes sense as month/day (US order)",
    "date_out_of_range": "{column} is not a plausible date",
    "date_swappable": "{column} could be day/month or month/day",
    "dob_future": "{column} is in the future",
    "date_future": "{column} is in the future",
    "end_future": "{column} is in the future",
    "too_young": "The person would have been under the age of criminal responsibility",
    "too_old": "The person would have been implausibly old",
    "end_before_start": "{column} is before the start date",
    "no_event_date": "There is no index date, conviction date or intervention start date",
    "pnc_malformed": "{column} is not a PNC ID of the form YYYY/NNNNNNNC",
    "pnc_check_letter": "{column} has a check letter that does not match the number",
    "prison_malformed": "{column} is not a prison number of the form A1234BC",
    "duplicate_person": "The same person is in an earlier row",
    "same_name_other_pnc": "Another row has the same name and date of birth but a different "
                           "PNC ID",
    "outside_delivery": "{column} is outside the programme's period of delivery",
    "extra_column": "A column is not part of the template",
    "variable_not_count": "{column} is not a whole number",
    "variable_not_yes_no": "{column} is not yes or no",
    "variable_unknown_category": "{column} is not one of the categories the plan declares",
    "variable_blank": "{column} is blank",
    "file_note": "A note about how the file was read",
    "selective_sample": "Who was included in the file",
}


@dataclass(frozen=True)
class ProblemGroup:
    """One kind of problem in one column: ``rows`` rows have it, ``rejected_rows`` of them are
    rejected (for a warning: rejected because of another problem), ``examples`` are the first
    row numbers (none for a problem with the whole file)."""

    column: str
    code: str
    severity: str
    problem: str
    fix: str
    rows: int
    rejected_rows: int
    examples: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["examples"] = list(self.examples)
        return out


def kind_text(code: str, column: str) -> str:
    """The value-free words for a kind of problem in ``column``."""
    template = KINDS.get(code) or RULES[code].message.split("(")[0].strip().rstrip(".:")
    shown = column if column and not column.startswith("(") else "The value"
    return template.format(column=shown)


def summarise_problems(submission: Submission,
                       max_examples: int = MAX_EXAMPLES) -> list[ProblemGroup]:
    """The problems grouped by (column, kind): errors first, then the most rows first."""
    issues = submission.issues
    if len(issues) == 0:
        return []
    rejected = set(submission.rows.loc[submission.rows["status"] == "rejected", "row_number"]
                   .astype(int))
    groups: list[ProblemGroup] = []
    for (column, code), part in issues.groupby(["column", "code"], sort=False, dropna=False):
        numbers = part["row_number"].dropna().astype(int)
        unique = list(dict.fromkeys(numbers.tolist()))
        rule = RULES[str(code)]
        groups.append(ProblemGroup(
            column=str(column), code=str(code), severity=rule.severity,
            problem=kind_text(str(code), str(column)),
            fix=rule.fix.format(column=column if column and not str(column).startswith("(")
                                else "this value"),
            rows=len(unique), rejected_rows=sum(1 for n in unique if n in rejected),
            examples=tuple(sorted(unique)[:max_examples])))
    groups.sort(key=lambda g: (g.severity != "error", -g.rows, g.column, g.code))
    return groups


def dominant_problem(submission: Submission) -> ProblemGroup | None:
    """The one kind of error behind (nearly) every rejection of a file with few accepted rows:
    the group that rejects the most rows, when it covers at least 80% of the file's rows."""
    errors = [g for g in summarise_problems(submission) if g.severity == "error" and g.rows]
    total = len(submission.rows)
    if not errors or total == 0:
        return None
    top = max(errors, key=lambda g: g.rows)
    return top if top.rows >= 0.8 * total else None


CSV_COLUMNS = ("Row", "Column", "What the file holds", "Problem", "How to fix it", "Effect")


def problem_rows(submission: Submission) -> pd.DataFrame:
    """Every problem with a row number, one line each, as the organisation's CSV has it: the
    row number, the column heading and the cell as the organisation sent them (escaped, cut
    short), the problem, the fix and whether the row is rejected. Nothing from any other
    source (no national record, no linkage)."""
    issues = submission.issues
    issues = issues[issues["row_number"].notna()]
    rejected = set(submission.rows.loc[submission.rows["status"] == "rejected", "row_number"]
                   .astype(int))
    numbers = issues["row_number"].astype(int)
    effect = [
        "row rejected" if severity == "error"
        else ("row rejected (for another problem)" if n in rejected else "row kept")
        for n, severity in zip(numbers, issues["severity"], strict=True)]
    frame = pd.DataFrame({
        "Row": numbers.to_numpy(), "Column": issues["column"].to_numpy(dtype=object),
        "What the file holds": issues["value"].to_numpy(dtype=object),
        "Problem": issues["message"].to_numpy(dtype=object),
        "How to fix it": issues["fix"].to_numpy(dtype=object), "Effect": effect},
        columns=list(CSV_COLUMNS))
    return frame.sort_values("Row", kind="stable").reset_index(drop=True)


def problem_rows_csv(submission: Submission) -> bytes:
    """:func:`problem_rows` as CSV bytes (UTF-8 with BOM, so Excel shows accents), safe to
    open in a spreadsheet (formula-like text is prefixed with an apostrophe). Built in memory:
    the caller decides where (if anywhere) it is kept, encrypted."""
    buffer = io.StringIO()
    frame = problem_rows(submission)
    safe = csv_safe_frame(frame.astype(object)) if len(frame) else frame
    safe.to_csv(buffer, index=False)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")

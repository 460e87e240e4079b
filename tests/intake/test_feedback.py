"""Feedback an organisation can act on (issue 21): problems grouped by column and kind, a file
that fails one way told which column and why, every problem row as a safe CSV, and an oversized
cell rejecting its row rather than the file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from jdl.core.config import IntakeSettings
from jdl.intake import check_submission
from jdl.intake._feedback import KINDS, problem_rows_csv, summarise_problems
from jdl.intake._rules import RULES

HEADING = "forename,surname,date_of_birth,sex,pnc_id,intervention_start"
FORENAMES = ["Ann", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hal", "Ida", "Jon"]


def person(i: int, dob: str = "21/03/1985", sex: str = "F", surname: str | None = None,
           pnc: str = "") -> str:
    name = FORENAMES[i % 10] + "a" * (i // 10)
    return f"{name},{surname or 'Smith' + 'x' * i},{dob},{sex},{pnc},10/06/2019"


def write(tmp_path: Path, lines: list[str], name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADING, *lines]) + "\n", encoding="utf-8")
    return path


def test_every_rule_has_words_that_quote_no_cell():
    assert set(RULES) <= set(KINDS)
    assert not any("{value}" in text or "{detail}" in text for text in KINDS.values())


def test_problems_are_grouped_by_column_and_kind_with_counts_and_first_rows(tmp_path):
    lines = [person(i) for i in range(80)]
    for i in range(10, 40):  # rows 12..41: the same mistake thirty times
        lines[i] = person(i, sex="Q")
    lines[50] = person(50, dob="not known")  # row 52
    checked = check_submission(write(tmp_path, lines), settings=IntakeSettings())
    groups = {(g.column, g.code): g for g in summarise_problems(checked)}
    sex = groups[("sex", "sex_invalid")]
    assert (sex.rows, sex.rejected_rows, sex.examples) == (30, 30, (12, 13, 14, 15, 16))
    assert sex.problem == "sex is not M or F" and "Q" not in sex.problem
    assert groups[("date_of_birth", "date_unreadable")].examples == (52,)
    # errors first, the most rows first
    assert summarise_problems(checked)[0].code == "sex_invalid"
    summary = checked.to_dict(max_issues=5)["summary"]
    assert "not known" not in repr(summary) and "'Q'" not in repr(summary)


def test_a_file_failing_one_way_says_which_column_and_why(tmp_path):
    lines = [person(i, dob="1985-13-45") for i in range(70)]
    refusal = check_submission(write(tmp_path, lines)).refusal
    assert refusal is not None and refusal.code == "too_small"
    assert refusal.message.startswith("None of the 70 rows could be accepted: in every one of "
                                      "them, date_of_birth is not a real date (for example "
                                      "rows 2, 3, 4, 5, 6).")
    assert "Check the day and the month" in refusal.hint
    assert "needs at least 60 people to run" not in refusal.message
    # a file that is merely small still hears why size matters
    small = check_submission(write(tmp_path, [person(i) for i in range(20)], "small.csv"))
    assert small.refusal.message.startswith("Only 20 of the 20 rows could be accepted")


def test_the_problem_rows_csv_is_safe_and_labels_each_rows_fate(tmp_path):
    lines = [person(i) for i in range(70)]
    lines[0] = person(0, surname="=HYPERLINK(\"http://x\")")  # row 2: formula, rejected
    lines[1] = person(1, sex="Q", pnc="2001/0123456A")  # row 3: rejected, and a PNC warning
    lines[2] = person(2, pnc="2001/0123456A")  # row 4: the same warning, the row kept
    checked = check_submission(write(tmp_path, lines))
    rows = list(csv.DictReader(io.StringIO(problem_rows_csv(checked).decode("utf-8-sig"))))
    by_row = {}
    for r in rows:
        by_row.setdefault(r["Row"], []).append(r)
    assert by_row["2"][0]["What the file holds"].startswith("'=")  # shown, never run
    assert by_row["2"][0]["Effect"] == "row rejected"
    pnc3 = next(r for r in by_row["3"] if r["Column"] == "pnc_id")
    pnc4 = next(r for r in by_row["4"] if r["Column"] == "pnc_id")
    assert pnc3["Effect"] == "row rejected (for another problem)"
    assert pnc4["Effect"] == "row kept"
    issues = checked.to_dict()["issues"]
    assert {i["row_number"]: i["row_rejected"] for i in issues if i["code"] ==
            "pnc_check_letter"} == {3: True, 4: False}


@pytest.mark.parametrize("length", [5_000, 300_000])
def test_an_oversized_cell_rejects_its_row_not_the_file(tmp_path, length):
    lines = [person(i) for i in range(70)]
    lines[5] = person(5, surname="x" * length)  # row 7
    checked = check_submission(write(tmp_path, lines))
    assert checked.refusal is None and checked.counts.rejected == 1
    problem = checked.issues[checked.issues["row_number"] == 7]
    assert list(problem["code"]) == ["cell_too_long"]
    assert problem["message"].iat[0] == (f"surname holds {length:,} characters, far more than "
                                         "any value the lab reads.")

"""Row-level validation: every check, duplicates, counts, the minimum cohort."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from jdl.core.config import IntakeSettings
from jdl.core.errors import SubmissionRefused
from jdl.intake import (
    CANONICAL_COLUMNS,
    IntakeRefused,
    Programme,
    accepted_rows_schema,
    check_submission,
    validate_submission,
)

from ._factory import EXAMPLE, TODAY, people, person


def check(path, programme=None, settings=None):
    return check_submission(path, programme, settings, today=TODAY)


def codes_at(submission, row_number: int) -> set[str]:
    issues = submission.issues
    return set(issues.loc[issues["row_number"] == row_number, "code"])


def assert_counts_add_up(submission, rows_in_file: int) -> None:
    counts = submission.counts
    assert counts.rows == rows_in_file == len(submission.rows)
    assert counts.accepted + counts.rejected == counts.rows
    assert len(submission.accepted_rows()) == counts.accepted
    assert len(submission.rejected_rows()) == counts.rejected


def test_good_file_all_accepted_with_canonical_values(csv_file, good_rows):
    good_rows[0] |= {"pnc_id": " 01/123456f ".replace("f", "F"), "prison_number": "a1234bc",
                     "sex": "female", "forename": "  Mary   Ann "}
    good_rows[0]["pnc_id"] = "01/1234567" + _letter(2001, 1234567)
    sub = check(csv_file(good_rows))
    assert sub.acceptable and sub.refusal is None
    assert_counts_add_up(sub, 80)
    assert sub.errors.empty
    accepted = sub.accepted_rows()
    assert list(accepted.columns) == ["row_number", *CANONICAL_COLUMNS]
    assert accepted["row_number"].tolist() == list(range(2, 82))  # header is row 1
    first = accepted.iloc[0]
    assert first["pnc_id"] == "2001/1234567" + _letter(2001, 1234567)
    assert first["prison_number"] == "A1234BC"
    assert first["sex"] == "F"
    assert first["forename"] == "Mary Ann"
    assert accepted["date_of_birth"].dtype == np.dtype("datetime64[s]")
    expected = dt.datetime.strptime(good_rows[1]["date_of_birth"], "%d/%m/%Y")
    assert accepted.loc[1, "date_of_birth"] == pd.Timestamp(expected)
    accepted_rows_schema().validate(accepted)


def _letter(year: int, serial: int) -> str:
    from jdl.core.identifiers import pnc_check_letter

    return pnc_check_letter(year, serial)


BAD_ROWS = [
    ({"forename": ""}, "missing_required", "forename"),
    ({"surname": "   "}, "missing_required", "surname"),
    ({"date_of_birth": ""}, "missing_required", "date_of_birth"),
    ({"sex": ""}, "missing_required", "sex"),
    ({"sex": "X"}, "sex_invalid", "sex"),
    ({"forename": "Unknown"}, "name_placeholder", "forename"),
    ({"surname": "1234"}, "name_no_letters", "surname"),
    ({"surname": "x" * 101}, "name_too_long", "surname"),
    ({"forename": "=HYPERLINK(\"http://x\")"}, "formula", "forename"),
    ({"surname": "@SUM(A1)"}, "formula", "surname"),
    ({"date_of_birth": "31/02/1990"}, "date_impossible", "date_of_birth"),
    ({"date_of_birth": "1990-13-01"}, "date_impossible", "date_of_birth"),
    ({"date_of_birth": "yesterday"}, "date_unreadable", "date_of_birth"),
    ({"date_of_birth": "01/02/85"}, "date_two_digit_year", "date_of_birth"),
    ({"index_date": "03/25/2020"}, "date_us_order", "index_date"),
    ({"date_of_birth": "01/01/1850"}, "date_out_of_range", "date_of_birth"),
    ({"date_of_birth": "01/01/2030"}, "dob_future", "date_of_birth"),
    ({"index_date": "01/01/2030"}, "date_future", "index_date"),
    ({"date_of_birth": "01/01/2015"}, "too_young", "date_of_birth"),
    ({"date_of_birth": "01/01/1901"}, "too_old", "date_of_birth"),
    ({"intervention_end": "01/01/2018"}, "end_before_start", "intervention_end"),
    ({"index_date": "", "conviction_date": "", "intervention_start": "",
      "intervention_end": ""}, "no_event_date", ""),
]


@pytest.mark.parametrize(("change", "code", "field"), BAD_ROWS,
                         ids=[f"{c}-{f}" for _, c, f in BAD_ROWS])
def test_each_bad_value_rejects_its_row_with_a_fix(csv_file, good_rows, change, code, field):
    good_rows[4] |= change
    sub = check(csv_file(good_rows))
    assert_counts_add_up(sub, 80)
    row = sub.issues[(sub.issues["row_number"] == 6) & (sub.issues["code"] == code)]
    assert len(row) == 1, sub.issues.to_string()
    issue = row.iloc[0]
    assert issue["severity"] == "error" and issue["field"] == field
    assert issue["message"] and issue["fix"] and "{" not in issue["message"]
    status = sub.rows.set_index("row_number").loc[6]
    assert status["status"] == "rejected" and issue["message"] in status["reasons"]
    assert sub.counts.rejected == 1


WARNINGS = [
    ({"pnc_id": "2001/12X"}, "pnc_check_letter", "pnc_id"),
    ({"pnc_id": "PNC-001"}, "pnc_malformed", "pnc_id"),
    ({"prison_number": "AB12"}, "prison_malformed", "prison_number"),
    ({"surname": "Smith2"}, "name_has_digits", "surname"),
    ({"intervention_end": "01/01/2030"}, "end_future", "intervention_end"),
]


@pytest.mark.parametrize(("change", "code", "field"), WARNINGS, ids=[w[1] for w in WARNINGS])
def test_warnings_keep_the_row_and_drop_bad_identifiers(csv_file, good_rows, change, code,
                                                        field):
    good_rows[4] |= change
    if code == "pnc_check_letter":  # a well-formed ID with the wrong letter
        right = _letter(2001, 12)
        good_rows[4]["pnc_id"] = "2001/0000012" + ("A" if right != "A" else "B")
    sub = check(csv_file(good_rows))
    assert codes_at(sub, 6) == {code}
    assert sub.counts.rejected == 0 and sub.counts.with_warnings == 1
    if field in ("pnc_id", "prison_number"):
        assert pd.isna(sub.accepted_rows().loc[4, field])


def test_blank_rows_counted_trailing_blank_rows_ignored(csv_file, good_rows):
    rows = [*good_rows[:30], {}, *good_rows[30:], {}, {}]
    path = csv_file(rows)
    path.write_bytes(path.read_bytes() + b",,,,\r\n\r\n")
    sub = check(path)
    assert_counts_add_up(sub, 81)  # the blank row in the middle counts; the trailing ones not
    assert sub.counts.blank == 1 and codes_at(sub, 32) == {"blank_row"}


def test_row_with_more_values_than_headings_is_rejected(csv_file, good_rows):
    header = list(CANONICAL_COLUMNS)
    rows = [[r[h] for h in header] for r in good_rows]
    rows[2] = ["Smith", "Jones, Jr", *rows[2][2:]]  # unquoted comma shifts the row
    path = csv_file([], header)
    text = path.read_text() + "\r\n".join(",".join(r) for r in rows) + "\r\n"
    path.write_text(text)
    sub = check(path)
    assert "row_overflow" in codes_at(sub, 4)
    assert_counts_add_up(sub, 80)


def test_day_month_swaps_flagged_only_where_month_first_dominates(csv_file, good_rows):
    for i, row in enumerate(good_rows):  # a US-formatted column
        d = dt.datetime.strptime(row["index_date"], "%d/%m/%Y")
        row["index_date"] = f"{d.month:02d}/{d.day:02d}/{d.year}"
        good_rows[i] = row
    sub = check(csv_file(good_rows))
    us = sub.issues[sub.issues["code"] == "date_us_order"]
    swappable = sub.issues[sub.issues["code"] == "date_swappable"]
    assert len(us) > 0 and len(swappable) > 0
    assert set(us["row_number"]).isdisjoint(swappable["row_number"])
    # One US-looking typo in a UK column is an error on that row only.
    uk_rows = people(80)
    uk_rows[3]["index_date"] = "01/13/2020"
    sub = check(csv_file(uk_rows))
    assert (sub.issues["code"] == "date_swappable").sum() == 0
    assert codes_at(sub, 5) == {"date_us_order"}


def test_duplicate_people(csv_file):
    rows = people(70)
    rows[10] = person(3) | {"forename": rows[3]["forename"].upper(), "pnc_id": ""}
    rows[20] = person(70) | {"pnc_id": rows[5]["pnc_id"]}  # same PNC, other name
    rows[30] = person(71) | {"prison_number": rows[6]["prison_number"].lower()}
    sub = check(csv_file(rows))
    dup = sub.issues[sub.issues["code"] == "duplicate_person"].set_index("row_number")
    assert set(dup.index) == {12, 22, 32}
    assert "row 5" in dup.loc[12, "message"] and "row 7" in dup.loc[22, "message"]
    assert "row 8" in dup.loc[32, "message"]
    assert sub.counts.rejected == 3


def test_rows_without_a_usable_name_or_birthday_are_not_duplicates(csv_file):
    rows = people(70)
    rows[1] = rows[1] | {"date_of_birth": "", "forename": "Ann", "surname": "Lee", "pnc_id": ""}
    rows[2] = rows[2] | {"date_of_birth": "", "forename": "Ann", "surname": "Lee", "pnc_id": ""}
    rows[3] = rows[3] | {"forename": "???", "pnc_id": ""}
    rows[4] = rows[4] | {"forename": "???", "pnc_id": "", "date_of_birth": rows[3]["date_of_birth"],
                         "surname": rows[3]["surname"]}
    sub = check(csv_file(rows))
    assert not (sub.issues["code"] == "duplicate_person").any()


def test_same_name_and_birthday_with_different_pnc_are_two_people(csv_file):
    rows = people(70)
    rows[10] = person(3) | {"pnc_id": person(99)["pnc_id"], "prison_number": ""}
    sub = check(csv_file(rows))
    assert codes_at(sub, 12) == {"same_name_other_pnc"}
    assert sub.counts.rejected == 0


def test_duplicate_keeps_the_first_valid_copy(csv_file):
    rows = people(70)
    rows[2] = rows[2] | {"intervention_start": "not a date"}
    rows[10] = dict(person(2))
    sub = check(csv_file(rows))
    assert codes_at(sub, 4) == {"date_unreadable", "duplicate_person"}
    assert "duplicate_person" not in codes_at(sub, 12)
    assert 12 in set(sub.accepted_rows()["row_number"])


def test_too_few_people_refused_with_explanation(csv_file):
    sub = check(csv_file(people(59)))
    assert not sub.acceptable and sub.refusal.code == "too_small"
    assert "60" in sub.refusal.message and "inconclusive" in sub.refusal.hint
    assert_counts_add_up(sub, 59)
    with pytest.raises(SubmissionRefused) as info:
        sub.raise_if_refused()
    assert isinstance(info.value, IntakeRefused) and info.value.submission is sub
    # configurable
    assert check(csv_file(people(59)), settings=IntakeSettings(min_cohort_size=50)).acceptable


def test_rejected_rows_do_not_count_towards_the_minimum(csv_file):
    rows = people(61)
    rows[0]["sex"] = "?"
    rows[1]["date_of_birth"] = "?"
    sub = check(csv_file(rows))
    assert sub.refusal.code == "too_small" and sub.counts.accepted == 59


def test_validate_submission_returns_or_raises(csv_file):
    assert validate_submission(csv_file(people(60))).counts.accepted == 60
    with pytest.raises(IntakeRefused):
        validate_submission(csv_file(people(10)))


def test_missing_columns_refuse_but_rows_are_listed(csv_file):
    header = ["forename", "surname", "sex", "index_date"]
    sub = check(csv_file(people(70), header))
    assert sub.refusal.code == "columns" and "date_of_birth" in sub.refusal.message
    assert_counts_add_up(sub, 70)
    assert sub.counts.rejected == 70


def test_selective_sample_warnings(csv_file):
    programme = Programme(**(EXAMPLE | {"declared_participants": 200,
                                        "selection_basis": "completers_only"}))
    sub = check(csv_file(people(80)), programme)
    notes = sub.issues[sub.issues["code"] == "selective_sample"]["message"].tolist()
    assert any("completed the programme" in n for n in notes)
    assert any("80 people were accepted" in n and "200" in n for n in notes)
    fine = Programme(**(EXAMPLE | {"declared_participants": 85}))
    assert not (check(csv_file(people(80)), fine).issues["code"] == "selective_sample").any()


def test_intervention_outside_delivery_period_is_a_warning(csv_file):
    programme = Programme(**(EXAMPLE | {"delivery_start": dt.date(2019, 6, 1)}))
    rows = people(70)
    rows[0]["intervention_start"] = "01/01/2019"
    sub = check(csv_file(rows), programme)
    assert "outside_delivery" in codes_at(sub, 2)


def test_error_report_is_safe_to_open_in_excel(csv_file, tmp_path):
    rows = people(70)
    rows[0]["forename"] = "=cmd|' /C calc'!A0"
    sub = check(csv_file(rows))
    report = sub.write_error_report(tmp_path / "errors.csv")
    table = pd.read_csv(report, dtype=str, keep_default_na=False)
    assert len(table) == len(sub.issues)
    for column in table.columns:
        assert not table[column].str.startswith(("=", "+", "-", "@")).any()
    assert table["value"].str.startswith("'=cmd").any()


def test_extra_columns_are_reported_and_not_kept(csv_file):
    header = [*CANONICAL_COLUMNS, "Notes"]
    rows = [r | {"Notes": "disclosed sensitive detail"} for r in people(70)]
    sub = check(csv_file(rows, header))
    extra = sub.issues[sub.issues["code"] == "extra_column"]
    assert len(extra) == 1 and "Notes" in extra.iloc[0]["message"]
    assert "Notes" not in sub.rows.columns


def test_control_characters_are_escaped_in_reports(csv_file):
    rows = people(70)
    rows[0]["sex"] = "M\x1b[31m"
    sub = check(csv_file(rows))
    value = sub.issues.loc[sub.issues["code"] == "sex_invalid", "value"].iloc[0]
    assert "\x1b" not in value and "\\x1b" in value

"""The organisation's declared columns and its registered plan (issue 20, part 1)."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from jdl.intake import (
    Registration,
    RegistrationError,
    check_submission,
    load_registration,
    registration_from_dict,
)
from tests.intake._factory import TODAY, people, write_csv

PLAN = {
    "primary_measure": "proven_reoffending_rate",
    "variables": {
        "attendance": {"kind": "count"},
        "completed": "yes_no",
        "delivery_mode": {"kind": "category", "categories": ["In person", "Online"]},
        "mentor_type": {"kind": "category", "categories": ["Peer", "Professional"]},
    },
    "sub_analyses": ["delivery_mode", "attendance", "sex"],
}


def test_plan_round_trip_and_canonical_hash():
    plan = registration_from_dict(PLAN)
    assert plan.primary_measure == "proven_reoffending_rate"
    assert [v.name for v in plan.variables] == ["attendance", "completed", "delivery_mode",
                                                "mentor_type"]
    assert plan.variable("delivery_mode").categories == ("In person", "Online")
    assert plan.dose_variable.name == "attendance"
    text = plan.canonical_json()
    # canonical: sorted keys, no whitespace; the hash is SHA-256 of exactly that text
    assert text.startswith('{"dose_bands":[],"primary_measure":"proven_reoffending_rate",')
    assert " " not in text.replace("In person", "")
    assert plan.sha256 == hashlib.sha256(text.encode()).hexdigest()
    # the same plan written in another order is the same registration and hash
    shuffled = dict(reversed(list(PLAN.items())))
    assert registration_from_dict(shuffled).sha256 == plan.sha256
    # any change to the plan changes the hash
    other = registration_from_dict({**PLAN, "sub_analyses": ["delivery_mode", "sex"]})
    assert other.sha256 != plan.sha256
    with pytest.raises(AttributeError):
        plan.primary_measure = "x"  # frozen


def test_plan_file(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(PLAN))
    assert load_registration(path) == registration_from_dict(PLAN)
    bad = tmp_path / "plan.yaml"
    bad.write_text("primary_measure: [unclosed")
    with pytest.raises(RegistrationError, match="could not be read"):
        load_registration(bad)


@pytest.mark.parametrize("change, problem", [
    ({"primary_measure": None}, "primary_measure: missing"),
    ({"sub_analyses": ["postcode"]}, "'postcode' is neither a declared variable"),
    ({"sub_analyses": ["sex", "sex"]}, "named twice"),
    ({"colour": 1}, "colour: not a plan field"),
    ({"variables": {"site": {"kind": "category", "categories": ["A"]}}},
     "at least two"),
    ({"variables": {"site": {"kind": "count"}}}, "standard variable site is a category"),
    ({"variables": {"surname": "category"}}, "is a template column already"),
    ({"variables": {"Bad Name!": "count"}}, "lower-case letters"),
    ({"variables": {"a1": "yes_no", "a2": "yes_no", "a3": "yes_no", "a4": "yes_no"}},
     "at most 3 named variables"),
    ({"variables": {"site": {"kind": "category", "categories": ["A", "a"]}}},
     "listed twice"),
    ({"variables": {"site": {"kind": "category", "categories": ["A", "<script>"]}}},
     "simple punctuation"),
    ({"dose_bands": [9, 4]}, "must increase"),
])
def test_plan_problems_are_listed_not_raised_as_tracebacks(change, problem):
    with pytest.raises(RegistrationError) as caught:
        registration_from_dict({**PLAN, **change})
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_primary_measure_must_be_released():
    plan = registration_from_dict({**PLAN, "primary_measure": "made_up"})
    with pytest.raises(RegistrationError, match="not one of the lab's measures"):
        plan.check_measure(("proven_reoffending_rate", "reoffending_frequency"))
    Registration("proven_reoffending_rate").check_measure(("proven_reoffending_rate",))


def _upload(tmp_path, values: dict[str, list[str]], n: int = 70):
    rows = people(n)
    for name, cells in values.items():
        for row, cell in zip(rows, cells, strict=False):
            row[name] = cell
    header = [*rows[0].keys(), *[k for k in values if k not in rows[0]]]
    return write_csv(tmp_path / "upload.csv", rows, header)


def test_declared_columns_are_validated_row_by_row(tmp_path):
    plan = registration_from_dict(PLAN)
    n = 70
    attendance = [str(i % 20) for i in range(n)]
    attendance[0], attendance[1], attendance[2] = "lots", "2.5", ""
    mode = ["in person" if i % 2 else "ONLINE" for i in range(n)]
    mode[3] = "by post"
    completed = ["Y" if i % 3 else "no" for i in range(n)]
    completed[4] = "maybe"
    path = _upload(tmp_path, {"Sessions attended": attendance, "Delivery method": mode,
                              "completed": completed,
                              "mentor_type": ["peer"] * n, "notes": ["x"] * n}, n)
    sub = check_submission(path, today=TODAY, variables=plan.variables)
    assert sub.acceptable
    issues = sub.issues.set_index("row_number")
    # rows 2.. in the file (row 1 holds the headings)
    assert issues.loc[2, "code"] == "variable_not_count"
    assert issues.loc[2, "column"] == "Sessions attended"
    assert issues.loc[3, "code"] == "variable_not_count"
    assert issues.loc[4, "code"] == "variable_blank" and issues.loc[4, "severity"] == "warning"
    assert issues.loc[5, "code"] == "variable_unknown_category"
    assert issues.loc[5, "message"] == ("Delivery method (by post) is not one of the "
                                        "categories your analysis plan declares: In person, "
                                        "Online.")
    assert issues.loc[6, "code"] == "variable_not_yes_no"
    status = sub.rows.set_index("row_number")["status"]
    assert list(status.loc[[2, 3, 4, 5, 6]]) == ["rejected", "rejected", "accepted",
                                                 "rejected", "rejected"]
    values = sub.variable_values().set_index("row_number")
    assert pd.isna(values.loc[4, "attendance"])
    assert values["attendance"].dtype == "Int64"
    assert values.loc[7, "attendance"] == 5 and values.loc[7, "delivery_mode"] == "In person"
    assert values.loc[8, "delivery_mode"] == "Online"   # declared spelling, any case
    assert values.loc[7, "completed"] == "yes" and values.loc[8, "completed"] == "no"
    assert values.loc[8, "mentor_type"] == "Peer"
    # the declared columns are used, not reported as ignored; an undeclared one still is
    extra = sub.issues[sub.issues["code"] == "extra_column"]["value"].tolist()
    assert extra == ["'notes'"]
    # linkage's contract is unchanged: accepted_rows has the template's columns only
    assert "attendance" not in sub.accepted_rows().columns


def test_declared_column_missing_refuses_with_a_message(tmp_path):
    plan = registration_from_dict(PLAN)
    path = _upload(tmp_path, {"attendance": ["1"] * 70})
    sub = check_submission(path, today=TODAY, variables=plan.variables)
    assert sub.refusal is not None and sub.refusal.code == "columns"
    assert "declares the column 'completed'" in sub.refusal.message


def test_formula_in_a_declared_column_rejects_the_row(tmp_path):
    plan = registration_from_dict({"primary_measure": "x",
                                   "variables": {"attendance": "count"}})
    cells = ["3"] * 70
    cells[0] = "=1+1"
    sub = check_submission(_upload(tmp_path, {"attendance": cells}), today=TODAY,
                           variables=plan.variables)
    first = sub.issues[sub.issues["row_number"] == 2]
    assert list(first["code"]) == ["formula"]


def test_without_a_plan_extra_columns_are_ignored_as_before(tmp_path):
    sub = check_submission(_upload(tmp_path, {"attendance": ["3"] * 70}), today=TODAY)
    assert sub.acceptable
    assert "attendance" not in sub.rows.columns
    assert (sub.issues["code"] == "extra_column").sum() == 1

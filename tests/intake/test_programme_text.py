"""Published programme text is screened against the upload's identifiers and for numbers of
people (issue 15, Build 4): refused with the field named, never the value."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from jdl.intake import EXAMPLE_PROGRAMME, ProgrammeError, programme_from_dict
from jdl.intake._programme import check_programme_text, screen_programme_text

ROWS = pd.DataFrame({
    "forename": ["Ann", "Tobias", "Rui"], "surname": ["Lee", "Fikus", "Young"],
    "date_of_birth": pd.to_datetime(["1990-03-07", "1998-12-23", "1985-01-30"]),
    "pnc_id": ["2001/0012345Z", None, None], "prison_number": [None, "A1234BC", None],
})


def programme(**text):
    return programme_from_dict({**EXAMPLE_PROGRAMME, **text})


@pytest.mark.parametrize(("field", "text", "kind"), [
    ("description", "Mentoring, for example for Ann Lee, after release.", "name of a person"),
    ("description", "Support for Lee, Ann and others.", "name of a person"),
    ("selection_notes", "Everyone referred except Fikus, who moved away.", "name of a person"),
    ("description", "One participant was born on 23/12/1998.", "date of birth"),
    ("description", "Born 7 March 1990, she joined in May.", "date of birth"),
    ("description", "Case 2001/0012345Z was typical.", "PNC ID"),
    ("referral_route", "Referred from HMP Leeds (A1234BC).", "prison number"),
    ("description", "We worked with 123 people over two years.", "number of people"),
    ("selection_notes", "The 14 participants who finished.", "number of people"),
])
def test_identifying_text_is_refused_naming_the_field_not_the_value(field, text, kind):
    problems = screen_programme_text(programme(**{field: text}), ROWS)
    assert len(problems) == 1 and problems[0].startswith(f"{field}:") and kind in problems[0]
    for value in ("Ann", "Lee", "Fikus", "1998", "1990", "2001/0012345Z", "A1234BC", "123", "14"):
        assert value not in problems[0]
    with pytest.raises(ProgrammeError) as err:
        check_programme_text(programme(**{field: text}), ROWS)
    assert err.value.problems == problems


@pytest.mark.parametrize("text", [
    EXAMPLE_PROGRAMME["description"],
    "Young people leaving custody get a mentor for 12 weeks.",  # 'Young' starts the sentence
    "A 12-week course run since 2019, three sessions a week.",
    "Support for young adults; mentors meet them at the gate.",  # lower-case surname as a word
])
def test_ordinary_descriptions_pass(text):
    assert screen_programme_text(programme(description=text), ROWS) == []


def test_without_an_upload_only_patterns_and_numbers_are_checked():
    assert screen_programme_text(programme(description="Ann Lee took part."), None) == []
    assert screen_programme_text(programme(description="ID A1234BC."), None) != []


def _migration():
    path = (Path(__file__).parents[2] / "src" / "jdl" / "service" / "migrations" / "versions"
            / "0008_validation_without_values.py")
    spec = importlib.util.spec_from_file_location("m0007", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_migration_purges_values_and_messages_from_stored_validation():
    stored = {"counts": {"rows": 3}, "refusal": None, "issues": [
        {"row_number": 2, "column": "PNC", "field": "pnc_id", "value": "2001/0012345Z",
         "code": "pnc_invalid", "severity": "error",
         "message": "PNC (2001/0012345Z) is not a valid PNC ID.", "fix": "Check it."}]}
    out = _migration().purged(stored)
    assert out["issues"] == [{"row_number": 2, "column": "PNC", "field": "pnc_id",
                              "code": "pnc_invalid", "severity": "error"}]
    assert "0012345" not in str(out) and out["counts"] == {"rows": 3}
    assert _migration().purged({"refusal": {"code": "too_small", "message": "x"}})[
        "refusal"] == {"code": "too_small"}


def test_stored_validation_keeps_code_row_and_column_only():
    from jdl.service._api_submissions import _stored_validation

    report = {"acceptable": True, "refusal": None, "counts": {}, "issues": [
        {"row_number": 5, "column": "Surname", "field": "surname", "value": "Lee",
         "code": "name_has_digits", "severity": "warning", "message": "Surname (Lee2) has digits",
         "fix": "x"}]}
    stored = _stored_validation(report)
    assert stored["issues"] == [{"row_number": 5, "column": "Surname", "field": "surname",
                                 "code": "name_has_digits", "severity": "warning"}]

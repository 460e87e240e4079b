"""Programme information: the model, friendly choices, plain-English errors."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from jdl.intake import (
    EXAMPLE_PROGRAMME,
    Programme,
    ProgrammeError,
    load_programme,
    programme_from_dict,
    write_programme_example,
)

from ._factory import EXAMPLE


def test_example_file_round_trips(tmp_path):
    programme = load_programme(write_programme_example(tmp_path / "p.yaml"))
    assert programme == Programme(**EXAMPLE_PROGRAMME)
    assert programme.selection_basis == "all_participants"


def test_json_and_friendly_choices(tmp_path):
    data = EXAMPLE | {"sector": "Voluntary/Community", "intervention_type": "Substance misuse",
                      "region": "north west", "delivery_start": "2018-01-01",
                      "delivery_end": "2021-12-31"}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    programme = load_programme(path)
    assert programme.sector == "voluntary_community"
    assert programme.intervention_type == "substance_misuse"
    assert programme.region == "North West"


@pytest.mark.parametrize(("change", "phrase"), [
    ({"sector": "charity"}, "sector: 'charity' is not allowed; use one of"),
    ({"region": "Scotland"}, "region: must be one of"),
    ({"delivery_end": dt.date(2017, 1, 1)}, "delivery_end is before delivery_start"),
    ({"declared_participants": 0}, "declared_participants"),
    ({"selection_basis": "other"}, "selection_notes must say how"),
    ({"orgnisation": "typo"}, "orgnisation: not a programme field"),
    ({"delivery_start": "31/02/2020"}, "delivery_start"),
])
def test_bad_fields_are_named_in_plain_english(change, phrase):
    with pytest.raises(ProgrammeError) as info:
        programme_from_dict(EXAMPLE | change)
    assert any(phrase in p for p in info.value.problems), info.value.problems


def test_missing_fields_listed():
    data = dict(EXAMPLE)
    del data["organisation"], data["setting"]
    with pytest.raises(ProgrammeError) as info:
        programme_from_dict(data)
    assert "organisation: missing; please fill it in." in info.value.problems
    assert any(p.startswith("setting: missing") for p in info.value.problems)


@pytest.mark.parametrize(("text", "phrase"), [
    ("organisation: [unclosed", "not valid YAML"),
    ("- a list\n- not a mapping", "should be a set of 'field: value' lines"),
    ("", "should be a set of 'field: value' lines"),
])
def test_unreadable_files(tmp_path, text, phrase):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ProgrammeError) as info:
        load_programme(path)
    assert phrase in info.value.message
    with pytest.raises(ProgrammeError):
        load_programme(tmp_path / "missing.yaml")

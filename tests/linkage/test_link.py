"""Linking planted errors against the small register: each row's expected outcome."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from jdl.linkage import LINK_COLUMNS, link_quality, link_submission
from tests.linkage.conftest import FAST


def _row(people: pd.DataFrame, person_id: int, **changes) -> dict:
    person = people.set_index("person_id").loc[person_id]
    row = {
        "forename": person["forename"].title(), "surname": person["surname"].title(),
        "date_of_birth": person["date_of_birth"], "sex": person["sex"],
        "pnc_id": None, "prison_number": None,
    }
    row.update(changes)
    return row


def _swap(d: dt.date) -> dt.date:
    return dt.date(d.year, d.day, d.month)


def _pick(people: pd.DataFrame, **where) -> int:
    """The first person matching simple conditions (deterministic for the seeded register)."""
    frame = people
    for column, test in where.items():
        frame = frame[frame[column].map(test)]
    return int(frame["person_id"].iloc[0])


@pytest.fixture(scope="module")
def planted(register):
    """Rows with one planted error each, the expected person (None: not in records)."""
    people, aliases = register
    dob = people.set_index("person_id")["date_of_birth"]
    william = _pick(people, forename=lambda f: f == "WILLIAM")
    swappable = _pick(people, date_of_birth=lambda d: d.day <= 12 and d.day != d.month)
    typo = _pick(people, surname=lambda s: s == "FITZGERALD")
    alias = aliases.iloc[0]
    cases = [
        ("clean", 10, _row(people, 10)),
        ("nickname", william, _row(people, william, forename="Bill")),
        ("day/month swap", swappable, _row(people, swappable,
                                           date_of_birth=_swap(dob[swappable]))),
        ("year off by one", 20, _row(people, 20, date_of_birth=dob[20].replace(
            year=dob[20].year + 1) if (dob[20].month, dob[20].day) != (2, 29) else dob[20])),
        ("surname typo", typo, _row(people, typo, surname="Fitzgerlad")),
        ("punctuation", 30, _row(people, 30, surname=" " + people.loc[29, "surname"].lower()
                                 + "-")),
        ("alias surname", int(alias["person_id"]),
         _row(people, int(alias["person_id"]), surname=alias["surname"])),
        ("pnc id", 40, _row(people, 40, pnc_id=people.loc[39, "pnc_id"])),
        ("prison number, typo", 42, _row(people, 42, prison_number="A0042BC", forename="Jxhn")),
        ("not in records", None, {"forename": "Zebedee", "surname": "Quixote",
                                  "date_of_birth": dt.date(1971, 7, 7), "sex": "M",
                                  "pnc_id": None, "prison_number": None}),
        ("wrong person's ID", 50, _row(people, 50, pnc_id=people.loc[1999, "pnc_id"])),
    ]
    rows = pd.DataFrame([{"row_number": i + 1, **row} for i, (_, _, row) in enumerate(cases)])
    expected = {i + 1: (label, person) for i, (label, person, _) in enumerate(cases)}
    return rows, expected


def test_each_planted_error_links_to_the_right_person(planted, data_dir):
    rows, expected = planted
    result = link_submission(rows, data_dir, settings=FAST)
    links = result.links.set_index("row_number")
    for row_number, (label, person) in expected.items():
        got = links.loc[row_number, "person_id"]
        if person is None:
            assert pd.isna(got), f"{label}: linked to {got}, should be not found"
        else:
            assert got == person, f"{label}: got {got}, expected {person}"


def test_id_pass_needs_evidence(planted, data_dir):
    rows, expected = planted
    links = link_submission(rows, data_dir, settings=FAST).links.set_index("row_number")
    by_label = {label: n for n, (label, _) in expected.items()}
    assert links.loc[by_label["pnc id"], "method"] == "id"
    assert links.loc[by_label["prison number, typo"], "method"] == "id"
    # Someone else's PNC ID with this person's name and DOB: the ID pass refuses it and the
    # probabilistic pass finds the right person despite the conflicting ID.
    assert links.loc[by_label["wrong person's ID"], "method"] == "probabilistic"
    assert links.loc[by_label["clean"], "method"] == "probabilistic"
    assert links.loc[by_label["not in records"], "method"] == "none"


def test_duplicates_are_flagged_and_summarised(register, data_dir):
    people, _ = register
    rows = pd.DataFrame([
        {"row_number": 1, **_row(people, 100)},
        {"row_number": 2, **_row(people, 200)},
        {"row_number": 3, **_row(people, 100, forename="X" + people.loc[99, "forename"])},
    ])
    result = link_submission(rows, data_dir, settings=FAST)
    links = result.links.set_index("row_number")
    assert links.loc[3, "person_id"] == 100
    assert list(links["duplicate"]) == [False, False, True]
    summary = result.summary
    assert summary.duplicate == 1 and summary.people_found == 2
    assert summary.submitted == (summary.linked_by_id + summary.linked_probabilistically
                                 + summary.not_found + summary.ambiguous)


def test_indistinguishable_people_are_ambiguous_not_guessed(register, tmp_path):
    """Two people with the same name, sex and DOB: a row naming them links to neither."""
    from jdl.linkage import train_model
    from tests.linkage.conftest import write_data_dir

    people, aliases = register
    twin = people.iloc[[0]].assign(person_id=len(people) + 1, pnc_id=None, prison_number=None)
    data = write_data_dir(tmp_path / "d", pd.concat([people, twin], ignore_index=True), aliases)
    train_model(data, settings=FAST)
    rows = pd.DataFrame([{"row_number": 1, **_row(people, 1)}])
    result = link_submission(rows, data, settings=FAST)
    assert result.summary.ambiguous == 1
    assert pd.isna(result.links.loc[0, "person_id"])
    assert result.links.loc[0, "match_probability"] < 0.9


def test_link_table_columns_and_quality_measure(planted, data_dir):
    rows, expected = planted
    result = link_submission(rows, data_dir, settings=FAST)
    assert tuple(result.link_table().columns) == LINK_COLUMNS
    assert set(result.links["method"]) <= {"id", "probabilistic", "none"}
    truth = pd.DataFrame({"row_number": list(expected),
                          "person_id": [p for _, p in expected.values()]})
    quality = link_quality(result.links, truth)
    assert quality["precision"] == 1.0 and quality["recall"] == 1.0
    # A deliberately wrong link lowers precision.
    broken = result.links.copy()
    broken.loc[0, "person_id"] = 2999
    assert link_quality(broken, truth)["precision"] < 1.0


def test_threshold_controls_linking(planted, data_dir):
    rows, _ = planted
    strict = FAST.model_copy(update={"match_threshold": 0.999999999})
    loose = link_submission(rows, data_dir, settings=FAST).summary
    tight = link_submission(rows, data_dir, settings=strict).summary
    assert tight.linked_probabilistically < loose.linked_probabilistically

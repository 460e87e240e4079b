"""The independent linkage benchmark's scoring and corruptor on hand-made examples."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from bench.linkage_independent import corrupt
from bench.linkage_independent.score import (
    best_threshold,
    by_error_type,
    classify,
    edit_distance,
    metrics,
    sweep,
)


@pytest.fixture
def example() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows 1–3 are people on the register (10, 20, 30); rows 4–5 are not.
    Row 1: ID link, right. Row 2: wrong person, p .95. Row 3: right, p .7.
    Row 4: linked although not on the register, p .92. Row 5: not linked."""
    truth = pd.DataFrame({
        "row_number": [1, 2, 3, 4, 5],
        "person_id": pd.array([10, 20, 30, None, None], dtype="Int64"),
        "errors": ["", "names_swapped", "names_swapped;dob_placeholder", "", ""],
    })
    links = pd.DataFrame({
        "row_number": [1, 2, 3, 4, 5],
        "person_id": pd.array([10, 99, 30, 77, None], dtype="Int64"),
        "match_probability": [1.0, 0.95, 0.7, 0.92, 0.1],
        "method": ["id", "probabilistic", "probabilistic", "probabilistic", "none"],
    })
    return links, truth


def test_metrics_by_hand(example):
    links, truth = example
    m = metrics(links, truth)
    assert (m["linked"], m["correct"], m["wrong"], m["in_records"]) == (4, 2, 2, 3)
    assert m["wrong_not_in_records"] == 1
    assert m["precision"] == 0.5
    assert m["recall"] == pytest.approx(2 / 3, abs=1e-5)
    assert m["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3), abs=1e-5)


def test_rows_missing_from_links_count_as_not_linked(example):
    links, truth = example
    m = metrics(links[links["row_number"] != 1], truth)
    assert (m["linked"], m["correct"], m["rows"]) == (3, 1, 5)


def test_sweep_drops_probabilistic_links_below_threshold_keeps_id_links(example):
    links, truth = example
    table = sweep(links, truth, thresholds=(0.5, 0.9, 0.93, 0.96))
    assert (table["0.9"]["linked"], table["0.9"]["correct"]) == (3, 1)  # row 3 (0.7) dropped
    assert table["0.9"]["f1"] == pytest.approx(1 / 3, abs=1e-5)
    assert (table["0.93"]["precision"], table["0.93"]["linked"]) == (0.5, 2)
    assert (table["0.96"]["precision"], table["0.96"]["linked"]) == (1.0, 1)  # ID link only
    assert best_threshold(table) == "0.5"


def test_best_threshold_prefers_the_lower_on_a_tie():
    table = {"0.8": {"f1": 0.9}, "0.9": {"f1": 0.9}, "0.5": {"f1": 0.7}}
    assert best_threshold(table) == "0.8"


def test_by_error_type_counts_a_row_under_each_of_its_errors(example):
    links, truth = example
    table = by_error_type(links, truth)
    assert set(table) == {"none", "names_swapped", "dob_placeholder"}
    assert (table["none"]["rows"], table["none"]["in_records"]) == (3, 1)
    assert (table["none"]["recall"], table["none"]["wrong"]) == (1.0, 1)
    assert (table["names_swapped"]["in_records"], table["names_swapped"]["recall"]) == (2, 0.5)
    assert table["dob_placeholder"]["recall"] == 1.0


@pytest.mark.parametrize(("given", "tags"), [
    (("Smith", "John", "1980-05-06"), ["names_swapped"]),
    (("Jon", "Smith", "1980-06-05"), ["forename_edit", "dob_day_month_swap"]),
    (("John", "Smith-Jones", "1980-01-01"), ["surname_part", "dob_placeholder"]),
    (("Jöhn", "SMITH", "1981-05-06"), ["dob_year_off_1"]),
    (("John", "Smith", "1990-05-06"), ["dob_year_other"]),
    (("John", "Smith", None), ["dob_missing"]),
    (("John", "Smith", "1980-05-07"), ["dob_one_digit"]),
    (("John", "Smith", "1989-05-16"), ["dob_several_digits"]),
    (("Bartholomew", None, "1980-05-06"), ["forename_other", "surname_missing"]),
    (("john", "smith", "1980-05-06"), []),
])
def test_classify_names_the_difference(given, tags):
    assert classify(("John", "Smith", "1980-05-06"), given) == tags


def test_edit_distance():
    assert edit_distance("SMITH", "SMYTH") == 1
    assert edit_distance("", "ABC") == 3
    assert edit_distance("JONES", "JOENS") == 2


def test_corruptor_makes_the_errors_it_names():
    rng = np.random.default_rng(1)
    base = {"forename": "Margaret", "surname": "Hollis", "dob": dt.date(1971, 3, 9)}
    pool = {"forenames": ["Anne", "Ruth"], "surnames": ["Baker", "Cole"]}
    by_name = {e.name: e for e in corrupt.ERROR_TYPES}
    reg, sub = by_name["names_swapped"].apply(rng, base, pool)
    assert (sub["forename"], sub["surname"]) == ("Hollis", "Margaret") and reg == base
    reg, sub = by_name["dob_day_month_swap"].apply(rng, base, pool)
    assert sub["dob"] == dt.date(1971, 9, 3)
    reg, sub = by_name["dob_placeholder"].apply(rng, base, pool)
    assert (sub["dob"].month, sub["dob"].day) == (1, 1)
    reg, sub = by_name["surname_one_part_of_double"].apply(rng, base, pool)
    assert sub["surname"] in reg["surname"] and sub["surname"] != reg["surname"]
    reg, sub = by_name["nickname"].apply(rng, base, pool)
    assert sub["forename"] in corrupt.NICKNAMES["Margaret"] and reg["forename"] == "Margaret"
    reg, sub = by_name[corrupt.ABSENT_TWIN].apply(rng, base, pool)
    assert sub == base and reg["forename"] in pool["forenames"]
    assert (reg["surname"], reg["dob"]) == (base["surname"], base["dob"])
    day13 = {**base, "dob": dt.date(1971, 3, 13)}
    assert by_name["dob_day_month_swap"].apply(rng, day13, pool) is None
    for _ in range(50):
        typo = corrupt.keyboard_typo(rng, "Hollis")
        assert typo != "Hollis" and edit_distance(typo.upper(), "HOLLIS") <= 2


def test_corrupt_gives_each_stratum_its_size_and_tags():
    rng = np.random.default_rng(2)
    bases = [{"forename": f"Name{chr(65 + i % 26)}ette", "surname": f"Sur{chr(65 + i // 26)}ley",
              "dob": dt.date(1960, 1 + i % 12, 1 + i % 12 + (i % 3))} for i in range(400)]
    triples = corrupt.corrupt(rng, bases, 3, {"forenames": ["Anne"], "surnames": ["Baker"]})
    assert len(triples) == 3 * (len(corrupt.ERROR_TYPES) + 1)
    tags = pd.Series([t for _, _, t in triples])
    assert (tags == "").sum() == 3
    assert tags.str.contains(";").sum() == 3  # the name + date pairs
    assert all(reg != sub for reg, sub, t in triples if t)


def test_register_record_of_a_cluster_is_the_field_by_field_mode_without_doubled_names():
    from bench.linkage_independent.sets import _modal_originals

    d1, d2 = dt.date(1971, 6, 24), dt.date(1971, 5, 24)
    frame = pd.DataFrame({
        "key": ["a", "a", "a", "a", "b", "b"],
        "forename": ["Robert", "Robert", "Rob", "Robert", "Caleb", "Rowe"],
        "surname": ["Alan", "Allen", "Allen", "Alen", "Rowe", "Caleb"],
        "dob": [d1, d2, d1, d1, d1, d1],
    })
    out = _modal_originals(frame).set_index("key")
    assert tuple(out.loc["a"]) == ("Robert", "Allen", d1)  # no record is all three
    assert out.loc["b", "forename"] != out.loc["b", "surname"]


def test_harsh_kinds_counts_alone_and_relatives_by_hand():
    from bench.linkage_independent.harsh_kinds import figures

    links = pd.DataFrame({
        "row_number": [1, 2, 3, 4, 5, 6],
        "person_id": pd.array([10, 20, 31, 40, None, 60], dtype="Int64"),
        "match_probability": [0.99, 0.8, 0.95, 0.75, None, 0.9],
        "true": pd.array([10, 20, 30, None, None, 60], dtype="Int64"),
        "errors": ["", "dob_multi", "dob_multi;nickname", "not_in_records;twin",
                   "not_in_records;namesake", "dob_multi;duplicate"],
    })
    at_07, at_09 = figures(links, 0.7), figures(links, 0.9)
    assert at_07["precision"] == round(3 / 5, 5) and at_07["wrong"] == 2
    assert at_07["by_kind"]["dob_multi"] == [3, round(2 / 3, 4)]
    assert at_07["alone"]["dob_multi"] == [2, 1.0]  # a duplicate is no second mistake
    assert at_07["relatives_linked"] == {"namesake": [1, 0], "twin": [1, 1]}
    assert at_09["by_kind"]["dob_multi"] == [3, round(1 / 3, 4)]
    assert at_09["relatives_linked"]["twin"] == [1, 0]

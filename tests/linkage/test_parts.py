"""Names, resolution arithmetic, the ID pass, the model file and its sanity checks."""

from __future__ import annotations

import copy
import json
import math

import pandas as pd
import pytest

from jdl.linkage import (
    MODEL_FILE,
    LinkageModel,
    LinkageModelError,
    clean_name,
    forename_groups,
    load_model,
    model_for,
    nickname_groups,
    sanity_check,
    save_model,
)
from jdl.linkage._resolve import best_candidates, row_posteriors
from tests.linkage.conftest import FAST


@pytest.mark.parametrize(("a", "b"), [("Bill", "WILLIAM"), ("peggy", "Margaret"),
                                      ("Steve", "Stephen"), ("Alex", "Alexandra"),
                                      ("Jim", "Jamie"), ("Liz", "Beth")])
def test_nicknames_share_a_group(a, b):
    assert set(forename_groups(a)) & set(forename_groups(b))


@pytest.mark.parametrize(("a", "b"), [("Alice", "Alexander"), ("John", "Joan"),
                                      ("Mark", "Michael")])
def test_unrelated_forenames_share_no_group(a, b):
    assert not set(forename_groups(a)) & set(forename_groups(b))


def test_nickname_table_is_clean():
    table = nickname_groups()
    assert table["name"].str.fullmatch("[A-Z]+").all()
    assert len(table) > 500
    assert not table.duplicated().any()


@pytest.mark.parametrize(("raw", "clean"), [(" O'Brien ", "OBRIEN"), ("smith-jones", "SMITHJONES"),
                                            ("", None), (None, None), ("--", None)])
def test_clean_name(raw, clean):
    assert clean_name(raw) == clean


def _cands(rows):
    return pd.DataFrame(rows, columns=["row_number", "person_id", "match_weight"])


def test_posterior_matches_the_formula():
    # pair prior λp, 1000 people, π = 0.9; one candidate with Bayes factor 2^20.
    pair_prior, n, pi = 1e-3, 1000, 0.9
    prior_weight = math.log2(pair_prior / (1 - pair_prior))
    post = row_posteriors(_cands([(1, 7, prior_weight + 20)]), pair_prior=pair_prior,
                          n_people=n, prior_in_register=pi)
    a = pi / n * 2**20
    assert post["posterior"].iloc[0] == pytest.approx(a / ((1 - pi) + a))


def test_two_equal_candidates_are_ambiguous_and_aliases_count_once():
    prior_weight = math.log2(1e-6 / (1 - 1e-6))
    cands = _cands([(1, 7, prior_weight + 40), (1, 8, prior_weight + 40),
                    (1, 8, prior_weight + 30),  # person 8's alias record: best record counts
                    (2, 9, prior_weight + 40), (2, 10, prior_weight + 10)])
    post = row_posteriors(cands, pair_prior=1e-6, n_people=10**6, prior_in_register=0.9)
    assert len(post) == 4
    chosen = best_candidates(post, threshold=0.9).set_index("row_number")
    assert bool(chosen.loc[1, "ambiguous"]) and chosen.loc[1, "match_probability"] < 0.51
    assert not chosen.loc[2, "ambiguous"] and chosen.loc[2, "person_id"] == 9


def test_weak_candidates_are_not_found():
    prior_weight = math.log2(1e-6 / (1 - 1e-6))
    post = row_posteriors(_cands([(1, 7, prior_weight + 15)]), pair_prior=1e-6,
                          n_people=10**6, prior_in_register=0.9)
    assert best_candidates(post, threshold=0.9).empty


def test_model_round_trips_and_is_not_retrained(data_dir, model, tmp_path):
    assert model.trained_at
    again = model_for(data_dir, settings=FAST)
    assert again.trained_at == model.trained_at  # loaded, not retrained
    path = save_model(model, tmp_path / MODEL_FILE)
    assert load_model(path) == model
    assert json.loads(path.read_text())["splink_model"]["link_type"] == "link_only"


def test_missing_model_is_a_user_error(tmp_path):
    with pytest.raises(LinkageModelError, match="No linkage model"):
        load_model(tmp_path / MODEL_FILE)


def test_sanity_check_refuses_a_nonsense_model(model):
    assert sanity_check(model) == []
    broken = copy.deepcopy(model.to_json())
    levels = broken["splink_model"]["comparisons"][1]["comparison_levels"]  # surname
    exact = next(lv for lv in levels if lv.get("label_for_charts") == "exact")
    other = next(lv for lv in levels if lv.get("label_for_charts") == "else")
    exact["m_probability"], other["m_probability"] = other["m_probability"], exact["m_probability"]
    problems = sanity_check(LinkageModel.from_json(broken))
    assert any(p.startswith("surname") for p in problems)


def test_trained_parameters_are_sane(model):
    params = model.parameters().set_index(["comparison", "level"])
    for name in ("forename", "surname", "dob"):
        exact = params.loc[(name, "exact"), "match_weight"]
        others = params.loc[name].drop(index="exact")["match_weight"]
        assert (others <= exact + 1e-9).all(), name
        assert params.loc[(name, "else"), "match_weight"] < 0


def test_spark_settings_carry_the_same_parameters(model):
    from jdl.linkage._link import settings_for_dialect

    spark = settings_for_dialect(model, "spark")
    for new, old in zip(spark["comparisons"], model.splink["comparisons"], strict=True):
        assert [lv.get("m_probability") for lv in new["comparison_levels"]] == [
            lv.get("m_probability") for lv in old["comparison_levels"]]
    assert spark["probability_two_random_records_match"] == pytest.approx(
        model.splink["probability_two_random_records_match"])


def test_calibration_rows_confirmed_by_id_move_m(register, tmp_path):
    """ID-confirmed rows of an earlier upload are labelled pairs: many nicknames among them
    raise the nickname level's m above its prior."""
    from jdl.linkage import train_model
    from jdl.linkage._settings import PRIOR_M
    from tests.linkage.conftest import write_data_dir

    people, aliases = register
    data = write_data_dir(tmp_path / "d", people, aliases)
    williams = people[people["forename"] == "WILLIAM"].head(40)
    upload = pd.DataFrame({
        "row_number": range(1, len(williams) + 1), "forename": "Bill",
        "surname": williams["surname"].to_numpy(),
        "date_of_birth": williams["date_of_birth"].to_numpy(), "sex": "M",
        "pnc_id": williams["pnc_id"].to_numpy(), "prison_number": None,
    })
    model = train_model(data, calibration=[upload], settings=FAST, save=False)
    assert model.label_pairs["id_confirmed_rows"] == len(williams)
    params = model.parameters().set_index(["comparison", "level"])
    assert params.loc[("forename", "nickname or variant"), "m"] > 2 * PRIOR_M["forename"][
        "nickname or variant"]
    assert params.loc[("pnc_id", "exact"), "m"] == pytest.approx(PRIOR_M["pnc_id"]["exact"])

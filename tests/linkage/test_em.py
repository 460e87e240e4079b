"""The per-upload m estimate (EM on the upload's own candidates) against a known answer."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from jdl.linkage._em import estimate_upload_m
from jdl.linkage._model import LinkageModel

N_PEOPLE = 1000
PRIOR_IN_REGISTER = 0.9
# The model's m (what a clean list looks like) and the register's u. Dates of birth are
# nearly unique here (N·u = 0.1 and 0.01), so a row's only candidate is its person or a stranger
# the simulation draws, as the model assumes.
MODEL_M = {"forename": (0.05, 0.95), "dob": (0.05, 0.95)}  # by gamma: else, exact
U = {"forename": (1 - 1e-4, 1e-4), "dob": (1 - 1e-5, 1e-5)}


def _model() -> LinkageModel:
    comparisons = []
    for name in ("forename", "dob"):
        (m_else, m_exact), (u_else, u_exact) = MODEL_M[name], U[name]
        comparisons.append({"output_column_name": name, "comparison_levels": [
            {"is_null_level": True, "label_for_charts": "null"},
            {"label_for_charts": "exact", "m_probability": m_exact, "u_probability": u_exact},
            {"label_for_charts": "else", "m_probability": m_else, "u_probability": u_else},
        ]})
    splink = {"comparisons": comparisons,
              "probability_two_random_records_match": PRIOR_IN_REGISTER / N_PEOPLE}
    return LinkageModel(splink=splink, n_people=N_PEOPLE, n_register_records=N_PEOPLE,
                        data_version="test", trained_at="")


def _upload(rows: int, true_m_else_forename: float, seed: int = 3,
            in_register: float = PRIOR_IN_REGISTER) -> pd.DataFrame:
    """One candidate per row: its person for ``in_register`` of the rows (forename typed
    differently in ``true_m_else_forename`` of them, date of birth right in 95%), a stranger
    for the rest."""
    rng = np.random.default_rng(seed)
    match = rng.random(rows) < in_register
    forename = np.where(match, rng.random(rows) >= true_m_else_forename,
                        rng.random(rows) < U["forename"][1]).astype(int)
    dob = np.where(match, rng.random(rows) < 0.95, rng.random(rows) < U["dob"][1]).astype(int)
    prior = PRIOR_IN_REGISTER / N_PEOPLE
    weight = math.log2(prior / (1 - prior)) + sum(
        np.log2(np.array(MODEL_M[c])[g] / np.array(U[c])[g])
        for c, g in (("forename", forename), ("dob", dob)))
    return pd.DataFrame({"row_number": np.arange(rows), "person_id": np.arange(rows),
                         "record_id": np.arange(rows), "match_weight": weight,
                         "gamma_forename": forename, "gamma_dob": dob})


def test_em_learns_the_uploads_own_error_rate():
    upload = _upload(20_000, true_m_else_forename=0.3)
    estimate = estimate_upload_m(upload, _model(), prior_in_register=PRIOR_IN_REGISTER,
                                 prior_strength=200)
    out, m = estimate.candidates, estimate.m
    assert m["forename"]["else"] == pytest.approx(0.3, abs=0.03)
    # a true match with both fields wrong (1.5% here) has no evidence for it and is counted as
    # a stranger, so disagreement is under-counted a little: EM's known bias on such pairs
    assert m["dob"]["exact"] == pytest.approx(0.95, abs=0.04)
    # a true match whose forename was typed differently now scores higher than before
    changed = (upload["gamma_forename"] == 0) & (upload["gamma_dob"] == 1)
    assert (out.loc[changed, "match_weight"] > upload.loc[changed, "match_weight"]).all()


def test_small_upload_keeps_the_models_m():
    upload = _upload(20, true_m_else_forename=0.3)
    estimate = estimate_upload_m(upload, _model(), prior_in_register=PRIOR_IN_REGISTER,
                                 prior_strength=200)
    m = estimate.m
    assert m["forename"]["else"] < 0.1


def test_clean_upload_keeps_disagreement_rare():
    upload = _upload(20_000, true_m_else_forename=0.02)
    estimate = estimate_upload_m(upload, _model(), prior_in_register=PRIOR_IN_REGISTER,
                                 prior_strength=200)
    m = estimate.m
    assert m["forename"]["else"] == pytest.approx(0.02, abs=0.015)


@pytest.mark.parametrize("share", [0.3, 0.9])
def test_em_learns_how_much_of_the_upload_is_on_the_register(share):
    """λ (fastLink's match share) is estimated with m; the prior's 200 pseudo-rows pull it
    towards 0.9 by 200 / (rows + 200), and a true match with weak evidence (a wrong date of
    birth: posterior about 0.8 here) counts for less than one, so it sits 1-2 points low."""
    rows = 20_000
    estimate = estimate_upload_m(_upload(rows, 0.05, in_register=share), _model(),
                                 prior_in_register=PRIOR_IN_REGISTER, prior_strength=200,
                                 n_rows=rows)
    pull = 200 / (rows + 200) * (PRIOR_IN_REGISTER - share)
    assert share + pull - 0.025 < estimate.in_register <= share + pull
    # matches whose forename differs score lower when few rows are on the register: EM's known
    # under-count of disagreement (module docstring) grows
    assert estimate.m["forename"]["else"] == pytest.approx(0.05, abs=0.025)


def test_an_upload_of_strangers_teaches_no_disagreement():
    """Nobody on the register: every candidate is a stranger who happens to agree somewhere.
    With λ fixed at 0.9 the E-step would call them matches; estimated, it falls and the
    strangers keep a low probability."""
    rows = 5_000
    upload = _upload(rows, 0.05, in_register=0.0)
    fixed = estimate_upload_m(upload, _model(), prior_in_register=PRIOR_IN_REGISTER,
                              prior_strength=200)
    free = estimate_upload_m(upload, _model(), prior_in_register=PRIOR_IN_REGISTER,
                             prior_strength=200, n_rows=rows)
    assert free.in_register < 0.1
    assert free.m["forename"]["else"] <= fixed.m["forename"]["else"]


# --- the u of the placeholder levels, re-based on the upload's share of 1 January dates -----

def _jan1(dates: np.ndarray) -> np.ndarray:
    return dates.astype("datetime64[Y]").astype("datetime64[D]") == dates


def _same_year_placeholder(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The "1 January of the same year" level between two arrays of dates (datetime64[D]):
    either date is 1 January and the years agree, the dates differ."""
    same_year = a.astype("datetime64[Y]") == b.astype("datetime64[Y]")
    return (_jan1(a) | _jan1(b)) & same_year & (a != b)


def _dates(rng, n: int, jan1_share: float) -> np.ndarray:
    """Birth dates uniform over 1945-2004, ``jan1_share`` of them moved to 1 January."""
    days = rng.integers(0, 60 * 365, n).astype("timedelta64[D]")
    dates = np.datetime64("1945-01-01") + days
    jan1 = rng.random(n) < jan1_share
    return np.where(jan1, dates.astype("datetime64[Y]").astype("datetime64[D]"), dates)


@pytest.mark.parametrize("upload_share", [0.0, 0.05, 0.4])
def test_placeholder_factor_matches_the_pairs_it_stands_for(upload_share):
    """Known answer by simulation: the share of upload-register pairs at the placeholder level
    over the share of register-register pairs (where the model's u is sampled)."""
    from jdl.linkage._em import placeholder_u_factor

    rng = np.random.default_rng(11)
    register_share = 0.01
    pairs = 4_000_000
    register_a = _dates(rng, pairs, register_share)
    register_b = _dates(rng, pairs, register_share)
    upload = _dates(rng, pairs, upload_share)
    u_register = _same_year_placeholder(register_a, register_b).mean()
    u_upload = _same_year_placeholder(upload, register_b).mean()
    # the shares as the lab measures them: every 1 January, a real birthday or not
    factor = placeholder_u_factor(upload_share=_jan1(upload).mean(),
                                  register_share=_jan1(register_b).mean())
    # 4M pairs: about 1,000-1,700 at the level on each side, so 10% is some 2.5 standard errors
    assert u_upload / u_register == pytest.approx(factor, rel=0.1)


def _dob_model() -> LinkageModel:
    labels = ["exact", "1 January of the same year", "1 January, a year or two out",
              "one character", "else"]
    levels = [{"is_null_level": True, "label_for_charts": "null"}] + [
        {"label_for_charts": label, "m_probability": 0.2, "u_probability": 0.2}
        for label in labels]
    splink = {"comparisons": [{"output_column_name": "dob", "comparison_levels": levels}],
              "probability_two_random_records_match": 1e-3}
    return LinkageModel(splink=splink, n_people=1000, n_register_records=1000,
                        data_version="test", trained_at="")


def test_rebase_moves_only_the_placeholder_levels():
    from jdl.linkage._em import rebase_placeholder_u

    # Splink numbers non-null levels from the bottom: else 0, one character 1, a year or two
    # out 2, same year 3, exact 4
    candidates = pd.DataFrame({"row_number": [1, 2, 3, 4, 5], "person_id": [1, 2, 3, 4, 5],
                               "match_weight": [5.0] * 5, "gamma_dob": [0, 1, 2, 3, 4]})
    out = rebase_placeholder_u(candidates, _dob_model(), upload_share=0.07,
                               register_share=0.01)
    shift = np.log2((0.07 + 0.01) / 0.02)  # 4 times as likely: 2 bits
    assert out["match_weight"].tolist() == pytest.approx([5, 5, 5 - shift, 5 - shift, 5])
    assert out["match_probability"].tolist() == pytest.approx(
        list(1 / (1 + np.exp2(-out["match_weight"]))))
    # an upload with as many 1 January dates as the register: nothing moves
    same = rebase_placeholder_u(candidates, _dob_model(), upload_share=0.01,
                                register_share=0.01)
    assert same["match_weight"].tolist() == [5.0] * 5

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

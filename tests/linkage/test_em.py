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


def _upload(rows: int, true_m_else_forename: float, seed: int = 3) -> pd.DataFrame:
    """One candidate per row: its person for 90% of rows (forename typed differently in
    ``true_m_else_forename`` of them, date of birth right in 95%), a stranger for the rest."""
    rng = np.random.default_rng(seed)
    match = rng.random(rows) < PRIOR_IN_REGISTER
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
    out, m = estimate_upload_m(upload, _model(), prior_in_register=PRIOR_IN_REGISTER,
                               prior_strength=200)
    assert m["forename"]["else"] == pytest.approx(0.3, abs=0.03)
    # a true match with both fields wrong (1.5% here) has no evidence for it and is counted as
    # a stranger, so disagreement is under-counted a little: EM's known bias on such pairs
    assert m["dob"]["exact"] == pytest.approx(0.95, abs=0.04)
    # a true match whose forename was typed differently now scores higher than before
    changed = (upload["gamma_forename"] == 0) & (upload["gamma_dob"] == 1)
    assert (out.loc[changed, "match_weight"] > upload.loc[changed, "match_weight"]).all()


def test_small_upload_keeps_the_models_m():
    upload = _upload(20, true_m_else_forename=0.3)
    _out, m = estimate_upload_m(upload, _model(), prior_in_register=PRIOR_IN_REGISTER,
                                prior_strength=200)
    assert m["forename"]["else"] < 0.1


def test_clean_upload_keeps_disagreement_rare():
    upload = _upload(20_000, true_m_else_forename=0.02)
    _out, m = estimate_upload_m(upload, _model(), prior_in_register=PRIOR_IN_REGISTER,
                                prior_strength=200)
    assert m["forename"]["else"] == pytest.approx(0.02, abs=0.015)

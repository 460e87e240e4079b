"""Agreement with R's MatchIt 4.7.2 on its own ``lalonde`` data (figures quoted in issue 6).

Specification: ``treat ~ age + educ + race + married + nodegree + re74 + re75``, distance
``glm``; ATT = weighted difference in mean ``re78``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from jdl.matching import match

DATA = Path(__file__).parent / "data" / "lalonde.csv"
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    return pd.read_csv(DATA)


def att(m, y):
    w, t = m.weights, m.treat
    return np.average(y[t], weights=w[t]) - np.average(y[~t], weights=w[~t])


@pytest.mark.parametrize(("kwargs", "n_treated", "n_control", "expected"), [
    ({}, 185, 185, 894.367480),
    ({"replace": True}, 185, 82, 1991.615274),
    ({"caliper": 0.1}, 111, 111, 1835.407682),
    ({"ratio": 2}, 185, 370, 220.288641),
])
def test_att_matches_matchit(lalonde, kwargs, n_treated, n_control, expected):
    m = match(lalonde, "treat", COVS, **kwargs)
    assert m.n_treated_matched == n_treated
    assert m.n_control_matched == n_control
    assert att(m, lalonde["re78"].to_numpy()) == pytest.approx(expected, abs=1e-6)


def test_glm_coefficients_match_r(lalonde):
    """R: glm(treat ~ ..., binomial) on lalonde (MatchIt vignette); race reference = black."""
    m = match(lalonde, "treat", COVS)
    assert m.model.names == ("(Intercept)", "age", "educ", "racehispan", "racewhite", "married",
                             "nodegree", "re74", "re75")
    X = pd.get_dummies(lalonde[COVS], columns=["race"], drop_first=True, dtype=float)
    X = sm.add_constant(X[["age", "educ", "race_hispan", "race_white", "married", "nodegree",
                           "re74", "re75"]])
    ref = sm.Logit(lalonde["treat"], X).fit(disp=0, tol=1e-14, maxiter=100)
    assert np.allclose(m.model.coef, ref.params.to_numpy(), rtol=1e-6, atol=1e-9)
    assert m.model.coef[0] == pytest.approx(-1.6633, abs=1e-4)  # R's printed value
    assert m.model.iterations == 5  # R: "Number of Fisher Scoring iterations: 5"


def test_weights_follow_matchit_rules(lalonde):
    m = match(lalonde, "treat", COVS, ratio=2)
    w = m.weights
    assert np.all(w[m.treat & (w > 0)] == 1.0)
    assert w[~m.treat].sum() == pytest.approx(m.n_control_matched)
    mr = match(lalonde, "treat", COVS, replace=True)
    assert mr.weights[~mr.treat].sum() == pytest.approx(82)
    raw = np.bincount(mr.match_matrix.ravel(), minlength=len(lalonde))[~mr.treat]
    # with replacement a control's weight is proportional to how often it was used
    used = raw > 0
    ratio_w = mr.weights[~mr.treat][used] / raw[used]
    assert np.allclose(ratio_w, ratio_w[0])


def test_balance_table_matches_matchit_definitions(lalonde):
    m = match(lalonde, "treat", COVS)
    b = m.balance().table
    t = lalonde["treat"].to_numpy() == 1
    # before matching: SMD denominators are the treated SD (binary: sqrt(p(1-p)))
    age = lalonde["age"].to_numpy()
    smd_un = (age[t].mean() - age[~t].mean()) / age[t].std(ddof=1)
    assert b.loc["age", "smd_un"] == pytest.approx(smd_un, rel=1e-12)
    p = (lalonde["race"][t] == "black").mean()
    diff = p - (lalonde["race"][~t] == "black").mean()
    assert b.loc["raceblack", "smd_un"] == pytest.approx(diff / np.sqrt(p * (1 - p)))
    assert b.loc["raceblack", "ecdf_max_un"] == pytest.approx(abs(diff))
    # MatchIt summary(m.out) on lalonde, before matching (published in its vignette)
    assert b.loc["age", "smd_un"] == pytest.approx(-0.3094, abs=1e-4)
    assert b.loc["age", "var_ratio_un"] == pytest.approx(0.4400, abs=1e-4)
    assert b.loc["re74", "smd_un"] == pytest.approx(-0.7211, abs=1e-4)
    assert b.loc["distance", "smd_un"] == pytest.approx(1.7941, abs=1e-4)
    # after matching, means are weighted means of the matched rows
    w = m.weights
    assert b.loc["age", "mean_control"] == pytest.approx(np.average(age[~t], weights=w[~t]))
    assert b.loc["married", "var_ratio"] != b.loc["married", "var_ratio"]  # NaN for binary
    assert "racehispan" in b.index and "racewhite" in b.index


def test_balance_after_matching_matches_matchit_vignette(lalonde):
    """MatchIt "Getting started" vignette, ``summary(m.out1)``, matched-data rows."""
    b = match(lalonde, "treat", COVS).balance().table
    expected = {  # smd, var_ratio, ecdf_max
        "distance": (0.9739, 0.7566, 0.4216),
        "age": (0.0718, 0.4568, 0.2541),
        "educ": (-0.1290, 0.5721, 0.0757),
        "raceblack": (1.0259, None, 0.3730),
        "racewhite": (-0.7296, None, 0.2162),
        "re74": (-0.0505, 1.3289, 0.2757),
        "re75": (-0.0257, 1.4956, 0.2054),
    }
    for name, (smd, vr, emax) in expected.items():
        assert b.loc[name, "smd"] == pytest.approx(smd, abs=1e-4), name
        assert b.loc[name, "ecdf_max"] == pytest.approx(emax, abs=1e-4), name
        if vr is not None:
            assert b.loc[name, "var_ratio"] == pytest.approx(vr, abs=1e-4), name
    assert b.loc["re74", "mean_control"] == pytest.approx(2342.1076, abs=1e-3)


def test_large_data_solver_agrees_with_small_data_solver(lalonde):
    """The normal-equations path (big tables) reproduces the QR path: lalonde stacked 400x has
    the same maximum-likelihood fit and the same IRLS iterates."""
    from jdl.matching import fit_logit
    from jdl.matching._design import build_design

    d = build_design(lalonde, COVS)
    y = lalonde["treat"].to_numpy(dtype=float)
    small = fit_logit(d.X, y)
    big = fit_logit(np.tile(d.X, (400, 1)), np.tile(y, 400))
    assert big.iterations == small.iterations
    assert np.allclose(big.coef, small.coef, rtol=1e-9, atol=1e-13)


def test_factor_aware_solver_agrees_with_dense_solver(lalonde):
    """Large fits sum a factor's indicator blocks by level; same answer as the dense path."""
    from jdl.matching import fit_logit
    from jdl.matching._design import build_design

    d = build_design(lalonde, COVS)
    y = lalonde["treat"].to_numpy(dtype=float)
    small = fit_logit(d.X, y)
    reps = 400
    factors = tuple((np.tile(c, reps), cols) for c, cols in d.factors)
    assert factors  # race is a factor
    big = fit_logit(np.tile(d.X, (reps, 1)), np.tile(y, reps), factors=factors)
    assert big.iterations == small.iterations
    assert np.allclose(big.coef, small.coef, rtol=1e-9, atol=1e-13)


def test_a_refit_from_another_fits_coefficients_reaches_the_same_optimum_sooner(lalonde):
    """``start`` (R's ``glm(start = )``): a refit of the same model on a slightly different
    sample, started from the first fit, converges to the same coefficients as R's default start
    in fewer iterations (what the evaluation's sensitivity rows do)."""
    from jdl.matching._design_choice import logit_fit

    first = logit_fit(lalonde, "treat", COVS)
    other = lalonde.drop(index=lalonde.index[::40])  # another sample: 2.5% of people gone
    cold = logit_fit(other, "treat", COVS)
    warm = logit_fit(other, "treat", COVS, start=dict(zip(first.names, first.coef, strict=True)))
    assert warm.converged and cold.converged
    assert warm.iterations < cold.iterations
    assert np.allclose(warm.coef, cold.coef, rtol=1e-6, atol=1e-9)
    assert not np.allclose(warm.coef, first.coef, rtol=1e-3)  # a different sample's optimum
    # fewer covariates: the columns the start lacks begin at 0, the rest at the first fit's
    fewer = logit_fit(other, "treat", COVS[:-2], start=dict(zip(first.names, first.coef,
                                                                strict=True)))
    assert np.allclose(fewer.coef, logit_fit(other, "treat", COVS[:-2]).coef, rtol=1e-6,
                       atol=1e-9)

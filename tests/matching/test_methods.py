"""Exact, subclass and Mahalanobis methods, discard, results objects and input types."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jdl.matching import MatchingError, match

DATA = Path(__file__).parent / "data" / "lalonde.csv"
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    return pd.read_csv(DATA)


def test_exact_method_weights_by_hand():
    df = pd.DataFrame({"t": [1, 1, 0, 0, 0, 1, 0], "g": ["a", "a", "a", "b", "b", "c", "a"]})
    m = match(df, "t", ["g"], method="exact")
    # stratum a: 2 treated, 2 controls -> control weight 1; b has no treated; c no controls
    assert m.weights.tolist() == [1, 1, 1, 0, 0, 0, 1]
    df2 = pd.DataFrame({"t": [1, 0, 0, 0, 1, 0], "g": ["a", "a", "a", "a", "b", "b"]})
    w = match(df2, "t", ["g"], method="exact").weights
    # raw control weights: a: 1/3 each (3 controls), b: 1; normalised to mean 1 over 4 controls
    raw = np.array([1 / 3, 1 / 3, 1 / 3, 1.0])
    assert w[[1, 2, 3, 5]] == pytest.approx(4 * raw / raw.sum())


def test_subclass_method_balances_better_than_raw(lalonde):
    m = match(lalonde, "treat", COVS, method="subclass", subclass=6)
    assert m.subclass.max() <= 5 and (m.weights[m.treat] == 1).all()
    b = m.balance().table
    assert abs(b.loc["distance", "smd"]) < abs(b.loc["distance", "smd_un"]) / 5


def test_mahalanobis_nearest_is_greedy_on_pooled_covariance_distance():
    rng = np.random.default_rng(5)
    n1, n0 = 8, 40
    X = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], n1 + n0)
    t = np.r_[np.ones(n1), np.zeros(n0)].astype(int)
    df = pd.DataFrame({"t": t, "x": X[:, 0], "y": X[:, 1]})
    m = match(df, "t", ["x", "y"], distance="mahalanobis")
    # by hand: pooled within-group covariance, treated matched in data order to the nearest
    # still-available control
    Xc = X.copy()
    for g in (0, 1):
        Xc[t == g] -= X[t == g].mean(axis=0)
    S_inv = np.linalg.inv(Xc.T @ Xc / (len(X) - 2))
    available = set(range(n1, n1 + n0))
    want = []
    for i in range(n1):
        d = {j: (X[i] - X[j]) @ S_inv @ (X[i] - X[j]) for j in available}
        j = min(d, key=d.get)
        want.append(j)
        available.remove(j)
    assert m.match_matrix[:, 0].tolist() == want


def test_discard_both_drops_units_outside_common_support():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"t": np.r_[np.ones(50), np.zeros(200)].astype(int),
                       "x": np.r_[rng.normal(1, 1, 50), rng.normal(0, 1, 200)]})
    m = match(df, "t", ["x"], discard="both")
    d = m.distance
    lo, hi = d[m.treat].min(), d[m.treat].max()
    assert ((d[~m.treat & ~m.discarded] >= lo) & (d[~m.treat & ~m.discarded] <= hi)).all()
    assert m.discarded.sum() > 0


def test_results_objects(lalonde):
    m = match(lalonde, "treat", COVS)
    md = m.matched
    assert len(md) == 370 and {"distance", "weights", "subclass"} <= set(md.columns)
    assert md.groupby("subclass")["treat"].agg(["sum", "count"]).eq([1, 2]).all().all()
    assert "Sample sizes" in m.summary() and "max |SMD|" in m.summary()
    fig = m.love_plot()
    assert len(fig.axes[0].collections) == 2
    bt = m.balance()
    assert not bt.quality_ok and "raceblack" in bt.poor  # lalonde's well-known race imbalance
    ss = m.sample_sizes()
    assert ss.loc["matched", "control"] == 185 and ss.loc["all", "control"] == 429


def test_table_with_to_pandas_is_accepted(lalonde):
    class Frame:  # stands in for a polars DataFrame
        def to_pandas(self):
            return lalonde

    assert match(Frame(), "treat", COVS).n_control_matched == 185
    with pytest.raises(MatchingError, match="table"):
        match([1, 2, 3], "treat", COVS)


def test_categorical_level_order_sets_the_reference(lalonde):
    df = lalonde.assign(race=pd.Categorical(lalonde["race"], ["white", "black", "hispan"]))
    m = match(df, "treat", COVS)
    assert "raceblack" in m.model.names and "racewhite" not in m.model.names
    # a reparameterisation: same scores, so same matches as with the default reference
    base = match(lalonde, "treat", COVS)
    assert np.allclose(m.distance, base.distance, atol=1e-10)


def test_match_with_settings_uses_lab_defaults():
    from jdl.core.config import MatchingSettings
    from jdl.matching import match_with_settings

    rng = np.random.default_rng(2)
    n = 600
    df = pd.DataFrame({"treated": (rng.random(n) < 0.2).astype(int), "age": rng.normal(30, 8, n),
                       "index_type": rng.choice(["custody", "court_order"], n),
                       "index_year": rng.choice(["2020", "2021"], n)})
    m = match_with_settings(df, "treated", ["age", "index_type", "index_year"])
    assert m.spec.exact == ("index_type", "index_year") and m.spec.caliper == 0.2
    p = m.pairs()
    assert (df["index_year"].to_numpy()[p.treated_row]
            == df["index_year"].to_numpy()[p.control_row]).all()
    m2 = match_with_settings(df, "treated", ["age"], MatchingSettings(exact=(), caliper=None),
                             ratio=2)
    assert m2.spec.ratio == 2 and m2.caliper_abs is None and not m2.spec.exact
    with pytest.raises(MatchingError, match="exact strata"):
        match(df, "treated", ["age"], method="subclass", exact=["index_year"])


def test_aliased_covariate_is_dropped_like_r(lalonde):
    """A covariate that is a linear combination of earlier ones gets coefficient NA in R."""
    df = lalonde.assign(age2=2 * lalonde["age"] + 1)
    m = match(df, "treat", [*COVS, "age2"])
    assert np.isnan(m.model.coef[-1])
    base = match(lalonde, "treat", COVS)
    assert np.allclose(m.distance, base.distance, atol=1e-10)
    assert m.match_matrix.tolist() == base.match_matrix.tolist()


def test_subclass_scoot_fills_a_subclass_without_controls():
    from jdl.matching._match import _scoot

    # subclasses 0,1,2; controls only in 0 and 2 -> subclass 1 needs one.
    sub = np.array([0, 1, 2, 0, 0, 2, 2])
    treat = np.array([1, 1, 1, 0, 0, 0, 0], dtype=bool)
    x = np.array([0.1, 0.5, 0.9, 0.15, 0.2, 0.8, 0.85])
    # spare controls: subclass 0 has 1 spare (2-1) at distance -1, subclass 2 has 1 at +1:
    # score = 1/(0-1) + 1/(2-1) = 0 <= 0 -> take from the left: subclass 0's largest x (0.2)
    out = _scoot(sub, treat, x)
    assert out.tolist() == [0, 1, 2, 0, 1, 2, 2]
    # at the last subclass MatchIt always looks left
    sub = np.array([0, 1, 0, 0])
    treat = np.array([1, 1, 0, 0], dtype=bool)
    out = _scoot(sub, treat, np.array([0.1, 0.9, 0.2, 0.3]))
    assert out.tolist() == [0, 1, 0, 1]

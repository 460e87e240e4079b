"""Standard errors after matching with replacement (jdl.inference._variance): get_matches rows
with two-way clustering against R (lm + sandwich::vcovCL(~subclass + id)), and Abadie-Imbens
(2006) against a case worked by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jdl.inference import InferenceError, estimate_effects
from jdl.inference._variance import abadie_imbens_att, pair_rows, pairs_person_difference
from jdl.matching import match

R_DIR = Path(__file__).parent / "r"
LALONDE = Path(__file__).parents[1] / "matching" / "data" / "lalonde.csv"
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


def _reference() -> pd.DataFrame:
    return pd.read_csv(R_DIR / "matches_reference.csv").set_index("case")


@pytest.mark.parametrize("case", sorted(_reference().index))
def test_two_way_on_matched_sets_equals_r_sandwich(case):
    """The exported get_matches rows are what jdl makes today, and their two-way (set and
    person) and one-way (set) errors are R's."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("export", R_DIR / "export_matches_inputs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fresh = module.cases()
    x = fresh[fresh["case"] == case]
    saved = pd.read_csv(R_DIR / "matches_inputs.csv")
    saved = saved[saved["case"] == case]
    np.testing.assert_allclose(x["weights"].to_numpy(), saved["weights"].to_numpy())
    assert (x["matched_set"].to_numpy() == saved["matched_set"].to_numpy()).all()

    ref = _reference().loc[case]
    kw = {"ratio": 3, "replace": True} if case == "replace_3to1" else \
        {"ratio": 2, "replace": True, "caliper": 0.1}
    df = pd.read_csv(LALONDE)
    m = match(df, "treat", COVS, **kw)
    person = module.person_ids(len(df))
    two = pairs_person_difference(m, df["re78"].to_numpy(), person)
    one = pairs_person_difference(m, df["re78"].to_numpy(), None)
    assert two.difference == pytest.approx(ref["estimate"], rel=1e-10)
    assert two.se == pytest.approx(ref["se_set_person"], rel=1e-9)
    assert one.se == pytest.approx(ref["se_set"], rel=1e-9)
    assert "person" in two.vcov_type and "person" not in one.vcov_type


def test_pair_rows_reproduce_the_weighted_estimate():
    """get_matches rows (controls repeated, weight 1/m) give the match.data estimate."""
    df = pd.read_csv(LALONDE)
    m = match(df, "treat", COVS, ratio=3, replace=True)
    pr = pair_rows(m)
    assert pr.treat.sum() == m.n_treated_matched
    assert len(pr.row) == m.n_treated_matched + (m.match_matrix >= 0).sum()
    per_set = pd.Series(pr.weight[~pr.treat]).groupby(pr.matched_set[~pr.treat]).sum()
    np.testing.assert_allclose(per_set.to_numpy(), 1.0)
    lab = estimate_effects(m, {"re78": "mean"})["re78"]
    mine = pairs_person_difference(m, df["re78"].to_numpy(), None)
    assert mine.difference == pytest.approx(lab.difference, rel=1e-12)


def _hand_case():
    # treated at 0.0 and 0.05 both take the control at 0.1 (reused, K = 2); treated at 1.0
    # takes 1.1; controls at 0.2 and 5.0 are not matched (0.2 is 0.1's nearest control)
    score = np.array([0.0, 0.05, 1.0, 0.1, 0.2, 1.1, 5.0])
    df = pd.DataFrame({"t": [1, 1, 1, 0, 0, 0, 0], "x": score,
                       "y": [1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0]})
    return df, match(df, "t", ["x"], distance=score, ratio=1, replace=True)


def test_abadie_imbens_worked_by_hand():
    df, m = _hand_case()
    assert m.match_matrix[:, 0].tolist() == [3, 3, 5]
    est = abadie_imbens_att(m, df["y"].to_numpy())
    # d = (1, 0, 0), tau = 1/3; sum (d - tau)^2 = 2/3; control 0.1: K = 2, K' = 2,
    # sigma^2 = (0 - 1)^2 / 2 = 0.5 -> (K^2 - K') sigma^2 = 1; V = (2/3 + 1) / 3^2 = 5/27
    assert est.difference == pytest.approx(1 / 3)
    assert est.se == pytest.approx(np.sqrt(5 / 27))


def test_abadie_imbens_without_reuse_is_the_paired_variance():
    """1:1 without reuse: K = 1 for every control, so V = sum (d - tau)^2 / n^2."""
    score = np.array([0.0, 1.0, 2.0, 0.1, 1.1, 2.1, 9.0])
    df = pd.DataFrame({"t": [1, 1, 1, 0, 0, 0, 0], "x": score,
                       "y": [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0]})
    m = match(df, "t", ["x"], distance=score, ratio=1, replace=True)
    d = np.array([1.0, 0.0, 0.0])
    est = abadie_imbens_att(m, df["y"].to_numpy())
    assert est.se == pytest.approx(np.sqrt(((d - d.mean()) ** 2).sum() / 9))


def test_needs_matched_sets():
    df = pd.read_csv(LALONDE)
    m = match(df, "treat", ["race", "married"], method="exact")
    with pytest.raises(InferenceError):
        pair_rows(m)
    with pytest.raises(InferenceError):
        abadie_imbens_att(m, df["re78"].to_numpy())

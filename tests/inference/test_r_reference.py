"""Standard errors against R (lm + sandwich::vcovCL / vcovHC, MatchIt's "Estimating effects"
vignette), and the same error whatever the input type (issue 18, finding 3).

The reference values were computed by ``tests/inference/r/se_reference.R`` (R 4.2.2, sandwich
3.0.2) from the matched samples ``tests/inference/r/export_se_inputs.py`` exported from jdl.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jdl.inference import estimate_effects, weighted_difference
from jdl.matching import match

R_DIR = Path(__file__).parent / "r"
LALONDE = Path(__file__).parents[1] / "matching" / "data" / "lalonde.csv"
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


def _reference() -> pd.DataFrame:
    return pd.read_csv(R_DIR / "se_reference.csv").set_index("case")


@pytest.mark.parametrize("case", sorted(_reference().index))
def test_standard_errors_equal_r_sandwich(case):
    ref = _reference().loc[case]
    d = pd.read_csv(R_DIR / "se_inputs.csv")
    x = d[d["case"] == case]
    ways = {"pair membership": x["pair"].to_numpy(), "person": x["person"].to_numpy()}
    cluster = None if ref["vcov"] == "HC3" else {k: ways[k] for k in ref["vcov"].split("+")}
    est = weighted_difference(x["y"].to_numpy(), x["treat"].to_numpy() == 1,
                              x["weights"].to_numpy(), cluster)
    assert est.difference == pytest.approx(ref["estimate"], rel=1e-10)
    assert est.se == pytest.approx(ref["se"], rel=1e-9)


def test_the_exported_inputs_are_what_jdl_matches_today():
    """The R inputs are reproducible from jdl (so the reference cannot go stale silently)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("export", R_DIR / "export_se_inputs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fresh = module.cases()
    saved = pd.read_csv(R_DIR / "se_inputs.csv")
    assert list(fresh["vcov"].unique()) == list(saved["vcov"].unique())
    np.testing.assert_allclose(fresh["weights"].to_numpy(), saved["weights"].to_numpy())
    assert (fresh["pair"].to_numpy() == saved["pair"].to_numpy()).all()


@pytest.mark.parametrize("kw", [{"ratio": 2}, {"ratio": 3, "replace": True},
                                {"method": "subclass"}, {"method": "exact"}],
                         ids=["nearest_2to1", "replace", "subclass", "exact"])
def test_standard_error_does_not_depend_on_the_input_type(kw):
    """A MatchResult and its matched table give the same error (finding 3: the table from exact
    or subclass matching was clustered on a dozen strata labelled 'pair membership')."""
    df = pd.read_csv(LALONDE)
    df["person_id"] = np.arange(len(df))
    covs = ["race", "married", "nodegree"] if kw.get("method") == "exact" else COVS
    m = match(df, "treat", covs, **kw)
    from_result = estimate_effects(m, {"re78": "mean"})["re78"]
    from_table = estimate_effects(m.matched, {"re78": "mean"}, treatment="treat")["re78"]
    assert from_table.se == pytest.approx(from_result.se, rel=1e-12)
    assert from_table.vcov_type == from_result.vcov_type
    pairs = kw == {"ratio": 2}
    assert from_result.vcov_type == ("cluster-robust (CR1) on pair membership" if pairs
                                     else "HC3")


def test_lalonde_exact_is_no_longer_clustered_on_strata():
    """The issue's case: exact matching's table gave CI 185.8..2434.0 (clustered on strata);
    with HC3 on the weights the interval is the robust one."""
    df = pd.read_csv(LALONDE)
    m = match(df, "treat", ["race", "married", "nodegree"], method="exact")
    e = estimate_effects(m.matched, {"re78": "mean"}, treatment="treat")["re78"]
    ref = _reference().loc["exact"]
    assert e.se == pytest.approx(ref["se"], rel=1e-9)


def test_a_person_in_the_sample_twice_is_a_cluster():
    df = pd.read_csv(LALONDE)
    df["person_id"] = np.arange(len(df))
    m = match(df, "treat", COVS, ratio=2)
    md = m.matched.copy()
    first_two_controls = md.index[md["treat"] == 0][:2]
    md.loc[first_two_controls[1], "person_id"] = md.loc[first_two_controls[0], "person_id"]
    e = estimate_effects(md, {"re78": "mean"}, treatment="treat")["re78"]
    assert e.vcov_type == "cluster-robust (CR1) on pair membership and person"


# --- covariate-adjusted effects (g-computation), against R glm/lm + sandwich + delta method ---

KINDS = {"employed": "rate", "jobs": "frequency", "re78k": "days"}


def _adjusted_reference() -> pd.DataFrame:
    return pd.read_csv(R_DIR / "adjusted_reference.csv")


@pytest.mark.parametrize("row", _adjusted_reference().to_dict("records"),
                         ids=lambda r: f"{r['case']}-{r['outcome']}")
def test_adjusted_effects_equal_r(row):
    from jdl.inference._adjusted import adjusted_difference

    d = pd.read_csv(R_DIR / "adjusted_inputs.csv")
    x = d[d["case"] == row["case"]]
    z = x[[c for c in x.columns if c.startswith("z")]].to_numpy()
    clusters = None if row["vcov"] == "HC3" else {"pair membership": x["pair"].to_numpy()}
    est = adjusted_difference(x[row["outcome"]].to_numpy(), x["treat"].to_numpy() == 1,
                              x["weights"].to_numpy(), z, KINDS[row["outcome"]],
                              clusters=clusters)
    assert est.treated_mean == pytest.approx(row["treated_mean"], rel=1e-7)
    assert est.comparison_mean == pytest.approx(row["comparison_mean"], rel=1e-7)
    assert est.difference == pytest.approx(row["difference"], rel=1e-6, abs=1e-9)
    assert est.se == pytest.approx(row["se"], rel=1e-6)
    assert est.comparison_se == pytest.approx(row["comparison_se"], rel=1e-6)


def test_adjusted_rate_in_the_treated_is_their_observed_rate():
    """With an intercept and treatment in a logistic model, the weighted mean prediction for
    the treated under treatment is their observed rate (the score equation), so the adjustment
    moves only the comparison value."""
    row = _adjusted_reference().iloc[0]
    d = pd.read_csv(R_DIR / "adjusted_inputs.csv")
    x = d[(d["case"] == row["case"]) & (d["treat"] == 1)]
    observed = np.average(x["employed"], weights=x["weights"])
    assert row["treated_mean"] == pytest.approx(observed, rel=1e-8)

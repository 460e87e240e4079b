"""Getting an analysis frame ready for matching: gaps with indicators, shared levels, and the
covariates that vary; the lists come from the covariate registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jdl.cohort._covariates import NO_PREVIOUS_OFFENCE, covariate_measures, matching_covariates
from jdl.evaluation._evaluate import covariate_spec
from jdl.matching import (
    CovariateSpec,
    MatchingError,
    prepare_covariates,
    restrict_to_shared_levels,
    varying_covariates,
)

SPEC = CovariateSpec(categorical=("region", "sex"), numeric=("days_since", "risk", "age"),
                     fill_zero=("risk",), indicators=(("days_since", "none_before"),))


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "treated": [1, 1, 0, 0, 0],
        "region": ["London", "London", "London", "Wales", None],
        "sex": ["M", "F", "M", "F", "M"],
        "days_since": [10, None, 30, None, 5],
        "risk": [None, 40, 50, None, 10],
        "age": [20, 30, 40, 50, 60],
    })


def test_gaps_are_filled_with_an_indicator_where_the_gap_means_something():
    out = prepare_covariates(_frame(), SPEC)
    assert out["none_before"].tolist() == [0, 1, 0, 1, 0]
    assert out["days_since"].tolist() == [10.0, 0.0, 30.0, 0.0, 5.0]
    assert out["risk"].tolist() == [0.0, 40.0, 50.0, 0.0, 10.0]
    assert out["age"].dtype == float
    assert SPEC.model_numeric == ("days_since", "none_before", "risk", "age")
    with pytest.raises(MatchingError, match="covariate column"):
        prepare_covariates(_frame().drop(columns="age"), SPEC)


def test_the_pool_is_limited_to_the_level_every_participant_shares():
    kept, shared = restrict_to_shared_levels(_frame(), ("region", "sex"))
    assert shared == {"region": "London"}  # both sexes among participants: no restriction
    assert kept["region"].tolist() == ["London"] * 3 and kept.index.tolist() == [0, 1, 2]
    same, none = restrict_to_shared_levels(_frame(), ("sex",))
    assert none == {} and same is not None and len(same) == 5


def test_only_covariates_that_vary_enter_the_model():
    out = prepare_covariates(_frame(), SPEC)
    out["sex"] = "M"
    assert varying_covariates(out, SPEC) == ["region", "days_since", "none_before", "risk",
                                             "age"]
    assert varying_covariates(out, SPEC, drop=("risk",)) == ["region", "days_since",
                                                             "none_before", "age"]


def test_the_lab_spec_is_the_registry_of_covariates():
    spec = covariate_spec()
    used = [m.name for m in matching_covariates()]
    assert [*spec.categorical, *spec.numeric] == used
    assert set(used) == {m.name for m in covariate_measures() if m.use_in_matching}
    # every computed covariate is matched on (issue 17: three were computed but never used)
    public = [m.name for m in covariate_measures() if not m.name.startswith("_")]
    assert set(public) == set(used)
    assert {"prev_convictions_2y", "employment_at_index", "benefit_at_index"} <= set(used)
    assert spec.categorical == ("sex", "ethnicity", "nationality", "region",
                                "index_offence_group", "sentence_type")
    assert ("days_since_last_offence", NO_PREVIOUS_OFFENCE) in spec.indicators
    assert "risk_score" in spec.fill_zero and "has_assessment" in spec.fill_zero
    assert spec.exact == ("index_type", "index_year")
    assert np.all([m.label for m in matching_covariates()])

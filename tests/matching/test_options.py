"""The MatchIt options added for issue 18: clear errors for impossible specifications, and
hand-worked cases of what each option means."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jdl.matching import MatchingError, match

TIES = Path(__file__).parent / "data" / "ties.csv"
COVS = ["age_band", "priors", "female", "region", "earnings"]


@pytest.fixture(scope="module")
def ties() -> pd.DataFrame:
    return pd.read_csv(TIES)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"link": "probit"}, "unknown link"),
    ({"reuse_max": 0}, "reuse_max"),
    ({"min_controls": 1}, "min_controls needs max_controls"),
    ({"ratio": 1, "max_controls": 3}, "greater than 1"),
    ({"ratio": 3, "max_controls": 3}, "max_controls must be greater"),
    ({"ratio": 2, "min_controls": 2, "max_controls": 4}, "min_controls must be less"),
    ({"caliper": {"region": 1}}, "categorical"),
    ({"caliper": {"nope": 1}}, "not in the data"),
    ({"caliper": -0.2}, "positive"),
    ({"distance": "mahalanobis", "caliper": 0.2}, "needs a propensity score"),
    ({"distance": "mahalanobis", "mahvars": ["priors"]}, "mahvars needs a propensity"),
    ({"distance": "mahalanobis", "discard": "both"}, "absence of a propensity score"),
    ({"distance": "mahalanobis", "ratio": 2, "max_controls": 3}, "variable ratio"),
    ({"method": "subclass", "unit_id": "person"}, "unit_id is supported with method"),
    ({"unit_id": "nope"}, "not in the data"),
])
def test_impossible_specifications_raise_clear_errors(ties, kwargs, message):
    with pytest.raises(MatchingError, match=message):
        match(ties, "treat", COVS, **kwargs)


def test_unit_id_never_matches_one_person_twice(ties):
    m = match(ties, "treat", COVS, ratio=2, unit_id="person")
    person = ties["person"].to_numpy()
    used = m.match_matrix[m.match_matrix >= 0]
    assert len(set(person[used])) == len(used)  # every control row: a different person
    # MatchIt's unit.id also uses up the treated person's own pool rows once they are matched
    # (it does not stop a first match with their own row: the lab's pool excludes the cohort)
    t_idx = np.flatnonzero(m.treat)
    assert all(person[c] != person[t_idx[k]] for k, row in enumerate(m.match_matrix)
               for c in row if c >= 0)
    plain = match(ties, "treat", COVS, ratio=2)
    used0 = plain.match_matrix[plain.match_matrix >= 0]
    assert len(set(person[used0])) < len(used0)  # without it, people repeat in this pool


def test_reuse_max_caps_how_often_a_control_is_used(ties):
    m = match(ties, "treat", COVS, ratio=3, reuse_max=2)
    counts = np.bincount(m.match_matrix[m.match_matrix >= 0])
    assert counts.max() == 2
    assert m.spec.replace and m.spec.reuse_max == 2
    assert (m.subclass == -1).all()  # matched with reuse: weights from the match matrix


def test_variable_ratio_allocation_hand_worked():
    """MatchIt's rule, worked by hand: 5 treated, ratio 2 -> 10 controls; min 1, max 3:
    kmax = floor((10 - 1*4) / 2) = 3, kmin = 5 - 3 - 1 = 1, kmed = 10 - (1 + 9) = 0 -> the
    0 becomes 1 and the next unit gives one up: [1, 1, 2, 3, 3] from the most treated-like."""
    from jdl.matching._match import variable_ratios

    scores = np.array([0.9, 0.5, 0.7, 0.6, 0.8, 0.1, 0.2, 0.3])
    t = np.array([True] * 5 + [False] * 3)
    r = variable_ratios(scores, t, 2, 1, 3)
    assert r.tolist() == [1, 3, 2, 3, 1]  # 0.9 and 0.8 get 1, 0.7 gets 2, 0.6 and 0.5 get 3
    assert r.sum() == 10


def test_named_caliper_keeps_pairs_within_the_band(ties):
    m = match(ties, "treat", COVS, caliper={"priors": 1}, std_caliper=False, ratio=2)
    p = m.pairs()
    prio = ties["priors"].to_numpy()
    assert (np.abs(prio[p.treated_row] - prio[p.control_row]) <= 1).all()
    assert m.spec.covariate_calipers == (("priors", 1.0),)


def test_logit_caliper_is_in_sds_of_the_linear_predictor(ties):
    m = match(ties, "treat", COVS, link="linear.logit", caliper=0.2)
    lp = m.model.linear_predictor
    assert np.allclose(m.distance, lp)
    assert m.caliper_abs == pytest.approx(0.2 * np.std(lp, ddof=1))
    p = m.pairs()
    assert (np.abs(lp[p.treated_row] - lp[p.control_row]) <= m.caliper_abs).all()

"""The fast nearest-neighbour matcher against a literal step-by-step scan, and hand cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jdl.matching import MatchingError, match
from jdl.matching._nearest import _heap_select, nearest_match

from ._reference_scan import reference_match


def _random_case(seed: int, n: int = 160, levels: int = 12):
    rng = np.random.default_rng(seed)
    distance = rng.integers(0, levels, n) / levels  # coarse scores: many exact ties
    treat = rng.random(n) < 0.3
    eligible = rng.random(n) > 0.05
    strata = rng.integers(0, 2, n)
    return distance, treat, eligible, strata


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(("ratio", "replace", "caliper", "use_strata"), [
    (1, False, None, False), (1, False, 0.15, False), (2, False, None, False),
    (3, False, 0.2, True), (1, True, None, False), (1, True, 0.1, True),
    (2, True, None, False), (3, True, 0.25, True), (1, False, None, True),
])
def test_fast_matcher_equals_literal_scan(seed, ratio, replace, caliper, use_strata):
    distance, treat, eligible, strata = _random_case(seed)
    s = strata if use_strata else None
    if use_strata:  # MatchIt discards units of strata lacking a group before matching
        both = np.intersect1d(strata[treat], strata[~treat])
        eligible = eligible & np.isin(strata, both)
    got = nearest_match(distance, treat, eligible, ratio=ratio, replace=replace,
                        caliper=caliper, strata=s)
    want = reference_match(distance, treat, eligible, ratio=ratio, replace=replace,
                           caliper=caliper, strata=s)
    assert [sorted(r) for r in got.tolist()] == [sorted(r) for r in want.tolist()]


def test_tie_goes_to_the_nearer_position_left_first():
    # sorted order: c0(0.4) t(0.5) c1(0.6): equal distances, offsets 1 and 1 -> left wins
    d = np.array([0.5, 0.4, 0.6])
    t = np.array([True, False, False])
    assert nearest_match(d, t, np.ones(3, bool)).tolist() == [[1]]
    # c0(0.4) x(0.45, used treated) t(0.5) c1(0.6): left offset 2 > right offset 1 -> right
    d = np.array([0.5, 0.4, 0.6, 0.45])
    t = np.array([True, False, False, True])
    e = np.array([True, True, True, False])
    assert nearest_match(d, t, e)[0].tolist() == [2]


def test_caliper_is_inclusive_and_drops_unmatched_treated():
    d = np.array([0.5, 0.7, 0.1, 0.6])
    t = np.array([True, True, False, False])
    mm = nearest_match(d, t, np.ones(4, bool), caliper=0.1 + 1e-12)
    assert mm[:, 0].tolist() == [-1, 3]  # largest first: 0.7 takes 0.6; 0.5 has none left
    mm = nearest_match(d, t, np.ones(4, bool), caliper=0.05)
    assert mm[:, 0].tolist() == [-1, -1]


def test_exact_strata_are_respected():
    rng = np.random.default_rng(3)
    n = 400
    df = pd.DataFrame({"t": (rng.random(n) < 0.25).astype(int), "x": rng.normal(size=n),
                       "year": rng.integers(2015, 2018, n), "kind": rng.choice(["c", "k"], n)})
    m = match(df, "t", ["x"], exact=["year", "kind"])
    pairs = m.pairs()
    for col in ("year", "kind"):
        assert (df[col].to_numpy()[pairs.treated_row] ==
                df[col].to_numpy()[pairs.control_row]).all()


def test_heap_select_matches_partial_sort_semantics():
    # all equal: libstdc++ heap selection keeps the first k
    assert sorted(_heap_select([1.0, 1.0, 1.0, 1.0], 2)) == [0, 1]
    # make_heap on two tied elements leaves the second on top, so a smaller third replaces it
    assert sorted(_heap_select([2.0, 2.0, 1.0], 2)) == [0, 2]
    assert sorted(_heap_select([3.0, 1.0, 2.0, 0.5], 2)) == [1, 3]


def test_bad_specifications_raise_clear_errors():
    df = pd.DataFrame({"t": [1, 0, 0, 1], "x": [1.0, 2.0, 3.0, None], "g": ["a", "b", "a", "b"]})
    with pytest.raises(MatchingError, match="missing"):
        match(df, "t", ["x"])
    with pytest.raises(MatchingError, match="not in the data"):
        match(df, "t", ["nope"])
    with pytest.raises(MatchingError, match="0/1"):
        match(df.assign(t=[2, 0, 0, 1]), "t", ["g"])
    with pytest.raises(MatchingError, match="ratio"):
        match(df, "t", ["g"], ratio=0)
    with pytest.raises(MatchingError, match="method"):
        match(df, "t", ["g"], method="genetic")
    with pytest.raises(MatchingError, match="both treated"):
        match(df.assign(t=1), "t", ["g"])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(4, 60), levels=st.integers(2, 8),
       ratio=st.integers(1, 3), replace=st.booleans(),
       caliper=st.one_of(st.none(), st.floats(0.05, 0.5)), strata=st.booleans(),
       m_order=st.sampled_from(["largest", "smallest", "data"]))
def test_fast_matcher_equals_literal_scan_property(seed, n, levels, ratio, replace, caliper,
                                                   strata, m_order):
    rng = np.random.default_rng(seed)
    distance = rng.integers(0, levels, n) / levels
    treat = rng.random(n) < 0.4
    eligible = rng.random(n) > 0.1
    s = rng.integers(0, 2, n) if strata else None
    if s is not None:
        eligible = eligible & np.isin(s, np.intersect1d(s[treat], s[~treat]))
    got = nearest_match(distance, treat, eligible, ratio=ratio, replace=replace,
                        caliper=caliper, strata=s, m_order=m_order)
    want = reference_match(distance, treat, eligible, ratio=ratio, replace=replace,
                           caliper=caliper, strata=s, m_order=m_order)
    assert [sorted(r) for r in got.tolist()] == [sorted(r) for r in want.tolist()]


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(6, 70), levels=st.integers(2, 8),
       ratio=st.integers(1, 3), reuse_max=st.integers(1, 4), varying=st.booleans(),
       caliper=st.one_of(st.none(), st.floats(0.05, 0.5)), strata=st.booleans(),
       units=st.booleans(), cov_cal=st.sampled_from([None, 1.0, 2.0, -1.0]),
       m_order=st.sampled_from(["largest", "smallest", "data"]))
def test_new_options_equal_literal_scan_property(seed, n, levels, ratio, reuse_max, varying,
                                                 caliper, strata, units, cov_cal, m_order):
    """reuse_max, unit_id, per-unit ratios and covariate calipers: the fast matcher against
    the literal re-expression of MatchIt's scan, on data full of ties."""
    from jdl.matching._mahalanobis import CovariateCalipers

    rng = np.random.default_rng(seed)
    distance = rng.integers(0, levels, n) / levels
    treat = rng.random(n) < 0.4
    if treat.all() or not treat.any():
        treat[0], treat[-1] = True, False
    eligible = rng.random(n) > 0.1
    s = rng.integers(0, 2, n) if strata else None
    if s is not None:
        eligible = eligible & np.isin(s, np.intersect1d(s[treat], s[~treat]))
    n_t = int(treat.sum())
    ratios = rng.integers(1, ratio + 1, n_t) if varying else np.full(n_t, ratio)
    unit_id = rng.integers(0, max(2, n // 2), n) if units else None
    cov = rng.integers(0, 5, (n, 1)).astype(float)
    cc = None if cov_cal is None else CovariateCalipers(values=np.array([cov_cal]), matrix=cov)
    got = nearest_match(distance, treat, eligible, ratio=ratios, caliper=caliper, strata=s,
                        m_order=m_order, reuse_max=reuse_max, unit_id=unit_id, calipers=cc)
    want = reference_match(distance, treat, eligible, ratio=ratios, caliper=caliper, strata=s,
                           m_order=m_order, reuse_max=reuse_max, unit_id=unit_id,
                           cov_mat=cov, cov_cal=None if cov_cal is None else [cov_cal])
    assert [sorted(r) for r in got.tolist()] == [sorted(r) for r in want.tolist()]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(6, 60), ratio=st.integers(1, 3),
       reuse_max=st.sampled_from([1, 2, 10**6]), strata=st.booleans(), units=st.booleans())
def test_mahalanobis_scan_equals_literal_scan_property(seed, n, ratio, reuse_max, strata,
                                                       units):
    """The vectorised Mahalanobis matcher (ties ordered by when the scan meets them) against
    a literal re-expression of MatchIt's ``find_control_mahcovs``, on duplicate-heavy rows."""
    from jdl.matching._mahalanobis import MahalanobisScan, mahalanobis_match

    from ._reference_scan import reference_mahalanobis

    rng = np.random.default_rng(seed)
    Z = rng.integers(0, 3, (n, 2)).astype(float) * np.array([1.0, 0.37])
    treat = rng.random(n) < 0.4
    if treat.all() or not treat.any():
        treat[0], treat[-1] = True, False
    eligible = rng.random(n) > 0.1
    s = rng.integers(0, 2, n) if strata else None
    if s is not None:
        eligible = eligible & np.isin(s, np.intersect1d(s[treat], s[~treat]))
    unit_id = rng.integers(0, max(2, n // 2), n) if units else None
    n_t = int(treat.sum())
    ratios = np.full(n_t, ratio)
    order = np.flatnonzero(eligible[treat])
    scan = MahalanobisScan(Z=Z, treat=treat, strata=s, split_strata=unit_id is None,
                           distance=None, caliper_dist=None, calipers=None)
    got = mahalanobis_match(scan, eligible, ratios, reuse_max, order, unit_id)
    want = reference_mahalanobis(Z, treat, eligible, ratio=ratios, reuse_max=reuse_max,
                                 strata=s, order=order, unit_id=unit_id)
    assert [sorted(r) for r in got.tolist()] == [sorted(r) for r in want.tolist()]

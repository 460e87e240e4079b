"""k:1 with replacement: the vectorised match of units without a tie at the k-th distance gives
the same match sets as MatchIt's scan (reproduced in ``_replace_k``) on pools full of ties."""

from __future__ import annotations

import numpy as np
import pytest

import jdl.matching._nearest as nearest


def _sets(mm: np.ndarray) -> list[frozenset[int]]:
    return [frozenset(row[row >= 0].tolist()) for row in mm]


def _scan_only(di, c, cal, k, out):  # every row through the exact scan
    return np.arange(len(di))


@pytest.mark.parametrize("kind", ["continuous", "one_decimal", "five_values", "two_decimals"])
def test_vectorised_k_nearest_gives_the_scans_match_sets(kind, monkeypatch):
    rng = np.random.default_rng(["continuous", "one_decimal", "five_values",
                                 "two_decimals"].index(kind))
    for trial in range(6):
        n = int(rng.integers(50, 2000))
        treat = rng.random(n) < rng.uniform(0.05, 0.5)
        score = {"continuous": rng.normal(size=n),
                 "one_decimal": np.round(rng.normal(size=n), 1),
                 "five_values": rng.integers(0, 5, n).astype(float),
                 "two_decimals": np.round(rng.random(n), 2)}[kind]
        eligible = rng.random(n) < 0.95
        strata = rng.integers(0, 3, n) if trial % 2 else None
        for k in (2, 5, 20):
            for caliper in (None, 0.1, 0.5):
                args = dict(ratio=k, replace=True, caliper=caliper, strata=strata)
                fast = nearest.nearest_match(score, treat, eligible, **args)
                with monkeypatch.context() as m:
                    m.setattr(nearest, "_k_nearest_untied", _scan_only)
                    scan = nearest.nearest_match(score, treat, eligible, **args)
                assert _sets(fast) == _sets(scan), (trial, k, caliper)


def test_ties_at_the_kth_distance_go_to_the_scan():
    """Three controls at the same distance for k = 2: which two is MatchIt's tie-breaking."""
    score = np.array([0.0, 1.0, -1.0, 1.0, 3.0])
    treat = np.array([True, False, False, False, False])
    c = nearest._prepare(score, treat, np.ones(5, dtype=bool), None, np.flatnonzero(treat))[1]
    out = np.full((1, 2), -1, dtype=np.int64)
    assert nearest._k_nearest_untied(score[treat], c, np.inf, 2, out).tolist() == [0]
    assert nearest._k_nearest_untied(score[treat], c, np.inf, 3, np.full((1, 3), -1)).size == 0

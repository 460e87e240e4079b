"""Greedy nearest-neighbour matching on the Mahalanobis distance (small data).

Covariates are scaled by the pooled within-group covariance (MatchIt's ``"mahalanobis"``
transform, generalised inverse for singular matrices); each treated unit in ``m_order`` takes the
available control with the smallest distance (ties: first in data order). The distance is
computed against all available controls of the stratum for each treated unit, so cost is
O(n_treated x n_controls): fine for a cohort against tens of thousands, not for a national pool
(use the propensity score there).
"""

from __future__ import annotations

import numpy as np


def _whiten(X: np.ndarray, treat: np.ndarray) -> np.ndarray:
    Xc = X.astype("float64").copy()
    for g in (True, False):
        Xc[treat == g] -= Xc[treat == g].mean(axis=0)
    cov = Xc.T @ Xc / (len(X) - 2)
    _u, s, vt = np.linalg.svd(cov)
    keep = s > 1e-9 * s.max()
    root_inv = (vt[keep].T / np.sqrt(s[keep]))
    return X @ root_inv


def mahalanobis_match(X: np.ndarray, treat: np.ndarray, eligible: np.ndarray, *, ratio: int,
                      replace: bool, strata: np.ndarray | None, m_order: str,
                      rng: np.random.Generator) -> np.ndarray:
    """Match matrix (n_treated, ratio) of control indices by Mahalanobis distance."""
    Z = _whiten(X, treat)
    t_idx = np.flatnonzero(treat)
    order = {"data": np.arange(len(t_idx)), "random": rng.permutation(len(t_idx))}.get(
        m_order, np.arange(len(t_idx)))
    available = ~treat & eligible
    s = strata if strata is not None else np.zeros(len(treat), dtype=np.int64)
    out = np.full((len(t_idx), ratio), -1, dtype=np.int64)
    for r in range(ratio):
        for k in order:
            i = t_idx[k]
            if not eligible[i]:
                continue
            cand = np.flatnonzero(available & (s == s[i]))
            if replace:
                cand = cand[~np.isin(cand, out[k, :r])]
            if len(cand) == 0:
                continue
            d = ((Z[cand] - Z[i]) ** 2).sum(axis=1)
            j = cand[int(np.argmin(d))]
            out[k, r] = j
            if not replace:
                available[j] = False
    return out

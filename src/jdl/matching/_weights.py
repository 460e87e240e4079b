"""Matching weights exactly as MatchIt computes them (ATT).

* From subclasses (matching without replacement, exact matching, subclassification): treated
  units weigh 1; a control weighs ``n_treated / n_control`` of its subclass
  (``get_weights_from_subclass``).
* From the match matrix (matching with replacement): a control weighs the sum, over the treated
  units it is matched to, of ``1 / (number of controls matched to that treated unit)``
  (``weights_matrixC``); matched treated units weigh 1.
* Then, in each group, non-zero weights are rescaled to average 1 (``normalize = TRUE``), so the
  control weights sum to the number of matched controls.
"""

from __future__ import annotations

import numpy as np


def normalise(weights: np.ndarray, treat: np.ndarray) -> np.ndarray:
    """Rescale non-zero weights in each group to mean 1 (MatchIt's ``.make_sum_to_n``)."""
    w = weights.astype("float64").copy()
    for group in (True, False):
        sel = (treat == group) & (w > 0)
        if sel.any():
            w[sel] = sel.sum() * w[sel] / w[sel].sum()
    return w


def weights_from_subclass(subclass: np.ndarray, treat: np.ndarray) -> np.ndarray:
    """ATT weights from subclass labels (``-1`` = unmatched), before normalisation."""
    w = np.zeros(len(treat))
    in_sub = subclass >= 0
    if not in_sub.any():
        return w
    n_sub = int(subclass.max()) + 1
    nt = np.bincount(subclass[in_sub & treat], minlength=n_sub)
    nc = np.bincount(subclass[in_sub & ~treat], minlength=n_sub)
    w[in_sub & treat] = 1.0
    ctrl = in_sub & ~treat
    with np.errstate(divide="ignore", invalid="ignore"):
        w[ctrl] = (nt / nc)[subclass[ctrl]]
    return w


def weights_from_match_matrix(mm: np.ndarray, treated_idx: np.ndarray, n: int) -> np.ndarray:
    """ATT weights from a match matrix (rows: treated units; entries: control indices or -1)."""
    w = np.zeros(n)
    has = mm >= 0
    k = has.sum(axis=1)
    rows = k > 0
    w[treated_idx[rows]] += 1.0
    share = np.where(has, 1.0 / np.maximum(k, 1)[:, None], 0.0)
    np.add.at(w, mm[has], share[has])
    return w


def subclass_from_match_matrix(mm: np.ndarray, treated_idx: np.ndarray, n: int) -> np.ndarray:
    """Pair (or k:1 set) ids for matching without replacement, numbered by treated data order."""
    sub = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero((mm >= 0).any(axis=1))
    ids = np.arange(len(rows))
    sub[treated_idx[rows]] = ids
    for col in range(mm.shape[1]):
        sel = mm[rows, col] >= 0
        sub[mm[rows[sel], col]] = ids[sel]
    return sub

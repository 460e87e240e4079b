"""Standard errors for nearest-neighbour matching with replacement and k:1 sets.

After matching *with replacement* a comparison person can stand in for several participants, so
their outcome enters several participants' comparisons. Three ways to account for it, compared
by ``bench/validate_se_rules.py`` (placebo cohorts with no effect, many replicates):

* ``"weights"`` (the lab's rule, :func:`jdl.inference._estimate.clusters_for`): the matched
  table ``match.data`` holds each comparison person once with weight ``K_j`` = the number of
  participants' sets they are in, each counted ``1/m_i``; the robust (HC3) variance of the
  weighted difference is then ``sum_i r_i^2 / n_t^2 + sum_j K_j^2 r_j^2 / (sum K)^2``: reuse
  enters through ``K_j^2``. This is Abadie and Imbens's (2006) conditional variance with the
  residual from the arm's mean in place of the conditional variance sigma^2(X) (conservative:
  it also counts the outcome variation the covariates explain).
* ``"pairs+person"`` (:func:`pair_rows` + two-way CR1): MatchIt's "estimating effects" vignette
  for matching with replacement: ``get_matches()`` rows (each participant's set, comparison
  people repeated, weight ``1/m_i``), cluster-robust on the set and the person
  (``sandwich::vcovCL(cluster = ~subclass + id)``; Cameron, Gelbach and Miller 2011).
* ``"abadie-imbens"`` (:func:`abadie_imbens_att`): Abadie and Imbens (2006), Theorem 7 / the
  ``Matching`` package's ``Var``: ``V = [sum_{treated} (Y_i - Yhat_i(0) - tau)^2
  + sum_{controls} (K_j^2 - K'_j) sigma_j^2] / n_t^2`` with ``K'_j = sum 1/m_i^2`` and
  ``sigma_j^2`` from each comparison person's nearest other comparison person on the matching
  distance, in the same exact stratum (their ``J = 1``).

References
----------
Abadie, A. and Imbens, G. W. (2006). Large sample properties of matching estimators for average
treatment effects. *Econometrica* 74(1), 235-267.
Cameron, A. C., Gelbach, J. B. and Miller, D. L. (2011). Robust inference with multiway
clustering. *JBES* 29(2), 238-249.
Greifer, N. MatchIt vignette "Estimating Effects After Matching" (matching with replacement).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from jdl.inference._errors import InferenceError

if TYPE_CHECKING:
    from jdl.matching import MatchResult


@dataclass(frozen=True)
class PairRows:
    """``get_matches()``-style rows: one per member of each participant's matched set."""

    row: np.ndarray  # row of ``result.data``
    treat: np.ndarray  # bool
    weight: np.ndarray  # 1 for the participant, 1/m_i for each of its m_i comparison people
    matched_set: np.ndarray  # the participant's set


def pair_rows(result: MatchResult) -> PairRows:
    """The matched sets of a nearest-neighbour ``MatchResult`` as ``get_matches()`` rows."""
    if result.match_matrix is None:
        raise InferenceError("matched sets exist only for nearest-neighbour matching.")
    mm = result.match_matrix
    t_idx = np.flatnonzero(result.treat)
    m = (mm >= 0).sum(axis=1)
    sets = np.flatnonzero(m > 0)
    rows_i, cols = np.nonzero(mm[sets] >= 0)
    controls = mm[sets][rows_i, cols]
    set_of_control = sets[rows_i]
    row = np.concatenate([t_idx[sets], controls])
    treat = np.concatenate([np.ones(len(sets), bool), np.zeros(len(controls), bool)])
    weight = np.concatenate([np.ones(len(sets)), 1.0 / m[set_of_control]])
    matched_set = np.concatenate([sets, set_of_control])
    return PairRows(row=row, treat=treat, weight=weight, matched_set=matched_set)


def pairs_person_difference(result: MatchResult, y: np.ndarray, person: np.ndarray | None, *,
                            alpha: float = 0.05):
    """The weighted difference on ``get_matches()`` rows, cluster-robust two-way on the matched
    set and the person (one-way on the set when nobody repeats) — MatchIt's recommendation
    after matching with replacement."""
    from jdl.inference._estimate import weighted_difference

    pr = pair_rows(result)
    cl = {"matched set": pr.matched_set}
    if person is not None:
        ids = np.asarray(person)[pr.row]
        if pd.Series(ids).duplicated().any():
            cl["person"] = ids
    return weighted_difference(np.asarray(y, dtype="float64")[pr.row], pr.treat, pr.weight, cl,
                               alpha=alpha)


@dataclass(frozen=True)
class AIEstimate:
    difference: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float


def _neighbour_variance(y: np.ndarray, score: np.ndarray, stratum: np.ndarray) -> np.ndarray:
    """sigma^2 per unit from its nearest other unit on ``score`` in the same stratum (J = 1:
    ``(Y - Y_nn)^2 / 2``); NaN where the stratum has one unit."""
    out = np.full(len(y), np.nan)
    order = np.lexsort((score, stratum))
    s, st, yy = score[order], stratum[order], y[order]
    gap_prev = np.where(st[1:] == st[:-1], s[1:] - s[:-1], np.inf)
    left = np.concatenate([[np.inf], gap_prev])
    right = np.concatenate([gap_prev, [np.inf]])
    nb = np.where(left <= right, np.arange(len(s)) - 1, np.arange(len(s)) + 1)
    ok = np.isfinite(np.minimum(left, right))
    var = np.full(len(s), np.nan)
    var[ok] = (yy[ok] - yy[nb[ok]]) ** 2 / 2.0
    out[order] = var
    return out


def abadie_imbens_att(result: MatchResult, y: np.ndarray, *, alpha: float = 0.05) -> AIEstimate:
    """The ATT of nearest-neighbour matching (with or without replacement) with Abadie and
    Imbens's (2006) variance (module docstring); the neighbour for sigma^2 is found among all
    comparison rows of ``result.data`` (the pool) on the matching distance."""
    if result.match_matrix is None or result.distance is None:
        raise InferenceError("the Abadie-Imbens variance needs nearest-neighbour matching on a "
                             "score.")
    y = np.asarray(y, dtype="float64")
    mm = result.match_matrix
    t_idx = np.flatnonzero(result.treat)
    m = (mm >= 0).sum(axis=1)
    sets = np.flatnonzero(m > 0)
    n_t = len(sets)
    if n_t < 2:
        raise InferenceError("too few matched participants for a variance.")
    yc = np.where(mm[sets] >= 0, y[np.maximum(mm[sets], 0)], 0.0).sum(axis=1) / m[sets]
    d = y[t_idx[sets]] - yc
    tau = float(d.mean())
    rows_i, cols = np.nonzero(mm[sets] >= 0)
    ctrl = mm[sets][rows_i, cols]
    inv = 1.0 / m[sets][rows_i]
    k = np.bincount(ctrl, weights=inv, minlength=len(y))
    k2 = np.bincount(ctrl, weights=inv**2, minlength=len(y))
    used = np.flatnonzero(k > 0)
    exact = list(result.spec.exact)
    stratum = (result.data[exact].astype(str).agg("|".join, axis=1).factorize()[0]
               if exact else np.zeros(len(y), int))
    controls = np.flatnonzero(~result.treat)
    sigma2 = np.full(len(y), np.nan)
    sigma2[controls] = _neighbour_variance(y[controls], np.asarray(result.distance)[controls],
                                           np.asarray(stratum)[controls])
    s2 = sigma2[used]
    s2 = np.where(np.isfinite(s2), s2, np.nanmean(s2) if np.isfinite(s2).any() else 0.0)
    var = (((d - tau) ** 2).sum() + ((k[used] ** 2 - k2[used]) * s2).sum()) / n_t**2
    se = float(np.sqrt(max(var, 0.0)))
    z = stats.norm.ppf(1 - alpha / 2)
    p = float(2 * stats.norm.sf(abs(tau / se))) if se > 0 else 1.0
    return AIEstimate(difference=tau, se=se, ci_low=tau - z * se, ci_high=tau + z * se, p_value=p)

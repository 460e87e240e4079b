"""Weighted difference in means on matched data, with cluster-robust or HC3 standard errors.

The estimate is the coefficient on treatment in a weighted least-squares regression of the
outcome on an intercept and the treatment indicator, using the matching weights: exactly the
weighted difference in means (MatchIt's "estimating effects" vignette, ``lm(Y ~ A, weights)``).

Standard errors follow that vignette (:func:`clusters_for`; the same rule whether a
``MatchResult`` or its matched table is given, so the error never depends on the input type):

* nearest-neighbour matching without replacement (1:1 or k:1 sets, each holding one treated
  person): cluster-robust on pair membership, the ``sandwich::vcovCL`` default (CR1:
  ``G/(G-1) * (n-1)/(n-k)``);
* matching with replacement (``match.data``: each comparison person once, with a weight),
  exact matching and subclassification (strata holding many treated people): robust HC3 with
  the weights; the vignette: "cluster-robust standard errors are generally not used with
  subclassification methods. Regular robust standard errors are valid with these methods when
  using the subclassification weights";
* the same person in the matched sample more than once (a person can enter the comparison pool
  in several years, or be a participant and a comparison person in different years): the
  person is a cluster too, two-way with the pairs (``vcovCL(cluster = ~subclass + id)``:
  Cameron, Gelbach and Miller's inclusion-exclusion of the two meats), or one-way CR1 on the
  person where the design has no pairs.

After matching with replacement this rule (HC3 on the weighted rows: reuse enters through the
squared weights) was compared with ``get_matches`` rows clustered two-way on set and person and
with Abadie and Imbens (2006) (:mod:`jdl.inference._variance`): on 103 placebo cohorts with no
effect the three agreed within about 2% and each rejected 4.9% at 5%
(``bench/validate_se_rules.py``; docs/matching-and-inference.md).

Intervals and p-values use the normal distribution, as ``marginaleffects`` does.

References
----------
Cameron, A. C., Gelbach, J. B. and Miller, D. L. (2011). Robust inference with multiway
clustering. *Journal of Business & Economic Statistics* 29(2), 238-249.
Abadie, A. and Spiess, J. (2022). Robust post-matching inference. *JASA* 117(538), 983-995.
Greifer, N. and Stuart, E. A. MatchIt vignette "Estimating Effects After Matching".
MacKinnon, J. G. and White, H. (1985). Some heteroskedasticity-consistent covariance matrix
estimators with improved finite sample properties. *Journal of Econometrics* 29, 305-325.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class DiffEstimate:
    """A weighted difference (treated - comparison) with its uncertainty."""

    treated_mean: float
    control_mean: float
    difference: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    vcov_type: str
    n_treated: int
    n_control: int
    n_clusters: int | None
    #: standard errors of each group's weighted mean (the same covariance as the difference)
    treated_se: float = float("nan")
    control_se: float = float("nan")


def weighted_count(weighted_mean: float, people: int) -> int:
    """The events a weighted group of ``people`` stands for, ``round(mean * people)``: the count
    that, over the group's size, gives its weighted rate (what a released rate is recomputed
    from). The weighted sum of the outcomes is that only when the weights add up to ``people``."""
    return round(float(weighted_mean) * people) if people else 0


def weighted_difference(y: np.ndarray, treat: np.ndarray, weights: np.ndarray,
                        cluster: np.ndarray | Mapping[str, np.ndarray] | None = None, *,
                        alpha: float = 0.05) -> DiffEstimate:
    """Weighted difference in means with cluster-robust (``cluster`` given) or HC3 errors.

    Parameters
    ----------
    y : outcome per row; rows with weight 0 are ignored.
    treat : boolean treatment indicator.
    weights : matching weights.
    cluster : one id array per row (pair/subclass: CR1, ``sandwich::vcovCL``'s default), or
        {name: id array} for one- or multi-way clustering (``vcovCL(cluster = ~a + b)``), or
        None for HC3 (``sandwich::vcovHC``'s default).
    """
    keep = weights > 0
    y, a, w = y[keep].astype("float64"), treat[keep].astype("float64"), weights[keep]
    n = len(y)
    X = np.column_stack([np.ones(n), a])
    XtW = X.T * w
    bread = np.linalg.inv(XtW @ X)
    beta = bread @ (XtW @ y)
    resid = y - X @ beta
    score = X * (w * resid)[:, None]
    ways = _cluster_map(cluster, keep)
    if ways:
        vcov, n_g = cluster_vcov(bread, score, list(ways.values()))
        vtype = "cluster-robust (CR1) on " + " and ".join(ways)
    else:
        n_g = None
        h = np.einsum("ij,jk,ik->i", X, bread, X) * w
        s = score / (1.0 - np.minimum(h, 1 - 1e-12))[:, None]
        vcov = bread @ (s.T @ s) @ bread
        vtype = "HC3"
    se = float(np.sqrt(vcov[1, 1]))
    z = stats.norm.ppf(1 - alpha / 2)
    diff = float(beta[1])
    p = float(2 * stats.norm.sf(abs(diff / se))) if se > 0 else (1.0 if diff == 0 else 0.0)
    t_mean = float(beta[0] + beta[1])
    return DiffEstimate(treated_mean=t_mean, control_mean=float(beta[0]), difference=diff, se=se,
                        ci_low=diff - z * se, ci_high=diff + z * se, p_value=p, vcov_type=vtype,
                        n_treated=int((a == 1).sum()), n_control=int((a == 0).sum()),
                        n_clusters=n_g,
                        treated_se=float(np.sqrt(max(vcov.sum(), 0.0))),
                        control_se=float(np.sqrt(max(vcov[0, 0], 0.0))))


def _cluster_map(cluster: np.ndarray | Mapping[str, np.ndarray] | None,
                 keep: np.ndarray) -> dict[str, np.ndarray]:
    if cluster is None:
        return {}
    if isinstance(cluster, np.ndarray):
        return {"pair membership": cluster[keep]}
    return {name: np.asarray(ids)[keep] for name, ids in cluster.items()}


def cluster_vcov(bread: np.ndarray, score: np.ndarray, ways: Sequence[np.ndarray]
                 ) -> tuple[np.ndarray, int]:
    """``sandwich::vcovCL`` (type HC1, ``cadjust = TRUE``, ``multi0 = FALSE``) for one or more
    clusterings: the meat is the inclusion-exclusion sum over every combination of the
    clusterings (the intersection of two: pairs of ids), each with ``G/(G-1)``, then
    ``(n-1)/(n-k)``. Returns (vcov, clusters of the first clustering)."""
    from itertools import combinations

    n, k = score.shape
    meat = np.zeros((k, k))
    codes = [np.unique(c, return_inverse=True)[1] for c in ways]
    first = int(codes[0].max()) + 1
    for size in range(1, len(codes) + 1):
        for combo in combinations(codes, size):
            joint = combo[0] if size == 1 else np.unique(np.column_stack(combo), axis=0,
                                                          return_inverse=True)[1].ravel()
            n_g = int(joint.max()) + 1
            sums = np.zeros((n_g, k))
            np.add.at(sums, joint, score)
            adj = n_g / (n_g - 1) if n_g > 1 else np.nan
            meat += (-1) ** (size + 1) * adj * (sums.T @ sums)
    meat *= (n - 1) / (n - k) if n > k else np.nan
    return bread @ meat @ bread, first


def clusters_for(treat: np.ndarray, pair: np.ndarray | None, person: np.ndarray | None,
                 *, pairs_design: bool | None = None) -> dict[str, np.ndarray] | None:
    """The clusterings the lab's standard errors use for a matched sample (one row per matched
    person-event, the rows of ``match.data``), by MatchIt's "estimating effects" vignette.

    ``pair``: the pair/subclass id per row (None when the design has none); ``person``: the
    person id per row (None when unknown). ``pairs_design`` says whether ``pair`` holds pairs
    (nearest-neighbour sets without replacement); when None it is read from the data, so a
    matched table gives the same answer as its ``MatchResult``: sets each holding exactly one
    treated row are pairs; strata holding several treated rows (exact, subclass) are not.
    Returns None for HC3.
    """
    ways: dict[str, np.ndarray] = {}
    if pair is not None:
        if pairs_design is None:
            treated_per_set = pd.Series(treat.astype(int)).groupby(pair).sum()
            pairs_design = bool((treated_per_set == 1).all())
        if pairs_design:
            ways["pair membership"] = pair
    if person is not None and pd.Series(person).duplicated().any():
        ways["person"] = person
    return ways or None

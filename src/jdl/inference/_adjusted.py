"""Covariate-adjusted effects: g-computation on the matched sample with the matching weights.

MatchIt's "Estimating effects after matching" vignette recommends adjusting for the covariates
after matching: it adds precision, removes bias from what imbalance is left, and makes the
estimate doubly robust (consistent if either the matching or the outcome model is right; Ho,
Imai, King and Stuart 2007). For a non-linear model the coefficient on treatment is a
*conditional* effect, so the marginal effect in the treated (ATT) is recovered by
g-computation (Snowden, Rose and Mortimer 2011): fit the outcome model on the matched sample
with the matching weights, predict every matched participant's outcome with the programme and
without it, and compare the weighted means of the two predictions.

Outcome models (the propensity model's covariates as main effects, R's model matrix, as the
vignette recommends: "only including the same terms included in the propensity score model"):

* re-offending **rate** (0/1): logistic regression (quasi-binomial, so the weights need not be
  whole numbers);
* **frequency** of re-offences (a count): Poisson regression with a log link (quasi-Poisson:
  the robust errors do not assume the variance equals the mean);
* **days** to first re-offence (re-offenders only) and other means: linear regression.

Standard errors: the delta method on the model's coefficients with a sandwich covariance
(``sandwich::vcovCL``/``vcovHC`` of the ``glm``), clustered as the unadjusted estimate is
(:func:`jdl.inference._estimate.clusters_for`: pairs, two-way with the person when someone is in
the sample twice; HC3 with the weights for designs without pairs). This is
``marginaleffects::avg_comparisons(fit, variables = "treat", vcov = ~subclass, newdata =
subset(treat == 1), wts = "weights")``; tested against R (glm + sandwich + the delta method
written out in base R).

References
----------
Ho, D. E., Imai, K., King, G. and Stuart, E. A. (2007). Matching as nonparametric preprocessing
for reducing model dependence in parametric causal inference. *Political Analysis* 15, 199-236.
Snowden, J. M., Rose, S. and Mortimer, K. M. (2011). Implementation of G-computation on a
simulated data set. *American Journal of Epidemiology* 173(7), 731-738.
Greifer, N. and Stuart, E. A. MatchIt vignette "Estimating Effects After Matching".
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import linalg, stats

from jdl.inference._errors import InferenceError

Family = Literal["binomial", "poisson", "gaussian"]
#: The outcome model for each kind of measure.
FAMILY: dict[str, Family] = {"rate": "binomial", "frequency": "poisson", "days": "gaussian",
                             "mean": "gaussian"}


@dataclass(frozen=True)
class AdjustedEstimate:
    """The covariate-adjusted ATT and the two potential-outcome means among the treated
    (natural units), with delta-method intervals."""

    treated_mean: float  # predicted with the programme (equals the observed mean, see notes)
    comparison_mean: float  # predicted without it: the adjusted comparison value
    difference: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    comparison_se: float
    model: str
    vcov_type: str
    n_parameters: int


def _inverse_link(family: Family, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, d mean / d eta) for the canonical link."""
    if family == "binomial":
        mu = 1.0 / (1.0 + np.exp(-eta))
        return mu, mu * (1.0 - mu)
    if family == "poisson":
        mu = np.exp(eta)
        return mu, mu
    return eta, np.ones_like(eta)


def _full_rank(X: np.ndarray) -> np.ndarray:
    """Indices of a maximal set of linearly independent columns, in their order (R's ``lm``
    drops aliased columns the same way: pivoted QR with a tolerance)."""
    scale = np.sqrt((X**2).sum(axis=0))
    scale[scale == 0] = 1.0
    _, r, piv = linalg.qr(X / scale, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int((diag > 1e-7 * diag[0]).sum()) if len(diag) else 0
    return np.sort(piv[:rank])


def _fit(X: np.ndarray, y: np.ndarray, w: np.ndarray, family: Family) -> np.ndarray:
    """Weighted maximum (quasi-)likelihood by IRLS (``glm.fit``; weights need not be whole)."""
    beta = np.zeros(X.shape[1])
    if family == "gaussian":
        sw = np.sqrt(w)
        return np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
    mu = (y + 0.5) / 2.0 if family == "binomial" else y + 0.1
    eta = np.log(mu / (1 - mu)) if family == "binomial" else np.log(mu)
    dev_old = np.inf
    for _ in range(50):
        mu, d = _inverse_link(family, eta)
        var = mu * (1 - mu) if family == "binomial" else mu
        ww = w * d * d / np.maximum(var, 1e-300)
        z = eta + (y - mu) / np.maximum(d, 1e-300)
        sw = np.sqrt(ww)
        beta = np.linalg.lstsq(X * sw[:, None], z * sw, rcond=None)[0]
        eta = X @ beta
        mu, _ = _inverse_link(family, eta)
        with np.errstate(divide="ignore", invalid="ignore"):
            if family == "binomial":
                dev = -2 * np.sum(w * (y * np.log(np.clip(mu, 1e-300, 1))
                                       + (1 - y) * np.log(np.clip(1 - mu, 1e-300, 1))))
            else:
                dev = 2 * np.sum(w * (np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu)))
        if abs(dev - dev_old) / (abs(dev) + 0.1) < 1e-10:
            break
        dev_old = dev
    else:
        warnings.warn("the adjusted outcome model did not converge", RuntimeWarning,
                      stacklevel=3)
    return beta


def _vcov(X: np.ndarray, y: np.ndarray, w: np.ndarray, beta: np.ndarray, family: Family,
          clusters: Mapping[str, np.ndarray] | None) -> tuple[np.ndarray, str]:
    """Sandwich covariance of the coefficients, sandwich's defaults: ``vcovCL`` (HC1-type for a
    linear model, ``lm``; HC0 for a GLM; cluster adjustment G/(G-1)) or, without clusters,
    ``vcovHC``'s HC3 (with the GLM's hat values)."""
    from jdl.inference._estimate import cluster_vcov

    eta = X @ beta
    mu, d = _inverse_link(family, eta)
    info = (X.T * (w * d)) @ X  # canonical link: working weights w * dmu/deta
    bread = np.linalg.inv(info)
    score = X * (w * (y - mu))[:, None]
    n, k = X.shape
    if clusters:
        vcov, _ = cluster_vcov(bread, score, list(clusters.values()))
        if family != "gaussian":
            vcov *= (n - k) / (n - 1)  # sandwich: HC0 for a glm (no (n-1)/(n-k))
        return vcov, "cluster-robust on " + " and ".join(clusters)
    h = np.einsum("ij,jk,ik->i", X, bread, X) * w * d  # the GLM's hat values
    s = score / (1.0 - np.minimum(h, 1 - 1e-12))[:, None]
    return bread @ (s.T @ s) @ bread, "HC3"


def adjusted_difference(y: np.ndarray, treat: np.ndarray, weights: np.ndarray,
                        covariates: np.ndarray, kind: str, *,
                        clusters: Mapping[str, np.ndarray] | None = None,
                        alpha: float = 0.05) -> AdjustedEstimate:
    """The g-computation ATT of ``y`` on the matched sample (rows with weight > 0).

    ``covariates``: the model matrix of the covariates without an intercept (R's treatment
    contrasts); columns constant or aliased in the matched sample are dropped.

    Raises
    ------
    InferenceError
        When the model cannot be fitted (a group empty, an outcome without variation).
    """
    keep = weights > 0
    y, a, w = y[keep].astype("float64"), treat[keep].astype("float64"), weights[keep]
    Z = np.asarray(covariates, dtype="float64")[keep]
    # one order whatever order the engine (DuckDB, Spark) handed the rows in: near separation
    # (a rare outcome), IRLS amplifies the last digits of a different row order into the
    # third significant figure of a p-value
    order = np.lexsort([*(Z[:, j] for j in reversed(range(Z.shape[1]))), w, a, y])
    y, a, w, Z = y[order], a[order], w[order], Z[order]
    family = FAMILY.get(kind, "gaussian")
    if not (a == 1).any() or not (a == 0).any():
        raise InferenceError("the adjusted model needs both groups.")
    if family == "binomial" and (y.min() == y.max()):
        raise InferenceError("everyone in the matched sample has the same outcome.")
    X = np.column_stack([np.ones(len(y)), a, Z])
    cols = _full_rank(X)
    if 1 not in cols:
        raise InferenceError("the treatment is aliased with the covariates.")
    X = X[:, cols]
    if len(y) <= 2 * X.shape[1]:
        raise InferenceError(
            f"too few people ({len(y)}) for an outcome model with {X.shape[1]} terms.")
    at = int(np.flatnonzero(cols == 1)[0])
    beta = _fit(X, y, w, family)
    sub = {k: np.asarray(v)[keep][order] for k, v in clusters.items()} if clusters else None
    vcov, vtype = _vcov(X, y, w, beta, family, sub)
    t = a == 1
    X1, X0 = X[t].copy(), X[t].copy()
    X1[:, at], X0[:, at] = 1.0, 0.0
    wt = w[t] / w[t].sum()
    m1, d1 = _inverse_link(family, X1 @ beta)
    m0, d0 = _inverse_link(family, X0 @ beta)
    p1, p0 = float(wt @ m1), float(wt @ m0)
    j1, j0 = (X1 * (wt * d1)[:, None]).sum(axis=0), (X0 * (wt * d0)[:, None]).sum(axis=0)
    jd = j1 - j0
    se = float(np.sqrt(max(jd @ vcov @ jd, 0.0)))
    se0 = float(np.sqrt(max(j0 @ vcov @ j0, 0.0)))
    diff = p1 - p0
    z = float(stats.norm.ppf(1 - alpha / 2))
    p = float(2 * stats.norm.sf(abs(diff) / se)) if se > 0 else (1.0 if diff == 0 else 0.0)
    model = {"binomial": "logistic", "poisson": "Poisson (log link)",
             "gaussian": "linear"}[family]
    return AdjustedEstimate(treated_mean=p1, comparison_mean=p0, difference=diff, se=se,
                            ci_low=diff - z * se, ci_high=diff + z * se, p_value=p,
                            comparison_se=se0, model=model, vcov_type=vtype,
                            n_parameters=X.shape[1])


def covariate_matrix(data: pd.DataFrame, covariates: Sequence[str]) -> np.ndarray:
    """R's model matrix of ``covariates`` without its intercept (the propensity model's terms)."""
    from jdl.matching._design import build_design

    return build_design(data, covariates, with_balance=False).X[:, 1:]

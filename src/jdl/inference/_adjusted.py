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

When the outcome model cannot be estimated reliably the adjusted estimate is declined, with a
plain reason in place of the numbers (:class:`AdjustmentDeclined`; the unadjusted estimate
stands). A saturated or degenerate model otherwise gives numbers that look exact: 30 pairs
and 42 terms fit every outcome perfectly and the interval has zero width. The rules, checked
in this order:

1. **Both groups and some variation** in the outcome; the treatment not aliased with the
   covariates (columns constant or aliased in the matched sample are dropped, as R's ``glm``
   does).
2. **Enough people per term.** Linear models: more than two people per estimated term
   (Austin and Steyerberg 2015: two subjects per variable suffice for linear regression).
   Logistic and Poisson models: at least ``min_events_per_parameter`` (5) events per
   variable, counting the rarer of the two outcomes (re-offenders or not; for the count model
   people with and without a re-offence) against the terms other than the intercept. Peduzzi
   et al. (1996) proposed ten; Vittinghoff and McCulloch (2007) found five to nine acceptable
   when the covariates adjust the effect of one exposure, which is this use; van Smeden et al.
   (2016) showed events per variable alone does not prevent bias and that separation does,
   hence rule 4.
3. **More clusters than terms.** A cluster-robust covariance is a sum over clusters of scores
   that add to zero, so its rank is at most (clusters - 1): with no more clusters than terms it
   is singular and some contrasts get zero variance (Cameron and Miller 2015, §VI).
4. **No separation**: no fitted probability (logistic) or mean (Poisson) numerically 0 or 1
   (within ``1e-8``; R's ``glm`` warns at ``2.2e-15``, which this IRLS stops before reaching
   when a coefficient runs off to infinity). A fitted 0 or 1 means some covariate pattern has
   only one outcome and its coefficient is infinite (Albert and Anderson 1984).
5. **A converged fit** (IRLS within 50 iterations, R's ``glm.control`` default 25) and a
   standard error that is finite and above ``DEGENERATE_SE`` (10^-4) of the outcome's
   standard deviation (a real one that small needs some 10^8 people).

The reasons are fixed plain sentences with no numbers in them (they are released beside the
measure).

References
----------
Ho, D. E., Imai, K., King, G. and Stuart, E. A. (2007). Matching as nonparametric preprocessing
for reducing model dependence in parametric causal inference. *Political Analysis* 15, 199-236.
Snowden, J. M., Rose, S. and Mortimer, K. M. (2011). Implementation of G-computation on a
simulated data set. *American Journal of Epidemiology* 173(7), 731-738.
Greifer, N. and Stuart, E. A. MatchIt vignette "Estimating Effects After Matching".
Albert, A. and Anderson, J. A. (1984). On the existence of maximum likelihood estimates in
logistic regression models. *Biometrika* 71(1), 1-10.
Austin, P. C. and Steyerberg, E. W. (2015). The number of subjects per variable required in
linear regression analyses. *Journal of Clinical Epidemiology* 68(6), 627-636.
Cameron, A. C. and Miller, D. L. (2015). A practitioner's guide to cluster-robust inference.
*Journal of Human Resources* 50(2), 317-372.
Peduzzi, P., Concato, J., Kemper, E., Holford, T. R. and Feinstein, A. R. (1996). A simulation
study of the number of events per variable in logistic regression analysis. *Journal of
Clinical Epidemiology* 49(12), 1373-1379.
van Smeden, M., de Groot, J. A. H., Moons, K. G. M. et al. (2016). No rationale for 1 variable
per 10 events criterion for binary logistic regression analysis. *BMC Medical Research
Methodology* 16, 163.
Vittinghoff, E. and McCulloch, C. E. (2007). Relaxing the rule of ten events per variable in
logistic and Cox regression. *American Journal of Epidemiology* 165(6), 710-718.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import linalg, stats

from jdl.inference._errors import InferenceError

Family = Literal["binomial", "poisson", "gaussian"]
#: Events per variable below which a logistic or Poisson outcome model is not fitted
#: (Vittinghoff and McCulloch 2007; see the module's notes).
MIN_EVENTS_PER_PARAMETER = 5.0
#: A fitted probability or mean this close to 0 (or 1): separation.
SEPARATION_EPS = 1e-8
MAX_ITERATIONS = 50
#: A standard error below this fraction of the outcome's standard deviation is degenerate:
#: a real one that small needs about 10^8 people (SE ~ SD / sqrt(n)), far beyond any
#: matched sample; a saturated model's delta-method SE falls there (6.7e-7 for a rate).
DEGENERATE_SE = 1e-4


class AdjustmentDeclined(InferenceError):
    """The outcome model cannot be estimated reliably: the adjusted estimate is declined with
    the plain reason in ``message`` (no numbers in it: it is released beside the measure)."""


#: The reasons, in the words the report and the CLI show.
REASONS = {
    "groups": "the adjusted model needs people in both groups.",
    "no_variation": "everyone in the matched groups has the same outcome.",
    "aliased": "the programme cannot be told apart from the characteristics used in matching.",
    "few_people": "there are too few people for a model with this many characteristics.",
    "few_events": "there are too few re-offences (or too few people without one) for a model "
                  "with this many characteristics.",
    "few_clusters": "there are fewer matched sets than terms in the model, so its margin of "
                    "error cannot be estimated.",
    "separation": "some characteristics predict the outcome perfectly in the matched groups, "
                  "so the model cannot be estimated.",
    "not_converged": "the model of the outcome did not settle on an answer.",
    "degenerate": "the model fits the data exactly, so its margin of error cannot be "
                  "estimated.",
}


def _decline(code: str) -> AdjustmentDeclined:
    return AdjustmentDeclined("No adjusted estimate: " + REASONS[code])
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


def _fit(X: np.ndarray, y: np.ndarray, w: np.ndarray, family: Family
         ) -> tuple[np.ndarray, bool]:
    """Weighted maximum (quasi-)likelihood by IRLS (``glm.fit``; weights need not be whole):
    the coefficients and whether the fit converged."""
    beta = np.zeros(X.shape[1])
    if family == "gaussian":
        sw = np.sqrt(w)
        return np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0], True
    mu = (y + 0.5) / 2.0 if family == "binomial" else y + 0.1
    eta = np.log(mu / (1 - mu)) if family == "binomial" else np.log(mu)
    dev_old = np.inf
    for _ in range(MAX_ITERATIONS):
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
            return beta, True
        dev_old = dev
    return beta, False


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
                        alpha: float = 0.05,
                        min_events_per_parameter: float = MIN_EVENTS_PER_PARAMETER,
                        ) -> AdjustedEstimate:
    """The g-computation ATT of ``y`` on the matched sample (rows with weight > 0).

    ``covariates``: the model matrix of the covariates without an intercept (R's treatment
    contrasts); columns constant or aliased in the matched sample are dropped.

    Raises
    ------
    AdjustmentDeclined
        When the model cannot be estimated reliably (the module's rules 1-5), with the plain
        reason.
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
        raise _decline("groups")
    if len(y) == 0 or y.min() == y.max():
        raise _decline("no_variation")
    X = np.column_stack([np.ones(len(y)), a, Z])
    cols = _full_rank(X)
    if 1 not in cols:
        raise _decline("aliased")
    X = X[:, cols]
    sub = {k: np.asarray(v)[keep][order] for k, v in clusters.items()} if clusters else None
    _check_size(y, X.shape[1], family, sub, min_events_per_parameter)
    at = int(np.flatnonzero(cols == 1)[0])
    beta, converged = _fit(X, y, w, family)
    if not converged or not np.isfinite(beta).all():
        raise _decline("not_converged")
    if family != "gaussian":
        mu, _ = _inverse_link(family, X @ beta)
        if (mu < SEPARATION_EPS).any() or (family == "binomial"
                                           and (mu > 1 - SEPARATION_EPS).any()):
            raise _decline("separation")
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
    # a zero, near-zero or undefined standard error: the interval would claim an exact answer
    if not (np.isfinite(se) and np.isfinite(se0) and np.isfinite(diff)
            and se > DEGENERATE_SE * float(np.std(y))):
        raise _decline("degenerate")
    z = float(stats.norm.ppf(1 - alpha / 2))
    p = float(2 * stats.norm.sf(abs(diff) / se)) if se > 0 else (1.0 if diff == 0 else 0.0)
    model = {"binomial": "logistic", "poisson": "Poisson (log link)",
             "gaussian": "linear"}[family]
    return AdjustedEstimate(treated_mean=p1, comparison_mean=p0, difference=diff, se=se,
                            ci_low=diff - z * se, ci_high=diff + z * se, p_value=p,
                            comparison_se=se0, model=model, vcov_type=vtype,
                            n_parameters=X.shape[1])


def _check_size(y: np.ndarray, n_terms: int, family: Family,
                clusters: Mapping[str, np.ndarray] | None,
                min_events_per_parameter: float) -> None:
    """Rules 2 and 3 of the module's notes: people (linear) or events (logistic, Poisson)
    per term, and more clusters than terms."""
    if family == "gaussian":
        if len(y) <= 2 * n_terms:  # Austin and Steyerberg (2015): two per variable
            raise _decline("few_people")
    else:
        has_event = y > 0
        events = int(min(has_event.sum(), (~has_event).sum()))
        variables = max(n_terms - 1, 1)  # every term but the intercept
        if events < min_events_per_parameter * variables:
            raise _decline("few_events")
    for ids in (clusters or {}).values():
        if pd.Series(ids).nunique() <= n_terms:
            raise _decline("few_clusters")


def covariate_matrix(data: pd.DataFrame, covariates: Sequence[str]) -> np.ndarray:
    """R's model matrix of ``covariates`` without its intercept (the propensity model's terms)."""
    from jdl.matching._design import build_design

    return build_design(data, covariates, with_balance=False).X[:, 1:]

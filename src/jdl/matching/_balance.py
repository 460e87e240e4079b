"""Covariate balance before and after matching, with MatchIt's definitions (ATT).

For each covariate column (categoricals expanded to every level) and the distance:

* **Std. mean difference**: (treated mean - control mean) / SD of the treated group in the
  *unmatched* sample; for binary columns that SD is ``sqrt(p (1 - p))``. Means after matching use
  the matching weights. The same denominator is used before and after, so the change is due to
  the means only (MatchIt ``bal1var``; Stuart 2010).
* **Variance ratio** (non-binary only): weighted treated variance / weighted control variance,
  reliability-weights formula ``sum(w (x - m)^2) / (1 - sum(w^2))`` with ``w`` summing to 1.
* **eCDF mean / max**: mean and maximum absolute difference between the groups' weighted
  empirical CDFs, evaluated at every distinct value in the *whole* sample (unmatched units carry
  weight 0 but remain evaluation points, as in MatchIt's ``qqsum``); for binary columns both
  equal |mean difference|.
* When the treated SD is (near) zero, the SMD denominator falls back to MatchIt's
  ``pooled_sd(..., contribution = "proportional")``: the within-group sum of squares over
  ``n - 1`` (binary: ``sum_g s_g (1 - s_g / n_g) / n``).

Thresholds follow MatchIt's "assessing balance" vignette: |SMD| < 0.1 good, variance ratio in
[0.5, 2]; beyond ``smd_poor`` (0.25 by default, Rubin 2001) the lab treats matching quality as
too poor to report.

References
----------
Stuart, E. A. (2010). Matching methods for causal inference. *Statistical Science* 25(1).
Rubin, D. B. (2001). Using propensity scores to help design observational studies.
*Health Services and Outcomes Research Methodology* 2, 169-188.
Austin, P. C. (2009). Balance diagnostics for comparing the distribution of baseline covariates
between treatment groups in propensity-score matched samples. *Statistics in Medicine* 28.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

_SQRT_EPS = float(np.sqrt(np.finfo(float).eps))


def _wvar(x: np.ndarray, w: np.ndarray, binary: bool) -> float:
    w = w / w.sum()
    m = float(np.sum(w * x))
    if binary:
        return m * (1 - m)
    denom = 1 - float(np.sum(w * w))
    return float(np.sum(w * (x - m) ** 2) / denom) if denom > 0 else float("nan")


def _wmean(x: np.ndarray, w: np.ndarray) -> float:
    s = w.sum()
    return float(np.sum(x * w) / s) if s > 0 else float("nan")


def _ecdf_stats(x: np.ndarray, treat: np.ndarray, w: np.ndarray,
                order: np.ndarray | None = None) -> tuple[float, float]:
    """eCDF mean and max difference; ``order``: ``np.argsort(x, kind="stable")`` when already
    known (before and after matching sort the same column: at a 1M-person pool the sort is
    most of a balance table's time)."""
    w = w.astype("float64").copy()
    for g in (True, False):
        s = w[treat == g].sum()
        if s > 0:
            w[treat == g] /= s
    if order is None:
        order = np.argsort(x, kind="stable")
    xo, wo, to = x[order], w[order], treat[order]
    signed = np.where(to == to[0], -wo, wo)
    cum = np.abs(np.cumsum(signed))
    keep = np.append(np.diff(xo) != 0, True)
    ed = cum[keep]
    return float(ed.mean()), float(ed.max())


def _means_and_smd(x: np.ndarray, treat: np.ndarray, w: np.ndarray,
                   sd_denom: float) -> tuple[float, float, float]:
    """Weighted means of the treated and the comparison group and their SMD."""
    m1, m0 = _wmean(x[treat], w[treat]), _wmean(x[~treat], w[~treat])
    diff = m1 - m0
    return m1, m0, (diff / sd_denom if abs(diff) > _SQRT_EPS else diff)


def max_abs_smd_after(X: np.ndarray, treat: np.ndarray, weights: np.ndarray) -> float:
    """The largest |SMD| after matching over the columns of ``X`` (the balance matrix): what
    :attr:`BalanceTable.max_abs_smd` says, with the same arithmetic, without the rest of the
    table (whose eCDF statistics sort every column of the pool: most of a balance table's time
    at 1M people, and the sensitivity rows need only this figure)."""
    smds = []
    for j in range(X.shape[1]):
        x = X[:, j]
        binary = bool(np.all((x == 0) | (x == 1)))
        smds.append(_means_and_smd(x, treat, weights, _sd_denominator(x, treat, binary))[2])
    return float(pd.Series(smds, dtype="float64").abs().max())


def balance_stats(x: np.ndarray, treat: np.ndarray, w: np.ndarray, sd_denom: float,
                  binary: bool, order: np.ndarray | None = None
                  ) -> tuple[float, float, float, float, float, float]:
    """Means (treated, control), SMD, variance ratio, eCDF mean, eCDF max for one column
    (``order``: the column's stable argsort, when known)."""
    w1, w0 = w[treat], w[~treat]
    m1, m0, smd = _means_and_smd(x, treat, w, sd_denom)
    diff = m1 - m0
    if binary:
        return m1, m0, smd, float("nan"), abs(diff), abs(diff)
    v1, v0 = _wvar(x[treat], w1, False), _wvar(x[~treat], w0, False)
    # a constant comparison column (e.g. every matched control at 0) has no variance ratio
    vr = v1 / v0 if np.isfinite(v0) and v0 > 0 else float("nan")
    e_mean, e_max = _ecdf_stats(x, treat, w, order)  # zero-weight units stay evaluation points
    return m1, m0, smd, vr, e_mean, e_max


def _pooled_sd(x: np.ndarray, treat: np.ndarray, binary: bool) -> float:
    """MatchIt's ``pooled_sd(x, t, w = 1, contribution = "proportional")``."""
    n = len(x)
    if binary:
        var = 0.0
        for g in (True, False):
            s = float(x[treat == g].sum())
            var += s * (1 - s / int((treat == g).sum())) / n
        return float(np.sqrt(var))
    xc = x.astype("float64").copy()
    for g in (True, False):
        xc[treat == g] -= xc[treat == g].mean()
    return float(np.sqrt(np.sum(xc**2) / (n - 1)))  # reliability weights, all 1


def _sd_denominator(x: np.ndarray, treat: np.ndarray, binary: bool) -> float:
    sd = np.sqrt(_wvar(x[treat], np.ones(int(treat.sum())), binary))
    if not np.isfinite(sd) or sd < _SQRT_EPS:  # MatchIt falls back to a pooled SD
        sd = _pooled_sd(x, treat, binary)
    return float(sd) if sd > 0 else 1.0


def balance_frame(X: np.ndarray, names: tuple[str, ...], treat: np.ndarray, weights: np.ndarray,
                  *, smd_good: float, smd_poor: float, vr_low: float,
                  vr_high: float) -> pd.DataFrame:
    """The balance table: one row per column, statistics before (``*_un``) and after matching."""
    rows = []
    ones = np.ones(len(treat))
    for j, name in enumerate(names):
        x = X[:, j]
        binary = bool(np.all((x == 0) | (x == 1)))
        sd = _sd_denominator(x, treat, binary)
        order = None if binary else np.argsort(x, kind="stable")  # one sort for both
        before = balance_stats(x, treat, ones, sd, binary, order)
        after = balance_stats(x, treat, weights, sd, binary, order)
        rows.append((name, binary, *before, *after))
    cols = ["covariate", "binary",
            "mean_treated_un", "mean_control_un", "smd_un", "var_ratio_un", "ecdf_mean_un",
            "ecdf_max_un",
            "mean_treated", "mean_control", "smd", "var_ratio", "ecdf_mean", "ecdf_max"]
    df = pd.DataFrame(rows, columns=cols).set_index("covariate")
    a = df["smd"].abs()
    df["status"] = np.where(a < smd_good, "good", np.where(a <= smd_poor, "acceptable", "poor"))
    vr = df["var_ratio"]
    vr_bad = vr.notna() & ((vr < vr_low) | (vr > vr_high))
    df.loc[vr_bad & (df["status"] == "good"), "status"] = "acceptable"
    return df


@dataclass(frozen=True)
class BalanceTable:
    """Balance before and after matching, with the lab's verdict on matching quality.

    Attributes
    ----------
    table : DataFrame indexed by covariate (``distance`` first), columns ``*_un`` before
        matching and unsuffixed after, plus ``status`` (good / acceptable / poor).
    smd_good, smd_poor : thresholds used.
    """

    table: pd.DataFrame
    smd_good: float
    smd_poor: float

    @property
    def max_abs_smd(self) -> float:
        """Largest |SMD| after matching over the covariates (distance excluded)."""
        return float(self.table.drop(index="distance", errors="ignore")["smd"].abs().max())

    @property
    def poor(self) -> list[str]:
        """Covariates whose |SMD| after matching exceeds ``smd_poor``."""
        t = self.table.drop(index="distance", errors="ignore")
        return list(t.index[t["status"] == "poor"])

    @property
    def quality_ok(self) -> bool:
        """The lab's rule: matching quality is reportable only if no covariate is 'poor'."""
        return not self.poor

    def __str__(self) -> str:
        cols = ["smd_un", "smd", "var_ratio_un", "var_ratio", "ecdf_max", "status"]
        verdict = ("matching quality acceptable" if self.quality_ok else
                   f"matching quality too poor to report: {', '.join(self.poor)}")
        return (self.table[cols].to_string(float_format=lambda v: f"{v:.4f}")
                + f"\nmax |SMD| after matching = {self.max_abs_smd:.4f}; {verdict}")


def love_plot(balance: BalanceTable, title: str | None = None):
    """A Love plot: |SMD| before and after matching per covariate, threshold lines drawn."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    t = balance.table.iloc[::-1]
    fig, ax = plt.subplots(figsize=(6.5, 0.3 * len(t) + 1.5))
    y = np.arange(len(t))
    ax.scatter(t["smd_un"].abs(), y, marker="o", facecolors="none", edgecolors="tab:red",
               label="Before matching")
    ax.scatter(t["smd"].abs(), y, marker="o", color="tab:blue", label="After matching")
    ax.axvline(balance.smd_good, color="grey", linestyle="--", linewidth=1)
    ax.axvline(balance.smd_poor, color="grey", linestyle=":", linewidth=1)
    ax.set_yticks(y, list(t.index))
    ax.set_xlabel("Absolute standardised mean difference")
    ax.set_title(title or "Covariate balance")
    ax.legend(loc="lower right", frameon=False)
    fig.tight_layout()
    return fig

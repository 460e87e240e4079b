"""Weighted Kaplan-Meier curves of time to first proven re-offence, by group.

Everyone is followed for the follow-up period (one year); people who did not re-offend are
censored at its end. With matching weights the estimator is the weighted product-limit
``S(t) = prod_{s <= t} (1 - d_w(s) / n_w(s))`` with weighted events ``d_w`` and weighted
numbers at risk ``n_w`` (Xie and Liu 2005).

References
----------
Kaplan, E. L. and Meier, P. (1958). Nonparametric estimation from incomplete observations.
*JASA* 53, 457-481.
Xie, J. and Liu, C. (2005). Adjusted Kaplan-Meier estimator and log-rank test with inverse
probability of treatment weighting for survival data. *Statistics in Medicine* 24, 3089-3110.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from jdl.core.results import Kind, released

#: Days at which the report's curves are read: every 30 days over the follow-up year.
CURVE_DAYS = tuple(range(0, 366, 30))


@dataclass(frozen=True)
class SurvivalPoint:
    """One point of a curve: the (weighted) share not yet re-offended by ``day`` and the
    weighted number still at risk (rounded; used to decide what is released)."""

    day: int = released(Kind.STATISTIC)
    proportion_not_reoffended: float = released(Kind.DERIVED)
    n_at_risk: int = released(Kind.COUNT)


def curve_points(curve: pd.DataFrame, days: tuple[int, ...] = CURVE_DAYS
                 ) -> tuple[SurvivalPoint, ...]:
    """The step function ``curve`` (from :func:`km_curve`) read at ``days``: the survival and
    the number at risk of the last event time at or before each day (1 before the first)."""
    at = np.asarray(days)
    idx = np.searchsorted(curve["time"].to_numpy(), at, side="right") - 1
    surv = np.where(idx >= 0, curve["survival"].to_numpy()[np.maximum(idx, 0)], 1.0)
    at_risk = curve["at_risk"].to_numpy(float)[np.maximum(idx, 0)]
    return tuple(SurvivalPoint(int(d), float(s), round(r))
                 for d, s, r in zip(at, surv, at_risk, strict=True))


def km_curve(time: np.ndarray, event: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    """Weighted product-limit estimate at each distinct event time (plus time 0)."""
    order = np.argsort(time, kind="stable")
    time, event, weights = time[order], event[order], weights[order]
    uniq, start = np.unique(time, return_index=True)
    w_all = np.add.reduceat(weights, start)
    w_ev = np.add.reduceat(weights * event, start)
    at_risk = weights.sum() - np.concatenate([[0.0], np.cumsum(w_all)[:-1]])
    keep = w_ev > 0
    surv = np.cumprod(np.where(keep, 1.0 - w_ev / np.where(at_risk > 0, at_risk, 1.0), 1.0))
    out = pd.DataFrame({"time": uniq[keep], "at_risk": at_risk[keep], "events": w_ev[keep],
                        "survival": surv[keep]})
    return pd.concat([pd.DataFrame({"time": [0.0], "at_risk": [weights.sum()], "events": [0.0],
                                    "survival": [1.0]}), out], ignore_index=True)


@dataclass(frozen=True)
class SurvivalCurves:
    """Kaplan-Meier curves for the treatment and comparison groups."""

    treatment: pd.DataFrame
    comparison: pd.DataFrame
    follow_up_days: int

    def proportion_reoffended_by(self, day: float) -> tuple[float, float]:
        """1 - S(day) for (treatment, comparison)."""
        def at(df: pd.DataFrame) -> float:
            return float(1 - df.loc[df["time"] <= day, "survival"].iloc[-1])
        return at(self.treatment), at(self.comparison)

    def points(self, days: tuple[int, ...] | None = None
               ) -> dict[str, tuple[SurvivalPoint, ...]]:
        """Both curves at ``days`` (default: every 30 days of the follow-up, the report's
        points), keyed ``treatment``/``comparison``."""
        days = tuple(range(0, self.follow_up_days + 1, 30)) if days is None else days
        return {"treatment": curve_points(self.treatment, days),
                "comparison": curve_points(self.comparison, days)}

    def plot(self, title: str | None = None):
        """Matplotlib figure of the proportion not yet re-offending over the follow-up."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.5, 4))
        for df, lab, col in ((self.treatment, "Treatment group", "tab:blue"),
                             (self.comparison, "Comparison group", "tab:orange")):
            x = np.append(df["time"].to_numpy(), self.follow_up_days)
            y = np.append(df["survival"].to_numpy(), df["survival"].iloc[-1])
            ax.step(x, y, where="post", label=lab, color=col)
        ax.set_xlabel("Days since the start of follow-up")
        ax.set_ylabel("Proportion not yet re-offended")
        ax.set_ylim(0, 1.02)
        ax.set_title(title or "Time to first proven re-offence")
        ax.legend(frameon=False)
        fig.tight_layout()
        return fig


def survival_curves(matched: object, *, treatment: str | None = None,
                    days: str = "days_to_first", reoffended: str = "reoffended",
                    follow_up_days: int | None = None) -> SurvivalCurves:
    """Weighted Kaplan-Meier curves from a MatchResult or matched table.

    Non-re-offenders are censored at ``follow_up_days`` (default: the ``InferenceSettings``
    default, 365).
    """
    from jdl.core.config import InferenceSettings
    from jdl.inference._effects import _frame_inputs
    from jdl.inference._errors import InferenceError

    if follow_up_days is None:
        follow_up_days = InferenceSettings().follow_up_days
    df, t, w, _ = _frame_inputs(matched, treatment)
    for col in (days, reoffended):
        if col not in df.columns:
            raise InferenceError(f"column '{col}' is not in the matched table.")
    ev = df[reoffended].to_numpy(dtype="float64") == 1.0
    d = pd.to_numeric(df[days], errors="coerce").to_numpy(dtype="float64")
    if np.any(ev & ~np.isfinite(d)):
        raise InferenceError(f"re-offenders must have '{days}'.")
    time = np.where(ev, d, float(follow_up_days))
    return SurvivalCurves(treatment=km_curve(time[t], ev[t], w[t]),
                          comparison=km_curve(time[~t], ev[~t], w[~t]),
                          follow_up_days=follow_up_days)

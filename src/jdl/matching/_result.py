"""The immutable result of a matching run (statsmodels-style results object)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from jdl.matching._balance import BalanceTable, balance_frame, love_plot
from jdl.matching._glm import LogitFit


@dataclass(frozen=True)
class MatchSpec:
    """What was asked for; stored with the result so a report can state the method."""

    treatment: str
    covariates: tuple[str, ...]
    method: str = "nearest"
    distance: str = "glm"
    ratio: float = 1  # a whole number except for variable ratio matching
    replace: bool = False
    caliper: float | None = None
    std_caliper: bool = True
    exact: tuple[str, ...] = ()
    m_order: str = "largest"
    estimand: str = "ATT"
    discard: str = "none"
    subclass: int = 6
    random_state: int | None = None
    link: str = "logit"
    mahvars: tuple[str, ...] = ()
    reuse_max: int | None = None  # None: 1 without replacement, unlimited with
    min_controls: int | None = None
    max_controls: int | None = None
    unit_id: str | None = None
    covariate_calipers: tuple[tuple[str, float], ...] = ()  # (column, caliper in its units)


@dataclass(frozen=True)
class Thresholds:
    """Balance thresholds used to flag covariates (from ``MatchingSettings``)."""

    smd_good: float = 0.1
    smd_poor: float = 0.25
    var_ratio_low: float = 0.5
    var_ratio_high: float = 2.0


@dataclass(frozen=True, eq=False)
class MatchResult:
    """Matched sample, weights and diagnostics.

    Attributes
    ----------
    spec : the specification matched on.
    data : the input table (index reset to 0..n-1).
    treat : boolean treatment indicator per row.
    distance : score per row (propensity score for ``distance="glm"``), or None.
    weights : matching weights per row (0 = unmatched), normalised as MatchIt does.
    subclass : pair / subclass id per row (-1 = none; matching with replacement has none).
    match_matrix : (n_treated, ratio) row indices of the controls matched to each treated row
        (treated rows in data order), -1 where missing; None for exact/subclass methods.
    discarded : rows excluded by ``discard`` (common support), as MatchIt's ``discarded``; rows
        of exact strata lacking a group are unmatched, not discarded (as in MatchIt).
    caliper_abs : the caliper in score units actually applied, or None.
    model : the propensity score fit, or None.
    """

    spec: MatchSpec
    data: pd.DataFrame
    treat: np.ndarray
    distance: np.ndarray | None
    weights: np.ndarray
    subclass: np.ndarray
    match_matrix: np.ndarray | None
    discarded: np.ndarray
    caliper_abs: float | None
    model: LogitFit | None
    thresholds: Thresholds = Thresholds()

    @property
    def n_treated_matched(self) -> int:
        return int(((self.weights > 0) & self.treat).sum())

    @property
    def n_control_matched(self) -> int:
        return int(((self.weights > 0) & ~self.treat).sum())

    @property
    def matched(self) -> pd.DataFrame:
        """Matched rows with ``distance``, ``weights`` and ``subclass`` columns (MatchIt's
        ``match_data``); ``subclass`` is the pair/set id used for cluster-robust errors."""
        keep = self.weights > 0
        out = self.data.loc[keep].copy()
        if self.distance is not None:
            out["distance"] = self.distance[keep]
        out["weights"] = self.weights[keep]
        sub = self.subclass[keep]
        out["subclass"] = pd.array(np.where(sub >= 0, sub, -1), dtype="Int64")
        if (sub < 0).all():
            out["subclass"] = pd.NA
        return out

    def pairs(self) -> pd.DataFrame:
        """Long table of (treated row, control row, pair id) from the match matrix."""
        if self.match_matrix is None:
            raise ValueError("pairs exist only for nearest-neighbour matching")
        t_idx = np.flatnonzero(self.treat)
        rows, cols = np.nonzero(self.match_matrix >= 0)
        return pd.DataFrame({"treated_row": t_idx[rows],
                             "control_row": self.match_matrix[rows, cols],
                             "pair": rows})

    def balance(self) -> BalanceTable:
        """Standardised mean differences, variance ratios and eCDF statistics, before/after."""
        from jdl.matching._design import build_design

        design = build_design(self.data, self.spec.covariates)
        X, names = design.balance_X, design.balance_names
        if self.distance is not None:
            X = np.column_stack([self.distance, X])
            names = ("distance", *names)
        th = self.thresholds
        frame = balance_frame(X, names, self.treat, self.weights, smd_good=th.smd_good,
                              smd_poor=th.smd_poor, vr_low=th.var_ratio_low,
                              vr_high=th.var_ratio_high)
        return BalanceTable(table=frame, smd_good=th.smd_good, smd_poor=th.smd_poor)

    def max_abs_smd(self) -> float:
        """``balance().max_abs_smd`` (the largest |SMD| after matching, distance excluded),
        computed alone."""
        from jdl.matching._balance import max_abs_smd_after
        from jdl.matching._design import build_design

        design = build_design(self.data, self.spec.covariates)
        return max_abs_smd_after(design.balance_X, self.treat, self.weights)

    def love_plot(self, title: str | None = None):
        """Matplotlib figure of |SMD| per covariate before and after matching."""
        return love_plot(self.balance(), title=title)

    def sample_sizes(self) -> pd.DataFrame:
        """MatchIt's sample-size table: all, matched (and ESS of controls), unmatched, discarded."""
        w = self.weights
        rows = {}
        for name, g in (("control", ~self.treat), ("treated", self.treat)):
            wg = w[g & (w > 0)]
            ess = float(wg.sum() ** 2 / (wg**2).sum()) if len(wg) else 0.0
            rows[name] = {"all": int(g.sum()), "matched": len(wg),
                          "matched_ess": round(ess, 2),
                          "unmatched": int((g & (w == 0) & ~self.discarded).sum()),
                          "discarded": int((g & self.discarded).sum())}
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """Plain-text summary: specification, sample sizes and balance."""
        s = self.spec
        extras = [f"{k}={v}" for k, v in (
            ("link", s.link if s.link != "logit" else None), ("mahvars", list(s.mahvars)),
            ("reuse_max", s.reuse_max), ("min_controls", s.min_controls),
            ("max_controls", s.max_controls), ("unit_id", s.unit_id),
            ("covariate_calipers", dict(s.covariate_calipers))) if v]
        head = (f"Matching: method={s.method}, distance={s.distance}, ratio={s.ratio}, "
                f"replace={s.replace}, caliper={s.caliper}"
                + "".join(f", {e}" for e in extras)
                + (f" ({self.caliper_abs:.6g} in score units)" if self.caliper_abs else "")
                + (f", exact={list(s.exact)}" if s.exact else "") + f", estimand={s.estimand}")
        return "\n\n".join([head, "Sample sizes:\n" + self.sample_sizes().to_string(),
                            "Balance:\n" + str(self.balance())])

    def __str__(self) -> str:
        return self.summary()

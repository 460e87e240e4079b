"""``match()``: MatchIt's ``matchit()`` for a pandas/polars table (ATT)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from jdl.matching._design import (
    Design,
    build_design,
    strata_codes,
    to_pandas,
    treatment_indicator,
)
from jdl.matching._errors import MatchingError
from jdl.matching._glm import LogitFit, fit_logit
from jdl.matching._nearest import nearest_match
from jdl.matching._result import MatchResult, MatchSpec, Thresholds
from jdl.matching._weights import (
    normalise,
    subclass_from_match_matrix,
    weights_from_match_matrix,
    weights_from_subclass,
)

if TYPE_CHECKING:
    from jdl.core.config import MatchingSettings

METHODS = ("nearest", "exact", "subclass")
M_ORDERS = ("largest", "smallest", "data", "random")
DISCARDS = ("none", "both", "control", "treated")


def _check_options(method: str, distance: object, ratio: int, caliper: float | None,
                   m_order: str | None, estimand: str, discard: str) -> None:
    if method not in METHODS:
        raise MatchingError(f"unknown matching method '{method}'.",
                            hint=f"Use one of: {', '.join(METHODS)}.")
    if isinstance(distance, str) and distance not in ("glm", "mahalanobis"):
        raise MatchingError(f"unknown distance '{distance}'.",
                            hint="Use 'glm', 'mahalanobis' or an array of scores.")
    if not isinstance(ratio, (int, np.integer)) or isinstance(ratio, bool) or ratio < 1:
        raise MatchingError(f"ratio must be a whole number of at least 1, not {ratio!r}.")
    if caliper is not None and not (np.isfinite(caliper) and caliper > 0):
        raise MatchingError(f"caliper must be a positive number, not {caliper!r}.")
    if m_order is not None and m_order not in M_ORDERS:
        raise MatchingError(f"unknown m_order '{m_order}'.", hint=f"Use one of: {M_ORDERS}.")
    if estimand != "ATT":
        raise MatchingError(f"estimand '{estimand}' is not supported; the lab estimates the ATT.")
    if discard not in DISCARDS:
        raise MatchingError(f"unknown discard '{discard}'.", hint=f"Use one of: {DISCARDS}.")


def _distance(df: pd.DataFrame, t: np.ndarray, design: Design,
              distance: object) -> tuple[np.ndarray | None, LogitFit | None]:
    if isinstance(distance, str):
        if distance == "glm":
            fit = fit_logit(design.X, t.astype("float64"), design.names,
                            factors=design.factors)
            return fit.fitted, fit
        return None, None  # mahalanobis
    scores = np.asarray(distance, dtype="float64")
    if scores.shape != (len(df),) or not np.isfinite(scores).all():
        raise MatchingError("a supplied distance must be one finite number per row.")
    return scores, None


def _discard(distance: np.ndarray | None, t: np.ndarray, discard: str) -> np.ndarray:
    """MatchIt's common-support discard on the distance (min/max of the other group)."""
    out = np.zeros(len(t), dtype=bool)
    if discard == "none" or distance is None:
        return out
    lo1, hi1 = distance[t].min(), distance[t].max()
    lo0, hi0 = distance[~t].min(), distance[~t].max()
    if discard in ("both", "control"):
        out |= ~t & ((distance < lo1) | (distance > hi1))
    if discard in ("both", "treated"):
        out |= t & ((distance < lo0) | (distance > hi0))
    return out


def match(data: object, treatment: str, covariates: Sequence[str], *, method: str = "nearest",
          distance: object = "glm", ratio: int = 1, replace: bool = False,
          caliper: float | None = None, std_caliper: bool = True,
          exact: Sequence[str] | None = None, m_order: str | None = None,
          estimand: str = "ATT", discard: str = "none", subclass: int = 6,
          random_state: int | None = None,
          thresholds: Thresholds | None = None) -> MatchResult:
    """Match treated rows to comparison rows, as R's ``MatchIt::matchit`` does.

    Parameters
    ----------
    data : pandas or polars DataFrame, one row per person (cohort and comparison pool).
    treatment : 0/1 column, 1 for the programme's cohort.
    covariates : columns for the propensity model (and balance); strings/categoricals are
        expanded like R's model matrix with the first level as reference.
    method : ``"nearest"`` (greedy nearest neighbour), ``"exact"`` or ``"subclass"``.
    distance : ``"glm"`` (logistic propensity score, R's ``glm``), ``"mahalanobis"`` (nearest
        only), or an array of precomputed scores.
    ratio : controls per treated unit (k:1 matching in k passes).
    replace : match controls with replacement.
    caliper : maximum score difference; in SDs of the score if ``std_caliper``.
    exact : columns whose values must agree within a matched set (e.g. index type and year).
    m_order : order treated units are matched in; default ``"largest"`` score first
        (``"data"`` for Mahalanobis).
    discard : common-support discard on the score: none, both, control, treated.
    subclass : number of subclasses for ``method="subclass"``.

    Returns
    -------
    MatchResult

    Raises
    ------
    MatchingError
        For a specification that cannot run on this data.

    Notes
    -----
    Agreement with MatchIt 4.7.2 (same matched sets, weights and ATT to 1e-6 on its ``lalonde``
    data) is a test fixture; see ``docs/matching-and-inference.md``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"t": [1, 1, 0, 0, 0, 0], "x": [1.0, 2.0, 0.9, 2.2, 5.0, 1.8]})
    >>> m = match(df, "t", ["x"], distance=df["x"].to_numpy())
    >>> m.match_matrix.ravel().tolist()
    [2, 5]
    """
    _check_options(method, distance, ratio, caliper, m_order, estimand, discard)
    df = to_pandas(data)
    t = treatment_indicator(df, treatment)
    design = build_design(df, covariates, with_balance=False)
    exact = tuple(exact or ())
    if exact and method != "nearest":
        raise MatchingError(f"exact strata are supported with method='nearest', not '{method}'.",
                            hint="For exact matching on those columns use method='exact'.")
    if isinstance(distance, str) and distance == "mahalanobis" and method != "nearest":
        raise MatchingError("Mahalanobis distance is available for nearest-neighbour only.")
    scores, model = (None, None) if method == "exact" else _distance(
        df, t, design, distance)
    discarded = _discard(scores, t, discard)
    if m_order is None:
        m_order = "largest" if scores is not None else "data"
    if replace:
        m_order = "data"  # MatchIt: order is irrelevant with replacement
    cal_abs = None
    if caliper is not None:
        if scores is None:
            raise MatchingError("a caliper needs a propensity score distance.")
        cal_abs = float(caliper * np.std(scores[~discarded], ddof=1)) if std_caliper \
            else float(caliper)
    dist_label = distance if isinstance(distance, str) else "user"
    spec = MatchSpec(treatment=treatment, covariates=tuple(covariates), method=method,
                     distance=dist_label, ratio=int(ratio), replace=bool(replace),
                     caliper=caliper, std_caliper=std_caliper, exact=exact, m_order=m_order,
                     estimand=estimand, discard=discard, subclass=subclass,
                     random_state=random_state)
    mm = None
    if method == "nearest":
        mm, sub, w, discarded = _run_nearest(df, t, scores, discarded, spec, cal_abs)
    elif method == "exact":
        sub = _exact_subclasses(df, list(covariates), t)
        w = weights_from_subclass(sub, t)
    else:
        sub = _quantile_subclasses(scores, t, discarded, subclass)
        w = weights_from_subclass(sub, t)
    if not (w[t] > 0).any() or not (w[~t] > 0).any():
        raise MatchingError("no matches were found.",
                            hint="Loosen the caliper or exact strata, or check overlap.")
    arrays = [t, scores, w := normalise(w, t), sub, mm, discarded]
    for arr in arrays:
        if arr is not None:
            arr.flags.writeable = False  # results are immutable
    return MatchResult(spec=spec, data=df, treat=t, distance=scores, weights=w,
                       subclass=sub, match_matrix=mm, discarded=discarded, caliper_abs=cal_abs,
                       model=model, thresholds=thresholds or Thresholds())


def _run_nearest(df: pd.DataFrame, t: np.ndarray, scores: np.ndarray | None,
                 discarded: np.ndarray, spec: MatchSpec, cal_abs: float | None):
    """Nearest-neighbour matching: (match matrix, subclass, raw weights, discarded)."""
    strata = None
    if spec.exact:
        strata = strata_codes(df, spec.exact)
        both = np.intersect1d(strata[t], strata[~t])
        discarded = discarded | ~np.isin(strata, both)  # MatchIt discards empty strata
    rng = np.random.default_rng(spec.random_state)
    if scores is None:
        from jdl.matching._mahalanobis import mahalanobis_match

        covs = build_design(df, spec.covariates).balance_X
        mm = mahalanobis_match(covs, t, ~discarded, ratio=spec.ratio, replace=spec.replace,
                               strata=strata, m_order=spec.m_order, rng=rng)
    else:
        mm = nearest_match(scores, t, ~discarded, ratio=spec.ratio, replace=spec.replace,
                           caliper=cal_abs, strata=strata, m_order=spec.m_order, rng=rng)
    t_idx = np.flatnonzero(t)
    if spec.replace:
        sub = np.full(len(t), -1, dtype=np.int64)
        return mm, sub, weights_from_match_matrix(mm, t_idx, len(t)), discarded
    sub = subclass_from_match_matrix(mm, t_idx, len(t))
    return mm, sub, weights_from_subclass(sub, t), discarded


def _exact_subclasses(df: pd.DataFrame, covariates: list[str], t: np.ndarray) -> np.ndarray:
    """Subclass per distinct covariate pattern that holds both groups (MatchIt ``exact``)."""
    codes = strata_codes(df, covariates)
    both = np.intersect1d(codes[t], codes[~t])
    if len(both) == 0:
        raise MatchingError("no exact matches were found.")
    sub = np.searchsorted(both, codes)
    ok = np.isin(codes, both)
    return np.where(ok, sub, -1).astype(np.int64)


def _scoot(sub: np.ndarray, treat: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Fill subclasses that lack a group by moving in the nearest unit of that group.

    MatchIt's ``subclass_scootC`` (``min.n = 1``): for each group, while some subclass has
    none of its units, take the first such subclass ``s``; look left or right (towards the
    side where the other subclasses hold more spare units, weighted by 1/distance; at the ends
    the only side), take from the nearest non-empty subclass there its unit with the score
    closest to ``s`` (ties: later in data order), and move it into ``s``.
    """
    sub = sub.copy()
    uniq = np.unique(sub)
    code = np.searchsorted(uniq, sub)
    nsub = len(uniq)
    for g in (True, False):
        idx = np.flatnonzero(treat == g)
        tab = np.bincount(code[idx], minlength=nsub).astype(float)
        while tab.min() <= 0:
            s = int(np.flatnonzero(tab == 0)[0])
            if s == nsub - 1:
                left = True
            elif s == 0:
                left = False
            else:
                others = [s2 for s2 in range(nsub) if s2 != s and tab[s2] > 1]
                left = sum((tab[s2] - 1) / (s2 - s) for s2 in others) <= 0
            side = range(s - 1, -1, -1) if left else range(s + 1, nsub)
            s2 = next((k for k in side if tab[k] > 0), None)
            if s2 is None:  # nothing on that side: take from the other
                left = not left
                side = range(s - 1, -1, -1) if left else range(s + 1, nsub)
                s2 = next(k for k in side if tab[k] > 0)
            members = idx[code[idx] == s2]
            xs = x[members]
            target = xs.max() if left else xs.min()
            best = members[np.flatnonzero(xs == target)[-1]]
            code[best] = s
            tab[s] += 1
            tab[s2] -= 1
    return uniq[code]


def _quantile_subclasses(scores: np.ndarray, t: np.ndarray, discarded: np.ndarray,
                         n_sub: int) -> np.ndarray:
    """Subclasses at quantiles of the treated units' scores (MatchIt ``subclass``, ATT).

    Cut points are R's type-7 quantiles of the treated scores; units are placed with
    ``findInterval(..., all.inside = TRUE)``; subclasses lacking a group are then filled by
    MatchIt's "scoot" (:func:`_scoot`); subclasses are numbered consecutively.
    """
    if n_sub < 2:
        raise MatchingError("subclass must be at least 2.")
    keep = ~discarded
    q = np.quantile(scores[t & keep], np.linspace(0, 1, n_sub + 1))
    sub = np.full(len(scores), -1, dtype=np.int64)
    sub[keep] = np.searchsorted(q[1:-1], scores[keep], side="right")
    sub[keep] = _scoot(sub[keep], t[keep], scores[keep])
    present = np.unique(sub[keep])
    sub[keep] = np.searchsorted(present, sub[keep])
    return sub


def match_with_settings(data: object, treatment: str, covariates: Sequence[str],
                        settings: MatchingSettings | None = None, **overrides) -> MatchResult:
    """Match with the lab's configured specification (``settings``; default: the
    ``MatchingSettings`` defaults).

    Defaults: 1:1 nearest neighbour without replacement on a logistic propensity score,
    caliper 0.2 SD (Austin 2011), exact strata on index type and year. ``overrides`` are
    keyword arguments of :func:`match` (e.g. ``caliper=None``).
    """
    from jdl.core.config import MatchingSettings

    cfg = settings or MatchingSettings()
    kw: dict = {"method": cfg.method, "ratio": cfg.ratio, "replace": cfg.replace,
                "caliper": cfg.caliper, "m_order": cfg.m_order,
                "exact": list(cfg.exact) if cfg.method == "nearest" and cfg.exact else None,
                "thresholds": Thresholds(cfg.smd_good, cfg.smd_poor, cfg.var_ratio_low,
                                         cfg.var_ratio_high)}
    kw.update(overrides)
    return match(data, treatment, covariates, **kw)

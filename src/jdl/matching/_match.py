"""``match()``: MatchIt's ``matchit()`` for a pandas/polars table (ATT)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from jdl.matching._design import (
    Design,
    build_design,
    check_columns,
    check_covariates,
    is_categorical,
    strata_codes,
    to_pandas,
    treatment_indicator,
)
from jdl.matching._errors import MatchingError
from jdl.matching._glm import LogitFit, fit_logit
from jdl.matching._mahalanobis import (
    CovariateCalipers,
    MahalanobisScan,
    covariates_for_distance,
    mahalanobis_match,
    mahalanobis_transform,
)
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
LINKS = ("logit", "linear.logit")
_INT_MAX = int(np.iinfo(np.int32).max)

Caliper = float | Mapping[str, float]


def _check_count(name: str, value: object, minimum: int = 1) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise MatchingError(f"{name} must be a whole number of at least {minimum}, "
                            f"not {value!r}.")


def _check_options(method: str, distance: object, link: str, ratio: float, caliper: object,
                   m_order: str | None, estimand: str, discard: str,
                   min_controls: int | None, max_controls: int | None,
                   reuse_max: int | None) -> None:
    if method not in METHODS:
        raise MatchingError(f"unknown matching method '{method}'.",
                            hint=f"Use one of: {', '.join(METHODS)}.")
    if isinstance(distance, str) and distance not in ("glm", "mahalanobis"):
        raise MatchingError(f"unknown distance '{distance}'.",
                            hint="Use 'glm', 'mahalanobis' or an array of scores.")
    if link not in LINKS:
        raise MatchingError(f"unknown link '{link}'.", hint=f"Use one of: {', '.join(LINKS)}.")
    if max_controls is None:
        _check_count("ratio", ratio)
    elif isinstance(ratio, bool) or not isinstance(ratio, (int, float, np.number)) or ratio < 1:
        raise MatchingError(f"ratio must be a number of at least 1, not {ratio!r}.")
    for name, cal in _caliper_items(caliper):
        if not (isinstance(cal, (int, float, np.floating, np.integer))
                and not isinstance(cal, bool) and not np.isnan(cal)):
            raise MatchingError(f"caliper {name or '(distance)'} must be a number, not {cal!r}.")
        if not name and not (cal > 0):
            raise MatchingError(f"caliper must be a positive number, not {cal!r}.")
    if m_order is not None and m_order not in M_ORDERS:
        raise MatchingError(f"unknown m_order '{m_order}'.", hint=f"Use one of: {M_ORDERS}.")
    if estimand != "ATT":
        raise MatchingError(f"estimand '{estimand}' is not supported; the lab estimates the ATT.")
    if discard not in DISCARDS:
        raise MatchingError(f"unknown discard '{discard}'.", hint=f"Use one of: {DISCARDS}.")
    if reuse_max is not None:
        _check_count("reuse_max", reuse_max)
    if max_controls is not None:
        _check_count("max_controls", max_controls)
        mn = 1 if min_controls is None else min_controls
        _check_count("min_controls", mn)
        if ratio == 1:
            raise MatchingError("ratio must be greater than 1 for variable ratio matching.")
        if max_controls <= ratio:
            raise MatchingError("max_controls must be greater than ratio for variable ratio "
                                "matching.")
        if mn >= ratio:
            raise MatchingError("min_controls must be less than ratio for variable ratio "
                                "matching.")
    elif min_controls is not None:
        raise MatchingError("min_controls needs max_controls (variable ratio matching).")


def _caliper_items(caliper: object) -> list[tuple[str, float]]:
    """MatchIt's caliper vector as (name, value) pairs; name '' is the distance."""
    if caliper is None:
        return []
    if isinstance(caliper, Mapping):
        return [(str(k), v) for k, v in caliper.items()]
    return [("", caliper)]  # type: ignore[list-item]


def _distance(df: pd.DataFrame, t: np.ndarray, design: Design | None, distance: object,
              link: str) -> tuple[np.ndarray | None, LogitFit | None]:
    if isinstance(distance, str):
        if distance == "glm":
            assert design is not None  # built by match() for a fit
            fit = fit_logit(design.X, t.astype("float64"), design.names,
                            factors=design.factors)
            # MatchIt's link = "linear.logit": the linear predictor (logit of the score)
            return (fit.linear_predictor if link == "linear.logit" else fit.fitted), fit
        return None, None  # mahalanobis
    scores = np.asarray(distance, dtype="float64")
    if scores.shape != (len(df),) or not np.isfinite(scores).all():
        raise MatchingError("a supplied distance must be one finite number per row.")
    return scores, None


def _discard(distance: np.ndarray | None, t: np.ndarray, discard: str) -> np.ndarray:
    """MatchIt's common-support discard on the distance (min/max of the other group)."""
    out = np.zeros(len(t), dtype=bool)
    if discard == "none":
        return out
    if distance is None:
        raise MatchingError(
            f"discard='{discard}' needs a propensity score, and distance='mahalanobis' has "
            "none (MatchIt: '`discard` must be a logical vector or \"none\" in the absence of "
            "a propensity score').",
            hint="Use distance='glm' with mahvars=[...] to discard on the propensity score and "
                 "pair on the Mahalanobis distance, or discard='none'.")
    lo1, hi1 = distance[t].min(), distance[t].max()
    lo0, hi0 = distance[~t].min(), distance[~t].max()
    if discard in ("both", "control"):
        out |= ~t & ((distance < lo1) | (distance > hi1))
    if discard in ("both", "treated"):
        out |= t & ((distance < lo0) | (distance > hi0))
    return out


def variable_ratios(scores: np.ndarray, t: np.ndarray, ratio: float, min_controls: int,
                    max_controls: int) -> np.ndarray:
    """Controls per treated unit for variable ratio matching (Ming and Rosenbaum 2000), as
    MatchIt assigns them: ``round(ratio * n1)`` controls in all; units with the scores most
    like the controls' get ``max_controls``, the most treated-like ``min_controls``, one unit
    the remainder; none gets 0."""
    n1 = int(t.sum())
    m = int(np.round(ratio * n1))  # R's round: half to even, as numpy's
    kmax = (m - min_controls * (n1 - 1)) // (max_controls - min_controls)
    kmin = n1 - kmax - 1
    kmed = m - (min_controls * kmin + max_controls * kmax)
    r0 = np.array([min_controls] * kmin + [kmed] + [max_controls] * kmax, dtype=np.int64)
    while (r0 == 0).any():
        ind = int(np.flatnonzero(r0 == 0)[0])
        r0[ind] = 1
        if ind == len(r0) - 1:
            break
        r0[ind + 1] -= 1
    d1 = scores[t]
    decreasing = d1.mean() > scores[~t].mean()
    order = np.argsort(-d1 if decreasing else d1, kind="stable")
    out = np.empty(n1, dtype=np.int64)
    out[order] = r0
    return out


def _covariate_calipers(df: pd.DataFrame, items: list[tuple[str, float]],
                        std: Mapping[str, bool] | bool, discarded: np.ndarray,
                        ) -> tuple[list[tuple[str, float]], CovariateCalipers | None]:
    """Named calipers in the covariates' own units (SDs of the kept rows where standardised)."""
    named = [(k, float(v)) for k, v in items if k and np.isfinite(v)]
    if not named:
        return [], None
    check_columns(df, [k for k, _ in named], "caliper")
    cols, vals = [], []
    for name, v in named:
        if is_categorical(df[name]):
            raise MatchingError(f"calipers cannot be used with categorical variables "
                                f"('{name}').")
        x = df[name].to_numpy(dtype="float64")
        if std if isinstance(std, bool) else std.get(name, True):
            v = v * float(np.std(x[~discarded], ddof=1))
        cols.append(x)
        vals.append(v)
    out = [(n, v) for (n, _), v in zip(named, vals, strict=True)]
    return out, CovariateCalipers(values=np.array(vals), matrix=np.column_stack(cols))


def match(data: object, treatment: str, covariates: Sequence[str], *, method: str = "nearest",
          distance: object = "glm", link: str = "logit", ratio: float = 1,
          min_controls: int | None = None, max_controls: int | None = None,
          replace: bool = False, reuse_max: int | None = None,
          caliper: Caliper | None = None, std_caliper: bool | Mapping[str, bool] = True,
          mahvars: Sequence[str] | None = None, exact: Sequence[str] | None = None,
          unit_id: str | None = None, m_order: str | None = None,
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
    link : ``"logit"`` (distance = the probability) or ``"linear.logit"`` (distance = the
        linear predictor, the logit of the score: MatchIt's ``link = "linear.logit"``; with
        ``caliper=0.2`` this is Austin's (2011) 0.2 SD of the logit caliper).
    ratio : controls per treated unit (k:1 matching in k passes); with ``max_controls`` the
        average number per treated unit (variable ratio).
    min_controls, max_controls : variable ratio matching (MatchIt's ``min.controls`` /
        ``max.controls``): each treated unit gets between these many controls.
    replace : match controls with replacement (``reuse_max`` unlimited).
    reuse_max : how many times a control may be used (MatchIt's ``reuse.max``; overrides
        ``replace``: 1 is without replacement).
    caliper : a number, the maximum distance difference (in SDs of the distance if
        ``std_caliper``); or a mapping like MatchIt's named caliper vector,
        ``{"": 0.2, "age": 2}``, where ``""`` is the distance and other keys are numeric
        columns whose values may differ by at most that much (negative: must differ by more).
    std_caliper : whether each caliper is in SDs (of the kept rows); one flag or a mapping
        with the same keys as ``caliper`` (MatchIt's ``std.caliper``).
    mahvars : pair on the Mahalanobis distance of these columns, while the propensity score
        (``distance``) is used only for the caliper and ``discard`` (MatchIt's ``mahvars``).
    exact : columns whose values must agree within a matched set (e.g. index type and year).
    unit_id : column identifying the person behind each row (MatchIt's ``unit.id``): when a
        row is matched, all rows of the same person count as used, so nobody is matched twice
        (only when controls are reused fewer times than there are treated units, as in
        MatchIt; with ``replace=True`` and no ``reuse_max`` it has no effect).
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
    Agreement with MatchIt 4.7.2 built from source (59 specifications on its ``lalonde`` data
    and two tie-heavy pools: the same matched sets and weights, except where R's own choice
    between distances equal in exact arithmetic follows its floating-point rounding) is a
    test fixture (tests/matching/test_matchit_reference.py); see
    ``docs/matching-and-inference.md``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"t": [1, 1, 0, 0, 0, 0], "x": [1.0, 2.0, 0.9, 2.2, 5.0, 1.8]})
    >>> m = match(df, "t", ["x"], distance=df["x"].to_numpy())
    >>> m.match_matrix.ravel().tolist()
    [2, 5]
    """
    _check_options(method, distance, link, ratio, caliper, m_order, estimand, discard,
                   min_controls, max_controls, reuse_max)
    df = to_pandas(data)
    t = treatment_indicator(df, treatment)
    # the model matrix only for a propensity model to fit; a given distance needs the checks
    fit = isinstance(distance, str) and distance == "glm" and method != "exact"
    design = build_design(df, covariates, with_balance=False) if fit else None
    if design is None:
        check_covariates(df, covariates)
    exact = tuple(exact or ())
    mahvars = tuple(mahvars or ())
    is_mahal = isinstance(distance, str) and distance == "mahalanobis"
    if exact and method != "nearest":
        raise MatchingError(f"exact strata are supported with method='nearest', not '{method}'.",
                            hint="For exact matching on those columns use method='exact'.")
    if method != "nearest":
        for name, val in (("mahvars", mahvars), ("unit_id", unit_id),
                          ("reuse_max", reuse_max), ("max_controls", max_controls)):
            if val:
                raise MatchingError(f"{name} is supported with method='nearest', not "
                                    f"'{method}'.")
        if is_mahal:
            raise MatchingError("Mahalanobis distance is available for nearest-neighbour only.")
    if mahvars and is_mahal:
        raise MatchingError("mahvars needs a propensity score distance (distance='glm'); "
                            "distance='mahalanobis' already uses every covariate.")
    if max_controls is not None and is_mahal:
        raise MatchingError("distance cannot be 'mahalanobis' for variable ratio matching.",
                            hint="Use distance='glm' (MatchIt has the same rule).")
    scores, model = (None, None) if method == "exact" else _distance(
        df, t, design, distance, link)
    discarded = _discard(scores, t, discard)
    if reuse_max is None:
        reuse_max = _INT_MAX if replace else 1
    replace = reuse_max > 1  # MatchIt: replace <- reuse.max > 1
    n1 = int(t.sum())
    if m_order is None:
        m_order = "largest" if scores is not None else "data"
    if reuse_max >= n1:
        m_order = "data"  # MatchIt: order is irrelevant when controls are never used up
    items = _caliper_items(caliper)
    cal_abs = None
    dist_cal = [float(v) for k, v in items if not k]
    if dist_cal:
        if scores is None:
            raise MatchingError("a caliper on the distance needs a propensity score distance.",
                                hint="Name the covariates instead: caliper={'age': 2}.")
        std_d = std_caliper if isinstance(std_caliper, bool) else std_caliper.get("", True)
        cal_abs = float(dist_cal[0] * np.std(scores[~discarded], ddof=1)) if std_d \
            else float(dist_cal[0])
    cov_items, cov_cal = (_covariate_calipers(df, items, std_caliper, discarded)
                          if method == "nearest" else ([], None))
    dist_label = distance if isinstance(distance, str) else "user"
    spec = MatchSpec(treatment=treatment, covariates=tuple(covariates), method=method,
                     distance=dist_label, ratio=ratio, replace=bool(replace),
                     caliper=dist_cal[0] if dist_cal else None,
                     std_caliper=std_caliper if isinstance(std_caliper, bool) else
                     bool(std_caliper.get("", True)), exact=exact, m_order=m_order,
                     estimand=estimand, discard=discard, subclass=subclass,
                     random_state=random_state, link=link, mahvars=mahvars,
                     reuse_max=None if reuse_max in (1, _INT_MAX) else int(reuse_max),
                     min_controls=(min_controls or 1) if max_controls else None,
                     max_controls=max_controls, unit_id=unit_id,
                     covariate_calipers=tuple(cov_items))
    mm = None
    if method == "nearest":
        mm, sub, w, discarded = _run_nearest(df, t, scores, discarded, spec, cal_abs, cov_cal,
                                             int(reuse_max), is_mahal)
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


def _unit_codes(df: pd.DataFrame, unit_id: str | None) -> np.ndarray | None:
    if unit_id is None:
        return None
    check_columns(df, [unit_id], "unit_id")
    col = df[unit_id]
    if col.isna().any():
        raise MatchingError(f"unit_id column '{unit_id}' has missing values.")
    return pd.factorize(col, sort=True)[0].astype(np.int64)


def _run_nearest(df: pd.DataFrame, t: np.ndarray, scores: np.ndarray | None,
                 discarded: np.ndarray, spec: MatchSpec, cal_abs: float | None,
                 cov_cal: CovariateCalipers | None, reuse_max: int, is_mahal: bool):
    """Nearest-neighbour matching: (match matrix, subclass, raw weights, discarded)."""
    strata = None
    discarded_before_exact = discarded  # MatchIt's Mahalanobis transform sees these only
    if spec.exact:
        strata = strata_codes(df, spec.exact)
        both = np.intersect1d(strata[t], strata[~t])
        discarded = discarded | ~np.isin(strata, both)  # MatchIt discards empty strata
    rng = np.random.default_rng(spec.random_state)
    n1 = int(t.sum())
    units = _unit_codes(df, spec.unit_id) if reuse_max < n1 else None
    if spec.max_controls is not None:
        assert scores is not None
        ratios = variable_ratios(scores, t, spec.ratio, spec.min_controls or 1,
                                 spec.max_controls)
    else:
        ratios = np.full(n1, spec.ratio, dtype=np.int64)
    if is_mahal or spec.mahvars:
        mm = _mahalanobis_nearest(df, t, scores, discarded, discarded_before_exact, spec,
                                  cal_abs, cov_cal, reuse_max, strata, units, ratios, rng,
                                  is_mahal)
    else:
        assert scores is not None
        mm = nearest_match(scores, t, ~discarded, ratio=ratios, caliper=cal_abs, strata=strata,
                           m_order=spec.m_order, rng=rng, reuse_max=reuse_max, unit_id=units,
                           calipers=cov_cal)
    t_idx = np.flatnonzero(t)
    # reported as MatchIt reports them: rows of exact strata lacking a group are unmatched,
    # not discarded (``m$discarded`` holds the common-support discards only)
    if reuse_max > 1:
        sub = np.full(len(t), -1, dtype=np.int64)
        return mm, sub, weights_from_match_matrix(mm, t_idx, len(t)), discarded_before_exact
    sub = subclass_from_match_matrix(mm, t_idx, len(t))
    return mm, sub, weights_from_subclass(sub, t), discarded_before_exact


def _mahalanobis_nearest(df: pd.DataFrame, t: np.ndarray, scores: np.ndarray | None,
                         discarded: np.ndarray, discarded_before_exact: np.ndarray,
                         spec: MatchSpec, cal_abs: float | None,
                         cov_cal: CovariateCalipers | None, reuse_max: int,
                         strata: np.ndarray | None, units: np.ndarray | None,
                         ratios: np.ndarray, rng: np.random.Generator,
                         is_mahal: bool) -> np.ndarray:
    """MatchIt's ``nn_matchC_mahcovs`` path (``distance="mahalanobis"`` or ``mahvars``)."""
    cols = list(spec.covariates) if is_mahal else list(spec.mahvars)
    X, _names = covariates_for_distance(df, cols)
    # MatchIt transforms before it discards the rows of exact strata lacking a group
    Z = mahalanobis_transform(X, t, discarded_before_exact)
    if is_mahal and Z.shape[1] == 1 and cal_abs is None:
        # MatchIt: one Mahalanobis column is matched with the fast 1-D scan on that column
        return nearest_match(Z[:, 0], t, ~discarded, ratio=ratios, strata=strata,
                             m_order="data", rng=rng, reuse_max=reuse_max, unit_id=units,
                             calipers=cov_cal)
    t_idx = np.flatnonzero(t)
    if spec.m_order == "random":
        order = rng.permutation(np.flatnonzero(~discarded[t_idx]))
    elif spec.m_order == "data" or scores is None:
        order = np.flatnonzero(~discarded[t_idx])
    else:
        d1 = scores[t_idx]
        order = np.argsort(-d1 if spec.m_order == "largest" else d1, kind="stable")
    scan = MahalanobisScan(Z=Z, treat=t, strata=strata, split_strata=units is None,
                           distance=scores, caliper_dist=cal_abs, calipers=cov_cal)
    return mahalanobis_match(scan, ~discarded, ratios, reuse_max, order, units)


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

    Cut points are R's type-7 quantiles of all treated scores (also those discarded by
    ``discard``: MatchIt's ``matchit2subclass`` takes them before discarding); units are placed with
    ``findInterval(..., all.inside = TRUE)``; subclasses lacking a group are then filled by
    MatchIt's "scoot" (:func:`_scoot`); subclasses are numbered consecutively.
    """
    if n_sub < 2:
        raise MatchingError("subclass must be at least 2.")
    keep = ~discarded
    # MatchIt cuts at quantiles of ALL treated scores, discarded ones included
    q = np.quantile(scores[t], np.linspace(0, 1, n_sub + 1))
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
    caliper 0.2 SD of the score on the probability scale, exact strata on index type and
    year. ``overrides`` are keyword arguments of :func:`match` (e.g. ``caliper=None``; for
    Austin's (2011) 0.2 SD of the logit: ``link="linear.logit"``; for k:1 with replacement:
    ``ratio=k, replace=True``; ``reuse_max``, ``unit_id``, ``mahvars``, ``min_controls`` /
    ``max_controls`` and named calipers pass through the same way).
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

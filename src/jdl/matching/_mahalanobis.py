"""Nearest-neighbour matching on the Mahalanobis distance, as MatchIt 4.7 does it.

Used for ``distance="mahalanobis"`` (every covariate) and for ``mahvars`` (a propensity score
for the caliper and ``discard``, the Mahalanobis distance on ``mahvars`` for pairing).

The transform is MatchIt's ``transform_covariates(method = "mahalanobis")``:

1. the covariate matrix of ``get_covs_matrix_for_dist``: numeric columns as they are, each
   categorical expanded into *all* its levels, each indicator divided by sqrt(2); columns
   without variance dropped;
2. every column standardised (R's ``scale``: mean 0, SD 1), so the distance does not depend on
   units (earnings in pounds or pence give the same pairs);
3. the pooled within-group covariance of the kept (non-discarded) rows,
   ``cov * (n - 1) / (n - 2)``, inverted (``solve``; a generalised inverse when its
   determinant is at most 1e-8, as with categoricals, whose levels sum to one);
4. the rows multiplied by ``t(chol(inverse, pivot = TRUE))`` in the original column order.
   LAPACK's pivoted Cholesky (``dpstf2``) is reproduced step by step, including what it leaves
   in the rows past the rank of a singular matrix, because those rows enter MatchIt's distances.

The scan is MatchIt's ``find_control_mahcovs``: units are ordered by the first transformed column
(or by a caliper covariate that is an affine function of a transformed column); from the
treated unit's position the scan visits positions alternately left and right (left first) and
keeps the best ``ratio`` by squared Euclidean distance on the transformed rows. Among equal
distances the candidate met *last* wins for one match (``dist <= best`` replaces); for several,
later equal candidates are inserted before earlier ones and the last of the list is dropped.
Here every candidate's distance is computed at once and only the tied candidates are ordered by
when the scan would meet them (offset from the treated unit, then left before right), which
gives the same result: the scan's early stops only ever cut candidates that could not be kept.

Cost is O(n_treated x n_controls) vectorised: fine for a cohort against tens of thousands,
not for a national pool (use the propensity score there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from jdl.matching._design import check_columns, is_categorical, levels_of
from jdl.matching._errors import MatchingError

_SQRT_EPS = float(np.sqrt(np.finfo(float).eps))


def covariates_for_distance(df: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, list[str]]:
    """MatchIt's ``get_covs_matrix_for_dist``: all levels of a categorical, each / sqrt(2)."""
    check_columns(df, columns, "Mahalanobis covariate")
    cols: list[np.ndarray] = []
    names: list[str] = []
    for name in columns:
        s = df[name]
        if s.isna().any():
            raise MatchingError(f"covariate '{name}' has missing values.")
        if is_categorical(s):
            for lv in levels_of(s):
                cols.append((s == lv).to_numpy(dtype="float64") / np.sqrt(2.0))
                names.append(f"{name}{lv}")
        else:
            x = s.to_numpy(dtype="float64")
            if not np.isfinite(x).all():
                raise MatchingError(f"covariate '{name}' has infinite values.")
            cols.append(x)
            names.append(str(name))
    return np.column_stack(cols), names


def _pivoted_cholesky(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R's ``chol(a, pivot = TRUE)`` for a small matrix: LAPACK ``dpstf2`` (upper, tol = -1),
    lower triangle zeroed. Returns (R, pivot) with ``pivot`` 0-based."""
    n = a.shape[0]
    A = np.array(a, dtype="float64", order="F", copy=True)
    piv = np.arange(n)
    work = np.zeros(2 * n)
    diag = np.diag(A).copy()
    pvt = int(np.argmax(diag))
    ajj = A[pvt, pvt]
    if not ajj > 0:
        return np.triu(A) * 0.0, piv
    dstop = n * (np.finfo(float).eps / 2) * ajj
    for j in range(n):
        for i in range(j, n):
            if j > 0:
                work[i] += A[j - 1, i] ** 2
            work[n + i] = A[i, i] - work[i]
        if j > 0:
            pvt = j + int(np.argmax(work[n + j:2 * n]))
            ajj = work[n + pvt]
            if ajj <= dstop or np.isnan(ajj):
                A[j, j] = ajj
                break
        if j != pvt:
            A[pvt, pvt] = A[j, j]
            A[:j, [j, pvt]] = A[:j, [pvt, j]]
            if pvt < n - 1:
                A[[j, pvt], pvt + 1:] = A[[pvt, j], pvt + 1:]
            tmp = A[j, j + 1:pvt].copy()
            A[j, j + 1:pvt] = A[j + 1:pvt, pvt]
            A[j + 1:pvt, pvt] = tmp
            work[[j, pvt]] = work[[pvt, j]]
            piv[[j, pvt]] = piv[[pvt, j]]
        ajj = np.sqrt(ajj)
        A[j, j] = ajj
        if j < n - 1:
            A[j, j + 1:] = (A[j, j + 1:] - A[:j, j] @ A[:j, j + 1:]) / ajj
    return np.triu(A), piv


def _generalized_inverse(sigma: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    """MatchIt's ``generalized_inverse`` (SVD, singular values above tol x the largest)."""
    u, d, vt = np.linalg.svd(sigma)
    pos = d > max(tol * d[0], 0.0)
    return (vt[pos].T * (1.0 / d[pos])) @ u[:, pos].T


def mahalanobis_transform(X: np.ndarray, treat: np.ndarray, discarded: np.ndarray) -> np.ndarray:
    """Rows in a space where squared Euclidean distance is MatchIt's Mahalanobis distance."""
    X = np.asarray(X, dtype="float64")
    no_var = np.abs(X.max(axis=0) - X.min(axis=0)) < _SQRT_EPS
    if no_var.all():
        return X[:, :1].copy()  # MatchIt: Euclidean on the first column
    X = X[:, ~no_var]
    X = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)
    keep = ~discarded
    Xk = X[keep].copy()
    tk = treat[keep]
    for g in (True, False):
        Xk[tk == g] -= Xk[tk == g].mean(axis=0)
    n = len(Xk)
    var = Xk.T @ Xk / (n - 1) * (n - 1) / (n - 2)
    inv = None
    if np.linalg.det(var) > 1e-8:
        try:
            inv = np.linalg.solve(var, np.eye(len(var)))
        except np.linalg.LinAlgError:
            inv = None
    if inv is None:
        inv = _generalized_inverse(var)
    ch, piv = _pivoted_cholesky(inv)
    p = np.argsort(piv)
    return X @ ch[:, p].T


def affine_slope(x: np.ndarray, y: np.ndarray, tol: float = 1e-9) -> float:
    """MatchIt's ``get_affine_transformation``: a if y = a x + b (to tol), else 0."""
    if len(x) < 2:
        return 0.0
    xd = x - x.mean()
    yd = y - y.mean()
    num = float(np.sum(xd * yd))
    den = float(np.sum(xd * xd))
    if abs(den) < tol or abs(num) < tol:
        return 0.0
    a = num / den
    b = y.mean() - a * x.mean()
    return a if np.all(np.abs(a * x + b - y) <= tol) else 0.0


@dataclass
class CovariateCalipers:
    """Named calipers (MatchIt's ``caliper = c(age = 2)``), already in the covariates' units;
    a negative value requires pairs to be *farther* apart than its magnitude."""

    values: np.ndarray  # (k,)
    matrix: np.ndarray  # (n, k)

    def ok(self, i: int, cand: np.ndarray) -> np.ndarray:
        out = np.ones(len(cand), dtype=bool)
        for k, cal in enumerate(self.values):
            diff = np.abs(self.matrix[i, k] - self.matrix[cand, k])
            out &= (diff <= cal) if cal >= 0 else (diff > -cal)
        return out


def _sq_dist(Z: np.ndarray, i: int, cand: np.ndarray) -> np.ndarray:
    out = np.zeros(len(cand))
    for k in range(Z.shape[1]):  # summed column by column, as MatchIt's euc_dist_sq
        tmp = Z[i, k] - Z[cand, k]
        out += tmp * tmp
    return out


def _keep_best(d: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
    """Indices (into d) of what MatchIt's insertion list holds at the end of the scan, in
    list order (ascending distance)."""
    finite = np.flatnonzero(np.isfinite(d))
    if len(finite) == 0:
        return finite
    d_k = np.partition(d[finite], min(k, len(finite)) - 1)[min(k, len(finite)) - 1]
    cand = finite[d[finite] <= d_k]
    cand = cand[np.lexsort((key[cand],))]  # in the order the scan meets them
    if k == 1:
        best = cand[d[cand] == d[cand].min()]
        return best[-1:]  # the last met among the nearest
    lst: list[int] = []
    for c in cand.tolist():
        dc = d[c]
        if not lst:
            lst.append(c)
        elif dc > d[lst[-1]]:
            if len(lst) < k:
                lst.append(c)
        else:
            if len(lst) == k:
                lst.pop()
            if lst and dc > d[lst[-1]]:
                lst.append(c)
            else:
                pos = int(np.searchsorted(d[np.array(lst)], dc, side="left")) if lst else 0
                lst.insert(pos, c)
    return np.array(lst, dtype=np.int64)


@dataclass
class MahalanobisScan:
    """Everything ``find_control_mahcovs`` looks at, prepared once."""

    Z: np.ndarray  # transformed rows
    treat: np.ndarray
    strata: np.ndarray | None
    split_strata: bool  # MatchIt matches exact strata one at a time (no unit.id)
    distance: np.ndarray | None  # propensity score for the caliper (mahvars)
    caliper_dist: float | None
    calipers: CovariateCalipers | None

    def __post_init__(self) -> None:
        mv = self.Z[:, 0]
        self.mv_caliper = np.inf
        cal = self.calipers
        if cal is not None:
            found = False
            for m in range(self.Z.shape[1]):
                for c in range(len(cal.values)):
                    if cal.values[c] < 0:
                        continue
                    a = affine_slope(cal.matrix[:, c], self.Z[:, m])
                    if abs(a) > 1e-10:
                        cal.matrix[:, c] = self.Z[:, m]
                        cal.values[c] *= a
                        mv = self.Z[:, m]
                        self.mv_caliper = float(cal.values[c])
                        found = True
                        break
                if found:
                    break
        self.match_var = mv
        n = len(mv)
        s = self.strata if (self.strata is not None and self.split_strata) else np.zeros(n, int)
        order = np.lexsort((mv, s))  # stable: ties keep data order
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        start = np.searchsorted(s[order], s, side="left")
        self.pos = rank - start  # position within the stratum's own ordering

    def find(self, i: int, available: np.ndarray, exclude: np.ndarray, k: int) -> np.ndarray:
        """Up to k control rows for treated row i, best first."""
        cand_mask = available & ~self.treat
        if self.strata is not None:
            cand_mask &= self.strata == self.strata[i]
        cand = np.flatnonzero(cand_mask)
        if len(exclude):
            cand = cand[~np.isin(cand, exclude)]
        if len(cand) == 0:
            return cand
        mvd = np.abs(self.match_var[i] - self.match_var[cand])
        if self.mv_caliper >= 0:
            cand = cand[mvd <= self.mv_caliper]
        else:
            cand = cand[mvd > -self.mv_caliper]
        if self.caliper_dist is not None and self.distance is not None:
            dd = np.abs(self.distance[i] - self.distance[cand])
            cand = cand[dd <= self.caliper_dist] if self.caliper_dist >= 0 else \
                cand[dd > -self.caliper_dist]
        if self.calipers is not None and len(cand):
            cand = cand[self.calipers.ok(i, cand)]
        if len(cand) == 0:
            return cand
        d = _sq_dist(self.Z, i, cand)
        off = self.pos[cand] - self.pos[i]
        key = np.abs(off) * 2 + (off > 0)  # offset, then left (0) before right (1)
        return cand[_keep_best(d, key, k)]


class UnitMembers:
    """Rows sharing each row's unit id (MatchIt's ``unit.id``): one stable sort, then a slice
    per look-up, so a national pool costs one argsort and no per-row Python objects."""

    def __init__(self, unit_id: np.ndarray) -> None:
        codes = np.asarray(unit_id)
        n = len(codes)
        self.order = np.argsort(codes, kind="stable")
        sc = codes[self.order]
        new = np.ones(n, dtype=bool)
        new[1:] = sc[1:] != sc[:-1]
        first = np.flatnonzero(new)  # where each id's block starts in the sorted order
        last = np.append(first[1:], n)
        group = np.empty(n, dtype=np.int64)
        group[self.order] = np.cumsum(new) - 1
        self.start = first[group]
        self.end = last[group]

    def __getitem__(self, row: int) -> np.ndarray:
        return self.order[self.start[row]:self.end[row]]


def unit_members(unit_id: np.ndarray | None) -> UnitMembers | None:
    """Per row, the rows that share its unit id (MatchIt's ``unit.id``), or None."""
    return None if unit_id is None else UnitMembers(unit_id)


def mahalanobis_match(scan: MahalanobisScan, eligible: np.ndarray, ratio: np.ndarray,
                      reuse_max: int, order: np.ndarray,
                      unit_id: np.ndarray | None) -> np.ndarray:
    """MatchIt's ``nn_matchC_mahcovs``: match matrix (n_treated, max ratio), -1 = none.

    ``ratio`` is per treated unit (variable ratio); ``order`` lists treated units (indices among
    the treated) in matching order. Matching is in passes, one control per treated unit per
    pass, when controls can be used fewer times than there are treated units (``reuse_max``)
    or ``unit_id`` is given; otherwise each treated unit takes its ``ratio`` nearest at once.
    """
    treat = scan.treat
    t_idx = np.flatnonzero(treat)
    nf = len(t_idx)
    max_ratio = int(ratio.max()) if nf else 1
    mm = np.full((nf, max_ratio), -1, dtype=np.int64)
    elig = eligible.copy()
    none = np.empty(0, dtype=np.int64)
    if reuse_max >= nf:  # MatchIt ignores unit.id when no control can be used up
        for t in order.tolist():
            i = int(t_idx[t])
            if not elig[i]:
                continue
            got = scan.find(i, elig, none, int(ratio[t]))
            mm[t, :len(got)] = got
        return mm
    members = unit_members(unit_id)
    times = np.zeros(len(treat), dtype=np.int64)
    allowed = np.full(len(treat), reuse_max, dtype=np.int64)
    allowed[t_idx] = ratio
    n_ctrl = int((elig & ~treat).sum())
    filled = np.zeros(nf, dtype=np.int64)
    for r in range(1, max_ratio + 1):
        for t in order.tolist():
            if ratio[t] < r:
                continue
            if n_ctrl == 0:
                break
            i = int(t_idx[t])
            if not elig[i]:
                continue
            got = scan.find(i, elig, mm[t, :filled[t]], 1)
            if len(got) == 0:
                elig[i] = False
                continue
            j = int(got[0])
            mm[t, filled[t]] = j
            filled[t] += 1
            touched = [j, i] if members is None else np.unique(
                np.concatenate([members[j], members[i]])).tolist()
            for u in touched:
                if not elig[u]:
                    continue
                times[u] += 1
                if times[u] >= allowed[u]:
                    elig[u] = False
                    if not treat[u]:
                        n_ctrl -= 1
    return mm

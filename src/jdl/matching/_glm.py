"""Unpenalised logistic regression fitted exactly as R's ``glm.fit`` fits it.

MatchIt's default distance is the fitted probability from ``glm(treat ~ ., family = binomial)``.
To reproduce MatchIt's matches, the scores must agree with R's to many digits, so this follows
``glm.fit`` step by step: the same starting values (``mustart = (y + 0.5) / 2``), the same IRLS
updates, R's clamped logit link (``binomial()$linkinv`` and ``mu.eta``), and R's stopping rule
``|dev - dev_old| / (|dev| + 0.1) < epsilon`` with ``epsilon = 1e-8``, at most 25 iterations.
Columns that are linear combinations of earlier columns are aliased (coefficient ``NaN``, as
R's ``NA``) and left out, as R's pivoting QR does.

References
----------
R Core Team, ``stats::glm.fit`` and ``src/library/stats/src/family.c``.
McCullagh, P. and Nelder, J. A. (1989). *Generalized Linear Models*, 2nd ed., section 2.5.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

_EPS = np.finfo(float).eps
_THRESH = 30.0


def _logit_parts(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(linkinv(eta), mu.eta(eta))`` from one ``exp``, with R's clamping at |eta| > 30."""
    e = np.exp(np.clip(eta, -_THRESH, _THRESH))
    opexp = 1.0 + e
    mu = e / opexp
    me = e / (opexp * opexp)
    if np.abs(eta).max() > _THRESH:
        tmp = np.where(eta < -_THRESH, _EPS, np.where(eta > _THRESH, 1.0 / _EPS, e))
        mu = tmp / (1.0 + tmp)
        me = np.where(np.abs(eta) > _THRESH, _EPS, me)
    return mu, me


def _deviance(y: np.ndarray, mu: np.ndarray) -> float:
    """R's binomial deviance: ``2 * sum(y log(y / mu) + (1 - y) log((1 - y) / (1 - mu)))``."""
    with np.errstate(divide="ignore"):
        return float(2.0 * np.sum(np.log(1.0 / np.where(y > 0.5, mu, 1.0 - mu))))


def _linpred(X: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """X @ beta accumulated column by column, so identical rows get bit-identical scores."""
    eta = X[:, 0] * beta[0]
    for j in range(1, X.shape[1]):
        eta += X[:, j] * beta[j]
    return eta


def _linpred_factors(X: np.ndarray, beta: np.ndarray, num: list[int], factors) -> np.ndarray:
    """X @ beta with numeric columns accumulated in order and each factor's coefficients
    gathered by level code: fewer passes over a big table, still bit-identical for identical
    rows."""
    eta = X[:, num[0]] * beta[num[0]]
    for j in num[1:]:
        eta += X[:, j] * beta[j]
    for codes, cols in factors:
        eta += np.r_[0.0, beta[list(cols)]][codes]
    return eta


def _independent_columns(X: np.ndarray, tol: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Columns kept by a left-to-right rank check, as R's limited-pivoting QR keeps them.

    Column j is aliased when its residual after projection on the kept columns is below
    ``tol`` of its norm (computed from the scaled Gram matrix: cheap for any n).
    """
    G = X.T @ X  # one BLAS pass, no scaled copy of a big table
    norms = np.sqrt(np.diag(G)).copy()
    scale = norms.copy()
    scale[scale == 0] = 1.0
    G = G / np.outer(scale, scale)
    keep: list[int] = []
    for j in range(X.shape[1]):
        if G[j, j] == 0:
            continue
        if keep:
            Gk = G[np.ix_(keep, keep)]
            g = G[keep, j]
            resid = G[j, j] - g @ np.linalg.solve(Gk, g)
        else:
            resid = G[j, j]
        if resid > tol**2 * G[j, j]:
            keep.append(j)
    return np.array(keep, dtype=int), norms


def _wls(X: np.ndarray, w: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Weighted least squares by QR-accurate ``lstsq`` (the small-data path)."""
    return np.linalg.lstsq(X * w[:, None], z * w, rcond=None)[0]


class _NormalEquations:
    """Large-data WLS: equilibrated normal equations, refined once at convergence.

    Each IRLS step recomputes everything from the current linear predictor, so solve errors do
    not accumulate; only the final step needs QR-level accuracy, which one step of iterative
    refinement gives when the equilibrated Gram matrix is well conditioned.
    """

    def __init__(self, X: np.ndarray, norms: np.ndarray) -> None:
        self.scale = norms.copy()
        self.scale[self.scale == 0] = 1.0
        self.Xs = X / self.scale

    def solve(self, w2: np.ndarray, z: np.ndarray) -> np.ndarray:
        self._sw = np.sqrt(w2)
        self._Bt = self.Xs.T * self._sw  # (p, n), C-ordered: one fast pass
        self._G = self._Bt @ self._Bt.T  # symmetric rank-k update (BLAS syrk)
        self._z = z
        self._beta = np.linalg.solve(self._G, self._Bt @ (self._sw * z))
        return self._beta / self.scale

    def refine(self) -> np.ndarray:
        r = self._z - self.Xs @ self._beta
        self._beta = self._beta + np.linalg.solve(self._G, self._Bt @ (self._sw * r))
        return self._beta / self.scale


def _level_indicators(factors: list[tuple[np.ndarray, int]], n: int) -> Any:
    """One sparse row per level of each factor (in order), 1 at the rows of that level, the
    rows in increasing order (CSR)."""
    from scipy import sparse

    indptr, indices, start = [np.zeros(1, dtype=np.int64)], [], 0
    for codes, L in factors:
        counts = np.bincount(codes, minlength=L)
        indptr.append(start + np.cumsum(counts))
        indices.append(np.argsort(codes, kind="stable"))
        start += n
    ptr = np.concatenate(indptr)
    return sparse.csr_matrix((np.ones(int(ptr[-1])), np.concatenate(indices), ptr),
                             shape=(sum(L for _, L in factors), n))


class _FactorNormalEquations:
    """Large-data WLS that exploits categorical covariates' indicator columns.

    The Gram matrix blocks that involve a factor's indicators are per-level sums
    (``bincount``), so only the numeric columns go through BLAS; memory traffic per IRLS step
    falls from all p columns to the numeric ones. Same equilibration and final refinement as
    :class:`_NormalEquations`.
    """

    def __init__(self, X: np.ndarray, factors, norms: np.ndarray) -> None:
        p = X.shape[1]
        fcols = [c for _, cols in factors for c in cols]
        self.num = [j for j in range(p) if j not in set(fcols)]
        self.order = np.array(self.num + fcols)
        self.scale = norms.copy()
        self.scale[self.scale == 0] = 1.0
        self.XnT = np.ascontiguousarray((X[:, self.num] / self.scale[self.num]).T)
        self._Xn = np.ascontiguousarray(self.XnT.T)  # rows contiguous: the weighting is 2x faster
        self.factors = [(codes, len(cols) + 1, self.scale[list(cols)]) for codes, cols in factors]
        self._levels = _level_indicators([(codes, L) for codes, L, _ in self.factors], len(X))

    def _rhs(self, v: np.ndarray) -> np.ndarray:
        parts = [self.XnT @ v]
        for codes, L, sc in self.factors:
            parts.append(np.bincount(codes, v, minlength=L)[1:] / sc)
        return np.concatenate(parts)

    def _fitted(self, beta_o: np.ndarray) -> np.ndarray:
        k = len(self.num)
        out = self.XnT.T @ beta_o[:k]
        pos = k
        for codes, L, sc in self.factors:
            full = np.r_[0.0, beta_o[pos: pos + L - 1] / sc]
            out += full[codes]
            pos += L - 1
        return out

    def solve(self, w2: np.ndarray, z: np.ndarray) -> np.ndarray:
        k = len(self.num)
        Bt = self.XnT * np.sqrt(w2)
        blocks_n = Bt @ Bt.T
        size = k + sum(L - 1 for _, L, _ in self.factors)
        G = np.zeros((size, size))
        G[:k, :k] = blocks_n
        # every factor level's sums of the weighted numeric columns in one sparse product: per
        # level the rows are added in row order, as ``bincount`` adds them (the same bits)
        per_level = self._levels @ (self._Xn * w2[:, None])
        pos, first = k, 0
        offsets = []
        for codes, L, sc in self.factors:
            offsets.append(pos)
            sl = slice(pos, pos + L - 1)
            G[sl, sl] = np.diag(np.bincount(codes, w2, minlength=L)[1:] / (sc * sc))
            g = per_level[first + 1: first + L] / sc[:, None]
            G[sl, :k] = g
            G[:k, sl] = g.T
            pos += L - 1
            first += L
        for a in range(len(self.factors)):
            for b in range(a + 1, len(self.factors)):
                ca, La, sa = self.factors[a]
                cb, Lb, sb = self.factors[b]
                cross = np.bincount(ca * Lb + cb, w2, minlength=La * Lb).reshape(La, Lb)
                block = cross[1:, 1:] / np.outer(sa, sb)
                ra = slice(offsets[a], offsets[a] + La - 1)
                rb = slice(offsets[b], offsets[b] + Lb - 1)
                G[ra, rb] = block
                G[rb, ra] = block.T
        self._G, self._w2, self._z = G, w2, z
        self._beta = np.linalg.solve(G, self._rhs(w2 * z))
        return self._unscale()

    def _unscale(self) -> np.ndarray:
        beta = np.empty(len(self.order))
        beta[self.order] = self._beta
        return beta / self.scale

    def refine(self) -> np.ndarray:
        r = self._z - self._fitted(self._beta)
        self._beta = self._beta + np.linalg.solve(self._G, self._rhs(self._w2 * r))
        return self._unscale()


@dataclass(frozen=True)
class LogitFit:
    """A fitted logistic regression: coefficients (NaN where aliased), scores and convergence."""

    coef: np.ndarray
    names: tuple[str, ...]
    fitted: np.ndarray
    linear_predictor: np.ndarray
    deviance: float
    iterations: int
    converged: bool


def fit_logit(X: np.ndarray, y: np.ndarray, names: tuple[str, ...] = (),
              *, factors: tuple = (), epsilon: float = 1e-8, maxit: int = 25,
              start: np.ndarray | None = None) -> LogitFit:
    """Fit ``glm(y ~ X - 1, family = binomial)`` as R does (X includes the intercept column).

    Parameters
    ----------
    X : (n, p) model matrix, first column the intercept.
    y : (n,) 0/1 outcome.
    factors : optional (codes, columns) per categorical covariate (``Design.factors``); lets
        large fits sum indicator blocks by level instead of multiplying them out.
    start : optional starting coefficients, one per column of X (R's ``glm(start = )``): a
        refit of nearly the same model (the same covariates on a slightly different sample)
        converges in a few iterations from the first fit's coefficients instead of about ten
        from R's default start. The optimum is the same to the convergence tolerance; without
        ``start`` the iterations are R's, bit for bit (MatchIt parity).

    Returns
    -------
    LogitFit
        ``fitted`` are R's fitted probabilities, the default MatchIt distance.
    """
    y = np.asarray(y, dtype="float64")
    keep, norms = _independent_columns(X)
    norms = norms[keep]
    Xk = X if len(keep) == X.shape[1] else X[:, keep]
    Xk = np.asfortranarray(Xk)
    if start is None:
        mustart = (y + 0.5) / 2.0
        eta = np.log(mustart / (1.0 - mustart))
    else:
        first = np.nan_to_num(np.asarray(start, dtype="float64")[keep])  # aliased: 0
        eta = Xk @ first
    mu, me = _logit_parts(eta)
    dev_old = _deviance(y, mu)
    beta = np.zeros(Xk.shape[1])
    converged = False
    it = 0
    big = Xk.shape[0] * Xk.shape[1] > 200_000
    ne: _NormalEquations | _FactorNormalEquations | None = None
    linpred = _linpred
    if big:
        if factors and len(keep) == X.shape[1]:
            ne = _FactorNormalEquations(Xk, factors, norms)
            num, fac = ne.num, factors

            def linpred(A: np.ndarray, b: np.ndarray) -> np.ndarray:
                return _linpred_factors(A, b, num, fac)
        else:
            ne = _NormalEquations(Xk, norms)
    for it in range(1, maxit + 1):  # noqa: B007 - the count is reported
        var = mu * (1.0 - mu)
        z = eta + (y - mu) / me
        w2 = me * me / var
        beta = ne.solve(w2, z) if ne is not None else _wls(Xk, np.sqrt(w2), z)
        eta = linpred(Xk, beta)
        mu, me = _logit_parts(eta)
        dev = _deviance(y, mu)
        if abs(dev - dev_old) / (abs(dev) + 0.1) < epsilon:
            converged = True
            if ne is not None:
                beta = ne.refine()
                eta = linpred(Xk, beta)
                mu, me = _logit_parts(eta)
                dev = _deviance(y, mu)
            break
        dev_old = dev
    if not converged:
        warnings.warn("propensity score model did not converge (glm.fit: algorithm did not "
                      "converge)", RuntimeWarning, stacklevel=2)
    if np.any(mu > 1 - 10 * _EPS) or np.any(mu < 10 * _EPS):
        warnings.warn("fitted probabilities numerically 0 or 1 occurred (perfect separation?)",
                      RuntimeWarning, stacklevel=2)
    coef = np.full(X.shape[1], np.nan)
    coef[keep] = beta
    return LogitFit(coef=coef, names=tuple(names), fitted=mu, linear_predictor=eta,
                    deviance=float(dev), iterations=it, converged=converged)

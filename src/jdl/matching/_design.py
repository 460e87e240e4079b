"""Turning a table into model matrices the way R's ``model.matrix`` does.

MatchIt fits its propensity score on R's model matrix, so to reproduce its scores the columns must
be built the same way: numeric covariates as they are, logicals as 0/1, and each categorical
covariate expanded into indicator columns for every level but the first (R's treatment contrasts),
with levels in R's factor order (a categorical's own order, else sorted values), unused levels
dropped. Balance tables use *all* levels (MatchIt's ``get_covs_matrix``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jdl.matching._errors import MatchingError


def to_pandas(data: object) -> pd.DataFrame:
    """Accept a pandas or polars (or anything with ``to_pandas``) table; index reset to 0..n-1."""
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True)
    to_pd = getattr(data, "to_pandas", None)
    if callable(to_pd):
        return to_pd().reset_index(drop=True)
    raise MatchingError(
        f"matching needs a table (pandas or polars DataFrame), not {type(data).__name__}.")


def check_columns(df: pd.DataFrame, columns: Sequence[str], role: str) -> None:
    """Raise a clear error naming any column that is absent."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise MatchingError(
            f"{role} column(s) not in the data: {', '.join(map(str, missing))}.",
            hint=f"Available columns: {', '.join(map(str, df.columns[:30]))}.")


def treatment_indicator(df: pd.DataFrame, treatment: str) -> np.ndarray:
    """The treatment column as a boolean array; must be 0/1 (or boolean) with both groups."""
    check_columns(df, [treatment], "treatment")
    col = df[treatment]
    if col.isna().any():
        raise MatchingError(f"treatment column '{treatment}' has missing values.")
    values = set(pd.unique(col.astype("float64")))
    if not values <= {0.0, 1.0}:
        raise MatchingError(
            f"treatment column '{treatment}' must be 0/1 (or True/False); "
            f"found {sorted(values)[:5]}.")
    t = col.to_numpy(dtype="float64") == 1.0
    if t.all() or not t.any():
        raise MatchingError(f"treatment column '{treatment}' needs both treated (1) and "
                            "comparison (0) rows.")
    return t


def is_categorical(s: pd.Series) -> bool:
    """Whether R would treat this column as a factor (strings, categoricals, objects)."""
    return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))


def levels_of(s: pd.Series) -> list:
    """R factor levels: a categorical's declared order, else sorted values; unused dropped."""
    present = set(pd.unique(s.dropna()))
    if isinstance(s.dtype, pd.CategoricalDtype):
        return [lv for lv in s.cat.categories if lv in present]
    return sorted(present, key=str)


@dataclass(frozen=True)
class Design:
    """Model matrix (with intercept first), its column names, and the balance matrix."""

    X: np.ndarray
    names: tuple[str, ...]
    balance_X: np.ndarray
    balance_names: tuple[str, ...]
    # per categorical covariate: level codes per row (0 = reference) and its columns in X
    factors: tuple[tuple[np.ndarray, tuple[int, ...]], ...] = ()


def build_design(df: pd.DataFrame, covariates: Sequence[str], *,
                 with_balance: bool = True) -> Design:
    """Model matrix like R's ``model.matrix(~ covariates)`` plus MatchIt's balance matrix.

    ``with_balance=False`` skips the balance matrix (built later, only if balance is asked for).

    Raises
    ------
    MatchingError
        For absent columns, missing values or a categorical with fewer than two levels.
    """
    covariates = list(covariates)
    if not covariates:
        raise MatchingError("at least one covariate is needed to estimate a propensity score.")
    check_columns(df, covariates, "covariate")
    n = len(df)
    cols: list[np.ndarray] = [np.ones(n)]
    names: list[str] = ["(Intercept)"]
    bcols: list[np.ndarray] = []
    bnames: list[str] = []
    factors: list[tuple[np.ndarray, tuple[int, ...]]] = []
    for name in covariates:
        s = df[name]
        if s.isna().any():
            raise MatchingError(
                f"covariate '{name}' has {int(s.isna().sum())} missing value(s).",
                hint="Impute or drop them, or add a 'missing' category, before matching.")
        if is_categorical(s):
            levels = levels_of(s)
            codes = pd.Categorical(s, categories=levels).codes
            if len(levels) > 1:
                first = len(cols)
                factors.append((codes.astype(np.int64),
                                tuple(range(first, first + len(levels) - 1))))
            for j, lv in enumerate(levels):
                ind = (codes == j).astype("float64")
                if with_balance:
                    bcols.append(ind)
                    bnames.append(f"{name}{lv}")
                if j > 0:
                    cols.append(ind)
                    names.append(f"{name}{lv}")
        else:
            x = s.to_numpy(dtype="float64")
            if not np.isfinite(x).all():
                raise MatchingError(f"covariate '{name}' has infinite values.")
            cols.append(x)
            names.append(str(name))
            if with_balance:
                bcols.append(x)
                bnames.append(str(name))
    X = np.empty((n, len(cols)), order="F")  # column-major: fast per-column passes in IRLS
    for j, col in enumerate(cols):
        X[:, j] = col
    B = np.column_stack(bcols) if bcols else np.empty((n, 0))
    return Design(X=X, names=tuple(names), balance_X=B, balance_names=tuple(bnames),
                  factors=tuple(factors))


def strata_codes(df: pd.DataFrame, exact: Sequence[str]) -> np.ndarray:
    """One integer code per combination of the ``exact`` columns (missing values not allowed)."""
    check_columns(df, exact, "exact")
    sub = df[list(exact)]
    if sub.isna().any().any():
        raise MatchingError(f"exact-matching column(s) {list(exact)} have missing values.")
    codes = sub.groupby(list(exact), sort=True, observed=True).ngroup()
    return codes.to_numpy(dtype="int64")

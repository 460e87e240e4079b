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


def _factor_codes(s: pd.Series) -> tuple[np.ndarray, list]:
    """Level codes (0 = reference) and R's levels for a categorical column."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        levels = levels_of(s)
        if list(s.cat.categories) == levels:
            return s.cat.codes.to_numpy().astype(np.int64), levels  # already R's factor
        return pd.Categorical(s, categories=levels).codes.astype(np.int64), levels
    # one hashing pass (a pool's string column has a million rows), then each first-seen
    # value's code mapped to its place among R's levels (sorted; no missing values here)
    seen_codes, seen = pd.factorize(s, use_na_sentinel=True)
    levels = sorted(seen, key=str)
    place = {value: i for i, value in enumerate(levels)}
    return np.array([place[v] for v in seen], dtype=np.int64)[seen_codes], levels


def _checked(df: pd.DataFrame, name: str) -> tuple[pd.Series, np.ndarray | None]:
    """The covariate's column, and its values when numeric; raises for missing or infinite
    values."""
    s = df[name]
    if s.isna().any():
        raise MatchingError(
            f"covariate '{name}' has {int(s.isna().sum())} missing value(s).",
            hint="Impute or drop them, or add a 'missing' category, before matching.")
    if is_categorical(s):
        return s, None
    x = s.to_numpy(dtype="float64")
    if not np.isfinite(x).all():
        raise MatchingError(f"covariate '{name}' has infinite values.")
    return s, x


def _read_columns(df: pd.DataFrame, covariates: list[str]) -> list[tuple]:
    """Per covariate: ("num", name, values) or ("fac", name, codes, levels); checked."""
    out: list[tuple] = []
    for name in covariates:
        s, x = _checked(df, name)
        if x is None:
            codes, levels = _factor_codes(s)
            out.append(("fac", str(name), codes, levels))
        else:
            out.append(("num", str(name), x))
    return out


def check_covariates(df: pd.DataFrame, covariates: Sequence[str]) -> None:
    """:func:`build_design`'s checks (the errors it raises, in its order) without building the
    matrices: for a match whose distance is given, which needs no model matrix (coding the
    categorical columns of a 1M-person pool is most of a design's time)."""
    covariates = list(covariates)
    if not covariates:
        raise MatchingError("at least one covariate is needed to estimate a propensity score.")
    check_columns(df, covariates, "covariate")
    for name in covariates:
        _checked(df, name)


def build_design(df: pd.DataFrame, covariates: Sequence[str], *,
                 with_balance: bool = True) -> Design:
    """Model matrix like R's ``model.matrix(~ covariates)`` plus MatchIt's balance matrix.

    The model matrix is allocated once, column-major (IRLS passes over one column at a time),
    and filled in place. ``with_balance=False`` skips the balance matrix (built later, only if
    balance is asked for).

    Raises
    ------
    MatchingError
        For absent columns, missing or infinite values.
    """
    covariates = list(covariates)
    if not covariates:
        raise MatchingError("at least one covariate is needed to estimate a propensity score.")
    check_columns(df, covariates, "covariate")
    parts = _read_columns(df, covariates)
    n = len(df)
    names: list[str] = ["(Intercept)"]
    bnames: list[str] = []
    for part in parts:
        if part[0] == "num":
            names.append(part[1])
            bnames.append(part[1])
        else:
            names += [f"{part[1]}{lv}" for lv in part[3][1:]]
            bnames += [f"{part[1]}{lv}" for lv in part[3]]
    X = np.empty((n, len(names)), order="F")
    B = np.empty((n, len(bnames)), order="F") if with_balance else np.empty((n, 0))
    X[:, 0] = 1.0
    factors: list[tuple[np.ndarray, tuple[int, ...]]] = []
    k, b = 1, 0
    for part in parts:
        if part[0] == "num":
            X[:, k] = part[2]
            if with_balance:
                B[:, b] = part[2]
            k, b = k + 1, b + 1
            continue
        codes, levels = part[2], part[3]
        if len(levels) > 1:
            factors.append((codes, tuple(range(k, k + len(levels) - 1))))
        for j in range(len(levels)):
            if j > 0:
                X[:, k] = codes == j
                k += 1
            if with_balance:
                B[:, b] = codes == j
                b += 1
    return Design(X=X, names=tuple(names), balance_X=B,
                  balance_names=tuple(bnames) if with_balance else (), factors=tuple(factors))


def strata_codes(df: pd.DataFrame, exact: Sequence[str]) -> np.ndarray:
    """One integer code per combination of the ``exact`` columns (missing values not allowed)."""
    check_columns(df, exact, "exact")
    sub = df[list(exact)]
    if sub.isna().any().any():
        raise MatchingError(f"exact-matching column(s) {list(exact)} have missing values.")
    codes = sub.groupby(list(exact), sort=True, observed=True).ngroup()
    return codes.to_numpy(dtype="int64")

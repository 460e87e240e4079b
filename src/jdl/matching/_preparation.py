"""Getting an analysis frame ready for matching: gaps filled, like compared with like.

Two steps the lab takes before the propensity score is fitted (moved here from the evaluation,
which only orchestrates):

* **Missing values with indicators** (Rosenbaum and Rubin 1984, appendix; Stuart 2010, s. 4):
  a covariate that is empty *for a reason* (no previous offence, no assessment) is set to 0 and
  the reason enters the model as its own 0/1 column, so nothing is assumed about the gap.
* **Shared levels**: where every treated person shares one level of a categorical covariate (a
  regional programme, a custody-only one), the comparison pool is limited to that level before
  the score is fitted; otherwise the score model would learn the between-level differences and
  distort the comparison within the level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jdl.matching._design import check_columns


@dataclass(frozen=True)
class CovariateSpec:
    """Which columns matching may use and how their gaps are filled.

    ``numeric`` lists the numeric covariates in model order; an ``indicators`` entry
    ``(column, indicator)`` adds the 0/1 column ``indicator`` (1 where ``column`` is empty)
    right after ``column``, which is then filled with 0. ``fill_zero`` columns are filled with 0
    because another covariate already says why they are empty (``has_assessment``).
    """

    categorical: tuple[str, ...]
    numeric: tuple[str, ...]
    exact: tuple[str, ...] = ()
    fill_zero: tuple[str, ...] = ()
    indicators: tuple[tuple[str, str], ...] = ()

    @property
    def model_numeric(self) -> tuple[str, ...]:
        """The numeric columns after :func:`prepare_covariates`, indicators included."""
        added = dict(self.indicators)
        out: list[str] = []
        for col in self.numeric:
            out.append(col)
            if col in added:
                out.append(added[col])
        return tuple(out)


def prepare_covariates(frame: pd.DataFrame, spec: CovariateSpec) -> pd.DataFrame:
    """A copy of ``frame`` with the gaps matching cannot take filled, indicators added and
    every numeric covariate as float."""
    check_columns(frame, [*spec.categorical, *spec.numeric], "covariate")
    out = frame.copy()
    for col, indicator in spec.indicators:
        out[indicator] = out[col].isna().astype(int)
        out[col] = out[col].astype(float).fillna(0.0)
    for col in spec.fill_zero:
        out[col] = out[col].astype(float).fillna(0.0)
    for col in spec.model_numeric:
        out[col] = out[col].astype(float)
    return out


def restrict_to_shared_levels(
    frame: pd.DataFrame, categorical: Sequence[str], treatment: str = "treated"
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Keep only the rows at the level every treated person shares, for each categorical
    covariate where they all share one (and the frame has others); returns the kept rows
    (index reset) and ``{covariate: shared level}``."""
    treated = frame[frame[treatment] == 1]
    shared: dict[str, str] = {}
    for col in categorical:
        levels = treated[col].dropna().unique()
        if len(levels) == 1 and frame[col].nunique() > 1:
            shared[col] = str(levels[0])
    if not shared:
        return frame, shared
    keep = np.ones(len(frame), dtype=bool)
    for col, level in shared.items():
        keep &= (frame[col] == level).to_numpy()
    return frame.loc[keep].reset_index(drop=True), shared


def varying_covariates(frame: pd.DataFrame, spec: CovariateSpec,
                       drop: Sequence[str] = ()) -> list[str]:
    """The covariates of ``spec`` that vary in ``frame`` (categorical first, then numeric):
    a constant column carries no information and would make the score model singular."""
    columns = [*spec.categorical, *spec.model_numeric]
    return [c for c in columns if c not in drop and frame[c].nunique() > 1]

"""Exploratory sub-group estimates of an outcome's effect, with Holm's adjustment.

Each sub-group is a set of *treated* people (by sex, age band, ...). Its comparison is the part
of the matched comparison group that stands in for those people, with the ATT weights the
matching gives them (Stuart 2010; MatchIt's ``match_data`` weights restricted to a subset):

* nearest-neighbour matching (any ratio, with or without replacement): each treated person's
  ``k`` matched comparison people get ``1/k`` each, summed over the sub-group's treated people
  (a comparison person matched twice counts twice);
* subclass, full and exact matching: in each subclass the comparison people share the
  sub-group's treated count, ``n_treated_in_group(s) / n_comparison(s)`` each.

For 1:1 matching without replacement this is the sub-group's pairs, as before. Standard errors
follow the main analysis' rule (:func:`jdl.inference._estimate.clusters_for`: pairs for nearest
without replacement, else HC3; the person as well when someone appears twice); the
p-values are adjusted with Holm's step-down method across every sub-group tested (Holm 1979).

Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scandinavian
Journal of Statistics* 6(2), 65-70.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from jdl.core.results import Kind, internal, released
from jdl.inference._estimate import clusters_for, weighted_difference
from jdl.inference._profile import age_band
from jdl.matching import MatchResult

#: The lab's sub-group dimensions, in report order.
SUBGROUP_DIMENSIONS = ("sex", "age_band", "index_offence_group", "index_type")


@dataclass(frozen=True)
class SubgroupEstimate:
    """One sub-group's estimate (natural units); ``reason_not_reported`` when not estimated."""

    dimension: str = released(Kind.LABEL)
    level: str = released(Kind.LABEL)
    treatment_n: int = released(Kind.COUNT)
    comparison_n: int = released(Kind.COUNT)
    # events on each side, so disclosure can apply the headline's event thresholds (the
    # comparison side weighted, as the headline's comparison events are)
    treatment_events: int = released(Kind.COUNT, default=0)
    comparison_events: int = released(Kind.COUNT, default=0)
    difference: float | None = released(Kind.DERIVED, default=None)
    ci_low: float | None = released(Kind.DERIVED, default=None)
    ci_high: float | None = released(Kind.DERIVED, default=None)
    p_value: float | None = released(Kind.DERIVED, default=None)
    p_adjusted: float | None = released(Kind.DERIVED, default=None)
    significant: bool = released(Kind.DERIVED, default=False)
    reason_not_reported: str | None = released(Kind.LABEL, default=None, omit_if_none=True)
    # the comparison side's effective size (Kish), lab-internal: a hidden row's would repeat
    # the headline's, so disclosure scales the row's released size by the headline's ratio
    comparison_ess: int | None = internal(default=None)


def comparison_weights(result: MatchResult, in_group: npt.NDArray[np.bool_]
                       ) -> npt.NDArray[np.float64]:
    """ATT weights of every data row for the treated people selected by ``in_group``: 1 for
    those treated people, the share of them each comparison person stands in for, else 0."""
    t, matched = result.treat, result.weights > 0
    chosen = t & matched & in_group
    w = chosen.astype(float)
    if result.match_matrix is not None:
        mm = result.match_matrix[chosen[np.flatnonzero(t)]]
        k = (mm >= 0).sum(axis=1)
        for j in range(mm.shape[1]):
            ok = mm[:, j] >= 0
            np.add.at(w, mm[ok, j], 1.0 / k[ok])
        return w
    sub = np.where(matched, result.subclass, -1)
    for s in np.unique(sub[sub >= 0]):
        members = sub == s
        controls = members & ~t
        if controls.any():
            w[controls] = (members & chosen).sum() / controls.sum()
    return w


def _levels(result: MatchResult, dimension: str) -> pd.Series:
    data = result.data
    if dimension == "age_band":
        return age_band(data["age_at_index"]).set_axis(data.index)
    return data[dimension]


def _estimate(result: MatchResult, outcome: str, in_group: npt.NDArray[np.bool_], alpha: float,
              dimension: str, level: str, min_treated: int) -> SubgroupEstimate:
    w = comparison_weights(result, in_group)
    keep = w > 0
    t = result.treat
    n_t, n_c = int((keep & t).sum()), int((keep & ~t).sum())
    y = result.data[outcome].to_numpy(float)
    wc = w[keep & ~t]
    row = SubgroupEstimate(dimension, level, n_t, n_c,
                           treatment_events=int(y[keep & t].sum()),
                           comparison_events=round(float((y * w)[keep & ~t].sum())),
                           comparison_ess=round(float(wc.sum() ** 2 / (wc**2).sum()))
                           if len(wc) else 0)
    if n_t < min_treated:
        return replace(row, reason_not_reported=f"Fewer than {min_treated} people in the group.")
    pairs = not result.spec.replace and result.spec.method == "nearest"
    person = (result.data["person_id"].to_numpy()[keep]
              if "person_id" in result.data.columns else None)
    cl = clusters_for(t[keep], result.subclass[keep] if pairs else None, person,
                      pairs_design=pairs)
    est = weighted_difference(y[keep], t[keep], w[keep], cl, alpha=alpha)
    return replace(row, difference=est.difference, ci_low=est.ci_low, ci_high=est.ci_high,
                   p_value=est.p_value)


def subgroup_effects(result: MatchResult, outcome: str = "reoffended", *,
                     dimensions: Sequence[str] = SUBGROUP_DIMENSIONS, alpha: float = 0.05,
                     min_treated: int = 50) -> tuple[SubgroupEstimate, ...]:
    """Every level (among matched treated people) of every dimension; groups with fewer than
    ``min_treated`` treated people are listed with the reason instead of an estimate."""
    from statsmodels.stats.multitest import multipletests

    matched_treated = result.treat & (result.weights > 0)
    rows: list[SubgroupEstimate] = []
    for dimension in dimensions:
        values = _levels(result, dimension).to_numpy()
        present = pd.Series(values[matched_treated]).dropna().unique()
        for level in sorted(present):
            rows.append(_estimate(result, outcome, values == level, alpha, dimension,
                                  str(level), min_treated))
    tested = [i for i, r in enumerate(rows) if r.p_value is not None]
    if tested:
        reject, adjusted, _, _ = multipletests(
            [rows[i].p_value for i in tested], alpha=alpha, method="holm")
        for i, rej, adj in zip(tested, reject, adjusted, strict=True):
            rows[i] = replace(rows[i], p_adjusted=float(adj), significant=bool(rej))
    return tuple(rows)

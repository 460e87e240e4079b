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

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from jdl.core.results import Kind, internal, released
from jdl.inference._estimate import clusters_for, weighted_count, weighted_difference
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
    # a sub-analysis the organisation registered before the evaluation (re-matched within the
    # sub-group); False: the lab's exploratory rows
    registered: bool = released(Kind.FLAG, default=False)
    # the measure estimated, when not the re-offending rate (a registered primary measure)
    measure: str | None = released(Kind.LABEL, default=None, omit_if_none=True)
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
                           # weights sum to the group's treated, not its comparison people
                           comparison_events=weighted_count(
                               float((y * w)[keep & ~t].sum() / wc.sum()) if len(wc) else 0.0,
                               n_c),
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


def holm(p_values: Sequence[float], alpha: float = 0.05) -> tuple[tuple[float, ...],
                                                                  tuple[bool, ...]]:
    """Holm's step-down adjusted p-values and rejections (Holm 1979; statsmodels'
    ``multipletests(method="holm")``): the ``i``-th smallest p-value is multiplied by
    ``m - i + 1``, made non-decreasing, and capped at 1."""
    from statsmodels.stats.multitest import multipletests

    if not len(p_values):
        return (), ()
    reject, adjusted, _, _ = multipletests(list(p_values), alpha=alpha, method="holm")
    return tuple(float(a) for a in adjusted), tuple(bool(r) for r in reject)


def subgroup_effects(result: MatchResult, outcome: str = "reoffended", *,
                     dimensions: Sequence[str] = SUBGROUP_DIMENSIONS, alpha: float = 0.05,
                     min_treated: int = 50) -> tuple[SubgroupEstimate, ...]:
    """Every level (among matched treated people) of every dimension; groups with fewer than
    ``min_treated`` treated people are listed with the reason instead of an estimate."""
    matched_treated = result.treat & (result.weights > 0)
    rows: list[SubgroupEstimate] = []
    for dimension in dimensions:
        values = _levels(result, dimension).to_numpy()
        present = pd.Series(values[matched_treated]).dropna().unique()
        for level in sorted(present):
            rows.append(_estimate(result, outcome, values == level, alpha, dimension,
                                  str(level), min_treated))
    return with_holm(rows, alpha)


def with_holm(rows: Sequence[SubgroupEstimate], alpha: float) -> tuple[SubgroupEstimate, ...]:
    """``rows`` with Holm-adjusted p-values across every row that has an estimate (one family)."""
    out = list(rows)
    tested = [i for i, r in enumerate(out) if r.p_value is not None]
    adjusted, reject = holm([out[i].p_value for i in tested], alpha)  # type: ignore[misc]
    for i, adj, rej in zip(tested, adjusted, reject, strict=True):
        out[i] = replace(out[i], p_adjusted=adj, significant=rej)
    return tuple(out)


# ------------------------------------------------------------------ registered sub-analyses

#: Why a registered sub-group is not analysed when showing it could single people out: one
#: wording for "too small" and "too nearly the same people as another group", so the reason
#: itself tells nothing about the group's size.
DECLINED_FOR_CONFIDENTIALITY = (
    "Not analysed: too few people, or too nearly the same people as another group shown, to "
    "report without risk of identifying someone.")


def safe_groups(groups: Sequence[npt.NDArray[np.bool_]],
                shown: Sequence[npt.NDArray[np.bool_]], minimum: int) -> list[bool]:
    """Which of ``groups`` (masks over the same people, in the organisation's order) can be
    analysed without singling anyone out.

    An organisation chooses its sub-groups, so it could choose one that isolates a few people:
    a "site" of three people, a level holding everyone but one person (its result against the
    headline's is that person's), or two overlapping groups - across variables - whose
    difference is one person. A group is analysed only when it has at least ``minimum``
    people, at least ``minimum`` people are outside it, and it differs from every group
    already shown (``shown``: the whole treatment group, the exploratory sub-groups) and every
    earlier group accepted here by at least ``minimum`` people (the size of the symmetric
    difference). Greedy in the given order, so the registration decides which of two
    near-duplicates is analysed."""
    accepted: list[npt.NDArray[np.bool_]] = list(shown)
    out = []
    for group in groups:
        n = int(group.sum())
        ok = n >= minimum and int((~group).sum()) >= minimum and all(
            int((group ^ other).sum()) >= minimum for other in accepted)
        out.append(ok)
        if ok:
            accepted.append(group)
    return out


def dose_bands(values: pd.Series, cuts: Sequence[int] = ()) -> tuple[pd.Series, tuple[str, ...]]:
    """Each person's dosage band (``values``: a count, e.g. sessions attended) and the bands'
    labels in order. ``cuts``: the top of each lower band (``(4, 9)``: 0 to 4, 5 to 9, 10 or
    more); by default the thirds of ``values`` (integer tertiles; equal cut points merge)."""
    known = values.dropna().astype(float)
    if not cuts and len(known):
        cuts = sorted({int(np.floor(q)) for q in known.quantile([1 / 3, 2 / 3])})
        cuts = [c for c in cuts if c < known.max()]
    edges = [-1, *cuts]
    labels = [f"{lo + 1} to {hi}" if hi > lo + 1 else f"{hi}" for lo, hi in
              itertools.pairwise(edges)] + [f"{edges[-1] + 1} or more"]
    band = pd.Series(pd.NA, index=values.index, dtype=object)
    for i, (lo, hi) in enumerate(zip(edges, [*cuts, np.inf], strict=True)):
        band.loc[known.index[((known > lo) & (known <= hi)).to_numpy()]] = labels[i]
    return band, tuple(labels)


@dataclass(frozen=True)
class DoseResponse:
    """A trend in the effect across ordered dosage bands: the change in the difference per
    band, from an inverse-variance weighted least-squares line through the bands' estimates
    (a fixed-effect meta-regression on the band's order, Thompson and Higgins 2002; with two
    bands, the test of their difference, Altman and Bland 2003). The bands are separate
    matched analyses of disjoint participants; their comparison groups may share people, so
    the interval treats them as independent and is approximate."""

    variable: str = released(Kind.LABEL)
    method: str = released(Kind.LABEL)
    bands: int = released(Kind.STATISTIC)
    slope: float | None = released(Kind.DERIVED, default=None)
    ci_low: float | None = released(Kind.DERIVED, default=None)
    ci_high: float | None = released(Kind.DERIVED, default=None)
    p_value: float | None = released(Kind.DERIVED, default=None)
    reason_not_reported: str | None = released(Kind.LABEL, default=None, omit_if_none=True)


DOSE_METHOD = ("Inverse-variance weighted trend in the difference across the ordered bands "
               "(fixed-effect meta-regression on band order; Thompson and Higgins 2002)")


def dose_trend(variable: str, rows: Sequence[SubgroupEstimate], alpha: float = 0.05
               ) -> DoseResponse:
    """The trend of ``rows`` (one per band, in dosage order) that have an estimate; bands
    without one are left out (at least two are needed). Standard errors are read back from
    each row's ``1 - alpha`` interval."""
    from scipy import stats

    z = float(stats.norm.ppf(1 - alpha / 2))
    used = [(float(i), float(r.difference), (float(r.ci_high) - float(r.ci_low)) / (2 * z))
            for i, r in enumerate(rows) if r.difference is not None
            and r.ci_low is not None and r.ci_high is not None and r.ci_high > r.ci_low]
    if len(used) < 2:
        return DoseResponse(variable, DOSE_METHOD, len(used), reason_not_reported=(
            "Fewer than two dosage bands could be analysed."))
    x, d, se = (np.array(column, dtype=np.float64) for column in zip(*used, strict=True))
    w = 1 / np.square(se)
    xbar = (w * x).sum() / w.sum()
    sxx = (w * (x - xbar) ** 2).sum()
    slope = float((w * (x - xbar) * d).sum() / sxx)
    se_slope = float(1 / np.sqrt(sxx))
    p = float(2 * stats.norm.sf(abs(slope / se_slope)))
    return DoseResponse(variable, DOSE_METHOD, len(used), slope, slope - z * se_slope,
                        slope + z * se_slope, p)

"""Released estimates that cannot be inverted (docs/disclosure-control.md, "Values derived
from counts").

Rounding counts to 5 protects nothing if a rate beside them is shown to 16 digits: 85/330 printed
as 0.25757575... is really 84/329 (the only pair of whole numbers near the rounded ones giving that
value). So, after counts are suppressed and rounded, every estimate shown is either

* **computed from the released (rounded) counts** — rates and means per person are
  ``released events / released group size`` (OpenSAFELY's rule for rates), differences are the
  difference of the released values; for every rate (headline, other rate measures, sub-group
  rows) the interval and p-value too (:func:`two_proportions`: Newcombe's hybrid score interval
  and the pooled z-test), and the E-value, the power block and the sample size needed from
  those — so it carries nothing the rounded counts do not. The exact paired analysis's limits,
  even rounded, pinned the exact counts behind the rounded ones (issue 15, independent
  intruder); the lab's rules on counts (30 treated re-offenders, 50 people in a sub-group) are
  re-applied to released counts (:func:`released_threshold`), and ``significant`` is claimed
  only where the exact analysis and the released figures agree; or
* **rounded to a step that a single person cannot move it across**, where no released count
  carries the statistic (re-offences per person's and days' limits, centred on the released
  difference with the half width rounded up; p-values to two decimals; Rosenbaum bounds to one
  decimal; SMDs of yes/no characteristics to one decimal; a share of declared participants to the
  nearest 10%; other sensitivity specifications' differences to 0.05, without limits).

:func:`candidates_for_rate` is the attack the rule is tested with: every (events, group size) pair
consistent with what is released.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, TypeGuard

from jdl.disclosure._schema import REOFFENDER_DEPENDENT, REOFFENDER_MEASURE

#: The step each kind of measure's confidence limits (and standard error) are rounded to: a
#: percentage point for rates, 1 per 100 people for re-offences per person, a whole day.
CI_STEP = {"proportion": 0.01, "per person": 0.01, "days": 1.0, "offences per person": 0.01}
#: The unit of a mean change in offences per person (the year after minus the year before):
#: a mean of a difference of counts, with no released counts behind it, so like a mean in days
#: its values are rounded (to 1 offence per 100 people) and its interval centred on them.
CHANGE_UNIT = "offences per person"
CHANGE_DECIMALS = 2
#: Decimals of a mean released in days (means in days rest on a sum of days, not a count: they are
#: rounded to whole days so two reports cannot be subtracted to give one person's days).
DAYS_DECIMALS = 0
#: Decimals of a rate computed from rounded counts (any precision is safe: it is a function of
#: released numbers only; four keeps the report's one-decimal percentages exact).
RATE_DECIMALS = 4
#: Standardised differences: continuous characteristics to two decimals; yes/no characteristics
#: (no variance ratio) to one, so a hidden profile cell cannot be solved for (see the docs).
SMD_DECIMALS = {"continuous": 2, "binary": 1}
VARIANCE_RATIO_DECIMALS = 2
#: E-values and Rosenbaum's Gamma: one decimal.
SENSITIVITY_DECIMALS = 1
#: A share of the organisation's declared participants: to the nearest 10%.
SHARE_STEP = 0.1
#: Sample sizes quoted ("about 430 people would be needed"): two significant figures.
SIZE_FIGURES = 2

_PAIRED_LIMITS = ("ci_low", "ci_high")


def round_to(value: float, step: float) -> float:
    """``value`` rounded to the nearest multiple of ``step`` (halves away from zero), cleaned
    of binary noise (0.07 not 0.07000000000000001)."""
    q = abs(value) / step
    k = math.floor(q + 0.5)
    digits = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return round(math.copysign(k * step, value), digits + 2) + 0.0


def coarse_p(p: float) -> float:
    """A p-value released to two decimals, or one significant figure below 0.01 (0.0047 ->
    0.005; below 0.001 it stays a small number the report shows as "<0.001"). Never 0."""
    if not math.isfinite(p):
        return p
    if p >= 0.01:
        return min(1.0, round_to(p, 0.01))
    if p <= 0:
        return 0.0001
    exponent = math.floor(math.log10(p))
    step = 10.0 ** exponent
    return round(max(step, round_to(p, step)), -exponent + 1)


def significant_figures(n: float, figures: int = SIZE_FIGURES) -> int:
    """A whole number rounded to ``figures`` significant figures (4312 -> 4300, 87 -> 87)."""
    if n <= 0:
        return int(n)
    scale = 10 ** max(0, math.floor(math.log10(n)) + 1 - figures)
    return int(scale * math.floor(n / scale + 0.5))


def candidates_for_rate(rate: float, decimals: int, n_released: int, events_released: int,
                        base: int = 5, min_count: int = 10) -> list[tuple[int, int]]:
    """The intruder's attack on one released rate: every (events, n) whose rounded values are
    the released ones and whose rate, shown to ``decimals``, is the released rate. One pair
    means the exact counts are recovered."""
    half = base / 2
    out = []
    for n in range(max(1, math.ceil(n_released - half)), math.floor(n_released + half) + 1):
        if _rounds_to(n, n_released, base, min_count):
            for k in range(max(0, math.ceil(events_released - half)),
                           min(n, math.floor(events_released + half)) + 1):
                if (_rounds_to(k, events_released, base, min_count)
                        and round(k / n, decimals) == round(rate, decimals)):
                    out.append((k, n))
    return out


def _rounds_to(n: int, released: int, base: int, min_count: int) -> bool:
    r = int(base * math.floor(n / base + 0.5))
    r = r if r >= min_count else base * math.ceil(min_count / base)
    return n >= min_count and r == released


# --- inference from the released counts ---------------------------------------------------------

def _wilson(k: float, n: float, z: float) -> tuple[float, float]:
    """Wilson's score interval for ``k / n`` (Newcombe 1998, method 3)."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def two_proportions(kt: float, nt: float, kc: float, nc: float, alpha: float = 0.05
                    ) -> tuple[float, float, float, float]:
    """Difference of two proportions, its ``1 - alpha`` interval and two-sided p-value, from the
    **released** (rounded) counts only.

    The interval is Newcombe's hybrid score interval for a difference of independent
    proportions (Newcombe 1998, method 10: Wilson limits of each rate combined in quadrature);
    the p-value is the pooled two-proportion z-test. Both treat the two groups as independent:
    the matched pairs' correlation is not used, because the paired table (how many pairs
    disagree) is exactly what must not be released. For positively correlated pairs the
    interval is wider than the paired one, so it claims no more precision than the data has.
    """
    from scipy.stats import norm

    z = float(norm.ppf(1 - alpha / 2))
    pt, pc = kt / nt, kc / nc
    d = pt - pc
    lt, ut = _wilson(kt, nt, z)
    lc, uc = _wilson(kc, nc, z)
    lo = d - math.sqrt((pt - lt) ** 2 + (uc - pc) ** 2)
    hi = d + math.sqrt((ut - pt) ** 2 + (pc - lc) ** 2)
    pooled = (kt + kc) / (nt + nc)
    se = math.sqrt(pooled * (1 - pooled) * (1 / nt + 1 / nc))
    p = 1.0 if se == 0 else float(2 * norm.sf(abs(d) / se))
    return d, lo, hi, p


def released_two_proportions(row: Mapping[str, Any], alpha: float = 0.05,
                             ess_ratio: float | None = None
                             ) -> tuple[float, float, float, float]:
    """:func:`two_proportions` of a row's released counts, with the comparison group at its
    released effective size (``comparison_ess``) when that is smaller than its head count.

    A weighted comparison group (matching with replacement, k:1 sets of different sizes,
    subclasses) is worth its effective size (Kish), not its head count: the interval and the
    test use the released comparison rate at that size. Both are released figures, so the
    result still carries nothing the rounded counts do not. A sub-group row carries no
    effective size of its own (a hidden row's would repeat the headline's): ``ess_ratio``, the
    headline's released effective size over its released head count (:func:`ess_ratio_of`),
    scales its released comparison size. Without either (1:1 pairs, where the effective size
    is the head count) this is the plain released-count computation."""
    counts = _counts(row)
    if counts is None:
        raise ValueError("the row has no released counts")
    kt, nt, kc, nc = counts
    ess = row.get("comparison_ess")
    if _is_num(ess) and ess > 0:
        n_eff = min(float(ess), float(nc))
    elif ess_ratio is not None and 0 < ess_ratio < 1:
        n_eff = float(nc) * ess_ratio
    else:
        n_eff = float(nc)
    return two_proportions(kt, nt, kc / nc * n_eff, n_eff, alpha)


def ess_ratio_of(measure: Mapping[str, Any] | None) -> float | None:
    """A measure's released effective comparison size over its released head count (at most
    1), or None when either is not released."""
    if not isinstance(measure, Mapping):
        return None
    ess, nc = measure.get("comparison_ess"), measure.get("comparison_n")
    if _is_num(ess) and _is_num(nc) and nc > 0 and ess > 0:
        return min(float(ess) / float(nc), 1.0)
    return None


def released_threshold(threshold: int, base: int) -> int:
    """The smallest released (rounded) count every exact count behind which is at least
    ``threshold`` (30 with base 5 -> 35: a released 30 may be 28 or 29). A rule announced on
    released counts at this level says nothing about the exact count the rounding hides."""
    return base * math.ceil((threshold + base // 2) / base)


# --- applied to a released dict (counts already suppressed and rounded) ---------------------------

#: Sensitivity rows other than the main analysis carry no released counts of re-offenders, so
#: their difference is shown to the nearest 5 per 100 people and no interval or p-value (see the
#: docs): the precision of the estimate is the headline's.
SENSITIVITY_DIFF_STEP = 0.05
_ESTIMATE_KEYS = ("difference", "ci_low", "ci_high", "p_value", "p_adjusted", "significant",
                  "direction", "required_n", "se", "treatment_ci_low", "treatment_ci_high",
                  "comparison_ci_low", "comparison_ci_high", "adjusted_comparison",
                  "adjusted_difference", "adjusted_ci_low", "adjusted_ci_high",
                  "adjusted_p_value")
_GROUP_LIMITS = {"treatment": ("treatment_ci_low", "treatment_ci_high"),
                 "comparison": ("comparison_ci_low", "comparison_ci_high")}
_ADJUSTED = ("adjusted_comparison", "adjusted_difference", "adjusted_ci_low",
             "adjusted_ci_high", "adjusted_p_value")


def coarsen(data: dict[str, Any], *, base: int = 5, min_treated_reoffenders: int = 30,
            subgroup_min_treated: int = 50, min_expected_count: float = 10) -> None:
    """Replace, in place, every estimate of a released dict by its non-invertible form.

    Every inferential figure of a measure with counts (rates, re-offences per person), of a
    sub-group row, the E-value and the power block is recomputed from the released (rounded)
    counts; the lab's rules that depend on a count (``min_treated_reoffenders`` treated
    re-offenders, ``subgroup_min_treated`` people in a sub-group) are re-applied to the released
    count at :func:`released_threshold`, so no wording or flag tells on which side of a
    threshold the exact count behind a rounded one lies. ``base`` is the rounding base."""
    measures = data.get("measures") or {}
    alpha = (data.get("power") or {}).get("alpha") or 0.05
    head = measures.get(REOFFENDER_MEASURE) or {}
    reoffenders = head.get("treatment_events")
    need = released_threshold(min_treated_reoffenders, base)
    rules = _Rules(alpha, _is_num(reoffenders) and reoffenders >= need, need,
                   min_treated_reoffenders, min_expected_count, base)
    for name, m in measures.items():
        if isinstance(m, dict):
            _measure(name, m, rules)
    _subgroups([r for r in data.get("subgroups") or [] if isinstance(r, dict)], alpha,
               released_threshold(subgroup_min_treated, base), base, ess_ratio_of(head))
    sens = data.get("sensitivity") or {}
    for row in sens.get("specifications") or []:
        if isinstance(row, dict):
            _sensitivity_row(row, head)
    _e_value(sens.get("e_value"), head)
    rosenbaum = sens.get("rosenbaum") or {}
    for key, value in rosenbaum.items():
        if _is_num(value):
            # the bound exists only for a significant result: follow the released flag
            rosenbaum[key] = round(value, SENSITIVITY_DECIMALS) if head.get("significant") \
                else None
    _power(data.get("power"), head, alpha)
    _benefit(data.get("benefit"), measures)
    _balance(data)
    _share(data.get("selective_sample"))


class _Rules:
    """The lab's significance rules as applied to the released numbers."""

    def __init__(self, alpha: float, enough_reoffenders: bool, need: int, threshold: int,
                 min_expected: float, base: int = 5) -> None:
        self.alpha, self.enough_reoffenders = alpha, enough_reoffenders
        self.need, self.threshold, self.min_expected = need, threshold, min_expected
        self.base = base

    def too_few_note(self) -> str:
        return (f"The number of people in the treatment group who re-offended, rounded to the "
                f"nearest 5, is below {self.need}, so this result is not treated as statistically "
                f"significant (the lab needs at least {self.threshold}, and a rounded figure "
                "cannot show that).")


def _is_num(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _ratio(events: object, n: object) -> float | None:
    if isinstance(events, int | float) and isinstance(n, int | float) and _is_num(events) \
            and _is_num(n) and n > 0:
        return round(events / n, RATE_DECIMALS)
    return None


def _counts(row: Mapping[str, Any]) -> tuple[int, int, int, int] | None:
    """The row's released (events, n) for both groups, when all four are released."""
    values = [row.get(k) for k in ("treatment_events", "treatment_n", "comparison_events",
                                   "comparison_n")]
    nums = [float(v) for v in values if _is_num(v)]
    if len(nums) == 4 and nums[1] > 0 and nums[3] > 0:
        kt, nt, kc, nc = (int(v) for v in nums)
        return kt, nt, kc, nc
    return None


def _from_counts(row: dict[str, Any], unit: str, alpha: float,
                 ess_ratio: float | None = None) -> bool:
    """Difference, limits, p-value (and standard error) of ``row`` recomputed from its released
    counts; False (nothing changed) when the row has no released counts."""
    counts = _counts(row)
    if counts is None or unit != "proportion":
        return False
    kt, nt, kc, nc = counts
    if kt > nt or kc > nc:
        return False
    _, lo, hi, p = released_two_proportions(row, alpha, ess_ratio)
    for side, value in (("treatment", kt / nt), ("comparison", kc / nc)):
        row[side] = round(value, RATE_DECIMALS)
    # the difference of the values shown (each to RATE_DECIMALS), as a reader would take it
    row["difference"] = round(round(kt / nt, RATE_DECIMALS) - round(kc / nc, RATE_DECIMALS),
                              RATE_DECIMALS) + 0.0
    # only what was released is recomputed (a limit withheld as not finite stays withheld)
    if row.get("ci_low") is not None and row.get("ci_high") is not None:
        row["ci_low"] = round(lo, RATE_DECIMALS) + 0.0
        row["ci_high"] = round(hi, RATE_DECIMALS) + 0.0
    else:
        row["ci_low"] = row["ci_high"] = None
    if row.get("p_value") is not None:
        row["p_value"] = coarse_p(p)
    if row.get("se") is not None:
        from scipy.stats import norm

        row["se"] = round((hi - lo) / 2 / float(norm.ppf(1 - alpha / 2)), RATE_DECIMALS)
    return True


def _withhold(row: dict[str, Any], reason: str, *, sides: bool = True) -> None:
    for key in _ESTIMATE_KEYS:
        if key in row:
            row[key] = None
    if sides:
        for side in ("treatment", "comparison"):
            if side in row:
                row[side] = None
    row["reason_not_reported"] = reason


def _measure(name: str, m: dict[str, Any], rules: _Rules) -> None:
    _headline_measure(name, m, rules)
    unit = m.get("unit") or "proportion"
    if m.get("difference") is None or m.get("treatment") is None:
        for key in (*_GROUP_LIMITS["treatment"], *_GROUP_LIMITS["comparison"], *_ADJUSTED):
            if key in m:
                m[key] = None  # nothing beside a withheld estimate
        return
    _group_limits(m, unit, rules.alpha)
    _adjusted(m, _adjusted_step(m, unit, rules.base), rules.alpha)


def _group_limits(m: dict[str, Any], unit: str, alpha: float) -> None:
    """Each group's own interval. For a rate: Wilson's interval of the released events over the
    released group size (the comparison group at its released effective size) - the same
    limits Newcombe's interval of the difference is built from, so nothing new. For re-offences
    per person and days: the lab's interval, centred on the released value with the half width
    rounded up to the measure's step (as the difference's)."""
    from scipy.stats import norm

    z = float(norm.ppf(1 - alpha / 2))
    counts = _counts(m)
    for side, (low, high) in _GROUP_LIMITS.items():
        if low not in m and high not in m:
            continue
        lo, hi, value = m.get(low), m.get(high), m.get(side)
        if not (_is_num(lo) and _is_num(hi) and _is_num(value)):
            m[low] = m[high] = None
            continue
        if unit == "proportion":
            if counts is None:
                m[low] = m[high] = None
                continue
            kt, nt, kc, nc = counts
            ess = m.get("comparison_ess")
            n_eff = min(float(ess), float(nc)) if _is_num(ess) and ess > 0 else float(nc)
            k, n = (kt, nt) if side == "treatment" else (kc / nc * n_eff, n_eff)
            wl, wh = _wilson(k, n, z)
            m[low], m[high] = round(wl, RATE_DECIMALS) + 0.0, round(wh, RATE_DECIMALS) + 0.0
            continue
        step = CI_STEP.get(unit, 0.01)
        half = max(step, math.ceil(round((hi - lo) / 2 / step, 6)) * step)
        m[low] = round(value - half, RATE_DECIMALS + 2) + 0.0
        m[high] = round(value + half, RATE_DECIMALS + 2) + 0.0


def _adjusted_step(m: Mapping[str, Any], unit: str, base: int) -> float:
    """The step the adjusted estimate is released to: the measure's step, and for a rate or
    re-offences per person at least ``base`` people's worth of the treatment group (``base /
    treatment_n``, rounded up to the step): the adjusted treatment value is the observed one,
    so a finer adjusted difference would say more about the exact events than the counts
    rounded to ``base`` do."""
    step = CI_STEP.get(unit, 0.01)
    n = m.get("treatment_n")
    if unit in ("proportion", "per person") and _is_num(n) and n > 0:
        step = max(step, math.ceil(round(base / n / step, 6)) * step)
    return round_to(step, CI_STEP.get(unit, 0.01))


def _adjusted(m: dict[str, Any], step: float, alpha: float) -> None:
    """The covariate-adjusted estimate, which no released count carries: its difference to
    ``step`` (:func:`_adjusted_step`: for a rate at least 5 people's worth of the treatment
    group, e.g. 0.03 with 175 people; a day for days), its limits centred
    on that with the half width rounded up to the step, the p-value coarsened, and the
    adjusted comparison value the released treatment value minus the released adjusted
    difference (the treated group's adjusted value is its observed one)."""
    d, lo, hi = (m.get(k) for k in ("adjusted_difference", "adjusted_ci_low",
                                    "adjusted_ci_high"))
    if not (_is_num(d) and _is_num(lo) and _is_num(hi)) or not _is_num(m.get("treatment")):
        for key in _ADJUSTED:
            if key in m:
                m[key] = None
        return
    rd = round_to(d, step)
    half = max(step, math.ceil(round((hi - lo) / 2 / step, 6)) * step)
    m["adjusted_difference"] = rd
    m["adjusted_ci_low"] = round(rd - half, RATE_DECIMALS + 2) + 0.0
    m["adjusted_ci_high"] = round(rd + half, RATE_DECIMALS + 2) + 0.0
    if "adjusted_comparison" in m:
        m["adjusted_comparison"] = round(m["treatment"] - rd, RATE_DECIMALS) + 0.0
    if _is_num(m.get("adjusted_p_value")):
        from scipy.stats import norm

        se = half / float(norm.ppf(1 - alpha / 2))
        m["adjusted_p_value"] = coarse_p(float(2 * norm.sf(abs(rd) / se)))


def _headline_measure(name: str, m: dict[str, Any], rules: _Rules) -> None:
    unit = m.get("unit") or "proportion"
    exact_significant = m.get("significant") is True
    if unit == "days":
        for side in ("treatment", "comparison"):
            if _is_num(m.get(side)):
                m[side] = round(m[side], DAYS_DECIMALS) + 0.0
        reason = m.get("reason_not_reported")
        too_few = isinstance(reason, str) and f"Fewer than {rules.threshold} people" in reason
        if name in REOFFENDER_DEPENDENT and (
                too_few or (not rules.enough_reoffenders and m.get("reported") is not False)):
            # the lab's rule (no days headline below 30 treated re-offenders) on released counts
            _withhold(m, f"{rules.too_few_note()} Time to first re-offence is not reported as a "
                         "headline result.")
            m["reported"] = False
            if "conclusion" in m:
                m["conclusion"] = None
            return
        _paired(m, CI_STEP["days"], rules.alpha)
        if _is_num(m.get("se")):
            m["se"] = round_to(math.ceil(round(m["se"] / CI_STEP["days"], 6)) * CI_STEP["days"],
                               CI_STEP["days"])
    elif unit == CHANGE_UNIT:
        for side in ("treatment", "comparison"):
            if _is_num(m.get(side)):
                m[side] = round(m[side], CHANGE_DECIMALS) + 0.0
        _paired(m, CI_STEP[unit], rules.alpha)
        if _is_num(m.get("se")):
            m["se"] = round_to(math.ceil(round(m["se"] / CI_STEP[unit], 6)) * CI_STEP[unit],
                               CI_STEP[unit])
    elif unit == "per person":
        # re-offences are over-dispersed: no interval from the released counts alone would be
        # honest, so the lab's interval is kept, centred on the released difference
        for side in ("treatment", "comparison"):
            if m.get(side) is not None:
                m[side] = _ratio(m.get(f"{side}_events"), m.get(f"{side}_n"))
        _paired(m, CI_STEP[unit], rules.alpha)
        if _is_num(m.get("se")):
            m["se"] = round_to(math.ceil(round(m["se"] / CI_STEP[unit], 6)) * CI_STEP[unit],
                               CI_STEP[unit])
    elif m.get("difference") is not None:
        if not _from_counts(m, unit, rules.alpha):
            _withhold(m, "Not shown to protect confidentiality.")
            m["reported"] = False
            return
    elif unit in ("proportion", "per person"):
        for side in ("treatment", "comparison"):
            if m.get(side) is not None:
                m[side] = _ratio(m.get(f"{side}_events"), m.get(f"{side}_n"))
    if m.get("difference") is None:
        if isinstance(m.get("conclusion"), str):
            m["conclusion"] = _round_sizes_in(m["conclusion"])
        return
    # the rule on treated re-offenders covers rates, counts per person and days to first
    # re-offence, not averages over everyone (jdl.inference: kinds rate, frequency, days)
    counted = unit not in ("days", CHANGE_UNIT) or name in REOFFENDER_DEPENDENT
    notes = [] if rules.enough_reoffenders or not counted else [rules.too_few_note()]
    released_ok = _released_significant(m, rules.alpha) and (
        rules.enough_reoffenders or not counted)
    if unit == "proportion":
        kt, nt = m.get("treatment_events"), m.get("treatment_n")
        if not (_is_num(kt) and _is_num(nt)
                and min(kt, nt - kt) >= rules.min_expected):
            released_ok = False
            notes.append("The treatment group is too small for the normal approximation "
                         f"(n p and n (1 - p) must be at least {rules.min_expected:g}).")
    # claimed only when the exact analysis and the released figures agree (see the docs)
    significant = exact_significant and released_ok
    if "significant" in m:
        m["significant"] = significant
    if "direction" in m:
        m["direction"] = ("inconclusive" if not significant
                          else "decrease" if m["difference"] < 0 else "increase")
    if "required_n" in m:
        m["required_n"] = None if significant else _required(m, rules.alpha)
    if isinstance(m.get("conclusion"), str):
        m["conclusion"] = _conclusion(name, m, notes) or _round_sizes_in(m["conclusion"])


def _released_significant(row: Mapping[str, Any], alpha: float) -> bool:
    p, lo, hi = row.get("p_value"), row.get("ci_low"), row.get("ci_high")
    return (isinstance(p, int | float) and isinstance(lo, int | float)
            and isinstance(hi, int | float) and p <= alpha and (hi < 0 or lo > 0))


def _required(m: Mapping[str, Any], alpha: float) -> int | None:
    """Treated people needed to detect the released difference (Fleiss), from the released
    rates and group sizes, to two significant figures; None where it does not exist."""
    from jdl.inference import InferenceError
    from jdl.inference._power import required_n

    if m.get("unit") != "proportion":
        return None
    pt, pc, nt, nc = (m.get(k) for k in ("treatment", "comparison", "treatment_n",
                                          "comparison_n"))
    if not (isinstance(pt, int | float) and isinstance(pc, int | float)
            and isinstance(nt, int | float) and isinstance(nc, int | float) and nt > 0):
        return None
    try:
        need = required_n(pc, pt, alpha=alpha, ratio=max(_effective_ratio(m), 1e-9))
    except InferenceError:
        return None
    return significant_figures(need)


#: Measure names whose wording uses the lab's standard phrase (jdl.inference.DEFAULT_OUTCOMES).
_STANDARD = {"proven_reoffending_rate": "rate", "reoffending_frequency": "frequency",
             "days_to_first_reoffence": "days"}
_KIND_OF_UNIT = {"proportion": "rate", "per person": "frequency", "days": "days",
                 CHANGE_UNIT: "mean"}


def _conclusion(name: str, m: dict[str, Any], notes: list[str]) -> str | None:
    """The lab's wording (:func:`jdl.inference.conclusion_text`) rebuilt from the released
    difference, limits, flag and sample size needed, with the rule notes decided on released
    counts: the pipeline's sentence quotes the exact limits and its notes the exact counts."""
    from jdl.inference import conclusion_text

    kind = _KIND_OF_UNIT.get(m.get("unit") or "")
    d, lo, hi = m.get("difference"), m.get("ci_low"), m.get("ci_high")
    if kind is None or not (isinstance(d, int | float) and isinstance(lo, int | float)
                            and isinstance(hi, int | float)):
        return None
    label = m.get("label") or name
    scale = 1.0 if kind == "days" else 100.0
    what = None
    if _STANDARD.get(name) != kind:  # as jdl.inference words a measure it has no phrase for
        what = {"rate": f"the number of people counted in '{label}'",
                "frequency": f"the number counted in '{label}'"}.get(
            kind, f"the average of '{label}'")
    if m.get("unit") == CHANGE_UNIT:  # worded per 100 people, as the values are scaled
        what = ("the change in proven offences per 100 people from the year before to the "
                "year after")
    required = m.get("required_n") if _is_num(m.get("required_n")) else None
    return conclusion_text(kind, label, d * scale, lo * scale, hi * scale,
                           bool(m.get("significant")), required, notes, what=what)


def _subgroups(rows: list[dict[str, Any]], alpha: float, need: int, base: int,
               ess_ratio: float | None = None) -> None:
    """Sub-group rows: an estimate only where the released treated group is at least ``need``
    (so every exact size behind it meets the lab's minimum), computed from the released counts;
    Holm's adjustment over the released p-values; significant only where the exact analysis
    and the released figures agree."""
    from statsmodels.stats.multitest import multipletests

    reason = (f"Too few people in the group for an estimate (a sub-group needs at least {need} "
              f"people, rounded to the nearest {base}).")
    tested: list[tuple[dict[str, Any], float, bool]] = []
    for row in rows:
        n = row.get("treatment_n")
        # a hidden group size is treated as small: the wording is then the same as for a
        # released size below the minimum, never "Fewer than 50" decided on the exact size
        small = n is None or (isinstance(n, int | float) and n < need)
        if small and (row.get("difference") is not None
                      or str(row.get("reason_not_reported") or "").startswith("Fewer than")):
            _withhold(row, reason)
            continue
        if row.get("difference") is None:
            continue
        exact = row.get("significant") is True
        if not _from_counts(row, "proportion", alpha, ess_ratio):
            _withhold(row, "Not shown to protect confidentiality.")
            continue
        counts = _counts(row)
        assert counts is not None
        p = released_two_proportions(row, alpha, ess_ratio)[3]
        tested.append((row, p, exact))
    _withhold_a_second_level(rows, tested)
    for row in rows:  # every row has the same keys, whichever way it was withheld
        for side in ("treatment", "comparison"):
            row.setdefault(side, None)
    # two families: the lab's exploratory rows, and the organisation's registered ones
    for registered in (False, True):
        family = [t for t in tested if bool(t[0].get("registered")) is registered]
        if not family:
            continue
        reject, adjusted, _, _ = multipletests([p for _, p, _ in family], alpha=alpha,
                                               method="holm")
        for (row, _, exact), rej, adj in zip(family, reject, adjusted, strict=True):
            if "p_adjusted" in row:
                row["p_adjusted"] = coarse_p(float(adj))
            if "significant" in row:
                row["significant"] = bool(exact and rej and _released_significant(row, alpha))


def _withhold_a_second_level(rows: list[dict[str, Any]],
                             tested: list[tuple[dict[str, Any], float, bool]]) -> None:
    """A dimension with exactly one level withheld would give it back by subtraction from the
    total: withhold the shown level with the smallest released group too (decided on released
    sizes only)."""
    by_dim: dict[object, list[dict[str, Any]]] = {}
    for row in rows:
        by_dim.setdefault(row.get("dimension"), []).append(row)
    for group in by_dim.values():
        shown = [r for r in group if r.get("difference") is not None]
        if len(group) > 1 and len(shown) == len(group) - 1 and shown:
            smallest = min(shown, key=lambda r: (r.get("treatment_n") or 0, str(r.get("level"))))
            _withhold(smallest, "Not shown to protect confidentiality.")
            tested[:] = [t for t in tested if t[0] is not smallest]


def _sensitivity_row(row: dict[str, Any], head: Mapping[str, Any]) -> None:
    """The main analysis repeats the released headline; other specifications have no released
    counts of re-offenders, so they show their difference to the nearest 5 per 100 people and
    no interval or p-value."""
    if row.get("difference") is None:
        return
    same = all(row.get(k) == head.get(k) for k in ("treatment_n", "comparison_n"))
    if str(row.get("label", "")).startswith("Main analysis") and same:
        row.update({k: head.get(k) for k in ("difference", "ci_low", "ci_high", "p_value")})
        return
    d = row["difference"]
    row["difference"] = round_to(d, SENSITIVITY_DIFF_STEP) if _is_num(d) else None
    for key in ("ci_low", "ci_high", "p_value", "p_adjusted"):
        if key in row:
            row[key] = None


def _e_value(ev: dict[str, Any] | None, head: Mapping[str, Any]) -> None:
    """The E-value from the released rates and interval (VanderWeele & Ding 2017)."""
    from jdl.inference._sensitivity import e_value_of_rates

    if not isinstance(ev, dict) or ev.get("point") is None:
        return
    pt, pc, lo, hi = (head.get(k) for k in ("treatment", "comparison", "ci_low", "ci_high"))
    if not (isinstance(pt, int | float) and isinstance(pc, int | float)
            and isinstance(lo, int | float) and isinstance(hi, int | float)):
        ev.update({k: None for k in ev})
        return
    e = e_value_of_rates(pt, pc, lo, hi)
    ev["point"] = None if e.point is None else round(e.point, SENSITIVITY_DECIMALS)
    if "ci" in ev:
        ev["ci"] = None if e.ci is None else round(e.ci, SENSITIVITY_DECIMALS)


_BENEFIT_FIGURES = ("probability", "probability_by", "posterior_mean", "credible_low",
                    "credible_high")
BENEFIT_HIDDEN = "Not shown because the headline result is not shown."


def _benefit(block: dict[str, Any] | None, measures: Mapping[str, Any]) -> None:
    """The probability of benefit (issue 20) from the released headline difference and interval
    only (:func:`jdl.inference.released_posterior`; probabilities banded to 5 points, the
    posterior rounded to 0.1 point), so it tells nothing they do not; every figure is withheld
    when the headline's difference or interval is, or the prior cannot be read back."""
    from jdl.inference import InferenceError
    from jdl.inference._benefit import band_probability, released_posterior

    if not isinstance(block, dict):
        return
    head = measures.get(str(block.get("measure"))) or {}
    d, lo, hi = head.get("difference"), head.get("ci_low"), head.get("ci_high")
    prior: dict[str, Any] = block["prior"] if isinstance(block.get("prior"), dict) else {}
    delta = block.get("delta")
    rows = [r for r in block.get("sensitivity") or [] if isinstance(r, dict)]
    try:
        if not (_is_num(d) and _is_num(lo) and _is_num(hi) and _is_num(delta)
                and head.get("unit") == "proportion"):
            raise InferenceError("no released headline")
        post = released_posterior(d, lo, hi, float(prior["mean"]),
                                  None if prior.get("sd") is None else float(prior["sd"]))
        low, high = post.interval()
        figures = {"probability": band_probability(post.cdf(0.0)),
                   "probability_by": band_probability(post.cdf(-delta)),
                   "posterior_mean": round(post.mean, 3) + 0.0,
                   "credible_low": round(low, 3) + 0.0, "credible_high": round(high, 3) + 0.0}
        others = []
        for row in rows:
            sd = row.get("prior_sd")
            p = released_posterior(d, lo, hi, float(row["prior_mean"]),
                                   None if sd is None else float(sd))
            others.append((band_probability(p.cdf(0.0)), band_probability(p.cdf(-delta))))
    except (InferenceError, KeyError, TypeError, ValueError):
        for key in _BENEFIT_FIGURES:
            block[key] = None
        for row in rows:
            row["probability"] = row["probability_by"] = None
        block["reason_not_reported"] = BENEFIT_HIDDEN
        return
    block.update(figures)
    for row, (p0, p_by) in zip(rows, others, strict=True):
        row["probability"], row["probability_by"] = p0, p_by


def _paired(row: dict[str, Any], step: float, alpha: float = 0.05) -> None:
    """Difference, limits and p-value of a measure without released counts behind its values
    (means in days): they add nothing to what the released means say but the precision.

    The difference is the released treatment minus comparison value (or rounded to ``step``).
    The limits are **centred on that difference** with the half width rounded *up* to
    ``step``; the p-value is the one these limits imply (normal approximation), coarsened."""
    t, c = row.get("treatment"), row.get("comparison")
    if row.get("difference") is None:
        return
    if isinstance(t, int | float) and isinstance(c, int | float) and _is_num(t) and _is_num(c):
        d = round(t - c, RATE_DECIMALS) + 0.0
    elif isinstance(row["difference"], int | float) and _is_num(row["difference"]):
        d = round_to(row["difference"], step)
    else:
        return
    row["difference"] = d
    lo, hi = row.get("ci_low"), row.get("ci_high")
    if isinstance(lo, int | float) and isinstance(hi, int | float) and _is_num(lo) \
            and _is_num(hi):
        half = max(step, math.ceil(round((hi - lo) / 2 / step, 6)) * step)
        row["ci_low"] = round(d - half, RATE_DECIMALS + 2) + 0.0
        row["ci_high"] = round(d + half, RATE_DECIMALS + 2) + 0.0
        if _is_num(row.get("p_value")):
            from scipy.stats import norm

            se = half / norm.ppf(1 - alpha / 2)
            row["p_value"] = coarse_p(float(2 * norm.sf(abs(d) / se)))
        if row.get("significant") is True and row["ci_low"] <= 0 <= row["ci_high"]:
            row["significant"] = False  # never claim more than the released limits show
            if "direction" in row:
                row["direction"] = "inconclusive"
    elif _is_num(row.get("p_value")):
        row["p_value"] = coarse_p(row["p_value"])


_SIZE = re.compile(r"\b(About|about) (\d[\d,]*) (people)")


def _round_sizes_in(text: str) -> str:
    """Sample sizes quoted in lab wording ("About 431 people ... would be needed") rounded
    like ``required_n``: an exact size needed pins the exact rates it was computed from."""
    def rounded(m: re.Match[str]) -> str:
        size = significant_figures(int(m.group(2).replace(",", "")))
        return f"{m.group(1)} {size:,} {m.group(3)}"

    return _SIZE.sub(rounded, text)


def _power(power: dict[str, Any] | None, rate: Mapping[str, Any], alpha: float) -> None:
    """The power block from the released comparison rate and treated group size: the smallest
    detectable fall (to 0.01) and, when the released result is not significant, the treated
    people needed for the released difference: the rate measure's ``required_n`` (two
    significant figures), one figure wherever it is quoted."""
    from jdl.inference._power import minimum_detectable_effect

    if not isinstance(power, dict):
        return
    base, n = rate.get("comparison"), rate.get("treatment_n")
    usable = isinstance(base, int | float) and isinstance(n, int | float) and n > 0
    if power.get("base_rate") is not None:
        power["base_rate"] = base
    if "treatment_n" in power and power.get("treatment_n") is not None:
        power["treatment_n"] = n
    if _is_num(power.get("mde")):
        power["mde"] = None
        if usable:
            assert isinstance(base, int | float) and isinstance(n, int | float)
            mde = minimum_detectable_effect(max(int(n), 2), min(max(base, 0.01), 0.99),
                                            alpha=alpha, ratio=_effective_ratio(rate)
                                            ).mde_decrease
            power["mde"] = round_to(mde, CI_STEP["proportion"]) if _is_num(mde) else None
    if "required_n_for_observed" in power:
        power["required_n_for_observed"] = None
        if usable and rate.get("significant") is False:
            # the measure's own figure, so the report and the catalogue quote one number
            power["required_n_for_observed"] = _required(rate, alpha)


def _effective_ratio(rate: Mapping[str, Any]) -> float:
    """Released effective comparison people per released treated person (1 when either is
    not released: the 1:1 figure the power block always gave)."""
    n, nc, ess = rate.get("treatment_n"), rate.get("comparison_n"), rate.get("comparison_ess")
    size = ess if _is_num(ess) and ess > 0 else nc
    if _is_num(size) and _is_num(nc) and size > nc:
        size = nc
    return float(size) / float(n) if _is_num(size) and _is_num(n) and n > 0 else 1.0


def _balance(data: dict[str, Any]) -> None:
    rows = data.get("balance") or []
    for row in rows:
        if not isinstance(row, dict):
            continue
        ratios = [row.get(k) for k in ("variance_ratio_before", "variance_ratio_after")]
        binary = all(r is None for r in ratios)
        decimals = SMD_DECIMALS["binary" if binary else "continuous"]
        for key in ("smd_before", "smd_after"):
            if _is_num(row.get(key)):
                row[key] = round(row[key], decimals) + 0.0
        for key in ("variance_ratio_before", "variance_ratio_after"):
            if _is_num(row.get(key)):
                row[key] = round(row[key], VARIANCE_RATIO_DECIMALS)
    matching = data.get("matching")
    after = [abs(r["smd_after"]) for r in rows
             if isinstance(r, dict) and _is_num(r.get("smd_after"))]
    if isinstance(matching, dict) and _is_num(matching.get("max_abs_smd_after")):
        matching["max_abs_smd_after"] = max(after) if after else round(
            matching["max_abs_smd_after"], SMD_DECIMALS["binary"])


def _share(ss: dict[str, Any] | None) -> None:
    """The share of declared participants submitted, from the released (rounded) counts and to
    the nearest 10%: an exact share times the declared figure gives the exact number submitted."""
    if not isinstance(ss, dict) or ss.get("share_submitted") is None:
        return
    submitted, declared = ss.get("submitted"), ss.get("declared_participants")
    if _is_num(submitted) and _is_num(declared) and declared > 0:
        ss["share_submitted"] = min(1.0, round_to(submitted / declared, SHARE_STEP))
    else:
        ss["share_submitted"] = None

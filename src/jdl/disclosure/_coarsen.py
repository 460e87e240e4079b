"""Released estimates that cannot be inverted (docs/disclosure-control.md, "Values derived
from counts").

Rounding counts to 5 protects nothing if a rate beside them is shown to 16 digits: 85/330 printed
as 0.25757575... is really 84/329 (the only pair of whole numbers near the rounded ones giving that
value). So, after counts are suppressed and rounded, every estimate shown is either

* **computed from the released (rounded) counts** — rates and means per person are
  ``released events / released group size`` (OpenSAFELY's rule for rates), differences are the
  difference of the released values — so it carries nothing the rounded counts do not; or
* **rounded to a step that a single person cannot move it across**: confidence limits to a whole
  percentage point (or 0.01 per person, or a whole day), p-values to two decimals (one significant
  figure below 0.01), E-values and Rosenbaum bounds to one decimal, SMDs of yes/no characteristics
  to one decimal, a share of declared participants to the nearest 10%, sample sizes needed to two
  significant figures.

:func:`candidates_for_rate` is the attack the rule is tested with: every (events, group size) pair
consistent with what is released.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from jdl.disclosure._schema import REOFFENDER_MEASURE

#: The step each kind of measure's confidence limits (and standard error) are rounded to: a
#: percentage point for rates, 1 per 100 people for re-offences per person, a whole day.
CI_STEP = {"proportion": 0.01, "per person": 0.01, "days": 1.0}
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


# --- applied to a released dict (counts already suppressed and rounded) ---------------------------

def coarsen(data: dict[str, Any]) -> None:
    """Replace, in place, every estimate of a released dict by its non-invertible form."""
    measures = data.get("measures") or {}
    alpha = (data.get("power") or {}).get("alpha") or 0.05
    for name, m in measures.items():
        if isinstance(m, dict):
            _measure(name, m, alpha)
    for row in data.get("subgroups") or []:
        if isinstance(row, dict):
            _row(row, "proportion", from_counts=True)
    sens = data.get("sensitivity") or {}
    head = measures.get(REOFFENDER_MEASURE) or {}
    for row in sens.get("specifications") or []:
        if isinstance(row, dict):
            _row(row, "proportion", from_counts=False)
            same = all(row.get(k) == head.get(k) for k in ("treatment_n", "comparison_n"))
            if str(row.get("label", "")).startswith("Main analysis") and same \
                    and row.get("difference") is not None:
                # the headline itself: shown as released there, not a second rounding of it
                row.update({k: head.get(k) for k in ("difference", "ci_low", "ci_high",
                                                     "p_value")})
    for block in ("e_value", "rosenbaum"):
        for key, value in (sens.get(block) or {}).items():
            if _is_num(value):
                sens[block][key] = round(value, SENSITIVITY_DECIMALS)
    _power(data.get("power"), measures.get(REOFFENDER_MEASURE))
    _balance(data)
    _share(data.get("selective_sample"))


def _is_num(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _ratio(events: object, n: object) -> float | None:
    if _is_num(events) and _is_num(n) and n > 0:
        return round(events / n, RATE_DECIMALS)
    return None


def _measure(name: str, m: dict[str, Any], alpha: float = 0.05) -> None:
    unit = m.get("unit") or "proportion"
    step = CI_STEP.get(unit, 0.01)
    if unit in ("proportion", "per person"):
        for side in ("treatment", "comparison"):
            if m.get(side) is not None:
                m[side] = _ratio(m.get(f"{side}_events"), m.get(f"{side}_n"))
    else:
        for side in ("treatment", "comparison"):
            if _is_num(m.get(side)):
                m[side] = round(m[side], DAYS_DECIMALS) + 0.0
    _paired(m, step, alpha)
    if _is_num(m.get("se")):
        m["se"] = round_to(math.ceil(round(m["se"] / step, 6)) * step, step)
    if _is_num(m.get("required_n")):
        m["required_n"] = significant_figures(m["required_n"])
    if isinstance(m.get("conclusion"), str):
        m["conclusion"] = _conclusion(name, m) or _round_sizes_in(m["conclusion"])


#: Measure names whose wording uses the lab's standard phrase (jdl.inference.DEFAULT_OUTCOMES).
_STANDARD = {"proven_reoffending_rate": "rate", "reoffending_frequency": "frequency",
             "days_to_first_reoffence": "days"}
_KIND_OF_UNIT = {"proportion": "rate", "per person": "frequency", "days": "days"}


def _conclusion(name: str, m: dict[str, Any]) -> str | None:
    """The lab's wording (:func:`jdl.inference.conclusion_text`) rebuilt from the released
    difference and limits: the pipeline's sentence quotes the exact limits."""
    from jdl.inference import conclusion_text

    kind = _KIND_OF_UNIT.get(m.get("unit") or "")
    d, lo, hi = m.get("difference"), m.get("ci_low"), m.get("ci_high")
    if kind is None or not all(_is_num(v) for v in (d, lo, hi)):
        return None
    label = m.get("label") or name
    scale = 1.0 if kind == "days" else 100.0
    what = None
    if _STANDARD.get(name) != kind:  # as jdl.inference words a measure it has no phrase for
        what = {"rate": f"the number of people counted in '{label}'",
                "frequency": f"the number counted in '{label}'"}.get(
            kind, f"the average of '{label}'")
    required = m.get("required_n") if _is_num(m.get("required_n")) else None
    return conclusion_text(kind, label, d * scale, lo * scale, hi * scale,
                           bool(m.get("significant")), required, [], what=what)


def _row(row: dict[str, Any], unit: str, *, from_counts: bool) -> None:
    """A sub-group or sensitivity row: rates from released counts where the row has them."""
    if from_counts:
        for side in ("treatment", "comparison"):
            rate = _ratio(row.get(f"{side}_events"), row.get(f"{side}_n"))
            if row.get("difference") is not None and rate is not None:
                row[side] = rate
            elif side in row:
                row[side] = None
    for key in ("p_adjusted",):
        if _is_num(row.get(key)):
            row[key] = coarse_p(row[key])
    _paired(row, CI_STEP[unit])
    if row.get("significant") is True and _is_num(row.get("p_adjusted")) and \
            row.get("ci_low") is not None and row["ci_low"] <= 0 <= row["ci_high"]:
        row["significant"] = False


def _paired(row: dict[str, Any], step: float, alpha: float = 0.05) -> None:
    """Difference, limits and p-value that add nothing to what the released counts say but the
    precision of the estimate.

    The difference is the released treatment minus comparison value (or, for a row without
    counts, rounded to ``step``). The limits are **centred on that difference** with the half
    width rounded *up* to ``step``: limits rounded each on its own gave the exact difference to
    half a step and the exact width to a step, which for 53 people pinned the group size and
    both counts of discordant pairs (issue 15, attack 5). The p-value is the one these limits
    imply (normal approximation, as the lab's estimator), coarsened."""
    t, c = row.get("treatment"), row.get("comparison")
    if row.get("difference") is None:
        return
    if _is_num(t) and _is_num(c):
        d = round(t - c, RATE_DECIMALS) + 0.0
    elif _is_num(row["difference"]):
        d = round_to(row["difference"], step)
    else:
        return
    row["difference"] = d
    lo, hi = row.get("ci_low"), row.get("ci_high")
    if _is_num(lo) and _is_num(hi):
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


def _power(power: Mapping[str, Any] | None, rate: Mapping[str, Any] | None) -> None:
    if not isinstance(power, dict):
        return
    if power.get("base_rate") is not None:
        power["base_rate"] = (rate or {}).get("comparison")
    if _is_num(power.get("mde")):
        power["mde"] = round_to(power["mde"], CI_STEP["proportion"])
    if _is_num(power.get("required_n_for_observed")):
        power["required_n_for_observed"] = significant_figures(power["required_n_for_observed"])


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

"""What a published report found, per headline measure, under the lab's significance rule.

Pure functions of a released ``results.json`` and :class:`InferenceSettings`. A result is a
*significant decrease* or *increase* only when

* the lab's report itself called it significant (``significant: true`` — decided on the
  unrounded counts, which the release rounds), and
* the released numbers satisfy the rule again under the current settings: ``p <= alpha``, the
  confidence interval excludes zero on the side of the estimate, at least
  ``min_treated_reoffenders`` people in the treatment group re-offended (released, rounded
  count) and, for a rate, ``n p`` and ``n (1 - p)`` are at least ``min_expected_count``.

Anything else with an estimate is *inconclusive*; a measure the report did not give (or whose
estimate disclosure control withheld) is *not reported*. Both count as "not significant" in the
summary: by the rule, neither is a significant result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from jdl.core.config import InferenceSettings

Result = Literal["decrease", "increase", "inconclusive", "not_reported"]
RESULT_LABELS: dict[str, str] = {
    "decrease": "Significant decrease",
    "increase": "Significant increase",
    "inconclusive": "Inconclusive",
    "not_reported": "Not reported",
}
RATE_MEASURE = "proven_reoffending_rate"  # whose events are the treatment group's re-offenders


@dataclass(frozen=True)
class Finding:
    """One headline measure of one report, as the catalogue shows it."""

    measure: str
    label: str
    unit: str | None
    result: Result
    treatment: float | None
    comparison: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    treatment_n: int | None
    comparison_n: int | None
    reason: str | None  # why not significant / not reported, in words

    @property
    def significant(self) -> bool:
        return self.result in ("decrease", "increase")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rules_of(settings: InferenceSettings) -> dict[str, float]:
    """The parts of the inference settings that decide significance (stored with findings)."""
    return {"alpha": settings.alpha, "min_treated_reoffenders": settings.min_treated_reoffenders,
            "min_expected_count": settings.min_expected_count}


def classify(name: str, measure: Mapping[str, Any] | None, reoffenders: int | None,
             rules: InferenceSettings) -> Finding:
    """The catalogue's result for one released measure (see the module docstring)."""
    m = dict(measure or {})
    values = {k: _num(m.get(k)) for k in ("treatment", "comparison", "difference", "ci_low",
                                         "ci_high", "p_value")}
    base = {"measure": name, "label": str(m.get("label") or name.replace("_", " ")),
            "unit": m.get("unit"), **values, "treatment_n": _int(m.get("treatment_n")),
            "comparison_n": _int(m.get("comparison_n"))}
    if not m or m.get("reported") is False:
        reason = m.get("reason_not_reported") or "The report does not give this measure."
        return Finding(**base, result="not_reported", reason=str(reason))
    if any(values[k] is None for k in ("difference", "ci_low", "ci_high", "p_value")):
        return Finding(**base, result="not_reported",
                       reason="The estimate was withheld by disclosure control.")
    reason = _why_not_significant(m, values, reoffenders, base["treatment_n"], rules)
    if reason is not None:
        return Finding(**base, result="inconclusive", reason=reason)
    direction: Result = "decrease" if values["difference"] < 0 else "increase"
    return Finding(**base, result=direction, reason=None)


def _why_not_significant(m: Mapping[str, Any], v: Mapping[str, float | None],
                         reoffenders: int | None, n: int | None,
                         rules: InferenceSettings) -> str | None:
    if m.get("significant") is not True:
        return "The report found no statistically significant difference."
    if v["p_value"] > rules.alpha:
        return f"p = {v['p_value']:.3f} is above {rules.alpha:g}."
    lo, hi, diff = v["ci_low"], v["ci_high"], v["difference"]
    if not ((diff < 0 and hi < 0) or (diff > 0 and lo > 0)):
        return "The confidence interval includes no difference."
    if reoffenders is None or reoffenders < rules.min_treated_reoffenders:
        return (f"Fewer than {rules.min_treated_reoffenders} people in the treatment group "
                "re-offended.")
    if m.get("unit") == "proportion":
        p = v["treatment"]
        if n is None or p is None or min(n * p, n * (1 - p)) < rules.min_expected_count:
            return "The treatment group is too small for the normal approximation."
    return None


def headline_findings(results: Mapping[str, Any], rules: InferenceSettings) -> list[Finding]:
    """One finding per headline measure of a released ``results.json``, in the report's order."""
    measures = results.get("measures") or {}
    names = list(results.get("headline_measures") or []) or [RATE_MEASURE]
    rate = measures.get(RATE_MEASURE) or {}
    reoffenders = _int(rate.get("treatment_events"))
    return [classify(n, measures.get(n), reoffenders, rules) for n in names]


def finding_for(findings: Sequence[Mapping[str, Any]], measure: str) -> Mapping[str, Any] | None:
    """The stored finding for ``measure`` (findings are stored as dicts)."""
    return next((f for f in findings if f.get("measure") == measure), None)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out else None  # NaN is not a released value


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else round(number)

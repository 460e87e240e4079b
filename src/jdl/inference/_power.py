"""Power, minimum detectable effect and required sample size for a re-offending rate.

Two-sided test of two independent proportions at level ``alpha`` (normal approximation, no
continuity correction), with ``k`` comparison people per treated person. The sample size for
detecting rates ``p1`` (treated) and ``p0`` (comparison) is (Fleiss, Levin and Paik 2003,
eq. 4.14 without the continuity correction)::

    n1 = (z_{1-a/2} sqrt(pbar qbar (1 + 1/k)) + z_{1-b} sqrt(p1 q1 + p0 q0 / k))^2 / (p1 - p0)^2

with ``pbar = (p1 + k p0) / (1 + k)``. Power inverts the same relation; the minimum detectable
effect is the smallest difference (either direction) reaching the requested power.

References
----------
Fleiss, J. L., Levin, B. and Paik, M. C. (2003). *Statistical Methods for Rates and
Proportions*, 3rd ed., Wiley, section 4.2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import optimize, stats

from jdl.core.results import Kind, released
from jdl.inference._errors import InferenceError


def _check(base_rate: float, alpha: float, power: float, ratio: float) -> None:
    if not 0 < base_rate < 1:
        raise InferenceError(f"base rate must be between 0 and 1 (exclusive), not {base_rate}.",
                             hint="Give a proportion, e.g. 0.42 for 42%.")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise InferenceError("alpha and power must be between 0 and 1.")
    if ratio <= 0:
        raise InferenceError("the comparison-to-treated ratio must be positive.")


def required_n(p0: float, p1: float, *, alpha: float = 0.05, power: float = 0.8,
               ratio: float = 1.0) -> int:
    """Treated people needed to detect a change in rate from ``p0`` to ``p1`` (Fleiss 4.14)."""
    _check(p0, alpha, power, ratio)
    if not 0 < p1 < 1:
        raise InferenceError(f"the treated rate must be between 0 and 1, not {p1:.4f}.")
    if p1 == p0:
        raise InferenceError("a difference of zero cannot be detected with any sample size.")
    za, zb = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    pbar = (p1 + ratio * p0) / (1 + ratio)
    num = (za * math.sqrt(pbar * (1 - pbar) * (1 + 1 / ratio))
           + zb * math.sqrt(p1 * (1 - p1) + p0 * (1 - p0) / ratio))
    return math.ceil(num**2 / (p1 - p0) ** 2)


def power_two_proportions(n: float, p0: float, p1: float, *, alpha: float = 0.05,
                          ratio: float = 1.0) -> float:
    """Power of the two-sided test with ``n`` treated and ``ratio * n`` comparison people."""
    za = stats.norm.ppf(1 - alpha / 2)
    pbar = (p1 + ratio * p0) / (1 + ratio)
    s0 = math.sqrt(pbar * (1 - pbar) * (1 + 1 / ratio))
    s1 = math.sqrt(p1 * (1 - p1) + p0 * (1 - p0) / ratio)
    return float(stats.norm.cdf((abs(p1 - p0) * math.sqrt(n) - za * s0) / s1))


@dataclass(frozen=True)
class PowerResult:
    """Minimum detectable effects for a sample size, as proportions (0.08 = 8 per 100)."""

    n_treated: int
    n_comparison: int
    base_rate: float
    alpha: float
    power: float
    mde_decrease: float  # smallest detectable fall in the rate (a proportion, positive)
    mde_increase: float  # smallest detectable rise (a proportion)

    def __str__(self) -> str:
        b, down, up = 100 * self.base_rate, 100 * self.mde_decrease, 100 * self.mde_increase
        return (f"With {self.n_treated} people in the treatment group and {self.n_comparison} "
                f"in the comparison group, a re-offending rate of {b:.1f} per 100 people, "
                f"alpha {self.alpha:g} and power {self.power:.0%}, the smallest detectable "
                f"difference is a fall of {down:.1f} or a rise of "
                f"{up:.1f} per 100 people (to {b - down:.1f} or {b + up:.1f}).")


def minimum_detectable_effect(n: int, base_rate: float, *, alpha: float = 0.05,
                              power: float = 0.8, ratio: float = 1.0) -> PowerResult:
    """Smallest fall and rise in the rate detectable with ``n`` treated people."""
    _check(base_rate, alpha, power, ratio)
    if n < 2:
        raise InferenceError(f"the treatment group needs at least 2 people, not {n}.")

    def gap(p1: float) -> float:
        return power_two_proportions(n, base_rate, p1, alpha=alpha, ratio=ratio) - power

    eps = 1e-9
    down = (base_rate - optimize.brentq(gap, eps, base_rate - eps)
            if gap(eps) > 0 else float("nan"))
    up = (optimize.brentq(gap, base_rate + eps, 1 - eps) - base_rate
          if gap(1 - eps) > 0 else float("nan"))
    return PowerResult(n_treated=int(n), n_comparison=round(n * ratio), base_rate=base_rate,
                       alpha=alpha, power=power, mde_decrease=down, mde_increase=up)


@dataclass(frozen=True)
class PowerSummary:
    """What this analysis could detect (released with the report's sample-size advice)."""

    base_rate: float = released(Kind.DERIVED)
    treatment_n: int = released(Kind.COUNT)
    mde: float = released(Kind.DERIVED)  # smallest detectable fall in the rate (a proportion)
    power: float = released(Kind.STATISTIC)
    alpha: float = released(Kind.STATISTIC)
    required_n_for_observed: int | None = released(Kind.DERIVED)


def power_summary(base_rate: float, n_treated: int, required: int | None, *,
                  alpha: float = 0.05, ratio: float = 1.0) -> PowerSummary:
    """The minimum detectable fall in ``base_rate`` with ``n_treated`` people (80% power), and
    the size needed for the observed difference as a planning figure rounded up to the next 10
    ("about 870 people"). ``ratio``: effective comparison people per treated person (the
    comparison group's Kish effective size over the treated count; 1 for 1:1 pairs)."""
    mde = minimum_detectable_effect(max(n_treated, 2), min(max(base_rate, 0.01), 0.99),
                                    alpha=alpha, ratio=max(ratio, 1e-9))
    return PowerSummary(
        base_rate=base_rate, treatment_n=n_treated, mde=mde.mde_decrease, power=mde.power,
        alpha=mde.alpha,
        required_n_for_observed=None if required is None else int(math.ceil(required / 10) * 10))

"""Can the lab answer a programme's question? A check from aggregate numbers, before any
personal data is sent.

An organisation knows roughly how many people it works with a year. Not all of them reach the
analysis: some are not found in the national records, some have no release from custody or
court order start in the window, some are excluded (index offences the lab does not analyse,
follow-up not yet complete), and some have no similar person to compare with. What is left,
the *analysed* treatment group, sets the smallest change in the one-year proven re-offending
rate the comparison could detect with 80% power at the 5% two-sided level
(:func:`jdl.inference.minimum_detectable_effect`, Fleiss, Levin and Paik 2003, eq. 4.14) and
the number of people needed to detect a planning effect (:func:`jdl.inference.required_n`).
Nothing here re-derives the power calculation; it turns an organisation's numbers into the
inputs of those two functions and says what the answer means, including the lab's own rules
(at least ``min_analysed`` people analysed, and at least ``min_reoffenders`` re-offenders in
the treatment group before any result is called significant).

The check is a planning figure, not a promise: the lab's matching may keep more or fewer people,
and the analysed group's re-offending rate differs from the national rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from jdl.inference._errors import InferenceError
from jdl.inference._power import minimum_detectable_effect, required_n

Verdict = Literal["too_few", "unlikely", "large_effects_only", "realistic"]

#: The change a programme could realistically make, for planning: 5 fewer re-offenders per 100
#: people in a year (an assumption, not a published JDL figure; a change the asker can set).
#: It is a substantial fall for one-year rates of 30 to 45 per 100; a cohort that can only
#: detect a much larger one will usually hear "inconclusive", as most small JDL requests did
#: (seed paper: half of the reports with over 500 people were significant, about a quarter of
#: the smaller ones).
PLANNING_EFFECT = 0.05

#: The share of the people an organisation sends that the analysis is expected to keep, for
#: planning; the organisation can change it. People are lost when they are rejected at intake,
#: not found in the national records (the lab's linkage expects about 10% not to be,
#: ``LinkageSettings.prior_in_register``), have no qualifying release or court order in the
#: window, are excluded, or have no close comparison. The lab's own demonstration run
#: (``make demo``, the planted New Leaf programme; released, rounded counts) keeps 320 of
#: 430 submitted people (74%: 420 accepted, 395 linked, 355 eligible, 320 matched); a real
#: list, whose people were not generated to have a qualifying sentence, loses more, so the
#: default is rounded down to 60%.
ANALYSED_SHARE = 0.6


@dataclass(frozen=True)
class FeasibilityOption:
    """One way of sending people: ``years`` of the programme from ``organisations``
    organisations (the asker's included), each working with ``people_per_year``."""

    years: int
    organisations: int
    people_sent: int  # everyone the organisations would send
    people_analysed: int  # expected in the analysed treatment group
    expected_reoffenders: float  # at the base rate: the lab's significance rule needs enough
    mde_decrease: float | None  # smallest detectable fall (a proportion); None: none detectable
    mde_increase: float | None  # smallest detectable rise (a proportion)
    verdict: Verdict

    @property
    def pooled(self) -> bool:
        return self.years > 1 or self.organisations > 1


@dataclass(frozen=True)
class Feasibility:
    """The check's answer: the asker's own numbers, pooled alternatives, and how many people
    would be needed to detect the planning effect. Proportions throughout (0.05 = 5 per 100)."""

    people_per_year: int
    analysed_share: float
    base_rate: float
    planning_effect: float
    alpha: float
    power: float
    ratio: float
    min_analysed: int
    min_reoffenders: int
    this: FeasibilityOption  # the asker's own years and organisations
    options: tuple[FeasibilityOption, ...]  # more years, more partners, both
    analysed_needed: int  # analysed people needed to detect ``planning_effect``
    people_needed: int  # people to send for that, at ``analysed_share``

    @property
    def years_needed(self) -> int:
        """Years of the asker's organisations' intake that would give ``people_needed``."""
        per_year = self.people_per_year * self.this.organisations
        return math.ceil(self.people_needed / per_year - 1e-9)

    @property
    def best_pooled(self) -> FeasibilityOption | None:
        """The smallest pooled option that reaches a realistic answer, if any does."""
        good = [o for o in self.options if o.verdict == "realistic"]
        return min(good, key=lambda o: (o.people_sent, o.organisations)) if good else None


def _verdict(analysed: int, expected_reoffenders: float, mde: float | None, *,
             planning_effect: float, min_analysed: int, min_reoffenders: int) -> Verdict:
    if analysed < min_analysed:
        return "too_few"
    if mde is None or expected_reoffenders < min_reoffenders or mde > 2 * planning_effect:
        return "unlikely"
    if mde > planning_effect:
        return "large_effects_only"
    return "realistic"


def _option(people_per_year: int, years: int, organisations: int, *, analysed_share: float,
            base_rate: float, planning_effect: float, alpha: float, power: float, ratio: float,
            min_analysed: int, min_reoffenders: int) -> FeasibilityOption:
    sent = people_per_year * years * organisations
    # rounded down: a planning figure should not promise a person who may not be there
    analysed = math.floor(sent * analysed_share + 1e-9)
    down = up = None
    if analysed >= 2:
        mde = minimum_detectable_effect(analysed, base_rate, alpha=alpha, power=power,
                                        ratio=ratio)
        down = None if math.isnan(mde.mde_decrease) else mde.mde_decrease
        up = None if math.isnan(mde.mde_increase) else mde.mde_increase
    expected = analysed * base_rate
    return FeasibilityOption(
        years=years, organisations=organisations, people_sent=sent, people_analysed=analysed,
        expected_reoffenders=expected, mde_decrease=down, mde_increase=up,
        verdict=_verdict(analysed, expected, down, planning_effect=planning_effect,
                         min_analysed=min_analysed, min_reoffenders=min_reoffenders))


def assess_feasibility(people_per_year: int, years: int = 1, organisations: int = 1, *,
                       base_rate: float, analysed_share: float = ANALYSED_SHARE,
                       planning_effect: float = PLANNING_EFFECT, alpha: float = 0.05,
                       power: float = 0.8, ratio: float = 1.0, min_analysed: int = 60,
                       min_reoffenders: int = 30) -> Feasibility:
    """What a programme's numbers let the lab detect, and what pooling would add.

    ``people_per_year`` people a year for ``years`` years, from ``organisations`` organisations
    of about that size (1: the asker alone); ``analysed_share`` of them expected in the
    analysed treatment group; ``base_rate`` the one-year proven re-offending rate expected
    without the programme; ``ratio`` comparison people per treated person (the lab's matching
    ratio). The options pool one and two more years, one and two more partners, and both; the
    people needed are those that give ``power`` to detect a fall of ``planning_effect``.
    """
    for name, value in (("people_per_year", people_per_year), ("years", years),
                        ("organisations", organisations)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InferenceError(f"{name} must be a whole number of at least 1, not {value!r}.")
    if not 0 < analysed_share <= 1:
        raise InferenceError(f"the analysed share must be above 0 and at most 1, not "
                             f"{analysed_share}.", hint="Give a proportion, e.g. 0.6 for 60%.")
    if not 0 < base_rate < 1:
        raise InferenceError(f"the base rate must be between 0 and 1, not {base_rate}.",
                             hint="Give a proportion, e.g. 0.425 for 42.5%.")
    if not 0 < planning_effect < base_rate:
        raise InferenceError(f"the planning effect ({planning_effect}) must be above 0 and "
                             f"below the base rate ({base_rate}): a rate cannot fall below 0.")

    def option(y: int, o: int) -> FeasibilityOption:
        return _option(people_per_year, y, o, analysed_share=analysed_share,
                       base_rate=base_rate, planning_effect=planning_effect, alpha=alpha,
                       power=power, ratio=ratio, min_analysed=min_analysed,
                       min_reoffenders=min_reoffenders)

    shapes = [(years + 1, organisations), (years + 2, organisations),
              (years, organisations + 1), (years, organisations + 2),
              (years + 1, organisations + 1)]
    this, options = option(years, organisations), tuple(option(y, o) for y, o in shapes)
    analysed_needed = required_n(base_rate, base_rate - planning_effect, alpha=alpha,
                                 power=power, ratio=ratio)
    analysed_needed = max(analysed_needed, min_analysed,
                          math.ceil(min_reoffenders / base_rate))
    return Feasibility(
        people_per_year=people_per_year, analysed_share=analysed_share, base_rate=base_rate,
        planning_effect=planning_effect, alpha=alpha, power=power, ratio=ratio,
        min_analysed=min_analysed, min_reoffenders=min_reoffenders, this=this,
        options=options, analysed_needed=analysed_needed,
        people_needed=math.ceil(analysed_needed / analysed_share - 1e-9))

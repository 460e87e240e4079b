"""Plain-English wording for measures, in the Justice Data Lab's style.

The JDL words every result for "100 typical people who receive support, compared with 100
similar people who do not", states a confidence interval as "may decrease ... by up to X, or may
increase it by up to Y", and says of inconclusive results that there is insufficient evidence and
that this does not mean the programme fails to affect re-offending
(``shared/reference/method-notes.md``). It never says a programme "proves" anything or "has no
effect". The sentences here are built from the released numbers, not copied from the results, so
the words always agree with the table next to them.

The two groups have one name each everywhere: the :data:`TREATED` (the people the programme
worked with who were analysed) and the :data:`COMPARISON`. What an inconclusive result means is
said once per report (:data:`INCONCLUSIVE_MEANING`), not after every measure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from markupsafe import Markup, escape

from jdl.report._values import Released, fmt_number, is_missing, mark

#: The one name of each group, in every sentence, table heading and chart of the report.
TREATED = "participants"
COMPARISON = "comparison group"

LEAD = f"For 100 typical {TREATED}, compared with 100 similar people in the {COMPARISON}"

#: What an inconclusive result means, said once in the summary and once in the findings.
INCONCLUSIVE_MEANING = ("there is not enough evidence to say whether the programme changed "
                        "this measure. This does not mean the programme has no effect")

def _directions() -> dict[str, str]:
    from jdl.outcomes import reported_outcomes

    return {m.result_key: m.better for m in reported_outcomes()}


#: Which way each reported measure is better (the registry's ``Measure.better``).
_BETTER = _directions()
#: Measures where a higher value is the better outcome (everything else: lower is better).
HIGHER_IS_BETTER = frozenset({"days_to_first_reoffence", "employment_days_after"} | {
    k for k, way in _BETTER.items() if way == "higher"})
#: Measures where neither direction is better in itself: the share of re-offenders whose first
#: re-offence was in the middle or least serious tier (a shift between tiers), a change of
#: offence type.
NEITHER_BETTER = frozenset(k for k, way in _BETTER.items() if way == "neither")
#: Measures of re-offenders only are shown per 100 re-offenders (``population`` released with
#: each measure); what a per-person count counts, where it is not re-offences.
REOFFENDERS = "reoffenders"
_COUNTED = {"custodial_sentence_frequency": "custodial sentences"}


@dataclass(frozen=True)
class Scale:
    """How a measure's unit is shown: multiplied by ``factor``, in ``unit``, with verbs."""

    factor: float
    unit: str  # table heading unit, e.g. "per 100 people"
    range_unit: str  # after a range, e.g. "people in every 100"
    decrease: str = "decrease"
    increase: str = "increase"
    digits: int = 1


_SCALES = {
    "proportion": Scale(100.0, "per 100 people", "people in every 100"),
    "per person": Scale(100.0, "re-offences per 100 people", "re-offences per 100 people"),
    "days": Scale(1.0, "days", "days", decrease="shorten", increase="lengthen", digits=0),
}

def _nouns() -> dict[str, str]:
    from jdl.outcomes import reported_outcomes

    return {m.result_key: m.noun for m in reported_outcomes()}


def _rate_key() -> str:
    from jdl.outcomes import headline_rate

    return headline_rate().result_key


#: The released key of the one-year proven re-offending rate (the registry's headline rate).
RATE_KEY = _rate_key()


def _time_keys() -> frozenset[str]:
    from jdl.outcomes import reported_outcomes

    return frozenset(m.result_key for m in reported_outcomes() if m.kind == "days")


#: Measures of time to an event, whose change is worded "shorten"/"lengthen".
TIME_KEYS = _time_keys()


#: What a measure counts, for sentences ("the programme may decrease <what> ..."): each reported
#: outcome's ``noun`` in the registry (:func:`jdl.outcomes.reported_outcomes`).
_WHAT = _nouns()


def better_direction(key: str) -> str:
    """``"higher"`` or ``"lower"``: which way a measure moves when things go well (fewer
    re-offences, a longer time to the first one, more days in work)."""
    return "higher" if key in HIGHER_IS_BETTER else "lower"


def better_note(key: str, measure: dict[str, Any]) -> str:
    """The few words a chart or table carries to say which way is better."""
    unit = str(measure.get("unit") or "")
    if key in NEITHER_BETTER:
        return "Neither direction is better in itself"
    if better_direction(key) == "higher":
        return "Longer is better" if key in TIME_KEYS else "More is better"
    return "Fewer is better" if unit in ("per person", "days") else "Lower is better"


def is_better(key: str, difference: float) -> bool:
    """Whether a difference (participants minus comparison group) is in the better direction."""
    if key in NEITHER_BETTER:
        return False
    return difference > 0 if better_direction(key) == "higher" else difference < 0


def scale_for(measure: dict[str, Any], key: str = "") -> Scale:
    """The display scale of a measure; unknown units are shown as they come. A measure of
    re-offenders only is per 100 re-offenders; ``key`` names what a per-person count counts
    where it is not re-offences (custodial sentences)."""
    unit = str(measure.get("unit") or "")
    if unit == "offences per person":
        return Scale(100.0, "offences per 100 people", "offences per 100 people")
    scale = _SCALES.get(unit, Scale(1.0, unit, unit, digits=2))
    counted = _COUNTED.get(key)
    if counted and unit == "per person":
        scale = replace(scale, unit=f"{counted} per 100 people",
                        range_unit=f"{counted} per 100 people")
    if measure.get("population") == REOFFENDERS:
        scale = replace(scale, unit=scale.unit.replace("people", "re-offenders"),
                        range_unit=scale.range_unit.replace("people", "re-offenders"))
    return scale


def what_for(key: str, measure: dict[str, Any]) -> str:
    """The thing a measure counts, for use inside a sentence."""
    label = str(measure.get("label") or key.replace("_", " "))
    if key in _WHAT:
        return _WHAT[key]
    if measure.get("unit") == "proportion":
        return f"the number of people counted under “{label}”"
    if label.lower().startswith("days "):
        return f"the number of {label[:1].lower()}{label[1:]}"
    return f"the {label[:1].lower()}{label[1:]}"


def _amount(value: float, scale: Scale, *, with_unit: bool = False) -> str:
    """A magnitude for a sentence: whole numbers, "less than 1" rather than a misleading 0.

    With ``with_unit`` the unit follows, singular after 1 ("1 person in every 100").
    """
    x = abs(value) * scale.factor
    text = "less than 1" if 0 < x < 0.5 else f"{x:,.0f}"
    if not with_unit:
        return text
    unit = scale.range_unit
    if text in ("1", "less than 1"):
        unit = unit.replace("people in", "person in").replace("re-offences per", "re-offence per")
        unit = unit.replace("re-offenders in", "re-offender in").replace(
            "sentences per", "sentence per").replace("offences per 100", "offence per 100")
        unit = "day" if unit == "days" else unit
    return f"{text} {unit}"


def _up_to(value: float, scale: Scale) -> str:
    """"by up to 13 days", or "by less than 1 day" (never "by up to less than 1")."""
    amount = _amount(value, scale, with_unit=True)
    return f"by {amount}" if amount.startswith("less than") else f"by up to {amount}"


def status(measure: dict[str, Any]) -> tuple[str, str]:
    """(short label, css class) for a measure's result: decrease, increase, inconclusive..."""
    if not measure.get("reported", True):
        return "Not reported", "status-none"
    diff = measure.get("difference")
    if measure.get("significant") and not is_missing(diff):
        if diff < 0:
            return "Statistically significant decrease", "status-sig"
        return "Statistically significant increase", "status-sig"
    if measure.get("significant") is None:
        return "Significance not shown", "status-none"
    return "Inconclusive", "status-inc"


def hundred_sentence(rel: Released, key: str, measure: dict[str, Any]) -> Markup:
    """The measure's two group values as a "100 typical people" sentence."""
    scale = scale_for(measure, key)
    path = ("measures", key)
    t = fmt_number(rel, measure.get("treatment"), (*path, "treatment"),
                   scale=scale.factor, digits=0 if scale.factor == 100 else scale.digits)
    c = fmt_number(rel, measure.get("comparison"), (*path, "comparison"),
                   scale=scale.factor, digits=0 if scale.factor == 100 else scale.digits)
    unit = measure.get("unit")
    label = escape(str(measure.get("label") or key))
    if measure.get("population") == REOFFENDERS:
        return Markup(f"For 100 typical {TREATED} who re-offended, compared with 100 similar "
                      f"people in the {COMPARISON} who re-offended: {t} for the {TREATED}, "
                      f"compared with {c} in the {COMPARISON} ({escape(scale.unit)}; "
                      f"{label[:1].lower()}{label[1:]}).")
    if unit == "offences per person":
        return Markup(f"{LEAD}: the {TREATED}' proven offences between them changed by {t} "
                      f"from the year before to the year after, compared with {c} in the "
                      f"{COMPARISON} (a negative number is a fall).")
    if key == RATE_KEY or (unit == "proportion" and key not in _WHAT):
        did = ("committed a proven re-offence within one year"
               if key == RATE_KEY else f"were counted under “{label}”")
        return Markup(f"{LEAD}: {t} of the {TREATED} {did}, "
                      f"compared with {c} of the people in the {COMPARISON}.")
    if unit == "per person":
        return Markup(f"{LEAD}: the {TREATED} committed {t} proven re-offences "
                      f"between them within one year, compared with {c} in the {COMPARISON}.")
    if unit == "days":
        return Markup(f"Among people who re-offended, the {TREATED} committed their "
                      f"first proven re-offence after {t} days on average, compared with {c} days "
                      f"in the {COMPARISON}.")
    return Markup(f"{label}: {t} for the {TREATED}, compared with {c} for the {COMPARISON}.")


def effect_sentence(rel: Released, key: str, measure: dict[str, Any]) -> Markup:
    """What the confidence interval allows us to say, with the lab's significance wording.

    An inconclusive result is worded as its range only: what "inconclusive" means is said once
    per report (:data:`INCONCLUSIVE_MEANING`), beside the measures, rather than after each.
    """
    if not measure.get("reported", True):
        reason = measure.get("reason_not_reported") or "The lab's reporting rules were not met."
        return Markup(f"This measure is not reported. {escape(reason)}")
    scale = scale_for(measure, key)
    if key not in TIME_KEYS:  # days in work or on benefits rise and fall
        scale = replace(scale, decrease="decrease", increase="increase")
    what = what_for(key, measure)
    lo, hi, diff = measure.get("ci_low"), measure.get("ci_high"), measure.get("difference")
    significant = bool(measure.get("significant"))
    if any(is_missing(v) for v in (lo, hi, diff)):
        return Markup(f"The likely size of the difference is not shown {mark()} to protect the "
                      "people in the analysis.")
    a, b = sorted((float(lo), float(hi)), key=abs)
    if significant:
        verb = scale.decrease if diff < 0 else scale.increase
        direction = "decrease" if diff < 0 else "increase"
        return Markup(f"This is a statistically significant {direction}: the programme may "
                      f"{verb} {what} by between {_amount(a, scale)} and "
                      f"{_amount(b, scale, with_unit=True)}.")
    if lo < 0 < hi:
        body = (f"The programme may {scale.decrease} {what} {_up_to(lo, scale)}, or may "
                f"{scale.increase} it {_up_to(hi, scale)}.")
    else:
        verb = scale.decrease if hi <= 0 else scale.increase
        body = (f"The estimates suggest the programme may {verb} {what} by between "
                f"{_amount(a, scale)} and {_amount(b, scale, with_unit=True)}, but under the lab's "
                "rules this is not treated as a statistically significant result.")
    return Markup(body)


def people_needed(power: dict[str, Any] | None, rate: dict[str, Any] | None) -> str | None:
    """The released number of participants needed to detect the observed fall, worded once
    (``"4,900"``) for every place that quotes it; ``None`` when there is none to quote or the
    observed difference is not a fall."""
    required = (power or {}).get("required_n_for_observed")
    difference = (rate or {}).get("difference")
    if is_missing(required) or is_missing(difference) or not difference < 0:
        return None
    return f"{math.ceil(required):,}"


def ci_text(rel: Released, key: str, measure: dict[str, Any]) -> Markup:
    """``(lo to hi)`` on the display scale; either end may be suppressed."""
    scale = scale_for(measure, key)
    path = ("measures", key)
    lo = fmt_number(rel, measure.get("ci_low"), (*path, "ci_low"), scale=scale.factor,
                    digits=scale.digits, signed=True)
    hi = fmt_number(rel, measure.get("ci_high"), (*path, "ci_high"), scale=scale.factor,
                    digits=scale.digits, signed=True)
    return Markup(f"({lo} to {hi})")


def e_value_sentence(e_value: dict[str, Any] | None, significant: bool) -> str | None:
    """The E-value (VanderWeele and Ding 2017) in words a non-statistician can follow.

    The E-value for the interval only means something when the interval excludes no
    difference, i.e. when the result is significant; otherwise it is 1 and is not quoted.
    """
    if not e_value or is_missing(e_value.get("point")):
        return None
    point = float(e_value["point"])
    text = (f"An unmeasured difference between the groups (such as motivation) would have to make "
            f"people about {point:.2f} times as likely to take part and, separately, about "
            f"{point:.2f} times as likely to re-offend to fully explain away the estimated "
            "difference.")
    ci = e_value.get("ci")
    if significant and not is_missing(ci) and ci > 1:
        text += (f" A difference of about {ci:.2f} times on both would be enough to make the "
                 "result uncertain (confidence interval including no difference).")
    elif not significant:
        text += " The result is already inconclusive, so no hidden factor is needed to make it so."
    return text


def rosenbaum_sentence(rosenbaum: dict[str, Any] | None, significant: bool) -> str | None:
    """The Rosenbaum bound (Rosenbaum 2002) in words: how much hidden bias undoes significance.

    Only a significant result can lose its significance, so nothing is said otherwise.
    """
    gamma = (rosenbaum or {}).get("gamma_at_which_significance_lost")
    if is_missing(gamma) or not significant:
        return None
    strength = "small" if gamma < 1.5 else ("moderate" if gamma < 2 else "large")
    where = ("In the check that pairs each participant with one comparison person, if hidden "
             "factors made one person in a pair" if (rosenbaum or {}).get("on_reference_design")
             else "If hidden factors made one person in a matched pair")
    return (f"{where} up to {gamma:.2f} times as "
            f"likely as the other to receive support, the result could stop being statistically "
            f"significant. That is a {strength} amount of hidden bias, so the result is "
            f"{'sensitive' if strength == 'small' else 'fairly robust'} to factors the lab "
            "cannot see.")


def power_sentences(power: dict[str, Any] | None, rate: dict[str, Any] | None,
                    inconclusive: bool) -> list[str]:
    """Sample-size advice (JDL practice): what size of effect this analysis could detect.

    The number of people needed "to detect a difference of the size observed" is given only when
    the observed difference is a fall in re-offending: for a rise (or no difference) more people
    would only show the programme's harm more clearly, so the sentence would mislead.
    """
    power = power or {}
    out: list[str] = []
    mde, n = power.get("mde"), power.get("treatment_n")
    if not is_missing(mde):
        group = f"{n:,.0f} {TREATED}" if not is_missing(n) else f"this many {TREATED}"
        level, alpha = power.get("power", 0.8), power.get("alpha", 0.05)
        out.append(f"With {group}, the analysis could reliably detect a "
                   f"change in the re-offending rate of about {mde * 100:.0f} people in every 100 "
                   f"or more ({level:.0%} power, {alpha:.0%} significance level). Smaller real "
                   "effects may be missed.")
    needed = people_needed(power, rate)
    if inconclusive and needed is not None:
        out.append(f"To tell whether a fall as large as the one observed here is real, the "
                   f"analysis would need about {needed} {TREATED}.")
    elif inconclusive and rate and not rate.get("significant"):
        out.append("A larger group of participants, for example by including people from a "
                   "longer period, would make a clearer answer more likely.")
    return out


def measure_sentences(released: Mapping[str, Any]) -> dict[str, list[Markup]]:
    """Each reported measure's findings in the report's own words (its "100 typical
    participants" sentence and what its interval allows), for pages that summarise a report,
    such as the catalogue's, so the two never word one result differently."""
    rel = Released.from_dict(released)
    out: dict[str, list[Markup]] = {}
    for key, measure in (rel.data.get("measures") or {}).items():
        if not isinstance(measure, dict):
            continue
        reported = bool(measure.get("reported", True))
        out[key] = ([hundred_sentence(rel, key, measure)] if reported else []) + [
            effect_sentence(rel, key, measure)]
    return out


#: The released probability of benefit's caps (``jdl.inference._benefit.BAND_CAP`` and
#: ``BAND_FLOOR``; the report imports no stage, a test checks they agree).
BENEFIT_CAP, BENEFIT_FLOOR = 0.99, 0.01


def probability_text(p: float) -> str:
    """A released (banded) probability in words: "85%", "more than 99%", "less than 1%"."""
    if p >= BENEFIT_CAP:
        return f"more than {round(100 * BENEFIT_CAP)}%"
    if p <= BENEFIT_FLOOR:
        return f"less than {round(100 * BENEFIT_FLOOR)}%"
    return f"{round(100 * p)}%"


def _chance(p: float) -> str:
    """"an 85% chance", "a 60% chance", "a more than 99% chance" (banded values)."""
    text = probability_text(p)
    return f"{'an' if text.startswith(('8', '11', '18')) else 'a'} {text} chance"


def benefit_sentences(benefit: Mapping[str, Any] | None) -> list[str]:
    """The probability of benefit in words, beside the verdict (issue 20), from the released
    (banded) figures: the chance of a reduction and of a reduction of at least the stated
    amount, the prior it assumes, and the answer under the other priors. Empty when it is
    not shown (it is hidden with the headline)."""
    if not benefit or is_missing(benefit.get("probability")):
        return []
    p, p_by, delta = benefit.get("probability"), benefit.get("probability_by"), benefit.get(
        "delta")
    first = f"We estimate {_chance(float(p))} that the programme reduced re-offending"
    if not is_missing(p_by) and not is_missing(delta):
        points = f"{100 * float(delta):.1f}".rstrip("0").rstrip(".")
        first += (f", and {_chance(float(p_by))} that it reduced it by at least {points} "
                  f"percentage point{'' if points == '1' else 's'}")
    prior = benefit.get("prior") or {}
    out = [first + ".",
           f"This combines the result above with a starting assumption (a 'prior'): "
           f"{prior.get('description') or 'a weakly informative prior'}."]
    others = [f"{_probability(r.get('probability'))} with a {str(r.get('label', '')).lower()}"
              for r in benefit.get("sensitivity") or []
              if isinstance(r, Mapping) and not is_missing(r.get("probability"))]
    if others:
        listed = others[0] if len(others) == 1 else ", ".join(others[:-1]) + " and " + others[-1]
        out.append("With other starting assumptions the chance of a reduction would be "
                   + listed + ".")
    out.append("Unlike the verdict, this is a probability about this programme; it assumes, "
               "as the confidence interval does, that the comparison group is a fair one.")
    return out


def _probability(p: Any) -> str:
    return probability_text(float(p))

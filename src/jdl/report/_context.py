"""Turn released results into the template's context: formatted cells, sentences and charts.

All decisions about wording and formatting are made here, in Python that tests can reach, so the
template only lays things out. Nothing here computes a new statistic from people-level data (the
report has none); the few derived figures (percentages of a profile, the share submitted) are
computed from released, already rounded numbers only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from jdl.core.index_types import follow_up_start
from jdl.report import _charts, _glossary
from jdl.report._errors import ReportError
from jdl.report._glossary import explain, term
from jdl.report._values import (
    Released,
    covariate_name,
    fmt_count,
    fmt_number,
    fmt_p,
    fmt_text,
    fmt_yes_no,
    humanise,
    is_missing,
    level_name,
    mark,
)
from jdl.report._wording import (
    COMPARISON,
    INCONCLUSIVE_MEANING,
    RATE_KEY,
    TREATED,
    benefit_sentences,
    better_note,
    ci_text,
    e_value_sentence,
    effect_sentence,
    hundred_sentence,
    is_better,
    people_needed,
    power_sentences,
    rosenbaum_sentence,
    scale_for,
    status,
    what_for,
)

LAB_NAME = "Justice Data Lab"

#: Who readers should contact about a report, unless the caller names the lab's own address
#: (``ReportSettings.contact``); a deployment sets its own.
LAB_CONTACT = "the Justice Data Lab team, justice.datalab@example.org"

#: Tables longer than this may break across printed pages (shorter ones are kept whole).
LONG_TABLE_ROWS = 20

#: Share of eligible participants left unmatched above which the report says so plainly.
LARGE_UNMATCHED_SHARE = 0.1

_BASIS = {
    "all_participants": "all the people it worked with in the period",
    "completers_only": "only the people who completed the programme",
    "other": "people chosen in some other way",
}

_PROFILE_TITLES = {
    "sex": "Sex",
    "age_band": "Age at the index date",
    "ethnicity": "Ethnicity",
    "nationality": "Nationality",
    "index_offence_group": "Index offence group",
}

_METHODS = {
    "nearest": "nearest-neighbour matching",
    "optimal": "optimal pair matching",
    "full": "full matching",
    "subclass": "subclassification",
    "exact": "exact matching",
}

_DISTANCES = {"glm": "a propensity score from logistic regression",
              "mahalanobis": "Mahalanobis distance"}

_RULE_NAMES = {
    "min_count": "Numbers of people below this are not shown",
    "threshold": "Numbers of people below this are not shown",
    "rounding_base": "Other numbers of people are rounded to the nearest",
    "suppress_complement": "Rates are also hidden where fewer people than that did not have "
                           "the outcome",
    "secondary_suppression": "Further numbers are hidden so that no total reveals a hidden one",
    "min_at_risk": "Points on the re-offending curves need at least this many people at risk",
    "unknown_fields": "Results the rules do not recognise are",
    "differencing_min": "Cohorts differing from an earlier one of the same organisation by fewer "
                        "than this many people are refused",
    "decision_band": "Near the minimum group size, whether a request is answered is decided "
                     "on the rounded count against a threshold drawn for each request from "
                     "the minimum up to this many people more",
}


def _rule_value(value: Any) -> str:
    """Rule settings as words: booleans as Yes/No, lists joined, the rest as given."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if value == "refuse":
        return "refused (nothing is released)"
    if value == "suppress":
        return "hidden"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "(none)"
    return fmt_text(value)


def long_date(stamp: Any) -> str:
    """An ISO timestamp as "24 November 2026" (GOV.UK date style); anything else as given."""
    if not stamp:
        return "Not stated"
    try:
        when = datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    return f"{when.day} {when:%B %Y}"


def title_block(rel: Released, lab_name: str) -> dict[str, Any]:
    """The report's facts: the title, the programme, and (for the technical annex only) the
    versions that make the report reproducible."""
    prog = rel.get("programme", default={}) or {}
    start, end = prog.get("delivery_start"), prog.get("delivery_end")
    period = f"{long_date(start)} to {long_date(end)}" if start and end else "Not stated"
    return {
        "organisation": fmt_text(prog.get("organisation")),
        "programme": fmt_text(prog.get("programme_name")),
        "lab_name": lab_name,
        "date": long_date(rel.get("generated_at")),
        "cutoff": long_date(rel.get("data_cutoff")),
        "period": period,
        "config_hash": fmt_text(rel.get("config_hash")),
        "facts": [
            ("Organisation", fmt_text(prog.get("organisation"))),
            ("Programme", fmt_text(prog.get("programme_name"))),
            ("Type of support", humanise(fmt_text(prog.get("intervention_type")))),
            ("Setting", humanise(fmt_text(prog.get("setting")))),
            ("Region", fmt_text(prog.get("region"))),
            ("How people were referred", fmt_text(prog.get("referral_route"))),
            ("Delivery period", period),
        ],
        "description": prog.get("description"),
        # what the one-year follow-up starts from, for this programme's setting (one definition
        # per index type: jdl.core.index_types)
        "follow_up_start": follow_up_start(prog.get("setting")),
        # the organisation's own words (issue 20), as paragraphs; escaped by the template
        "own_words": [p.strip() for p in str(prog.get("own_words") or "").split("\n\n")
                      if p.strip()],
        "versions": [
            ("Report produced by", lab_name),
            ("Date of report", long_date(rel.get("generated_at"))),
            ("Data version", fmt_text(rel.get("data_version"))),
            ("Data cut-off", long_date(rel.get("data_cutoff"))),
            ("Software version", fmt_text(rel.get("software_version"))),
            ("Configuration hash", fmt_text(rel.get("config_hash"))),
            ("Random seed", fmt_text(rel.get("seed"))),
            ("Results schema", fmt_text(rel.get("schema_version"))),
        ],
        "overrides": [(fmt_text(o.get("setting")), fmt_text(o.get("value")),
                       fmt_text(o.get("lab_value")))
                      for o in (rel.get("analysis_overrides", default=[]) or [])],
    }


def selective_block(rel: Released) -> dict[str, Any]:
    """Item 5 of issue 7: state the share submitted, and the selective-sample concern once.

    The concern is decided once, by intake's rule (:func:`jdl.intake.selection_concerns`), and
    released as ``selective_sample.warning``; the report shows that sentence and never words
    the concern again.
    """
    ss = rel.get("selective_sample", default={}) or {}
    prog = rel.get("programme", default={}) or {}
    basis = ss.get("selection_basis") or prog.get("selection_basis")
    declared = ss.get("declared_participants", prog.get("declared_participants"))
    share = ss.get("share_submitted")
    reasons = [str(ss["warning"])] if ss.get("warning") else []
    path = ("selective_sample",)
    share_text = fmt_number(rel, share, (*path, "share_submitted"), digits=0, scale=100,
                            suffix="%")
    basis_text = escape(_BASIS.get(str(basis), "people chosen in a way not stated"))
    statement = Markup(
        f"The organisation told us it worked with "
        f"{fmt_count(rel, declared, (*path, 'declared_participants'))} people in the period and "
        f"that the file lists {basis_text}. It submitted "
        f"{fmt_count(rel, ss.get('submitted'), (*path, 'submitted'))} records "
        f"(share submitted: {share_text}).")
    return {"show": bool(reasons), "reasons": reasons, "statement": statement}


def measure_view(rel: Released, key: str, with_chart: bool) -> dict[str, Any]:
    """Everything the template shows for one measure: sentences, table cells and its chart.

    A measure listed as headline or extended but absent from ``measures`` is a broken results
    dict and is refused; one the disclosure stage replaced by ``null`` is shown as not reported.
    """
    measures = rel.get("measures", default={}) or {}
    if key not in measures:
        raise ReportError(f"measure '{key}' is listed but missing from the released measures.")
    m = measures[key]
    if m is None:
        m = {"label": humanise(key), "reported": False,
             "reason_not_reported": "Suppressed to protect the people in the analysis."}
    if not isinstance(m, dict):
        raise ReportError(f"measure '{key}' must be an object, not {type(m).__name__}.")
    path = ("measures", key)
    scale = scale_for(m, key)
    label, css = status(m)
    reported = bool(m.get("reported", True))
    num = {"scale": scale.factor, "digits": scale.digits}
    view = {
        "key": key,
        "reoffenders_only": m.get("population") == "reoffenders",
        "label": fmt_text(m.get("label"), humanise(key)),
        "what": what_for(key, m),
        "unit": scale.unit,
        "status": label,
        "status_class": css,
        "reported": reported,
        "reason": m.get("reason_not_reported") or "The lab's reporting rules were not met.",
        "hundred": hundred_sentence(rel, key, m) if reported else None,
        "effect": effect_sentence(rel, key, m),
        "treatment": fmt_number(rel, m.get("treatment"), (*path, "treatment"), **num),
        "comparison": fmt_number(rel, m.get("comparison"), (*path, "comparison"), **num),
        "difference": fmt_number(rel, m.get("difference"), (*path, "difference"), signed=True,
                                 **num),
        "ci": ci_text(rel, key, m),
        "p": fmt_p(rel, m.get("p_value"), (*path, "p_value")),
        "significant": fmt_yes_no(rel, m.get("significant"), (*path, "significant")),
        "treatment_n": fmt_count(rel, m.get("treatment_n"), (*path, "treatment_n")),
        "comparison_n": fmt_count(rel, m.get("comparison_n"), (*path, "comparison_n")),
        "treatment_events": fmt_count(rel, m.get("treatment_events"), (*path, "treatment_events")),
        "better": better_note(key, m),
        "chart": _charts.measure_chart(key, m) if with_chart and reported else None,
        "groups": _group_intervals(rel, m, path, num, scale.unit) if reported else None,
        "adjusted": _adjusted_sentence(rel, m, path, num, scale.unit) if reported else None,
    }
    return view


def _group_intervals(rel: Released, m: dict[str, Any], path: tuple[str, ...],
                     num: dict[str, Any], unit: str) -> Markup | None:
    """Each group's value with its own 95% interval (as the JDL's tables show them), when
    released."""
    parts = []
    for side, name in (("treatment", TREATED.capitalize()), ("comparison", COMPARISON)):
        lo, hi = m.get(f"{side}_ci_low"), m.get(f"{side}_ci_high")
        if is_missing(m.get(side)) or is_missing(lo) or is_missing(hi):
            return None
        low = fmt_number(rel, lo, (*path, f"{side}_ci_low"), **num)
        high = fmt_number(rel, hi, (*path, f"{side}_ci_high"), **num)
        parts.append(f"{name}: {fmt_number(rel, m.get(side), (*path, side), **num)} "
                     f"(95% confidence interval {low} to {high})")
    return Markup("; ".join(parts) + f" ({unit}).")


def _adjusted_sentence(rel: Released, m: dict[str, Any], path: tuple[str, ...],
                       num: dict[str, Any], unit: str) -> Markup | None:
    """The covariate-adjusted difference (g-computation), when released; else why the lab
    gives none, when its outcome model could not be estimated reliably."""
    d, lo, hi = (m.get(k) for k in ("adjusted_difference", "adjusted_ci_low",
                                    "adjusted_ci_high"))
    if is_missing(d) or is_missing(lo) or is_missing(hi):
        declined = m.get("adjustment_declined")
        if not declined:
            return None
        reason = str(declined).removeprefix("No adjusted estimate: ")
        return Markup("No difference adjusted for the characteristics used in matching is "
                      "given (a model of the outcome on the matched groups, as a check on the "
                      "comparison): {}").format(reason)
    signed = {**num, "signed": True}
    return Markup(
        "Adjusted for the characteristics used in matching (a model of the outcome on the "
        "matched groups, as a check on the comparison), the difference is "
        f"{fmt_number(rel, d, (*path, 'adjusted_difference'), **signed)} "
        f"(95% confidence interval {fmt_number(rel, lo, (*path, 'adjusted_ci_low'), **signed)} "
        f"to {fmt_number(rel, hi, (*path, 'adjusted_ci_high'), **signed)}; {unit}).")


def can_say(headline: list[dict[str, Any]]) -> list[str]:
    """One cautious sentence per headline measure for "What you can say".

    Lower is better for re-offending rates and frequencies; for days to first re-offence a
    longer time is better, so the direction word depends on the measure's unit.
    """
    out = []
    for m in headline:
        label = m["what"]
        if not m["reported"]:
            continue
        if m["status_class"] == "status-sig":
            higher = m["status"].endswith("increase")
            word = "higher" if higher else "lower"
            if m["unit"] == "days":
                word = "longer" if higher else "shorter"
            out.append(f"Among the people analysed, {label} was {word} for the {TREATED} "
                       f"than for the {COMPARISON}, and the difference is statistically "
                       "significant.")
        else:
            out.append(f"For {label}, there is not enough evidence to say whether the "
                       "programme made a difference.")
    return out


def measures_block(rel: Released, keys_field: str, with_chart: bool) -> list[dict[str, Any]]:
    """Views of the measures listed under ``headline_measures`` or ``extended_measures``."""
    keys = rel.get(keys_field, default=[]) or []
    return [measure_view(rel, k, with_chart) for k in keys]


def attrition_block(rel: Released) -> dict[str, Any]:
    """The chevron (chart and table) and the table of exclusion reasons."""
    steps = rel.get("attrition", default=[]) or []
    rows = [{"step": fmt_text(s.get("step")),
             "n": fmt_count(rel, s.get("n"), ("attrition", i, "n"))} for i, s in enumerate(steps)]
    exclusions = rel.get("exclusions", default={}) or {}
    excl = [{"reason": reason, "n": fmt_count(rel, n, ("exclusions", reason))}
            for reason, n in exclusions.items()]
    counts = rel.get("counts", default={}) or {}
    link_rows = [(label, fmt_count(rel, counts.get(k), ("counts", k))) for k, label in (
        ("linked_by_id", "Linked using identifiers (such as a PNC number)"),
        ("linked_probabilistically", "Linked by comparing names and dates of birth"),
        ("not_found", "Not found in the national records"),
        ("ambiguous", "More than one possible match (not linked)"),
        ("possibly_missed", "Not linked, but probably in the national records (estimated by "
                            "the linkage model: people who may not have been found)"),
        ("duplicates", "Duplicate rows"),
        ("comparison_pool_n", "People available for the comparison group"),
    ) if k in counts]
    return {"chart": _charts.attrition_chart(steps) if steps else None, "rows": rows,
            "exclusions": excl, "link_rows": link_rows}


def profile_block(rel: Released) -> list[dict[str, Any]]:
    """One table per characteristic; percentages only when every count in it was released."""
    profile = rel.get("profile", default={}) or {}
    tables = []
    for dim, levels in profile.items():
        if not isinstance(levels, dict):
            continue
        values = list(levels.values())
        complete = all(not is_missing(v) for v in values) and sum(values) > 0
        total = sum(values) if complete else 0
        rows = [{"level": level_name(level, dim),
                 "n": fmt_count(rel, n, ("profile", dim, level)),
                 "pct": f"{100 * n / total:.0f}%" if complete else None}
                for level, n in levels.items()]
        tables.append({"dim": dim, "title": _PROFILE_TITLES.get(dim, humanise(dim)),
                       "rows": rows, "complete": complete})
    return tables


def _smd_cell(rel: Released, value: Any, path: tuple, threshold: float) -> dict[str, Any]:
    flagged = not is_missing(value) and abs(value) >= threshold
    return {"text": fmt_number(rel, value, path, digits=3, signed=True), "flag": flagged}


def matching_block(rel: Released, threshold: float) -> dict[str, Any]:
    """Balance table, Love plot, the settings used, the quality verdict and common support."""
    balance = rel.get("balance", default=[]) or []
    rows = []
    for i, b in enumerate(balance):
        p = ("balance", i)
        rows.append({
            "covariate": covariate_name(b.get("covariate", "")),
            "before": _smd_cell(rel, b.get("smd_before"), (*p, "smd_before"), threshold),
            "after": _smd_cell(rel, b.get("smd_after"), (*p, "smd_after"), threshold),
            "vr": fmt_number(rel, b.get("variance_ratio_after"), (*p, "variance_ratio_after"),
                             digits=2),
        })
    m = rel.get("matching", default={}) or {}
    settings = []
    if m:
        method = _METHODS.get(str(m.get("method")), humanise(fmt_text(m.get("method"))))
        distance = _DISTANCES.get(str(m.get("distance")), fmt_text(m.get("distance")))
        nearest = m.get("method") == "nearest"
        settings = [("Method", f"{method[:1].upper()}{method[1:]} on {distance}"
                     if nearest else f"{method[:1].upper()}{method[1:]}")]
        if m.get("design"):
            settings.append(("Design", fmt_text(m.get("design"))))
        if m.get("design_rule"):
            settings.append(("How the design was chosen", fmt_text(m.get("design_rule"))))
        settings += [("Comparison people per participant",
                      fmt_text(m.get("ratio")) if nearest
                      else "varies (each comparison person is weighted)"),
                     ("Comparison people reused (with replacement)",
                      "Yes" if m.get("replace") else "No")]
        if not is_missing(m.get("caliper")):
            unit = (" standard deviations of the (logit) propensity score"
                    if m.get("std_caliper") else "")
            settings.append(("Caliper (how different a match may be)", f"{m['caliper']:g}{unit}"))
        if m.get("exact"):
            exact = ", ".join(covariate_name(x) for x in m["exact"])
            settings.append(("Matched exactly on", exact))
        restricted = {k: v for k, v in (m.get("comparison_restricted_to") or {}).items()
                      if v is not None}
        if restricted:
            settings.append(("Comparison people drawn only from", "; ".join(
                f"{covariate_name(k).lower()} {v}" for k, v in restricted.items())))
        settings += [
            ("Participants matched", fmt_count(rel, m.get("treated_matched"),
                                               ("matching", "treated_matched"))),
            ("Participants without a match", fmt_count(rel, m.get("treated_unmatched"),
                                                       ("matching", "treated_unmatched"))),
            ("Comparison people used", fmt_count(rel, m.get("controls_matched"),
                                                 ("matching", "controls_matched"))),
            *([("Effective size of the comparison group (what its weighted people are "
                "worth)", fmt_count(rel, m.get("comparison_ess"),
                                    ("matching", "comparison_ess")))]
              if not is_missing(m.get("comparison_ess"))
              or rel.is_suppressed("matching", "comparison_ess") else []),
            ("Largest standardised difference after matching",
             fmt_number(rel, m.get("max_abs_smd_after"), ("matching", "max_abs_smd_after"),
                        digits=3)),
        ]
    unmatched = m.get("treated_unmatched")
    if is_missing(unmatched) and "treated_unmatched" in m:
        support = Markup(f"Some participants ({mark()}) had no similar enough person in the "
                         "comparison pool and were left out of the analysis.")
    elif not is_missing(unmatched) and unmatched > 0:
        support = Markup(f"{unmatched:,.0f} participants had no similar enough person in the "
                         "comparison pool (they were outside the area of common support) and were "
                         "left out. The results describe the participants who could be matched.")
        matched = m.get("treated_matched")
        if not is_missing(matched) and unmatched / (unmatched + matched) >= LARGE_UNMATCHED_SHARE:
            share = unmatched / (unmatched + matched)
            support += Markup(f" That is about {share:.0%} of the eligible participants, a large "
                              "share: the people left out may differ from those analysed, so the "
                              "results may not describe everyone the programme worked with.")
    elif unmatched == 0:
        support = Markup("Every eligible participant had a similar enough comparison person "
                         "(all were inside the area of common support).")
    else:
        support = None
    return {
        "rows": rows,
        "threshold": threshold,
        "any_flag": any(r["after"]["flag"] for r in rows),
        "long": len(rows) > LONG_TABLE_ROWS,
        "chart": _charts.love_plot(balance, threshold) if balance else None,
        "settings": settings,
        "quality": fmt_text(m.get("quality"), "not stated"),
        "quality_rule": m.get("quality_rule"),
        "support": support,
    }


def sensitivity_block(rel: Released) -> dict[str, Any]:
    """The specification spread (table and forest chart) and the hidden-bias measures."""
    sens = rel.get("sensitivity", default={}) or {}
    specs = sens.get("specifications") or []
    rate = rel.get("measures", RATE_KEY, default={}) or {"unit": "proportion"}
    scale = scale_for(rate)
    rows = []
    for i, s in enumerate(specs):
        p = ("sensitivity", "specifications", i)
        num = {"scale": scale.factor, "digits": scale.digits, "signed": True}
        rows.append({
            "label": fmt_text(s.get("label")),
            "difference": fmt_number(rel, s.get("difference"), (*p, "difference"), **num),
            "ci": Markup(f"({fmt_number(rel, s.get('ci_low'), (*p, 'ci_low'), **num)} to "
                         f"{fmt_number(rel, s.get('ci_high'), (*p, 'ci_high'), **num)})"),
            "p": fmt_p(rel, s.get("p_value"), (*p, "p_value")),
            "treatment_n": fmt_count(rel, s.get("treatment_n"), (*p, "treatment_n")),
            "comparison_n": fmt_count(rel, s.get("comparison_n"), (*p, "comparison_n")),
        })
    return {
        "rows": rows,
        "unit": scale.unit,
        "measure_label": fmt_text(rate.get("label"), "proven re-offending rate"),
        "chart": _charts.forest_chart(specs, rate) if specs else None,
        "e_value": e_value_sentence(sens.get("e_value"), bool(rate.get("significant"))),
        "rosenbaum": rosenbaum_sentence(sens.get("rosenbaum"), bool(rate.get("significant"))),
        "present": bool(sens),
    }


def subgroup_block(rel: Released, *, registered: bool = False) -> dict[str, Any]:
    """Exploratory sub-group rows (or, with ``registered``, the organisation's registered
    sub-analyses); groups that were not analysed keep their stated reason."""
    every = rel.get("subgroups", default=[]) or []
    groups = [g for g in every if bool(g.get("registered")) is registered]
    reported, not_reported = [], []
    keys = {g.get("measure") or RATE_KEY for g in groups}
    first = rel.get("measures", sorted(keys)[0] if keys else "", default={}) or {}
    label = fmt_text(first.get("label"), "one-year proven re-offending rate")
    measure_label = label[:1].lower() + label[1:] if len(keys) <= 1 else "measures shown"
    for i, g in enumerate(every):
        if bool(g.get("registered")) is not registered:
            continue
        p = ("subgroups", i)
        measure = rel.get("measures", g.get("measure") or RATE_KEY,
                          default={}) or {"unit": "proportion"}
        scale = scale_for(measure)
        num = {"scale": scale.factor, "digits": scale.digits, "signed": True}
        base = {"dimension": _PROFILE_TITLES.get(g.get("dimension"), humanise(
            fmt_text(g.get("dimension")))),
            "level": level_name(fmt_text(g.get("level")), g.get("dimension")),
            "treatment_n": fmt_count(rel, g.get("treatment_n"), (*p, "treatment_n"))}
        if g.get("reason_not_reported"):
            not_reported.append({**base, "reason": g["reason_not_reported"]})
            continue
        reported.append({
            **base,
            "comparison_n": fmt_count(rel, g.get("comparison_n"), (*p, "comparison_n")),
            "difference": fmt_number(rel, g.get("difference"), (*p, "difference"), **num),
            "ci": Markup(f"({fmt_number(rel, g.get('ci_low'), (*p, 'ci_low'), **num)} to "
                         f"{fmt_number(rel, g.get('ci_high'), (*p, 'ci_high'), **num)})"),
            "p": fmt_p(rel, g.get("p_value"), (*p, "p_value")),
            "p_adjusted": fmt_p(rel, g.get("p_adjusted"), (*p, "p_adjusted")),
            "significant": fmt_yes_no(rel, g.get("significant"), (*p, "significant")),
            "unit": scale.unit,
        })
    return {"reported": reported, "not_reported": not_reported, "present": bool(groups),
            "measure_label": measure_label}


def registration_block(rel: Released) -> dict[str, Any]:
    """The organisation's registered plan (issue 20): its text and SHA-256 as registered before
    the evaluation, its primary measure, the registered sub-analyses (each matched afresh) and
    the dose-response trend. Everything else in the report is exploratory."""
    reg = rel.get("registration", default=None) or {}
    if not reg:
        return {"present": False}
    primary = rel.get("measures", reg.get("primary_measure"), default={}) or {}
    dose = reg.get("dose_response") or None
    trend = None
    if dose:
        scale = scale_for({"unit": "proportion"})
        num = {"scale": scale.factor, "digits": scale.digits, "signed": True}
        base = ("registration", "dose_response")
        trend = {
            "variable": humanise(fmt_text(dose.get("variable"))),
            "method": fmt_text(dose.get("method")),
            "reason": dose.get("reason_not_reported"),
            "shown": dose.get("slope") is not None,
            "slope": fmt_number(rel, dose.get("slope"), (*base, "slope"), **num),
            "ci": Markup(f"({fmt_number(rel, dose.get('ci_low'), (*base, 'ci_low'), **num)} to "
                         f"{fmt_number(rel, dose.get('ci_high'), (*base, 'ci_high'), **num)})"),
            "p": fmt_p(rel, dose.get("p_value"), (*base, "p_value")),
            "unit": scale.unit,
        }
    return {
        "present": True,
        "text": fmt_text(reg.get("text")),
        "sha256": fmt_text(reg.get("sha256")),
        "primary": fmt_text(primary.get("label"), humanise(fmt_text(
            reg.get("primary_measure")))),
        "sub_analyses": [_PROFILE_TITLES.get(s, humanise(fmt_text(s)))
                         for s in reg.get("sub_analyses") or []],
        "rows": subgroup_block(rel, registered=True),
        "dose": trend,
    }


def registration_summary(released: Any) -> dict[str, Any]:
    """The registered plan as the report prints it (:func:`registration_block`), for pages
    that summarise a report (the catalogue's), so the two never show it differently."""
    return registration_block(Released.from_dict(released))


def disclosure_block(rel: Released) -> dict[str, Any]:
    """The disclosure stage's rules and notes, which explain every ``[c]`` in the report."""
    d = rel.get("disclosure", default={}) or {}
    rules = d.get("rules") or {}
    return {
        "rules": [(_RULE_NAMES.get(k, humanise(k)), _rule_value(v)) for k, v in rules.items()],
        "notes": [str(n) for n in d.get("notes") or []],
        "n_suppressed": len(d.get("suppressed") or []),
    }


def _verdict(rate: dict[str, Any] | None) -> str:
    """The headline rate's result as one word: ``better``, ``worse``, ``inconclusive`` or
    ``not-reported`` (the summary's advice depends on it)."""
    if not rate or not rate.get("reported", True) or is_missing(rate.get("difference")):
        return "not-reported"
    if not rate.get("significant"):
        return "inconclusive"
    return "better" if is_better(RATE_KEY, float(rate["difference"])) else "worse"


def _range_words(rel: Released, rate: dict[str, Any]) -> Markup | None:
    """The headline rate's 95% interval in words ("between 7 fewer and 2 more people in every
    100"), from the same whole numbers as the findings' sentences."""
    lo, hi = rate.get("ci_low"), rate.get("ci_high")
    if is_missing(lo) or is_missing(hi):
        return None

    def side(x: float) -> str:
        n = round(abs(x) * 100)
        if n == 0:
            return "no difference"
        return f"{n:,} {'fewer' if x < 0 else 'more'}"

    low, high = side(float(lo)), side(float(hi))
    return Markup(f"between {low} and {high} people in every 100 re-offending")


def summary_block(rel: Released, headline: list[dict[str, Any]], lab_name: str,
                  contact: str) -> dict[str, Any]:
    """The one-page summary for funders: what was compared, what was found, how sure the lab
    is, what to do next, who to contact and the data cut-off.

    Every number is the one the findings print (the same released value through the same
    formatter), and every technical term is explained in brackets and linked to the glossary,
    so the page can be read on its own. The advice depends on the headline rate's result.
    """
    prog = rel.get("programme", default={}) or {}
    rate = rel.get("measures", RATE_KEY, default={}) or {}
    view = next((m for m in headline if m["key"] == RATE_KEY), None)
    path = ("measures", RATE_KEY)
    n_t = fmt_count(rel, rate.get("treatment_n"), (*path, "treatment_n"))
    n_c = fmt_count(rel, rate.get("comparison_n"), (*path, "comparison_n"))
    org = escape(fmt_text(prog.get("organisation")))
    programme = escape(fmt_text(prog.get("programme_name")))
    start, end = prog.get("delivery_start"), prog.get("delivery_end")
    when = (f" between {escape(long_date(start))} and {escape(long_date(end))}"
            if start and end else "")
    submitted = rel.get("counts", "submitted")
    sent = ""
    if not is_missing(submitted):
        sent = (f" {org} sent details of {fmt_count(rel, submitted, ('counts', 'submitted'))} "
                "people; the others could not be analysed (the findings say why).")
    compared = Markup(
        f"The {escape(lab_name)} compared {n_t} people who took part in {programme}, run by "
        f"{org}{when}, with {n_c} similar people from the national records who did not take "
        "part. "
        f"We call the first group the {explain('participants')} and the second the "
        f"{explain('comparison-group')}. The two groups were alike in age, sex, offending "
        f"history and other recorded characteristics before the programme started.{sent}")
    verdict = _verdict(rate)
    found: list[Markup] = []
    if verdict != "not-reported":
        t = fmt_number(rel, rate.get("treatment"), (*path, "treatment"), scale=100, digits=0)
        c = fmt_number(rel, rate.get("comparison"), (*path, "comparison"), scale=100, digits=0)
        found.append(Markup(
            f"Within one year, {t} in every 100 {TREATED} had a "
            f"{explain('proven-reoffending', 'proven re-offence')}, compared with {c} in every "
            f"100 people in the {COMPARISON}."))
    elif view is not None:
        found.append(Markup(f"The one-year re-offending rate could not be reported. "
                            f"{escape(view['reason'])}"))
    sig = explain("significant")
    found.append({
        "better": Markup(f"This fall is {sig}: the programme is likely to have reduced "
                         "re-offending among people like those analysed."),
        "worse": Markup(f"This rise is {sig}: the {TREATED} re-offended more than similar "
                        "people who did not take part."),
        "inconclusive": Markup(f"The result is {explain('inconclusive')}. This does not mean "
                               "the programme has no effect."),
        "not-reported": Markup(""),
    }[verdict])
    others = [m for m in headline if m["key"] != RATE_KEY]
    if others:
        # each term explained once on the page: the headline's verdict may have done it
        explained = {"inconclusive": verdict == "inconclusive",
                     "significant": verdict in ("better", "worse")}
        parts = []
        for m in others:
            result = escape(m["status"].lower())
            if m["status_class"] == "status-inc" and not explained["inconclusive"]:
                result, explained["inconclusive"] = explain("inconclusive"), True
            elif m["status_class"] == "status-sig" and not explained["significant"]:
                direction = "increase" if m["status"].endswith("increase") else "decrease"
                result = Markup(f"{explain('significant')} {direction}")
                explained["significant"] = True
            parts.append(f"{escape(m['label'][:1].lower() + m['label'][1:])}: {result}")
        found.append(Markup("The other measures in this report: " + "; ".join(parts) + "."))
    words = _range_words(rel, rate) if verdict != "not-reported" else None
    how_sure = None
    if words is not None:
        how_sure = Markup(
            f"The true effect of the programme is probably {words}. This range is the "
            f"95% {explain('confidence-interval')}. A larger group of {TREATED} gives a "
            "narrower range.")
    needed = people_needed(rel.get("power"), rate)
    next_steps = {
        "better": [
            "Use this result to show the programme's effect on re-offending for people like "
            "those analysed, quoting the numbers on this page.",
            "Keep records of everyone who takes part, so the lab can check that the result "
            "holds for later years.",
        ],
        "worse": [
            "Talk to the lab before drawing conclusions, and look at who was referred to the "
            "programme: the groups may differ in ways the records do not show.",
            "Review how the programme is delivered, and ask the lab to look again once changes "
            "have been made.",
        ],
        "inconclusive": [
            "Ask the lab again when you have more people: pool more years of participants, or "
            "join with partners who run a similar programme."
            + (f" About {needed} {TREATED} would be needed to tell whether a fall as large as "
               "this one is real." if needed else ""),
            "Do not describe the programme as failing: the analysis could not tell either "
            "way.",
        ],
        "not-reported": [
            "Talk to the lab about pooling more years of participants, or joining with "
            "partners, so that the result can be reported.",
        ],
    }[verdict]
    next_steps.append("Do not compare this result with other reports: each one looks at "
                      "different people.")
    return {
        "compared": compared,
        "found": [f for f in found if f],
        "verdict": verdict,
        "how_sure": how_sure,
        "next_steps": next_steps,
        "contact": contact,
        "cutoff": long_date(rel.get("data_cutoff")),
        "cutoff_term": explain("data-cut-off", "Data cut-off"),
    }


def build_context(rel: Released, *, lab_name: str = LAB_NAME,
                  smd_threshold: float = 0.1, contact: str = LAB_CONTACT) -> dict[str, Any]:
    """The whole template context: the summary page, the findings, then the technical annex."""
    headline = measures_block(rel, "headline_measures", with_chart=True)
    inconclusive = any(v["reported"] and v["status_class"] != "status-sig" for v in headline)
    rate = rel.get("measures", RATE_KEY)
    return {
        "summary": summary_block(rel, headline, lab_name, contact),
        "glossary": _glossary.GLOSSARY,
        "term": term,
        "inconclusive_meaning": INCONCLUSIVE_MEANING,
        "title": title_block(rel, lab_name),
        "selective": selective_block(rel),
        "warnings": [str(w) for w in rel.get("warnings", default=[]) or []],
        "headline": headline,
        "can_say": can_say(headline),
        "extended": measures_block(rel, "extended_measures", with_chart=False),
        "survival": _charts.survival_chart(rel.get("survival")) if rel.get("survival") else None,
        "attrition": attrition_block(rel),
        "profile": profile_block(rel),
        "matching": matching_block(rel, smd_threshold),
        "sensitivity": sensitivity_block(rel),
        "power": power_sentences(rel.get("power"), rate, inconclusive),
        "benefit": benefit_sentences(rel.get("benefit")),
        "inconclusive": inconclusive,
        "subgroups": subgroup_block(rel),
        "registration": registration_block(rel),
        "disclosure": disclosure_block(rel),
        "any_suppressed": rel.any_suppressed,
    }

"""The public register (issue 20): every request counted by outcome, every published headline
effect with its interval, the organisation's right of reply, and a pooled, caveated summary per
intervention type. Pure functions of plain records; the web app (``jdl.service._catalogue``)
reads the database and stores nothing of this that the publications do not already hold.

What the register may say, and why (think like an attacker):

* **Counts of requests, by outcome, for the whole lab only.** A count by intervention type,
  sector or organisation of requests that could not be answered, were withdrawn or are under
  review would say something about one organisation's private request wherever a cell holds
  one organisation (e.g. the only accommodation charity that ever asked). So only catalogue
  totals are published, and the test suite checks that no breakdown is.
* **As at the end of the last complete month**, not live: a total that moves the day after an
  organisation says it has sent its data would date its outcome. Published reports, which are
  public anyway, are listed as they appear.
* **Released values only.** The forest plot and the pooled summary read the publications'
  released (disclosure-controlled) differences and intervals, never anything lab-internal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from jdl.catalogue._summary import INTERVENTIONS, label

#: The register's outcomes, in the order the page and the export give them (the Justice Data
#: Lab's summary: requests, published, could not be answered, withdrawn; plus those still open).
OUTCOMES: dict[str, str] = {
    "published": "Published",
    "not_answerable": "Could not be answered",
    "withdrawn": "Withdrawn",
    "held": "Under review or not yet published",
}
#: Submission states (``jdl.service._models.SubmissionState``) -> register outcome. A reviewer's
#: decline is counted with the lab's "could not be answered" (no report was released); every
#: state still open (queued, running, held, awaiting review, approved and waiting for its
#: publication date, failed, sent back) is "under review or not yet published".
STATE_OUTCOMES: dict[str, str] = {
    "published": "published",
    "not_answerable": "not_answerable",
    "declined": "not_answerable",
    "withdrawn": "withdrawn",
}
#: The longest right of reply a page shows (characters), about a page of the report.
MAX_RESPONSE = 3000
Z95 = 1.959963984540054  # the 97.5% point of the standard normal: a 95% interval is ±Z95 SE


def outcome_of(state: str, publication_withdrawn: bool = False) -> str:
    """A request's register outcome from its state; a published report the lab withdrew later
    counts as withdrawn."""
    if state == "published" and publication_withdrawn:
        return "withdrawn"
    return STATE_OUTCOMES.get(state, "held")


def register_date(today: date) -> date:
    """The date the register's counts are as at: the last day of the last complete month."""
    return today.replace(day=1) - timedelta(days=1)


def end_of(day: date) -> datetime:
    """The last instant of ``day`` (UTC), for "as at" comparisons with stored timestamps."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1, microseconds=-1)


def count_outcomes(outcomes: Iterable[str]) -> dict[str, int]:
    """Every outcome's count (zeros included) and the total of requests."""
    counts = dict.fromkeys(OUTCOMES, 0)
    for outcome in outcomes:
        if outcome not in counts:
            raise ValueError(f"unknown register outcome {outcome!r}")
        counts[outcome] += 1
    return {**counts, "requests": sum(counts.values())}


# --- the forest plot ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Effect:
    """One published report's headline effect as released (a difference with its 95% CI)."""

    id: int
    label: str  # programme name, as published
    organisation: str
    intervention_type: str
    difference: float
    ci_low: float
    ci_high: float
    treatment_n: int | None
    result: str
    unit: str | None
    synthetic: bool = False

    @property
    def se(self) -> float:
        """The standard error an interval implies (half-width / z). The released intervals
        are Newcombe's, recomputed on rounded counts and a little asymmetric, so this is an
        approximation; the pooled summary says so."""
        return (self.ci_high - self.ci_low) / (2 * Z95)


def effects_of(pubs: Sequence[Any], measure: str) -> tuple[list[Effect], int]:
    """The headline effects with a released difference and interval (current publications
    only: the caller leaves out withdrawn and replaced ones), and how many were left out for
    want of one."""
    from jdl.catalogue._findings import finding_for

    out, missing = [], 0
    for p in pubs:
        f = finding_for(p.findings, measure) or {}
        values = [f.get("difference"), f.get("ci_low"), f.get("ci_high")]
        numbers = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
        if len(numbers) != 3:
            missing += 1
            continue
        out.append(Effect(id=p.id, label=str(p.programme_name), organisation=str(p.organisation),
                          intervention_type=str(p.intervention_type),
                          difference=numbers[0], ci_low=numbers[1],
                          ci_high=numbers[2], treatment_n=p.treatment_n,
                          result=str(f.get("result") or "not_reported"), unit=f.get("unit"),
                          synthetic=bool(getattr(p, "synthetic", False))))
    return out, missing


def forest_groups(effects: Sequence[Effect]) -> list[dict[str, Any]]:
    """Effects grouped by intervention type (types with most reports first, then by name),
    each group's reports in publication order. Plain data for the chart, the table and the
    export: differences and intervals as released (a proportion for a rate)."""
    groups: dict[str, list[Effect]] = {}
    for e in sorted(effects, key=lambda e: e.id):
        groups.setdefault(e.intervention_type, []).append(e)
    order = sorted(groups, key=lambda k: (-len(groups[k]), label(INTERVENTIONS, k)))
    return [{"key": k, "label": label(INTERVENTIONS, k),
             "rows": [{"id": e.id, "label": e.label, "organisation": e.organisation,
                       "difference": e.difference, "ci_low": e.ci_low, "ci_high": e.ci_high,
                       "treatment_n": e.treatment_n, "result": e.result,
                       "synthetic": e.synthetic} for e in groups[k]]}
            for k in order]


# --- the pooled evidence summary ---------------------------------------------------------------

#: A pooled summary is shown for an intervention type only with at least this many published
#: reports: with two, between-programme variation cannot be estimated at all usefully.
MIN_POOLED = 3


@dataclass(frozen=True)
class Pooled:
    """A random-effects pooled estimate (DerSimonian–Laird) for one intervention type."""

    intervention_type: str
    reports: int
    estimate: float
    ci_low: float
    ci_high: float
    tau2: float
    i2: float
    q: float
    q_p_value: float

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.intervention_type,
                "label": label(INTERVENTIONS, self.intervention_type), "reports": self.reports,
                "estimate": self.estimate, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "tau2": self.tau2, "i2": self.i2, "q": self.q, "q_p_value": self.q_p_value}


def pool(effects: Sequence[float], ses: Sequence[float], intervention_type: str = "") -> Pooled:
    """DerSimonian–Laird random-effects meta-analysis of ``effects`` with standard errors
    ``ses`` (:func:`jdl.inference._benefit.dersimonian_laird`), with the usual normal
    interval, mu ± 1.96 SE, and Cochran's Q test."""
    from scipy import stats

    from jdl.inference._benefit import dersimonian_laird  # lazily: the catalogue's pages
    from jdl.inference._errors import InferenceError  # need no inference stage to load

    try:
        res = dersimonian_laird(effects, ses)
    except InferenceError as exc:
        raise ValueError(exc.message) from exc
    return Pooled(intervention_type=intervention_type, reports=len(effects),
                  estimate=res.estimate, ci_low=res.estimate - Z95 * res.se,
                  ci_high=res.estimate + Z95 * res.se, tau2=res.tau2, i2=res.i2, q=res.q,
                  q_p_value=float(stats.chi2.sf(res.q, len(effects) - 1)))


def pooled_by_type(effects: Sequence[Effect], minimum: int = MIN_POOLED) -> list[dict[str, Any]]:
    """One pooled summary per intervention type with at least ``minimum`` published effects
    (real and synthetic reports are never pooled together: the synthetic ones are pooled on
    their own and marked), ordered by intervention type's name — never by the estimate, so it
    cannot be read as a ranking."""
    out = []
    for synthetic in (False, True):
        groups: dict[str, list[Effect]] = {}
        for e in effects:
            if e.synthetic == synthetic and e.se > 0:
                groups.setdefault(e.intervention_type, []).append(e)
        for key in sorted(groups, key=lambda k: label(INTERVENTIONS, k)):
            mine = groups[key]
            if len(mine) < minimum:
                continue
            pooled = pool([e.difference for e in mine], [e.se for e in mine], key)
            out.append({**pooled.as_dict(), "synthetic": synthetic,
                        "ids": [e.id for e in mine]})
    return out


def catalogue_prior(effects: Sequence[Effect], intervention_type: str, *,
                    exclude_id: int | None = None, synthetic: bool = False,
                    widen: bool = True) -> Any:
    """The probability of benefit's empirical-Bayes prior from these published effects
    (:func:`jdl.inference.catalogue_prior`, the one definition; its DerSimonian-Laird pool
    equals :func:`pool`): a :class:`jdl.inference.Prior`, or None."""
    from jdl.inference._benefit import catalogue_prior as prior_of

    return prior_of(effects, intervention_type, exclude_id=exclude_id, synthetic=synthetic,
                    widen=widen)


# --- the right of reply ------------------------------------------------------------------------

#: The longest reason the lab gives for withdrawing a published report (as for its other
#: reasons, ``jdl.service._review.MAX_REASON``).
MAX_REASON = 2000


def clean_text(text: object) -> str:
    """Free text as it is published: trimmed, line breaks kept (at most one blank line in a
    row), other control and format characters — which could hide text or reorder it on
    screen — removed."""
    import unicodedata

    raw = str(text or "").replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(ch for ch in raw if ch == "\n" or unicodedata.category(ch)[0] != "C")
    cleaned = "\n".join(line.strip() for line in kept.strip().split("\n"))
    while "\n\n\n" in cleaned:
        cleaned = cleaned.replace("\n\n\n", "\n\n")
    return cleaned


def clean_withdrawal_reason(text: object) -> str:
    """The lab's published reason for withdrawing a report: required, at most
    :data:`MAX_REASON` characters (:class:`ResponseProblem` otherwise)."""
    cleaned = clean_text(text)
    if not cleaned:
        raise ResponseProblem("Enter the reason for withdrawing the report.")
    if len(cleaned) > MAX_REASON:
        raise ResponseProblem(f"Shorten the reason to {MAX_REASON:,} characters or fewer "
                              f"(it has {len(cleaned):,}).")
    return cleaned


class ResponseProblem(ValueError):
    """The response cannot be published as given (the message says why, for the form)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def clean_response(text: object, results: Mapping[str, Any] | None,
                   disclosure: Any = None, *, what: str = "Your response") -> str | None:
    """The organisation's response as it will be published, or None when it is blank.

    Trimmed; line breaks kept, other control and format characters (which could hide text or
    reorder it on screen) removed; at most :data:`MAX_RESPONSE` characters; and, when the
    report's released results are given, scanned by the output checker's text check
    (:func:`jdl.disclosure.check_released_text`) like the report itself: a small or unrounded
    number beside a people word ("3 of our participants …") is refused, because the
    organisation may know counts the lab rounded or suppressed."""
    import json

    cleaned = clean_text(text)
    if not cleaned:
        return None
    if len(cleaned) > MAX_RESPONSE:
        raise ResponseProblem(f"Shorten {what.lower()} to {MAX_RESPONSE:,} characters or fewer "
                              f"(it has {len(cleaned):,}).")
    if results is not None:
        from jdl.core.config import DisclosureSettings
        from jdl.disclosure import check_released_text
        from jdl.disclosure._released import Released

        released = Released(results_json=json.dumps(dict(results)), audit=(),
                            settings=disclosure or DisclosureSettings())
        problems = [p.split(" (")[0] for p in check_released_text(cleaned, released)]
        problems += [n for n in _people_numbers(cleaned)
                     if _breaks_rules(n, released.settings) and n not in problems]
        if problems:
            shown = ", ".join(dict.fromkeys(problems[:3]))
            raise ResponseProblem(
                f"{what} gives a number of people ({shown}) that the lab's rules would "
                "not publish. Numbers of people must be at least "
                f"{released.settings.min_count} and rounded to the nearest "
                f"{released.settings.rounding_base}, as in the report; or describe them in "
                "words (\"a few\", \"most\").")
    return cleaned


#: A number a few words before a word for people ("3 of our participants", "7 young men"):
#: the lab's text check looks for the number right beside the word; a reply is free text, so
#: this looks a little further.
_PEOPLE_NUMBER = re.compile(
    r"(?<![\w.,])(\d[\d,]*)(?![\w.,]\d)(?:\s+[A-Za-z'’-]+){0,2}?\s+(?:people|persons?|"
    r"participants?|men|women|boys|girls|clients?|offenders?|individuals?|learners?|users?|"
    r"residents?|prisoners?|service users?|young people|adults?|children|mentees?|"
    r"families|of them|re-?offended|reoffended)\b", re.IGNORECASE)


def _people_numbers(text: str) -> list[str]:
    return [m.group(1) for m in _PEOPLE_NUMBER.finditer(text)]


def _breaks_rules(token: str, disclosure: Any) -> bool:
    """A count the lab would not release: below the minimum or not a multiple of the rounding
    base (a year, 1900-2100, is not a count)."""
    n = int(token.replace(",", ""))
    if 1900 <= n <= 2100:
        return False
    return n < disclosure.min_count or n % disclosure.rounding_base != 0

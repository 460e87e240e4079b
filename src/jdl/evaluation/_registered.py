"""The organisation's registered sub-analyses: each a separate matched analysis, Holm-controlled.

The registration (:class:`jdl.intake.Registration`) is fixed before the evaluation runs and
names the primary measure and the sub-analyses (the organisation's own declared variables, or
the lab's standard dimensions). For every level of every registered variable the participants
at that level are matched afresh, with the same design as the main analysis
(:func:`jdl.evaluation._evaluate._match_as_chosen`: under the power-first design its chosen
ratio, replacement and caliper, the score refitted on the sub-group), against the whole
comparison pool for the organisation's variables and against the pool at the same level for
the standard ones (a sub-group of women is compared with women). Holm's step-down adjustment
runs across every registered estimate (one family; the lab's exploratory sub-groups are
another). A registered count variable (attendance, sessions) is analysed by dosage band, with
a trend test across the bands (:func:`jdl.inference.dose_trend`).

An organisation chooses its sub-groups, so a sub-group that could single people out is not
analysed at all (:func:`jdl.inference.safe_groups`), before disclosure control applies its own
rules to what is released.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from jdl.core.errors import JDLError
from jdl.core.results import Kind, released

if TYPE_CHECKING:
    from jdl.inference import DoseResponse, SubgroupEstimate
    from jdl.intake import Registration


@dataclass(frozen=True)
class RegistrationSummary:
    """The registration as released: its canonical text and SHA-256 (printed in the report so
    anyone can check it), the primary measure, the registered sub-analyses and the
    dose-response trend when a dosage variable was registered."""

    text: str = released(Kind.LABEL)
    sha256: str = released(Kind.LABEL)
    primary_measure: str = released(Kind.LABEL)
    sub_analyses: tuple[str, ...] = released(Kind.LABEL)
    # a typed result (its own fields carry the kinds); left out when no dosage variable
    dose_response: DoseResponse | None = field(default=None,
                                               metadata={"omit_if_none": True})


@dataclass(frozen=True)
class Registered:
    """What the registered analyses add to the results: the summary and the estimate rows
    (``registered=True``) that join the sub-group table."""

    summary: RegistrationSummary
    rows: tuple[SubgroupEstimate, ...]


def registered_analyses(frame: pd.DataFrame, result: Any, cohort: Any, submission: Any,
                        registration: Registration, exploratory_dimensions: tuple[str, ...],
                        match: Any, effects: Any, *, alpha: float, minimum: int,
                        measure: str | None = None) -> Registered:
    """Run the registration's sub-analyses.

    ``frame``: the main analysis frame (prepared; treated rows carry ``event_id``);
    ``result``: the main match; ``match(sub_frame)``: a match of a sub-frame with the main
    analysis' design; ``effects(result)``: the primary measure's and the re-offending rate's
    effects of a match, as ``(primary, rate)``; ``exploratory_dimensions``: the lab's standard
    sub-groups that stay exploratory (not registered), whose groups are shown too;
    ``measure``: the primary measure's released key (each row names it)."""
    from jdl.inference import (
        DECLINED_FOR_CONFIDENTIALITY,
        SubgroupEstimate,
        dose_trend,
        safe_groups,
        with_holm,
    )

    treated = frame["treated"].to_numpy() == 1
    people = frame.loc[treated].reset_index(drop=True)
    levels = {name: _levels(name, people, cohort, submission, registration)
              for name in registration.sub_analyses}
    candidates = [(name, level, _is(values, level))
                  for name, (values, order) in levels.items() for level in order]
    shown = [np.ones(len(people), bool), _matched(people, result)]
    for dim in exploratory_dimensions:
        values = _standard(dim, people)
        shown += [_is(values, v) for v in values.dropna().unique()]
    safe = safe_groups([mask for _, _, mask in candidates], shown, minimum)

    rows: list[SubgroupEstimate] = []
    for (name, level, mask), ok in zip(candidates, safe, strict=True):
        if not ok:
            rows.append(SubgroupEstimate(name, level, None, None, None, None,  # type: ignore[arg-type]
                                         reason_not_reported=DECLINED_FOR_CONFIDENTIALITY,
                                         registered=True, measure=measure))
            continue
        rows.append(_analyse(frame, treated, people, name, level, mask, match, effects,
                             minimum, measure))
    rows = list(with_holm(rows, alpha))
    dose = None
    variable = registration.dose_variable
    if variable is not None:
        dose = dose_trend(variable.name, [r for r in rows if r.dimension == variable.name],
                          alpha)
    summary = RegistrationSummary(registration.canonical_json(), registration.sha256,
                                  registration.primary_measure, registration.sub_analyses, dose)
    return Registered(summary, tuple(rows))


def _analyse(frame: pd.DataFrame, treated: np.ndarray, people: pd.DataFrame, name: str,
             level: str, mask: np.ndarray, match: Any, effects: Any, minimum: int,
             measure: str | None) -> SubgroupEstimate:
    """One sub-group matched afresh: its participants, and the comparison pool (at the same
    level, for a standard dimension)."""
    from jdl.inference import SubgroupEstimate

    keep = np.zeros(len(frame), bool)
    keep[np.flatnonzero(treated)[mask]] = True
    pool = ~treated
    from jdl.intake import STANDARD_SUBGROUPS

    if name in STANDARD_SUBGROUPS:
        pool &= _is(_standard(name, frame), level)
    sub = frame.loc[keep | pool].reset_index(drop=True)
    empty = SubgroupEstimate(name, level, None, None, None, None,  # type: ignore[arg-type]
                             registered=True, measure=measure)
    try:
        result = match(sub)
        primary, rate = effects(result)
    except JDLError as exc:
        return _reason(empty, f"Could not be matched: {exc.message}")
    if result.n_treated_matched < minimum:
        return _reason(empty, f"Fewer than {minimum} people could be matched.")
    events = primary if primary.kind == "rate" else rate
    row = SubgroupEstimate(
        name, level, int(primary.n_treated), int(primary.n_comparison),
        treatment_events=int(events.treatment_events),
        comparison_events=int(events.comparison_events),
        comparison_ess=round(float(primary.comparison_ess)), registered=True,
        measure=measure)
    if primary.suppressed:
        return _reason(row, " ".join(primary.notes) or "Not reported under the lab's rules.")
    return replace(row, difference=float(primary.difference), ci_low=float(primary.ci_low),
                   ci_high=float(primary.ci_high), p_value=float(primary.p_value))


def _is(values: pd.Series, level: object) -> np.ndarray:
    """Where ``values`` equal ``level`` (missing values never do)."""
    return (values.astype("string") == str(level)).fillna(False).to_numpy(bool)


def _reason(row: SubgroupEstimate, reason: str) -> SubgroupEstimate:
    return replace(row, reason_not_reported=reason)


def _matched(people: pd.DataFrame, result: Any) -> np.ndarray:
    """The participants in the main analysis' matched treatment group (the headline's)."""
    data = result.data
    if "event_id" not in data.columns or "event_id" not in people.columns:
        return np.ones(len(people), bool)
    chosen = data.loc[result.treat & (result.weights > 0), "event_id"]
    return people["event_id"].isin(chosen).to_numpy()


def _standard(name: str, frame: pd.DataFrame) -> pd.Series:
    from jdl.inference._profile import age_band

    if name == "age_band":
        return age_band(frame["age_at_index"]).set_axis(frame.index).astype(object)
    return frame[name].astype(object)


def _levels(name: str, people: pd.DataFrame, cohort: Any, submission: Any,
            registration: Registration) -> tuple[pd.Series, tuple[str, ...]]:
    """Each participant's level of a registered variable, and the levels in report order."""
    from jdl.inference import dose_bands

    variable = registration.variable(name)
    if variable is None:  # a standard dimension
        values = _standard(name, people)
        return values, tuple(sorted(str(v) for v in values.dropna().unique()))
    raw = _declared_values(name, people, cohort, submission)
    if variable.kind == "count":
        return dose_bands(raw, registration.dose_bands)
    return raw.astype(object), variable.levels


def _declared_values(name: str, people: pd.DataFrame, cohort: Any,
                     submission: Any) -> pd.Series:
    """A declared column's values for the participants (by the row each event came from)."""
    rows = cohort.rows
    eligible = rows["event_id"].notna() & (rows["status"] == "eligible")
    # one row per event (the first), so a participant is never counted twice
    row_of_event = rows.loc[eligible, ["event_id", "row_number"]].sort_values(
        "row_number").drop_duplicates("event_id")
    values = submission.variable_values()[["row_number", name]]
    joined = people[["event_id"]].merge(row_of_event, on="event_id", how="left").merge(
        values, on="row_number", how="left")
    return pd.Series(joined[name].to_numpy(), index=people.index)

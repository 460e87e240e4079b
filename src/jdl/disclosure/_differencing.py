"""Differencing guard: a new cohort must not differ from an earlier one by a handful of people.

Two reports on overlapping cohorts that differ by one person reveal that person's outcome
(subtract one report's count of re-offenders from the other's). A minimum cell size alone does
not stop this (method-notes.md, "Differencing"). The guard compares the linked person ids of a
new cohort with those of the same organisation's earlier cohorts (stored lab-internally by the
service) and flags any whose symmetric difference is non-zero but below ``differencing_min``.
An identical cohort adds nothing new and is not flagged; a cohort differing by many people
cannot isolate anyone's outcome.

Limits: pairs only. Combinations (cohort A versus B plus C) and other organisations' cohorts are
not checked.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

from jdl.core.config import DisclosureSettings
from jdl.disclosure._errors import DisclosureError


@dataclass(frozen=True)
class DifferencingRisk:
    """An earlier cohort too close to the current one. Holds sizes only, never ids."""

    earlier: str
    only_in_current: int
    only_in_earlier: int

    @property
    def symmetric_difference(self) -> int:
        return self.only_in_current + self.only_in_earlier

    def describe(self) -> str:
        return (f"cohort {self.earlier!r} differs from this one by {self.symmetric_difference} "
                f"people ({self.only_in_current} added, {self.only_in_earlier} removed)")


def differencing_risks(
    current: Iterable[Hashable],
    earlier: Mapping[str, Iterable[Hashable]],
    settings: DisclosureSettings | None = None,
) -> list[DifferencingRisk]:
    """Earlier cohorts (label -> person ids) whose symmetric difference with ``current`` is more
    than 0 and less than ``settings.differencing_min`` (default 10), in the order given."""
    limit = (settings or DisclosureSettings()).differencing_min
    now = set(current)
    risks = []
    for label, ids in earlier.items():
        before = set(ids)
        risk = DifferencingRisk(str(label), len(now - before), len(before - now))
        if 0 < risk.symmetric_difference < limit:
            risks.append(risk)
    return risks


def assert_no_differencing_risk(
    current: Iterable[Hashable],
    earlier: Mapping[str, Iterable[Hashable]],
    settings: DisclosureSettings | None = None,
) -> None:
    """Raise :class:`DisclosureError` when :func:`differencing_risks` finds any."""
    risks = differencing_risks(current, earlier, settings)
    if risks:
        raise DisclosureError(
            "This cohort is too close to an earlier one from the same organisation: comparing "
            "the two reports could reveal individual people's outcomes.",
            problems=[r.describe() for r in risks],
            hint="Refuse the release, or ask the organisation to combine the submissions.")

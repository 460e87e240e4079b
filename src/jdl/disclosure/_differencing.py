"""Differencing guard: a new cohort must not differ from an earlier one by a handful of people.

Two reports on overlapping cohorts that differ by one person reveal that person's outcome
(subtract one report's count of re-offenders from the other's). A minimum cell size alone does
not stop this (method-notes.md, "Differencing"). The guard compares the people of a new cohort —
the service passes the *analysed treatment group*, not the people linked, since padding an upload
with linkable but ineligible people changes the second and not the first — with every other
cohort the lab holds, of every organisation (the service stores these id sets lab-internally),
and with the unions, intersections and differences of every pair of them (the chain A, A ∪ B,
B + x reveals x from (A ∪ B) - A = B), and flags any whose symmetric difference is non-zero but
below ``differencing_min``. An identical cohort adds nothing new and is not flagged; a cohort
differing by many people cannot isolate anyone's outcome.

Limits: combinations of two earlier cohorts, not of three or more.
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
    *,
    combinations: bool = True,
) -> list[DifferencingRisk]:
    """Earlier cohorts (label -> person ids), and with ``combinations`` the union, intersection
    and two differences of each pair of them, whose symmetric difference with ``current`` is
    more than 0 and less than ``settings.differencing_min`` (default 10). Pairs come first, in
    the order given; a combination is labelled like ``"a ∪ b"``."""
    limit = (settings or DisclosureSettings()).differencing_min
    now = set(current)
    sets = {str(label): set(ids) for label, ids in earlier.items()}
    risks = []

    def check(label: str, before: set) -> None:
        risk = DifferencingRisk(label, len(now - before), len(before - now))
        if 0 < risk.symmetric_difference < limit:
            risks.append(risk)

    for label, before in sets.items():
        check(label, before)
    if not combinations:
        return risks
    # a pair can combine into something close to the current cohort only if one of them
    # shares someone with it
    items = list(sets.items())
    near = {label for label, ids in items if ids & now}
    flagged = {r.earlier for r in risks}
    for i, (a, ids_a) in enumerate(items):
        for b, ids_b in items[i + 1:]:
            if (a not in near and b not in near) or a in flagged or b in flagged:
                continue  # nothing in common, or already too close on its own
            for label, combo in ((f"{a} ∪ {b}", ids_a | ids_b), (f"{a} ∩ {b}", ids_a & ids_b),
                                 (f"{a} - {b}", ids_a - ids_b), (f"{b} - {a}", ids_b - ids_a)):
                if combo and combo != ids_a and combo != ids_b:
                    check(label, combo)
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
            "This cohort is too close to another the lab holds (or to a combination of two): "
            "comparing the reports could reveal individual people's outcomes.",
            problems=[r.describe() for r in risks],
            hint="Refuse the release, or ask the organisation to combine the submissions.")

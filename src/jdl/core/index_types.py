"""Index events: the one definition of each kind of event re-offending is measured from, and of
which kinds a programme delivered in each setting can follow.

The MoJ's proven re-offending cohort is everyone *released from custody, receiving a
non-custodial conviction at court, or receiving a caution* in the period; the one-year
follow-up starts at the release, or at the date of the court conviction or caution (Ministry
of Justice, *Proven Reoffending Statistics Quarterly Bulletin, October 2013 to September 2014*,
introduction; *Guide to Proven Reoffending Statistics*). The lab splits the non-custodial
index disposals as the MoJ's index-disposal tables do: court orders (community and suspended
sentence orders), fines, discharges, and cautions (simple and conditional).

Everything else - the data contract's allowed values, the generator's index events, the cohort
rules, the programme form's choices and the report's wording - is derived from here, so a new
kind of index event is added once. It lives in ``core`` because the report (which may import
only ``core``) words its follow-up from it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IndexType:
    """One kind of index event."""

    code: str  # the value of index_events.index_type
    label: str  # as a table heading: "Release from custody"
    start: str  # what follow-up starts from, in a sentence: "release from custody"
    disposals: tuple[str, ...]  # offences.disposal values whose principal offence makes one
    index_date: str  # what index_date is for this kind
    counts_index_day: bool  # does the measure count offences on the index date itself
    out_of_court: bool = False


INDEX_TYPE_DEFINITIONS: tuple[IndexType, ...] = (
    IndexType("custody_release", "Release from custody", "release from custody", ("custody",),
              "the date of release", counts_index_day=True),
    IndexType("court_order", "Start of a court order",
              "the start of a court order (a community or suspended sentence order)",
              ("community", "suspended"), "the date sentenced", counts_index_day=False),
    IndexType("caution", "Caution", "a caution or conditional caution", ("caution",),
              "the date of the caution", counts_index_day=False, out_of_court=True),
    IndexType("fine", "Fine", "a fine at court", ("fine",), "the date of conviction",
              counts_index_day=False),
    IndexType("discharge", "Discharge", "an absolute or conditional discharge at court",
              ("discharge",), "the date of conviction", counts_index_day=False),
)
INDEX_TYPES: tuple[str, ...] = tuple(t.code for t in INDEX_TYPE_DEFINITIONS)
INDEX_TYPE_BY_CODE = {t.code: t for t in INDEX_TYPE_DEFINITIONS}

#: Where a programme works with people, and the index events that can follow it. Custody and
#: community are the JDL's original two (a community programme may also meet people just
#: released); out_of_court is around cautions and conditional cautions; fine_or_discharge around
#: the lowest court disposals (a fine, an absolute or conditional discharge).
INDEX_TYPES_BY_SETTING: dict[str, tuple[str, ...]] = {
    "custody": ("custody_release",),
    "community": ("court_order", "custody_release"),
    "both": ("custody_release", "court_order"),
    "out_of_court": ("caution",),
    "fine_or_discharge": ("fine", "discharge"),
}
SETTINGS: tuple[str, ...] = tuple(INDEX_TYPES_BY_SETTING)


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} or {parts[-1]}"


def follow_up_start(setting: str | None = None) -> str:
    """What the one-year follow-up starts from, in words, for a programme ``setting`` (every
    kind of index event when the setting is unknown): "release from custody or the start of a
    court order (...)"."""
    codes = INDEX_TYPES_BY_SETTING.get(setting or "", INDEX_TYPES)
    ordered = [t for t in INDEX_TYPE_DEFINITIONS if t.code in codes]
    return _join([t.start for t in ordered])


def index_sql_order(column: str) -> str:
    """SQL ranking of index types for ties on a day (release first, then contract order)."""
    whens = " ".join(f"WHEN '{code}' THEN {i}" for i, code in enumerate(INDEX_TYPES))
    return f"CASE {column} {whens} ELSE {len(INDEX_TYPES)} END"

"""Matching a file's headings to the template's columns, refusing what cannot be resolved."""

from __future__ import annotations

from dataclasses import dataclass

from jdl.core.errors import SubmissionRefused
from jdl.intake._registration import OrgVariable
from jdl.intake._spec import (
    COLUMN_BY_NAME,
    EVENT_DATE_COLUMNS,
    FULL_NAME_HEADERS,
    REQUIRED_COLUMNS,
    canonical_for,
    normalise_header,
)


@dataclass(frozen=True)
class ColumnMap:
    """Which position in the file holds each template column, and what else is there."""

    positions: dict[str, int]  # canonical column -> position in the file
    headers: dict[str, str]  # canonical column -> heading as written in the file
    extra: tuple[tuple[int, str], ...]  # (position, heading) of columns not in the template


def map_columns(headers: tuple[str, ...], variables: tuple[OrgVariable, ...] = ()) -> ColumnMap:
    """Map headings (case-, space- and synonym-insensitively); refuse missing or ambiguous ones.

    ``variables``: the organisation's declared extra columns (its analysis plan); each must be
    in the file once, and is mapped under its name like a template column."""
    positions: dict[str, int] = {}
    extra: list[tuple[int, str]] = []
    for position, heading in enumerate(headers):
        canonical = canonical_for(heading) if heading else None
        if canonical is None:
            extra.append((position, heading))
            continue
        if canonical in positions:
            first = headers[positions[canonical]]
            raise SubmissionRefused(
                f"Columns '{first}' and '{heading}' both look like {canonical}, so the lab cannot "
                "tell which to use.", hint="Delete or rename one of them.")
        positions[canonical] = position
    missing = [c for c in REQUIRED_COLUMNS if c not in positions]
    if {"forename", "surname"} & set(missing) and any(
            normalise_header(h) in FULL_NAME_HEADERS for _, h in extra):
        raise SubmissionRefused(
            "The file has a single 'Name' column. The lab needs forenames and surnames in "
            "separate columns to find people reliably.",
            hint="Split the names into 'forename' and 'surname' columns (see the template).")
    if missing:
        raise SubmissionRefused(
            f"The file has no {_names(missing)} column{'s' if len(missing) > 1 else ''}, which "
            "every submission needs.", hint=_accepted_names(missing))
    if not any(c in positions for c in EVENT_DATE_COLUMNS):
        raise SubmissionRefused(
            "The file needs at least one of the columns index_date, conviction_date or "
            "intervention_start, so the lab knows when to measure re-offending from.",
            hint=_accepted_names(list(EVENT_DATE_COLUMNS)))
    extra = _map_variables(variables, positions, extra, headers)
    return ColumnMap(positions, {c: headers[p] for c, p in positions.items()}, tuple(extra))


def _map_variables(variables: tuple[OrgVariable, ...], positions: dict[str, int],
                   extra: list[tuple[int, str]], headers: tuple[str, ...]
                   ) -> list[tuple[int, str]]:
    """Find each declared column among the headings the template does not know."""
    for variable in variables:
        found = [(p, h) for p, h in extra if normalise_header(h) in variable.headings]
        if not found:
            raise SubmissionRefused(
                f"Your analysis plan declares the column '{variable.name}', but the file has no "
                "column with that heading.",
                hint=f"Add a column headed {variable.name} (or remove it from the plan before "
                     "submitting).")
        if len(found) > 1:
            raise SubmissionRefused(
                f"Columns '{found[0][1]}' and '{found[1][1]}' both look like {variable.name}, "
                "so the lab cannot tell which to use.", hint="Delete or rename one of them.")
        positions[variable.name] = found[0][0]
        extra = [e for e in extra if e[0] != found[0][0]]
    return extra


def _names(columns: list[str]) -> str:
    return ", ".join(columns[:-1]) + " or " + columns[-1] if len(columns) > 1 else columns[0]


def _accepted_names(columns: list[str]) -> str:
    parts = []
    for name in columns:
        synonyms = COLUMN_BY_NAME[name].synonyms[:3]
        parts.append(f"{name} (or {', '.join(repr(s) for s in synonyms)})" if synonyms else name)
    return "Headings the lab recognises: " + "; ".join(parts) + "."

"""The submission template as data: one definition drives the readers, validation, the
downloadable templates and ``docs/submission-template.md``.

Header matching is case-, space- and punctuation-insensitive and knows the synonyms people use in
their own spreadsheets (``DOB``, ``First name``...). A header that could mean two columns is never
guessed: the file is refused with a message naming both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["name", "date", "sex", "pnc", "prison"]


@dataclass(frozen=True)
class TemplateColumn:
    """One column of the submission template."""

    name: str
    kind: Kind
    required: bool
    description: str
    example: str
    synonyms: tuple[str, ...] = ()


COLUMNS: tuple[TemplateColumn, ...] = (
    TemplateColumn("forename", "name", True, "The person's first name, as the police or prison "
                   "would have recorded it.", "Jane",
                   ("first name", "firstname", "first names", "given name", "given names",
                    "forenames", "christian name", "name first")),
    TemplateColumn("surname", "name", True, "The person's last name (family name).", "Smith",
                   ("last name", "lastname", "family name", "second name", "name last")),
    TemplateColumn("date_of_birth", "date", True, "Date of birth, `dd/mm/yyyy` or `yyyy-mm-dd`.",
                   "21/03/1985", ("dob", "d o b", "birth date", "birthdate", "date born")),
    TemplateColumn("sex", "sex", True, "`M` or `F` (`Male`/`Female` are also understood).", "F",
                   ("gender", "sex m f", "gender m f")),
    TemplateColumn("pnc_id", "pnc", False, "Police National Computer ID, `YYYY/NNNNNNNC` "
                   "(year, 7-digit serial, check letter). Greatly improves matching.",
                   "2001/0123456G",
                   ("pnc", "pnc number", "pnc no", "pnc ref", "pnc reference",
                    "police national computer id", "police national computer number")),
    TemplateColumn("prison_number", "prison", False, "Prison (NOMS) number `A1234BC`, for people "
                   "who have been in custody.", "A1234BC",
                   ("prison no", "prisoner number", "prisoner no", "noms number", "noms no",
                    "noms id", "nomis number", "nomis id")),
    TemplateColumn("conviction_date", "date", False, "Date of the conviction that led to the "
                   "sentence the person was serving when you worked with them.", "02/05/2019",
                   ("date of conviction", "conviction", "convicted date", "date convicted")),
    TemplateColumn("intervention_start", "date", False, "Date the person started on your "
                   "programme.", "10/06/2019",
                   ("intervention start date", "start of intervention", "programme start",
                    "programme start date", "program start", "program start date",
                    "start date", "date started", "referral start")),
    TemplateColumn("intervention_end", "date", False, "Date the person left or finished your "
                   "programme (blank if still taking part).", "20/12/2019",
                   ("intervention end date", "end of intervention", "programme end",
                    "programme end date", "program end", "program end date", "end date",
                    "date ended", "date finished", "finish date")),
    TemplateColumn("index_date", "date", False, "Release from custody, or the start of the "
                   "community order, that your work relates to (the date re-offending is measured "
                   "from).", "01/08/2019", ("index", "index event date")),
)

CANONICAL_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
# At least one of these is needed on every row (and so as a column in every file).
EVENT_DATE_COLUMNS: tuple[str, ...] = ("index_date", "conviction_date", "intervention_start")
COLUMN_BY_NAME: dict[str, TemplateColumn] = {c.name: c for c in COLUMNS}
# A single "full name" column cannot be split safely; we say so instead of guessing.
FULL_NAME_HEADERS = frozenset({"name", "full name", "fullname", "client name", "person name"})

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise_header(text: object) -> str:
    """Lower-case words separated by single spaces: ``' Date_of-Birth '`` -> ``date of birth``."""
    return _NON_ALNUM.sub(" ", str(text).replace("\ufeff", "").lower()).strip()


def _lookup() -> dict[str, str]:
    table: dict[str, str] = {}
    for column in COLUMNS:
        for alias in (column.name, *column.synonyms):
            table[normalise_header(alias)] = column.name
    return table


HEADER_LOOKUP: dict[str, str] = _lookup()


def canonical_for(header: object) -> str | None:
    """The template column a header means, or None when it is not one of ours."""
    return HEADER_LOOKUP.get(normalise_header(header))

"""Programme information: what the organisation tells the lab about the programme it ran.

Sent with every submission (a form in the portal; a YAML or JSON side file for the CLI). It feeds
the report's description of the programme, the choice of national or regional matching, and the
selective-sample safeguard: an organisation that submits only the people who completed its
programme, or a fraction of those it worked with, will see its effect over-stated, and the lab
says so.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from jdl.admin.contract import REGIONS
from jdl.core.errors import JDLError

Sector = Literal["voluntary_community", "public", "private", "education"]
InterventionType = Literal[
    "employment", "accommodation", "education", "mentoring", "health", "substance_misuse",
    "restorative_justice", "family", "youth", "other",
]
#: Where people start on the programme: the settings of jdl.core.index_types (a test keeps them
#: equal), which say which index events re-offending is measured from.
Setting = Literal["custody", "community", "both", "out_of_court", "fine_or_discharge"]
SelectionBasis = Literal["all_participants", "completers_only", "other"]
REGION_CHOICES: tuple[str, ...] = (*REGIONS, "National")
#: The organisation "in its own words" (issue 20): at most this many characters, published as
#: written (screened like the other published text, escaped wherever it is shown).
OWN_WORDS_MAX_CHARS = 2_000


class ProgrammeError(JDLError):
    """The programme information file is missing, unreadable or has invalid fields."""


def _choice_key(value: object) -> object:
    """``'Substance misuse'`` / ``'voluntary/community'`` -> ``substance_misuse`` /
    ``voluntary_community``: the portal shows words, files may carry them too."""
    if isinstance(value, str):
        return re.sub(r"[^a-z]+", "_", value.strip().lower()).strip("_")
    return value


class Programme(BaseModel):
    """The programme a submission is about."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    organisation: str = Field(min_length=1)
    sector: Sector
    programme_name: str = Field(min_length=1)
    intervention_type: InterventionType
    setting: Setting
    referral_route: str = Field(min_length=1)
    region: str
    delivery_start: dt.date
    delivery_end: dt.date
    description: str = Field(min_length=1)
    declared_participants: int | None = Field(default=None, ge=1)
    selection_basis: SelectionBasis = "all_participants"
    selection_notes: str | None = None
    #: the organisation describing itself and its programme, in its own words (optional)
    own_words: str | None = Field(default=None, max_length=OWN_WORDS_MAX_CHARS)

    @field_validator("own_words")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("sector", "intervention_type", "setting", "selection_basis", mode="before")
    @classmethod
    def _words_to_choice(cls, value: object) -> object:
        return _choice_key(value)

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        for region in REGION_CHOICES:
            if region.lower() == value.strip().lower():
                return region
        raise ValueError(f"must be one of: {', '.join(REGION_CHOICES)}")

    @model_validator(mode="after")
    def _consistent(self) -> Programme:
        if self.delivery_end < self.delivery_start:
            raise ValueError("delivery_end is before delivery_start")
        if self.selection_basis == "other" and not self.selection_notes:
            raise ValueError("selection_notes must say how people were chosen when "
                             "selection_basis is 'other'")
        return self


def programme_from_dict(data: Any, *, source: str = "programme information") -> Programme:
    """Validate a mapping (parsed YAML/JSON or a web form) into a :class:`Programme`."""
    if not isinstance(data, dict):
        raise ProgrammeError(f"The {source} should be a set of 'field: value' lines.",
                             hint=PROGRAMME_HINT)
    try:
        return Programme.model_validate(data)
    except ValidationError as exc:
        raise ProgrammeError(f"The {source} has {exc.error_count()} problem(s):",
                             problems=[_describe(e) for e in exc.errors()],
                             hint=PROGRAMME_HINT) from None


PROGRAMME_HINT = "`jdl template --format yaml` writes an example programme file to copy."


def _describe(error: Any) -> str:
    field = ".".join(str(p) for p in error.get("loc", ())) or "(whole file)"
    kind = error.get("type", "")
    if kind == "missing":
        return f"{field}: missing; please fill it in."
    if kind == "extra_forbidden":
        return f"{field}: not a programme field (check the spelling)."
    if kind == "literal_error":
        allowed = error.get("ctx", {}).get("expected", "")
        return f"{field}: {error.get('input')!r} is not allowed; use one of {allowed}."
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    shown = error.get("input")
    if kind.startswith("date") or kind.startswith(("int", "greater")):
        return f"{field}: {message} (got {shown!r})."
    return f"{field}: {message}."


def load_programme(path: str | Path) -> Programme:
    """Read programme information from a YAML or JSON file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ProgrammeError(f"There is no programme information file at {path}.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (UnicodeDecodeError, OSError) as exc:
        raise ProgrammeError(f"{path.name} could not be read as text: {exc}.") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ProgrammeError(f"{path.name} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                             f"column {exc.colno}.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ProgrammeError(f"{path.name} is not valid YAML: {problem}{where}.",
                             hint=PROGRAMME_HINT) from None
    return programme_from_dict(data, source=path.name)


EXAMPLE_PROGRAMME: dict[str, Any] = {
    "organisation": "Example Futures Trust",
    "sector": "voluntary_community",
    "programme_name": "Routes to Work",
    "intervention_type": "employment",
    "setting": "both",
    "referral_route": "Prison resettlement team and probation referrals",
    "region": "North West",
    "delivery_start": dt.date(2019, 1, 1),
    "delivery_end": dt.date(2020, 12, 31),
    "description": "One-to-one employment mentoring starting three months before release and "
                   "continuing for up to a year after.",
    "declared_participants": 240,
    "selection_basis": "all_participants",
    "selection_notes": None,
}


# --- free text that will be published -------------------------------------------------------------

#: Programme fields published as written (report, catalogue page and PDF, API): screened.
PUBLISHED_TEXT_FIELDS = ("organisation", "programme_name", "referral_route", "description",
                         "selection_notes", "own_words")

_PNC_LIKE = re.compile(r"(?<![\w/])(?:\d{2}|\d{4})/\d{1,7}[A-Za-z](?!\w)")
_PRISON_LIKE = re.compile(r"(?<!\w)[A-Za-z]\d{4}[A-Za-z]{2}(?!\w)")
_PEOPLE_COUNT = re.compile(
    r"(?<![\w.,])\d[\d,]*\s+(?:people|persons|participants|offenders|re-?offenders|men|women|"
    r"young people|individuals|clients|service users|prisoners|learners|mentees|families)\b",
    re.I)
_DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d", "%d %B %Y", "%d %b %Y",
                 "%-d/%-m/%Y", "%-d %B %Y", "%-d %b %Y", "%B %-d, %Y", "%d/%m/%y")


def screen_programme_text(programme: Programme, rows: Any) -> list[str]:
    """Problems with the programme's published free text (:data:`PUBLISHED_TEXT_FIELDS`), given
    the upload's ``rows`` (the intake's canonical columns: ``forename``, ``surname``,
    ``date_of_birth``, ``pnc_id``, ``prison_number``).

    The text goes, as typed, onto the public catalogue page, the report and its PDF. It must
    not name anyone in the upload (a full name, or a surname written as a name), give a date of
    birth from it, or hold anything shaped like a PNC ID or prison number (from the upload or
    not); and it must not state a number of people (numbers of people are the lab's to publish,
    rounded: the organisation's own figure goes in ``declared_participants``). Each problem
    names the field and the kind of hit, never the value found.
    """
    names, surnames, dobs = _upload_identifiers(rows)
    problems = []
    for field in PUBLISHED_TEXT_FIELDS:
        text = getattr(programme, field, None)
        if not text:
            continue
        found = []
        if _has_name(text, names, surnames):
            found.append("the name of a person in the upload")
        if _has_date(text, dobs):
            found.append("a date of birth from the upload")
        if _PNC_LIKE.search(text):
            found.append("something that looks like a PNC ID")
        if _PRISON_LIKE.search(text):
            found.append("something that looks like a prison number")
        if _PEOPLE_COUNT.search(text):
            found.append("a number of people (give it in declared_participants instead)")
        problems += [f"{field}: contains {what}; please remove it." for what in found]
    return problems


def check_programme_text(programme: Programme, rows: Any) -> None:
    """Raise :class:`ProgrammeError` listing every :func:`screen_programme_text` problem."""
    problems = screen_programme_text(programme, rows)
    if problems:
        raise ProgrammeError(
            "The programme information would publish personal or identifying details:",
            problems=problems,
            hint="The description and other programme text are published as written. Describe "
                 "the programme, not the people in it.")


def _upload_identifiers(rows: Any) -> tuple[set[tuple[str, str]], set[str], set[dt.date]]:
    """(forename, surname) pairs, surnames, dates of birth of the upload (lower case)."""
    import pandas as pd

    if rows is None or len(rows) == 0:
        return set(), set(), set()
    frame = pd.DataFrame(rows)

    def column(name: str) -> list[str]:
        if name not in frame:
            return [""] * len(frame)
        return [str(v).strip().lower() if isinstance(v, str) else "" for v in frame[name]]

    fore, sur = column("forename"), column("surname")
    names = {(f, s) for f, s in zip(fore, sur, strict=True) if f and s}
    surnames = {s for s in sur if len(s) >= 3}
    dobs: set[dt.date] = set()
    if "date_of_birth" in frame:
        for value in pd.to_datetime(frame["date_of_birth"], errors="coerce").dropna():
            dobs.add(value.date())
    return names, surnames, dobs


def _has_name(text: str, names: set[tuple[str, str]], surnames: set[str]) -> bool:
    words = list(re.finditer(r"[A-Za-z][A-Za-z'\-]*", text))
    lower = [w.group(0).lower() for w in words]
    for a, b in itertools.pairwise(lower):
        if (a, b) in names or (b, a) in names:  # "Ann Lee" or "Lee, Ann"
            return True
    for match, low in zip(words, lower, strict=True):
        before = text[:match.start()].rstrip()
        sentence_start = not before or before[-1] in ".!?:;\"'(\n"
        # a surname on its own counts when written as a name: capitalised, mid-sentence
        if low in surnames and match.group(0)[0].isupper() and not sentence_start:
            return True
    return False


def _has_date(text: str, dobs: set[dt.date]) -> bool:
    if not dobs:
        return False
    for fmt in _DATE_FORMATS:
        for d in dobs:
            try:
                shown = d.strftime(fmt)
            except ValueError:
                continue
            if shown.lower() in text.lower():
                return True
    return False

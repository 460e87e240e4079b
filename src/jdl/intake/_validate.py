"""Validation: from raw cells to a :class:`Submission` in which every row is accounted for.

Each check is a vectorised function over whole columns that returns the positions it flags; the
wording of every problem lives in :data:`jdl.intake._rules.RULES`. A row with any ``error`` is
rejected, warnings keep it. Duplicate people are decided last, among rows otherwise valid: the
first valid copy is kept and the others are rejected as "the same person is in row N", since
the lab's analysis counts each person once (linkage also flags different rows that resolve to
the same national record).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from jdl.core.config import IntakeSettings
from jdl.core.errors import SubmissionRefused
from jdl.core.identifiers import PRISON_NUMBER_PATTERN, format_pnc_ids, normalise_pnc_id
from jdl.intake import _arrow as arrow
from jdl.intake._columns import ColumnMap, map_columns
from jdl.intake._dates import ParsedDates, age_in_years, parse_dates
from jdl.intake._feedback import dominant_problem
from jdl.intake._programme import Programme
from jdl.intake._readers import RawTable, is_blank, read_table
from jdl.intake._registration import MAX_COUNT, YES_NO, OrgVariable
from jdl.intake._rules import RULES
from jdl.intake._safe import escape_value, looks_like_formula
from jdl.intake._spec import CANONICAL_COLUMNS, COLUMN_BY_NAME, EVENT_DATE_COLUMNS
from jdl.intake._submission import (
    ISSUE_COLUMNS,
    Refusal,
    Submission,
    empty_issues,
    empty_rows,
)

PLACEHOLDER_NAMES = frozenset({"unknown", "not known", "n/a", "na", "n.a.", "tbc", "tba",
                               "none", "null", "nil", "x", "xx", "xxx", "?", "test", "anon",
                               "anonymous", "redacted"})
SEX_CODES = {"m": "M", "male": "M", "man": "M", "f": "F", "female": "F", "woman": "F"}
MAX_NAME_LENGTH = 100
#: Characters in one cell past which it cannot be any value the template asks for (the longest,
#: a name, is refused past 100); such a cell rejects its row.
MAX_CELL_CHARS = 1_000


def check_submission(path: str | Path, programme: Programme | None = None,
                     settings: IntakeSettings | None = None, *,
                     today: dt.date | None = None,
                     variables: tuple[OrgVariable, ...] = ()) -> Submission:
    """Read and validate a submission file; never raises for problems in the file itself.

    A file that cannot be used at all comes back with ``refusal`` set (and, when it could be
    read, every row listed as rejected). A missing path raises :class:`UsageError`.
    ``variables``: the extra columns the organisation's analysis plan declares
    (:class:`~jdl.intake.Registration`); each is required as a column and checked like the rest.
    """
    settings = settings or IntakeSettings()
    today = today or dt.date.today()
    try:
        raw = read_table(path, settings)
    except SubmissionRefused as exc:
        if type(exc) is not SubmissionRefused:
            raise
        return Submission(None, empty_rows(), empty_issues(), {},
                          Refusal("file", exc.message, exc.hint), programme)
    try:
        columns = map_columns(raw.headers, variables)
    except SubmissionRefused as exc:
        return _refused_by_columns(raw, Refusal("columns", exc.message, exc.hint), programme)
    return validate_table(raw, columns, programme, settings, today, variables)


def validate_submission(path: str | Path, programme: Programme | None = None,
                        settings: IntakeSettings | None = None, *,
                        variables: tuple[OrgVariable, ...] = ()) -> Submission:
    """Like :func:`check_submission`, but a refused submission raises
    :class:`~jdl.intake.IntakeRefused` (a :class:`~jdl.core.errors.SubmissionRefused`)."""
    return check_submission(path, programme, settings,
                            variables=variables).raise_if_refused()


# ----------------------------------------------------------------------------- collection


@dataclass
class _Found:
    """Problems found so far, as parallel lists of arrays (built into a table once, at the end)."""

    positions: list[np.ndarray] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    details: list[np.ndarray | None] = field(default_factory=list)

    def add(self, mask: np.ndarray | pd.Series, field_name: str, code: str,
            detail: np.ndarray | pd.Series | None = None) -> None:
        mask = np.asarray(mask, dtype=bool)
        where = np.flatnonzero(mask)
        if len(where) == 0:
            return
        self.positions.append(where)
        self.fields.append(field_name)
        self.codes.append(code)
        self.details.append(None if detail is None else np.asarray(detail, dtype=object)[where])

    def error_mask(self, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=bool)
        for where, code in zip(self.positions, self.codes, strict=True):
            if RULES[code].severity == "error":
                out[where] = True
        return out


def column_text(cells: pd.Series) -> pd.Series:
    """A column of raw cells as text (``str`` dtype, ``""`` for empty cells)."""
    if pd.api.types.infer_dtype(cells, skipna=True) in ("string", "empty"):
        return pd.Series(cells.to_numpy(dtype=object), dtype="str").fillna("")
    return pd.Series(cells.map(_cell_text).to_numpy(dtype=object), dtype="str")


def _cell_text(value: object) -> str:
    """How a cell reads as text: what the user typed, or the date/number Excel showed."""
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        if np.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(getattr(value, "text", value))


# ------------------------------------------------------------------------------- checking


def validate_table(raw: RawTable, columns: ColumnMap, programme: Programme | None,
                   settings: IntakeSettings, today: dt.date,
                   variables: tuple[OrgVariable, ...] = ()) -> Submission:
    """Check every row of ``raw``; decide each row's status and whether to refuse the whole."""
    n = len(raw.cells)
    found = _Found()
    text = {c: column_text(raw.cells[p]) for c, p in columns.positions.items()}
    blank_row = raw.blank
    # a cell far longer than any value the lab reads rejects its row, not the file; it is
    # then read as empty, so no other check quotes or parses it
    too_long = {c: (t.str.len() > MAX_CELL_CHARS).to_numpy() for c, t in text.items()}
    for name, mask in too_long.items():
        if mask.any():
            found.add(mask, name, "cell_too_long", text[name].str.len().map("{:,}".format))
            text[name] = text[name].where(~mask, "")
    formula = {c: looks_like_formula(t.str.lstrip(" ")) for c, t in text.items()}
    for name, mask in formula.items():
        found.add(mask & ~blank_row, name, "formula")
    found.add(blank_row, "", "blank_row")
    found.add(raw.overflow, "", "row_overflow")

    parsed: dict[str, pd.Series] = {}
    for name in CANONICAL_COLUMNS:
        if name not in text:
            continue
        kind = COLUMN_BY_NAME[name].kind
        usable = text[name].where(~formula[name], "")
        cells = raw.cells[columns.positions[name]].where(~(formula[name] | too_long[name]),
                                                         None)
        missing = (usable.str.strip() == "") & ~formula[name] & ~blank_row & ~too_long[name]
        if COLUMN_BY_NAME[name].required:
            found.add(missing, name, "missing_required")
        if kind == "name":
            parsed[name] = _check_name(usable, name, found)
        elif kind == "sex":
            parsed[name] = _check_sex(usable, name, found)
        elif kind == "pnc":
            parsed[name] = _check_pnc(usable, name, found)
        elif kind == "prison":
            parsed[name] = _check_prison(usable, name, found)
        else:
            parsed[name] = _check_date(cells, name, found, settings, raw.excel_epoch).values

    declared = {v.name: _check_variable(text[v.name].where(~formula[v.name], ""), v, found,
                                        blank_row | formula[v.name] | too_long[v.name])
                for v in variables}
    _check_dates_together(parsed, text, found, settings, today, programme, n)
    _check_duplicates(parsed, raw.row_numbers, found, n)
    rows, issues = _assemble(raw, columns, text, parsed, found)
    for name, values in declared.items():
        rows[name] = values.array
    accepted = int((rows["status"] == "accepted").sum())
    issues = pd.concat([issues, _file_issues(raw, columns, accepted, programme, settings)],
                       ignore_index=True)
    checked = Submission(raw.source, rows, issues, dict(columns.headers), None, programme,
                         tuple(variables))
    refusal = _cohort_refusal(accepted, len(rows), settings, checked)
    return Submission(raw.source, rows, issues, dict(columns.headers), refusal, programme,
                      tuple(variables))


def _check_variable(text: pd.Series, variable: OrgVariable, found: _Found,
                    flagged: np.ndarray) -> pd.Series:
    """A declared column's values as the lab keeps them (a count as ``Int64``, yes/no and
    categories as their declared spelling, missing when blank or wrong); a wrong value rejects
    its row, a blank one is a warning (the person stays in the main analysis)."""
    value = arrow.replace(text, arrow.WHITESPACE, " ").str.strip()
    present = (value != "").to_numpy()
    found.add(~present & ~flagged, variable.name, "variable_blank")
    if variable.kind == "count":
        whole = value.str.fullmatch(r"\d{1,9}(?:\.0+)?").to_numpy() & present
        number = pd.to_numeric(value.where(whole), errors="coerce")
        ok = whole & (number <= MAX_COUNT).to_numpy()
        found.add(present & ~ok, variable.name, "variable_not_count")
        return number.where(ok).round().astype("Int64")
    if variable.kind == "yes_no":
        mapped = value.str.lower().map(YES_NO)
        found.add(present & mapped.isna().to_numpy(), variable.name, "variable_not_yes_no")
        return mapped.astype(object)
    lookup = {c.casefold(): c for c in variable.categories}
    mapped = arrow.replace(value.str.casefold(), r"\s+", " ").map(lookup)
    allowed = ", ".join(variable.categories)
    found.add(present & mapped.isna().to_numpy(), variable.name, "variable_unknown_category",
              np.full(len(value), allowed, dtype=object))
    return mapped.astype(object)


def _check_name(text: pd.Series, name: str, found: _Found) -> pd.Series:
    value = arrow.replace(text, arrow.WHITESPACE, " ").str.strip()
    present = value != ""
    placeholder = present & value.str.lower().isin(PLACEHOLDER_NAMES)
    no_letters = present & ~placeholder & ~arrow.contains(value, r"\p{L}")
    too_long = present & (value.str.len() > MAX_NAME_LENGTH)
    found.add(placeholder, name, "name_placeholder")
    found.add(no_letters, name, "name_no_letters")
    found.add(too_long, name, "name_too_long")
    bad = placeholder | no_letters | too_long
    found.add(present & ~bad & arrow.contains(value, "[0-9]"), name, "name_has_digits")
    return value.where(present & ~bad)


def _check_sex(text: pd.Series, name: str, found: _Found) -> pd.Series:
    key = text.str.strip().str.lower()
    value = key.map(SEX_CODES)
    found.add((key != "") & value.isna(), name, "sex_invalid")
    return value


def _check_pnc(text: pd.Series, name: str, found: _Found) -> pd.Series:
    """Canonical PNC IDs via :mod:`jdl.core.identifiers`: values already in the canonical form
    take a vectorised path, the few typed another way go through ``normalise_pnc_id``."""
    compact = arrow.replace(text, arrow.WHITESPACE, "").str.upper()
    present = compact != ""
    standard = compact.str.fullmatch(r"\d{4}/\d{7}[A-Z]")
    value = compact.where(standard)
    variants = present & ~standard
    if variants.any():
        canonical = {v: normalise_pnc_id(v) for v in pd.unique(compact[variants])}
        value = value.fillna(compact[variants].map(canonical))
    malformed = present & value.isna()
    shaped = value.notna().to_numpy()
    expected = np.full(len(value), "", dtype=object)
    if shaped.any():
        years = value[shaped].str.slice(0, 4).astype(int).to_numpy()
        serials = value[shaped].str.slice(5, 12).astype(int).to_numpy()
        expected[shaped] = format_pnc_ids(years, serials)
    wrong_letter = shaped & (value.fillna("").to_numpy(dtype=object) != expected)
    found.add(malformed, name, "pnc_malformed")
    found.add(wrong_letter, name, "pnc_check_letter")
    return value.where(~wrong_letter)


def _check_prison(text: pd.Series, name: str, found: _Found) -> pd.Series:
    value = arrow.replace(text, arrow.WHITESPACE, "").str.upper()
    present = value != ""
    ok = value.str.match(PRISON_NUMBER_PATTERN.pattern)
    found.add(present & ~ok, name, "prison_malformed")
    return value.where(present & ok)


def _check_date(cells: pd.Series, name: str, found: _Found, settings: IntakeSettings,
                excel_epoch: np.datetime64) -> ParsedDates:
    parsed = parse_dates(cells, earliest_year=settings.earliest_date_year,
                         excel_epoch=excel_epoch)
    for code in pd.unique(parsed.problem.dropna()):
        found.add(parsed.problem == code, name, str(code))
    if parsed.looks_month_first:
        shown = parsed.values.dt.strftime("%-d %B %Y")
        found.add(parsed.swappable, name, "date_swappable", shown)
    return parsed


def _check_dates_together(parsed: dict[str, pd.Series], text: dict[str, pd.Series],
                          found: _Found, settings: IntakeSettings, today: dt.date,
                          programme: Programme | None, n: int) -> None:
    now = pd.Timestamp(today)
    nat = pd.Series(pd.NaT, index=range(n), dtype="datetime64[s]")
    dob = parsed.get("date_of_birth", nat)
    found.add(dob > now, "date_of_birth", "dob_future")
    for name in ("conviction_date", "intervention_start", "index_date"):
        if name in parsed:
            found.add(parsed[name] > now, name, "date_future")
    end = parsed.get("intervention_end", nat)
    start = parsed.get("intervention_start", nat)
    found.add(end > now, "intervention_end", "end_future")
    before = (end < start).to_numpy()
    if before.any():
        found.add(before, "intervention_end", "end_before_start",
                  "(" + start.dt.strftime("%d/%m/%Y").fillna("") + ")")

    # Age when the programme began (else at the index date, else at conviction).
    reference, label = nat.copy(), pd.Series("", index=range(n), dtype=object)
    for name in ("conviction_date", "index_date", "intervention_start"):
        if name in parsed:
            has = parsed[name].notna()
            reference = parsed[name].where(has, reference)
            label = label.where(~has, name.replace("_", " "))
    age = age_in_years(dob, reference)
    young = (age < settings.min_age_at_intervention).to_numpy()
    old = (age > settings.max_age_at_intervention).to_numpy()
    if young.any() or old.any():
        detail = (age.astype("Int64").astype(str) + " years old at the " + label + " ("
                  + reference.dt.strftime("%d/%m/%Y").fillna("") + ")")
        found.add(young, "date_of_birth", "too_young", detail)
        found.add(old, "date_of_birth", "too_old", detail)

    # Every row needs one event date; rows with an unusable one are already rejected for it.
    no_event = np.ones(n, dtype=bool)
    for name in EVENT_DATE_COLUMNS:
        if name in text:
            no_event &= (text[name].str.strip() == "").to_numpy()
    blank = np.zeros(n, dtype=bool)
    for where, code in zip(found.positions, found.codes, strict=True):
        if code == "blank_row":
            blank[where] = True
    found.add(no_event & ~blank, "", "no_event_date")

    if programme is not None and "intervention_start" in parsed:
        lo, hi = pd.Timestamp(programme.delivery_start), pd.Timestamp(programme.delivery_end)
        period = f"{programme.delivery_start:%d/%m/%Y} to {programme.delivery_end:%d/%m/%Y}"
        found.add((start < lo) | (start > hi), "intervention_start", "outside_delivery",
                  np.full(n, period, dtype=object))


def _name_key(value: pd.Series) -> pd.Series:
    """Names compared for duplicates: accents, case, spaces and punctuation ignored."""
    folded = arrow.replace(value.str.normalize("NFKD"), r"\p{Mn}+", "")
    return arrow.replace(folded.str.casefold(), r"[^\p{L}]+", "")


def _check_duplicates(parsed: dict[str, pd.Series], row_numbers: np.ndarray, found: _Found,
                      n: int) -> None:
    """Link rows that share name + date of birth, PNC ID or prison number; within each group the
    first row that is otherwise valid is kept and the others are rejected."""
    if n < 2:
        return
    forename, surname = _name_key(parsed["forename"]), _name_key(parsed["surname"])
    dob = parsed["date_of_birth"]
    name_dob = (forename + "|" + surname + "|" + dob.astype("int64").astype(str)).where(
        (forename.fillna("") != "") & (surname.fillna("") != "") & dob.notna())
    pnc = parsed.get("pnc_id", pd.Series(np.nan, index=range(n), dtype=object))
    # Same name and birthday but different PNC IDs: two people, unless the user says otherwise.
    distinct_pnc = pnc.groupby(name_dob).transform("nunique")
    conflict = (distinct_pnc > 1).to_numpy() & name_dob.notna().to_numpy()
    first_of_key = _first_positions(name_dob.where(~conflict))
    if conflict.any():
        first_conflict = _first_positions(name_dob.where(conflict))
        other = np.where(first_conflict >= 0, first_conflict, 0)
        flag = conflict & (first_conflict != np.arange(n))
        found.add(flag, "pnc_id", "same_name_other_pnc", row_numbers[other].astype(str))

    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    keys = [first_of_key, _first_positions(pnc)]
    if "prison_number" in parsed:
        keys.append(_first_positions(parsed["prison_number"]))
    for first in keys:
        for i in np.flatnonzero((first >= 0) & (first != np.arange(n))):
            a, b = root(int(i)), root(int(first[i]))
            if a != b:
                parent[max(a, b)] = min(a, b)
    grouped = np.flatnonzero(parent != np.arange(n))
    if len(grouped) == 0:
        return
    members = np.unique(np.concatenate([grouped, parent[grouped]]))
    groups = pd.Series([root(int(i)) for i in members], index=members)
    rejected = found.error_mask(n)
    keeper_of: dict[int, int] = {}
    for group, rows in groups.groupby(groups).groups.items():
        ordered = sorted(rows)
        valid = [r for r in ordered if not rejected[r]]
        keeper_of[int(group)] = valid[0] if valid else ordered[0]
    duplicate = np.zeros(n, dtype=bool)
    keeper_row = np.zeros(n, dtype=np.int64)
    for i, group in groups.items():
        keeper = keeper_of[int(group)]
        if i != keeper:
            duplicate[i] = True
            keeper_row[i] = row_numbers[keeper]
    found.add(duplicate, "", "duplicate_person", keeper_row.astype(str))


def _first_positions(key: pd.Series) -> np.ndarray:
    """For each row, the position of the first row with the same key (-1 where key missing)."""
    codes, _ = pd.factorize(key)
    out = np.full(len(key), -1, dtype=np.int64)
    valid = codes >= 0
    if valid.any():
        _, first_index = np.unique(codes[valid], return_index=True)
        firsts = np.flatnonzero(valid)[first_index]
        lookup = np.full(codes.max() + 1, -1, dtype=np.int64)
        lookup[codes[firsts]] = firsts
        out[valid] = lookup[codes[valid]]
    return out


# ---------------------------------------------------------------------------- assembling


def _assemble(raw: RawTable, columns: ColumnMap, text: dict[str, pd.Series],
              parsed: dict[str, pd.Series], found: _Found) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(raw.cells)
    if found.positions:
        positions = np.concatenate(found.positions)
        field_names = np.concatenate([np.full(len(p), f, dtype=object)
                                      for p, f in zip(found.positions, found.fields, strict=True)])
        codes = np.concatenate([np.full(len(p), c, dtype=object)
                                for p, c in zip(found.positions, found.codes, strict=True)])
        details = np.concatenate([np.full(len(p), "", dtype=object) if d is None else d
                                  for p, d in zip(found.positions, found.details, strict=True)])
    else:
        positions = np.array([], dtype=np.int64)
        field_names = codes = details = np.array([], dtype=object)
    order = np.lexsort((codes, positions))  # by row, stable within a row
    positions, field_names, codes, details = (a[order] for a in
                                              (positions, field_names, codes, details))
    shown_column = [_column_label(f, columns, c) for f, c in zip(field_names, codes, strict=True)]
    values = [escape_value(text[f].iat[p]) if f in text else ""
              for f, p in zip(field_names, positions, strict=True)]
    messages, fixes, severities = [], [], []
    for code, column, value, detail in zip(codes, shown_column, values, details, strict=True):
        rule = RULES[code]
        messages.append(rule.message.format(column=column, value=value, detail=detail))
        fixes.append(rule.fix.format(column=column))
        severities.append(rule.severity)
    issues = pd.DataFrame({
        "row_number": pd.array(raw.row_numbers[positions], dtype="Int64"),
        "column": shown_column, "field": field_names, "value": values, "code": codes,
        "severity": severities, "message": messages, "fix": fixes,
    }, columns=list(ISSUE_COLUMNS))

    is_error = np.array([s == "error" for s in severities], dtype=bool)
    reasons = pd.Series(messages, dtype=object)[is_error].groupby(positions[is_error]).agg(
        "; ".join)
    rejected = np.zeros(n, dtype=bool)
    rejected[positions[is_error]] = True
    rows = pd.DataFrame({
        "row_number": raw.row_numbers,
        "status": np.where(rejected, "rejected", "accepted"),
        "reasons": reasons.reindex(range(n), fill_value="").to_numpy(dtype=object),
    })
    for name in CANONICAL_COLUMNS:
        if COLUMN_BY_NAME[name].kind == "date":
            rows[name] = parsed.get(name, pd.Series(pd.NaT, index=range(n),
                                                    dtype="datetime64[s]")).to_numpy()
        else:
            rows[name] = pd.Series(parsed.get(name, pd.Series(None, index=range(n))).to_numpy(
                dtype=object), dtype="str")
    return rows, issues


def _column_label(field_name: str, columns: ColumnMap, code: str) -> str:
    if code == "duplicate_person":
        return "(whole row)"
    if code == "no_event_date":
        return "(event dates)"
    if not field_name:
        return "(whole row)"
    return columns.headers.get(field_name, field_name)


def _file_issue(code: str, detail: str = "", value: str = "") -> dict[str, object]:
    rule = RULES[code]
    return {"row_number": pd.NA, "column": "", "field": "", "value": value, "code": code,
            "severity": rule.severity, "message": rule.message.format(
                column="", value=value, detail=detail), "fix": rule.fix.format(column="")}


def _file_issues(raw: RawTable, columns: ColumnMap, accepted: int,
                 programme: Programme | None, settings: IntakeSettings) -> pd.DataFrame:
    records = [_file_issue("file_note", note) for note in raw.notes]
    for position, heading in columns.extra:
        if heading or not is_blank(raw.cells[[position]]).all():
            label = f"'{escape_value(heading)}'" if heading else f"{position + 1} (no heading)"
            records.append(_file_issue("extra_column", value=label))
    if programme is not None:
        records += [_file_issue("selective_sample", d)
                    for d in selection_warnings(programme, accepted, settings)]
    frame = pd.DataFrame.from_records(records, columns=list(ISSUE_COLUMNS))
    return frame.astype({"row_number": "Int64"})


def selection_warnings(programme: Programme, accepted: int,
                       settings: IntakeSettings) -> list[str]:
    """The selective-sample safeguard: who was left out, and how that biases the comparison."""
    from jdl.intake._selective import selection_concerns

    notes = []
    declared = programme.declared_participants
    concerns = selection_concerns(programme.selection_basis, declared, accepted,
                                  settings.min_share_of_declared)
    if "completers_only" in concerns:
        notes.append("Only people who completed the programme were submitted. People who "
                     "complete a programme tend to differ from those who drop out (for example "
                     "in motivation), so the comparison is likely to flatter the programme; the "
                     "report will say so.")
    elif "other_basis" in concerns:
        notes.append(f"People were chosen for this submission in another way "
                     f"({programme.selection_notes}); the report will describe the selection, "
                     "which may bias the result.")
    if declared:
        share = accepted / declared
        if "low_share" in concerns:
            notes.append(f"{accepted:,} people were accepted but the programme worked with "
                         f"{declared:,} in the period ({share:.0%}). If the people left out differ "
                         "from those included (for example, they dropped out), the result will "
                         "be biased.")
        elif accepted > declared:
            notes.append(f"{accepted:,} people were accepted, more than the {declared:,} the "
                         "programme says it worked with; check the period or the number.")
    return notes


def _cohort_refusal(accepted: int, rows: int, settings: IntakeSettings,
                    checked: Submission | None = None) -> Refusal | None:
    minimum = settings.min_cohort_size
    if accepted >= minimum:
        return None
    cause = dominant_problem(checked) if checked is not None else None
    if cause is not None:  # one repeated mistake, not the file's size, is what to fix
        which = ("every one of them" if cause.rows == rows
                 else f"{cause.rows:,} of them")
        examples = ", ".join(str(n) for n in cause.examples)
        return Refusal(
            "too_small",
            f"{'None' if accepted == 0 else f'Only {accepted:,}'} of the {rows:,} rows could be "
            f"accepted: in {which}, {cause.problem[:1].lower()}{cause.problem[1:]} (for example "
            f"row{'s' if len(cause.examples) > 1 else ''} {examples}).",
            f"How to fix it: {cause.fix} Then send the file again; the lab needs at least "
            f"{minimum:,} people it can use.")
    return Refusal(
        "too_small",
        f"Only {accepted:,} of the {rows:,} rows could be accepted; the lab needs at least "
        f"{minimum:,} people to run an analysis.",
        "Why: the lab compares re-offending among the people you worked with against a matched "
        "group of similar people. With few people, differences arising by chance are as large "
        "as any real effect, so the result would almost certainly be 'inconclusive' - it could "
        "not show whether your programme works or not. Even with a few hundred people only "
        "large effects can be detected (of Justice Data Lab reports with over 500 people, half "
        "were statistically significant; of smaller ones, about a quarter). Fix the rejected "
        "rows listed, or include people from a longer period.",
    )


def _refused_by_columns(raw: RawTable, refusal: Refusal,
                        programme: Programme | None) -> Submission:
    """Every row of a file whose columns cannot be used, rejected with the refusal as reason."""
    rows = empty_rows().reindex(range(len(raw.cells)))
    rows["row_number"] = raw.row_numbers
    rows["status"] = "rejected"
    rows["reasons"] = "The submission was refused: " + refusal.message
    return Submission(raw.source, rows, empty_issues(), {}, refusal, programme)

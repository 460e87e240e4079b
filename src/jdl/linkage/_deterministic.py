"""The deterministic pass: an exact PNC ID or prison number, confirmed by name/date evidence.

An ID alone is not trusted: a mistyped ID can be someone else's. A row links by ID when
exactly one person carries its PNC ID or prison number *and* at least two of forename, surname
and date of birth agree with one of that person's records (agreement allows a typo, a known
nickname, a day/month swap, a date a day or two out or a one-year slip; a name typed in the
other name's box; one part of a double-barrelled surname; 1 January of the right year). Rows
that fail go to the probabilistic pass.
"""

from __future__ import annotations

ID_COLUMNS = ("pnc_id", "prison_number")


def evidence_sql(s: str = "s", r: str = "r") -> str:
    """Count (0–3) of forename, surname, date of birth that agree, allowing small errors."""
    forename = (
        f"({s}.forename = {r}.forename "
        f"OR len(list_intersect({s}.forename_groups, {r}.forename_groups)) > 0 "
        f"OR jaro_winkler_similarity({s}.forename, {r}.forename) >= 0.88 "
        f"OR {s}.forename = {r}.surname)"
    )
    surname = (
        f"({s}.surname = {r}.surname "
        f"OR jaro_winkler_similarity({s}.surname, {r}.surname) >= 0.88 "
        f"OR len(list_intersect({s}.surname_parts, {r}.surname_parts)) > 0 "
        f"OR {s}.surname = {r}.forename)"
    )
    dob = (
        f"({s}.dob = {r}.dob OR {s}.dob_swapped = {r}.dob "
        f"OR levenshtein({s}.dob, {r}.dob) <= 1 "
        f"OR abs(date_diff('day', CAST({s}.dob AS DATE), CAST({r}.dob AS DATE))) <= 2 "
        f"OR ({s}.dob_md = {r}.dob_md AND abs({s}.dob_year - {r}.dob_year) = 1) "
        f"OR {s}.dob_placeholder_year = {r}.dob_year)"
    )
    return " + ".join(f"coalesce(CAST({e} AS INTEGER), 0)" for e in (forename, surname, dob))


def id_links_sql(submission: str, register: str, *, min_evidence: int = 2) -> str:
    """``row_number, person_id`` of the rows the deterministic pass links."""
    joins = " UNION ALL ".join(
        f"SELECT s.unique_id AS row_number, r.person_id, {evidence_sql()} AS evidence "
        f"FROM {submission} AS s JOIN {register} AS r ON s.{c} = r.{c}"
        for c in ID_COLUMNS
    )
    return f"""
        WITH candidates AS ({joins}),
        per_person AS (
            SELECT row_number, person_id, max(evidence) AS evidence
            FROM candidates GROUP BY row_number, person_id
        ),
        per_row AS (
            SELECT row_number, count(*) AS people, max(person_id) AS person_id,
                   min(evidence) AS min_evidence
            FROM per_person GROUP BY row_number
        )
        SELECT row_number, person_id FROM per_row
        WHERE people = 1 AND min_evidence >= {int(min_evidence)}
        ORDER BY row_number
    """

"""Scoring a link table against the truth: precision, recall, F1, thresholds, error types.

Kept apart from the lab's own ``jdl.linkage.link_quality`` on purpose: an independent benchmark
should not grade the lab with the lab's own ruler. Definitions (per submitted row):

* a row is *in the records* when its true person is on the register;
* a link is *correct* when the row is linked to its true person, *wrong* otherwise (another
  person, or any person for a row whose person is not on the register);
* precision = correct / links made; recall = correct / rows in the records;
  F1 = 2PR / (P + R).

Rows the lab flags ``ambiguous`` carry no person and count as not linked. ``duplicate`` rows keep
their person (several rows of one person are allowed in these sets) and count normally.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

import pandas as pd

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999)


def metrics(links: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float | int]:
    """Precision, recall and F1 of ``links`` (``row_number, person_id``) against ``truth``
    (``row_number, person_id``, null person = not on the register). Rows of the truth missing
    from ``links`` count as not linked."""
    merged = truth.loc[:, ["row_number", "person_id"]].merge(
        links.loc[:, ["row_number", "person_id"]], on="row_number", how="left",
        suffixes=("_true", ""),
    )
    true_id = pd.to_numeric(merged["person_id_true"]).astype("Int64")
    linked_id = pd.to_numeric(merged["person_id"]).astype("Int64")
    linked = linked_id.notna()
    in_records = true_id.notna()
    correct = (linked & in_records & (linked_id == true_id)).fillna(False).astype(bool)
    n_linked, n_in, n_correct = int(linked.sum()), int(in_records.sum()), int(correct.sum())
    precision = n_correct / n_linked if n_linked else 1.0
    recall = n_correct / n_in if n_in else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "rows": len(merged), "in_records": n_in, "not_in_records": len(merged) - n_in,
        "linked": n_linked, "correct": n_correct, "wrong": n_linked - n_correct,
        "wrong_not_in_records": int((linked & ~in_records).sum()),
        "precision": round(precision, 5), "recall": round(recall, 5), "f1": round(f1, 5),
    }


def at_threshold(links: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The link table as it would be at a higher ``threshold`` than the one it was made at:
    probabilistic links below it are dropped; ID links stay (they have no probability). Valid
    because a row's best person does not depend on the threshold."""
    keep = (links["method"] == "id") | (links["match_probability"] >= threshold)
    return links.assign(person_id=links["person_id"].where(keep))


def sweep(links: pd.DataFrame, truth: pd.DataFrame,
          thresholds: Iterable[float] = THRESHOLDS) -> dict[str, dict[str, float | int]]:
    """:func:`metrics` at each threshold (``links`` made at the lowest one)."""
    return {str(t): metrics(at_threshold(links, t), truth) for t in thresholds}


def best_threshold(table: dict[str, dict[str, float | int]]) -> str:
    """The threshold of a :func:`sweep` with the highest F1 (the lower one on a tie)."""
    return max(table, key=lambda t: (table[t]["f1"], -float(t)))


def by_error_type(links: pd.DataFrame, truth: pd.DataFrame,
                  column: str = "errors") -> dict[str, dict[str, float | int]]:
    """Recall (and links made, wrong links) per error type. ``truth[column]``: error tags
    joined by ``;`` (empty: none); a row with two errors counts under both."""
    tags = truth[column].fillna("").astype(str).str.split(";")
    exploded = truth.assign(error_type=tags).explode("error_type")
    exploded["error_type"] = exploded["error_type"].replace("", "none")
    out: dict[str, dict[str, float | int]] = {}
    for kind, part in exploded.groupby("error_type", sort=True):
        m = metrics(links, part.drop_duplicates("row_number"))
        out[str(kind)] = {k: m[k] for k in ("rows", "in_records", "linked", "correct", "wrong",
                                            "recall", "precision")}
    return out


# --- what kind of difference a submitted row has from its person's register record ---------

def plain(value: object) -> str:
    """Upper-case A–Z only, accents transliterated by decomposition (É → E); '' when empty.
    Used to classify differences, not by the lab."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return "".join(c for c in text.upper() if "A" <= c <= "Z")


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (small strings; the classifier only)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _name_change(original: str, given: str, label: str) -> list[str]:
    if original == given:
        return []
    if not given:
        return [f"{label}_missing"]
    if given in original or original in given:
        return [f"{label}_part"]  # one part of a double name, or extra part added
    return [f"{label}_edit" if edit_distance(original, given) <= 2 else f"{label}_other"]


def _date_change(original: str | None, given: str | None) -> list[str]:
    """Dates as ``YYYY-MM-DD`` strings (None: missing or not a valid date)."""
    if original == given:
        return []
    if not given:
        return ["dob_missing"]
    if not original:
        return ["dob_other"]
    oy, om, od = original.split("-")
    gy, gm, gd = given.split("-")
    if (gm, gd) == ("01", "01") and (om, od) != ("01", "01"):
        return ["dob_placeholder"]
    if (gy, gm, gd) == (oy, od, om):
        return ["dob_day_month_swap"]
    if (gm, gd) == (om, od):
        return ["dob_year_off_1" if abs(int(gy) - int(oy)) == 1 else "dob_year_other"]
    digits = sum(a != b for a, b in zip(original, given, strict=True))
    return ["dob_one_digit" if digits == 1 else "dob_several_digits"]


def classify(original: Sequence[object], given: Sequence[object]) -> list[str]:
    """Error tags for a submitted ``(forename, surname, dob)`` against its person's register
    record: ``names_swapped``, ``forename_/surname_`` + ``missing|part|edit|other``,
    ``dob_`` + ``missing|placeholder|day_month_swap|year_off_1|year_other|one_digit|
    several_digits|other``, or ``[]`` when they agree after :func:`plain`."""
    of, os_, odob = plain(original[0]), plain(original[1]), original[2]
    gf, gs, gdob = plain(given[0]), plain(given[1]), given[2]
    if gf and gs and (gf, gs) == (os_, of) and of != os_:
        tags = ["names_swapped"]
    else:
        tags = _name_change(of, gf, "forename") + _name_change(os_, gs, "surname")
    return tags + _date_change(odob, gdob)

"""Linkage quality against a truth file: precision, recall, blocking recall.

Used by the tests and ``bench/bench_linkage.py`` on synthetic submissions, whose truth files
say which person each row really is (null: not in the records).
"""

from __future__ import annotations

import pandas as pd


def _truth_pairs(truth: pd.DataFrame) -> pd.DataFrame:
    out = truth.loc[:, ["row_number", "person_id"]].copy()
    out["person_id"] = out["person_id"].astype("Int64")
    return out


def link_outcomes(links: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per row of ``links`` (in its order): ``linked``, ``in_records`` (the truth has a person
    for it) and ``correct`` (linked to that person) — what precision and recall count. Rows
    flagged ambiguous have no person and count as not linked."""
    merged = links.loc[:, ["row_number", "person_id"]].merge(
        _truth_pairs(truth), on="row_number", how="left", suffixes=("", "_true")
    )
    linked = merged["person_id"].notna()
    in_records = merged["person_id_true"].notna()
    correct = linked & in_records & (merged["person_id"] == merged["person_id_true"]).fillna(False)
    return pd.DataFrame({"linked": linked, "in_records": in_records,
                         "correct": correct.astype(bool)})


def link_quality(links: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float | int]:
    """Precision and recall of a link table against the truth.

    precision = correct links / links made; recall = correct links / rows whose person is in
    the records. Rows flagged ambiguous count as not linked.
    """
    return outcome_quality(link_outcomes(links, truth))


def outcome_quality(outcomes: pd.DataFrame) -> dict[str, float | int]:
    """:func:`link_quality` from the rows' :func:`link_outcomes`."""
    n_linked = int(outcomes["linked"].sum())
    n_true = int(outcomes["in_records"].sum())
    n_correct = int(outcomes["correct"].sum())
    return {
        "rows": len(outcomes),
        "in_records": n_true,
        "linked": n_linked,
        "correct": n_correct,
        "wrong": n_linked - n_correct,
        "precision": n_correct / n_linked if n_linked else 1.0,
        "recall": n_correct / n_true if n_true else 1.0,
    }


def blocking_recall(candidates: pd.DataFrame, truth: pd.DataFrame) -> float:
    """Share of rows in the records whose true person is among their blocked candidates."""
    true_pairs = _truth_pairs(truth).dropna()
    if true_pairs.empty:
        return 1.0
    found = candidates.loc[:, ["row_number", "person_id"]].drop_duplicates()
    found = found.astype({"person_id": "Int64"})
    hit = true_pairs.merge(found, on=["row_number", "person_id"], how="inner")
    return len(hit) / len(true_pairs)


def recall_by(links: pd.DataFrame, truth: pd.DataFrame, column: str) -> pd.DataFrame:
    """Recall within groups of a truth column (e.g. the kind of error planted in the row)."""
    merged = _truth_pairs(truth).merge(
        truth.loc[:, ["row_number", column]], on="row_number"
    ).merge(links.loc[:, ["row_number", "person_id"]], on="row_number", suffixes=("_true", ""))
    merged = merged[merged["person_id_true"].notna()]
    merged["correct"] = (merged["person_id"] == merged["person_id_true"]).fillna(False)
    return merged.groupby(column)["correct"].agg(rows="size", recall="mean").reset_index()

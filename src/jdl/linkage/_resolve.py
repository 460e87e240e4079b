"""One person per row: turn scored candidate pairs into each row's person, or none.

Splink's match probability is per *pair*: it weighs one register record against the prior
chance that two random records match, as if each pair were alone. A row, though, is exactly one
of the register's N people or nobody, and blocking shows us every person with a plausible
claim. So the probability that row r is person i is

    P(i | r) = λ·BF_i / ((1 − π) + Σ_j λ·BF_j),     λ = π / N,

with BF the Bayes factor (2^(match weight − prior weight)), π the share of submitted people
expected in the records, and the sum over the row's candidates (people outside the blocks have
negligible Bayes factors). A row links to its best person when P ≥ threshold; it is
*ambiguous* when it is probably in the records (Σ_j P(j | r) ≥ threshold) but no one person
reaches the threshold — linking it would be a guess, and a wrong link harms the evaluation
more than a missing one.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from jdl.linkage._result import LinkResult, summarise


def row_posteriors(candidates: pd.DataFrame, *, pair_prior: float, n_people: int,
                   prior_in_register: float) -> pd.DataFrame:
    """``row_number, person_id, posterior`` for every candidate person of every row.

    ``candidates`` has ``row_number, person_id, match_weight`` (a person's alias records may
    appear too: the best record counts).
    """
    per_person = (
        candidates.loc[:, ["row_number", "person_id", "match_weight"]]
        .groupby(["row_number", "person_id"], as_index=False)["match_weight"].max()
    )
    log2_bf = per_person["match_weight"] - math.log2(pair_prior / (1.0 - pair_prior))
    log2_a = log2_bf + math.log2(prior_in_register / n_people)
    log2_none = math.log2(1.0 - prior_in_register)
    # log2 of the denominator per row, computed stably (log-sum-exp in base 2).
    top = np.maximum(log2_a.groupby(per_person["row_number"]).transform("max"), log2_none)
    total = np.exp2(log2_a - top).groupby(per_person["row_number"]).transform("sum")
    log2_denominator = top + np.log2(total + np.exp2(log2_none - top))
    return per_person.assign(posterior=np.exp2(log2_a - log2_denominator)).drop(
        columns="match_weight"
    )


def best_candidates(posteriors: pd.DataFrame, *, threshold: float) -> pd.DataFrame:
    """Per row with a candidate: the best person if their posterior reaches ``threshold``.

    Returns ``row_number, person_id, match_probability, ambiguous`` (ambiguous rows keep
    their best posterior for diagnosis but get no person).
    """
    columns = ["row_number", "person_id", "match_probability", "ambiguous"]
    if posteriors.empty:
        return pd.DataFrame(columns=columns)
    ordered = posteriors.sort_values(["row_number", "posterior"], ascending=[True, False])
    best = ordered.drop_duplicates("row_number").set_index("row_number")
    in_records = ordered.groupby("row_number")["posterior"].sum()
    linked = best["posterior"] >= threshold
    ambiguous = ~linked & (in_records.reindex(best.index) >= threshold)
    out = best.assign(ambiguous=ambiguous, match_probability=best["posterior"])
    out = out[linked | ambiguous].reset_index()
    return out.loc[:, columns]


def row_summary(posteriors: pd.DataFrame) -> pd.DataFrame:
    """Per row with a candidate, whatever the threshold: ``row_number, best_person_id,
    best_probability`` (the best person's posterior) and ``in_records`` (Σ_j P(j | row), the
    probability that the row's person is in the records at all).

    Kept in the link table so the link at another threshold and the expected number of false
    and missed links (:mod:`jdl.linkage._result`) need no re-scoring.
    """
    columns = ["row_number", "best_person_id", "best_probability", "in_records"]
    if posteriors.empty:
        return pd.DataFrame(columns=columns)
    ordered = posteriors.sort_values(["row_number", "posterior"], ascending=[True, False])
    best = ordered.drop_duplicates("row_number").set_index("row_number")
    in_records = ordered.groupby("row_number")["posterior"].sum().clip(upper=1.0)
    return pd.DataFrame({
        "row_number": best.index.astype("int64"),
        "best_person_id": best["person_id"].to_numpy(),
        "best_probability": best["posterior"].to_numpy(dtype=float),
        "in_records": in_records.reindex(best.index).to_numpy(dtype=float),
    })


def assemble(row_numbers: pd.Series, id_links: pd.DataFrame,
             probabilistic: pd.DataFrame, rows: pd.DataFrame | None = None) -> LinkResult:
    """Combine the ID and probabilistic passes into the link table and its summary.

    ``rows``: :func:`row_summary` of the probabilistic pass; its columns join the link table
    (lab-internal: the CSV keeps :data:`LINK_COLUMNS`). ID-linked rows get ``in_records`` 1.
    """
    links = pd.DataFrame({"row_number": pd.Series(row_numbers, dtype="int64").to_numpy()})
    ids = id_links.assign(method="id", match_probability=1.0, ambiguous=False)
    prob = probabilistic.assign(method="probabilistic")
    chosen = pd.concat([ids, prob], ignore_index=True)
    chosen = chosen[~chosen["row_number"].duplicated()]  # the ID pass wins
    links = links.merge(chosen, on="row_number", how="left")
    links["ambiguous"] = links["ambiguous"].astype("boolean").fillna(False).astype(bool)
    links.loc[links["method"].isna() | links["ambiguous"], "method"] = "none"
    links.loc[links["ambiguous"], "person_id"] = np.nan
    links["person_id"] = links["person_id"].astype("Int64")
    links["match_probability"] = links["match_probability"].astype(float)
    links = links.sort_values("row_number", kind="stable").reset_index(drop=True)
    linked = links["person_id"].notna()
    links["duplicate"] = linked & links["person_id"].duplicated()
    links = links.loc[:, ["row_number", "person_id", "match_probability", "method", "ambiguous",
                          "duplicate"]]
    links = _with_row_summary(links, rows)
    return LinkResult(links=links, summary=summarise(links))


def _with_row_summary(links: pd.DataFrame, rows: pd.DataFrame | None) -> pd.DataFrame:
    summary = rows if rows is not None else row_summary(pd.DataFrame())
    out = links.merge(summary, on="row_number", how="left")
    by_id = out["method"] == "id"
    out["best_person_id"] = out["best_person_id"].astype("Int64").where(~by_id, out["person_id"])
    out["best_probability"] = out["best_probability"].astype(float).where(~by_id, 1.0)
    out["in_records"] = out["in_records"].astype(float).where(~by_id, 1.0)
    return out

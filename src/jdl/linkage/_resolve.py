"""One person per row: choose each row's best candidate, or none, and flag duplicates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jdl.linkage._result import LinkResult, summarise


def best_candidates(candidates: pd.DataFrame, *, threshold: float,
                    ambiguity_margin: float) -> pd.DataFrame:
    """Per row, the best person above ``threshold`` unless another person is nearly as good.

    ``candidates`` has ``row_number, person_id, match_probability, match_weight`` (several
    register records of one person — aliases — may appear; the best record counts). A row is
    *ambiguous* when its second-best person also clears the threshold and trails the best by
    less than ``ambiguity_margin`` in match weight (log2 Bayes factor): linking either would be
    a guess, and a wrong link poisons the evaluation more than a missing one.
    """
    columns = ["row_number", "person_id", "match_probability", "ambiguous"]
    if candidates.empty:
        return pd.DataFrame(columns=columns)
    per_person = (
        candidates.sort_values("match_weight", ascending=False)
        .drop_duplicates(["row_number", "person_id"])
    )
    per_person = per_person.assign(rank=per_person.groupby("row_number").cumcount())
    best = per_person[per_person["rank"] == 0].set_index("row_number")
    second = per_person[per_person["rank"] == 1].set_index("row_number")
    best = best[best["match_probability"] >= threshold]
    second = second.reindex(best.index)
    ambiguous = (second["match_probability"] >= threshold) & (
        best["match_weight"] - second["match_weight"] < ambiguity_margin
    )
    out = best.assign(ambiguous=ambiguous.fillna(False).astype(bool)).reset_index()
    return out.loc[:, columns]


def assemble(row_numbers: pd.Series, id_links: pd.DataFrame,
             probabilistic: pd.DataFrame) -> LinkResult:
    """Combine the ID and probabilistic passes into the link table and its summary."""
    links = pd.DataFrame({"row_number": pd.Series(row_numbers, dtype="int64").to_numpy()})
    ids = id_links.assign(method="id", match_probability=1.0, ambiguous=False)
    prob = probabilistic.assign(method="probabilistic")
    chosen = pd.concat([ids, prob], ignore_index=True)
    chosen = chosen[~chosen["row_number"].duplicated()]  # the ID pass wins
    links = links.merge(chosen, on="row_number", how="left")
    links["ambiguous"] = links["ambiguous"].fillna(False).astype(bool)
    unlinked = links["method"].isna() | links["ambiguous"]
    links.loc[unlinked, "method"] = "none"
    links.loc[links["ambiguous"], ["person_id"]] = np.nan
    links.loc[(links["method"] == "none") & ~links["ambiguous"], "match_probability"] = np.nan
    links["person_id"] = links["person_id"].astype("Int64")
    links["match_probability"] = links["match_probability"].astype(float)
    links = links.sort_values("row_number", kind="stable").reset_index(drop=True)
    linked = links["person_id"].notna()
    links["duplicate"] = linked & links["person_id"].duplicated()
    return LinkResult(links=links.loc[:, ["row_number", "person_id", "match_probability",
                                          "method", "ambiguous", "duplicate"]],
                      summary=summarise(links))

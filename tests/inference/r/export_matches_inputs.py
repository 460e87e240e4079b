"""Write the ``get_matches()``-style rows whose two-way standard errors R checks.

Lalonde, 3:1 nearest neighbour with replacement (jdl.matching.match), expanded by
:func:`jdl.inference._variance.pair_rows` (one row per member of each participant's set,
comparison people repeated, weight 1/m), with person ids that repeat (every 7th row is the
person of the row before: a person in the pool in two years). Run from the repository root:
``python tests/inference/r/export_matches_inputs.py``; then
``Rscript tests/inference/r/matches_reference.R`` writes matches_reference.csv.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from jdl.inference._variance import pair_rows
from jdl.matching import match

HERE = Path(__file__).parent
LALONDE = HERE.parents[1] / "matching" / "data" / "lalonde.csv"
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


def person_ids(n: int) -> np.ndarray:
    ids = np.arange(n)
    ids[7::7] = ids[6::7][: len(ids[7::7])]
    return ids


def cases() -> pd.DataFrame:
    df = pd.read_csv(LALONDE)
    person = person_ids(len(df))
    out = []
    for name, kw in {"replace_3to1": {"ratio": 3, "replace": True},
                     "replace_2to1_caliper": {"ratio": 2, "replace": True, "caliper": 0.1}
                     }.items():
        m = match(df, "treat", COVS, **kw)
        pr = pair_rows(m)
        out.append(pd.DataFrame({"case": name, "y": df["re78"].to_numpy()[pr.row],
                                 "treat": pr.treat.astype(int), "weights": pr.weight,
                                 "matched_set": pr.matched_set, "person": person[pr.row]}))
    return pd.concat(out, ignore_index=True)


if __name__ == "__main__":
    cases().to_csv(HERE / "matches_inputs.csv", index=False)

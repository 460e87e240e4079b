"""Write the matched samples whose standard errors R checks (se_inputs.csv).

Run from the repository root: ``python tests/inference/r/export_se_inputs.py``; then
``Rscript tests/inference/r/se_reference.R`` writes se_reference.csv. Both files are committed;
tests/inference/test_r_reference.py compares jdl with them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from jdl.inference._estimate import clusters_for
from jdl.matching import match

HERE = Path(__file__).parent
LALONDE = HERE.parents[1] / "matching" / "data" / "lalonde.csv"
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


def person_ids(n: int) -> np.ndarray:
    """Person ids with repeats: every 7th row is the same person as the row before it (a person
    in the pool in two years), so person clustering differs from row clustering."""
    ids = np.arange(n)
    ids[7::7] = ids[6::7][: len(ids[7::7])]
    return ids


def cases() -> pd.DataFrame:
    df = pd.read_csv(LALONDE)
    df["person"] = person_ids(len(df))
    designs = {
        "nearest_2to1": {"ratio": 2},
        "nearest_3to1_replace": {"ratio": 3, "replace": True},
        "subclass": {"method": "subclass"},
        "exact": {"method": "exact"},
    }
    out = []
    for name, kw in designs.items():
        covs = ["race", "married", "nodegree"] if name == "exact" else COVS
        m = match(df, "treat", covs, **kw)
        md = m.matched
        pairs = m.spec.method == "nearest" and not m.spec.replace
        for with_person in (False, True):
            pair = md["subclass"].to_numpy(dtype="int64") if md["subclass"].notna().all() \
                else None
            ways = clusters_for(md["treat"].to_numpy() == 1, pair,
                                md["person"].to_numpy() if with_person else None,
                                pairs_design=pairs)
            out.append(pd.DataFrame({
                "case": f"{name}{'_person' if with_person else ''}",
                "vcov": "+".join(sorted(ways)) if ways else "HC3",
                "y": md["re78"], "treat": md["treat"], "weights": md["weights"],
                "pair": md["subclass"].fillna(-1).astype(int), "person": md["person"]}))
    return pd.concat(out, ignore_index=True)


if __name__ == "__main__":
    cases().to_csv(HERE / "se_inputs.csv", index=False)

"""Write the matched samples whose covariate-adjusted effects R checks (adjusted_inputs.csv).

Run from the repository root: ``python tests/inference/r/export_adjusted_inputs.py``; then
``Rscript tests/inference/r/adjusted_reference.R`` writes adjusted_reference.csv.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from jdl.inference._adjusted import covariate_matrix
from jdl.inference._estimate import clusters_for
from jdl.matching import match

HERE = Path(__file__).parent
LALONDE = HERE.parents[1] / "matching" / "data" / "lalonde.csv"
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
DESIGNS = {"nearest_2to1": {"ratio": 2}, "nearest_3to1_replace": {"ratio": 3, "replace": True},
           "subclass": {"method": "subclass"}}


def lalonde() -> pd.DataFrame:
    df = pd.read_csv(LALONDE)
    df["employed"] = (df["re78"] > 0).astype(int)  # a 0/1 outcome, like re-offending
    df["jobs"] = np.minimum(np.round(df["re78"] / 2000), 10)  # a count, like re-offences
    df["re78k"] = df["re78"] / 1000  # a continuous outcome, like days
    return df


def cases() -> pd.DataFrame:
    df = lalonde()
    out = []
    for name, kw in DESIGNS.items():
        m = match(df, "treat", COVS, **kw)
        md = m.matched
        Z = covariate_matrix(md, COVS)
        pairs = m.spec.method == "nearest" and not m.spec.replace
        pair = md["subclass"].to_numpy(dtype="int64") if pairs else None
        ways = clusters_for(md["treat"].to_numpy() == 1, pair, None, pairs_design=pairs)
        frame = pd.DataFrame({"case": name, "vcov": "+".join(ways) if ways else "HC3",
                              "treat": md["treat"].to_numpy(), "weights": md["weights"],
                              "pair": md["subclass"].fillna(-1).astype(int),
                              "employed": md["employed"], "jobs": md["jobs"],
                              "re78k": md["re78k"]})
        for j in range(Z.shape[1]):
            frame[f"z{j + 1}"] = Z[:, j]
        out.append(frame)
    return pd.concat(out, ignore_index=True)


if __name__ == "__main__":
    cases().to_csv(HERE / "adjusted_inputs.csv", index=False)

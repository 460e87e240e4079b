"""Side by side on the same data: ``jdl.matching`` against R's MatchIt and the Python peer psmpy.

Two data sets: MatchIt's ``lalonde`` (614 rows, ``../shared/reference/lalonde.csv``; 1:1, with
replacement, caliper 0.1 and 2:1) and the comparison pool of the 1M-person synthetic population
(``bench/work/synth-1000000``, custody releases 2016-2022) with 1,000 and 10,000 "treated"
events drawn with probabilities that depend on age, record and work (so matching has something to
do), on nine pool covariates. Compared: wall time of the matching call (R: ``matchit()`` alone,
reading the CSV not counted), peak memory of the process, the matched sets (share of MatchIt's
matched controls that jdl also matched, identical pairs) and the ATT on ``re78`` / one-year
re-offending.

Peers are not project dependencies: ``make bench-setup`` installs R with MatchIt (Debian's
r-cran-matchit) and psmpy (into ``bench/work/peer``). A missing peer is recorded as ``skipped``
with the reason. psmpy is run on lalonde only: on 1,000 treated against 20,000 controls it took
243 s (``matching.json``), so the 1M pool is out of its reach.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.common import WORK_DIR, run_case, write_results

LALONDE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "lalonde.csv"
LALONDE_COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
POOL_COVS = ["age_at_index", "sex", "prev_offences", "prev_convictions", "prev_custodial",
             "employment_days_1y", "benefit_days_1y", "copas_rate", "region"]
SPECS: dict[str, dict[str, Any]] = {
    "nearest 1:1": {},
    "nearest 1:1 replace": {"replace": True},
    "nearest 1:1 caliper 0.1": {"caliper": 0.1},
    "nearest 2:1": {"ratio": 2},
}
PEER_DIR = WORK_DIR / "peer"
OUT = WORK_DIR / "peers"

R_SCRIPT = r"""
suppressPackageStartupMessages(library(MatchIt))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = TRUE)
f <- as.formula(args[2]); outcome <- args[3]
ratio <- as.numeric(args[4]); replace <- args[5] == "TRUE"
caliper <- if (args[6] == "NA") NULL else as.numeric(args[6])
t0 <- proc.time()
m <- matchit(f, data = d, method = "nearest", distance = "glm", ratio = ratio,
             replace = replace, caliper = caliper)
used <- proc.time() - t0
elapsed <- used[["elapsed"]]; cpu <- used[["user.self"]] + used[["sys.self"]]
md <- match.data(m)
y <- md[[outcome]]; w <- md$weights; t <- md$treat == 1
att <- weighted.mean(y[t], w[t]) - weighted.mean(y[!t], w[!t])
write.csv(data.frame(row = as.integer(rownames(md)), treat = md$treat, weight = w),
          args[7], row.names = FALSE)
cat(sprintf(paste0('{"matchit_s": %.4f, "matchit_cpu_s": %.4f, "att": %.10f, ',
                   '"n_treated": %d, "n_control": %d, "version": "%s"}\n'),
            elapsed, cpu, att, sum(t), sum(!t),
            as.character(packageVersion("MatchIt"))))
"""


def _att(m, y: np.ndarray) -> float:
    w, t = m.weights, m.treat
    return float(np.average(y[t], weights=w[t]) - np.average(y[~t], weights=w[~t]))


def jdl_case(csv: str, covs: list[str], outcome: str, spec: str) -> dict[str, Any]:
    from jdl.matching import match

    df = pd.read_csv(csv)
    start, cpu = time.perf_counter(), time.process_time()
    m = match(df, "treat", covs, **SPECS[spec])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    weights = pd.DataFrame({"row": np.arange(1, len(df) + 1), "weight": m.weights})
    weights[weights.weight > 0].to_csv(f"{csv}.jdl-{spec.replace(' ', '_')}.csv", index=False)
    return {"match_s": round(seconds, 4), "match_cpu_s": round(cpu, 4),
            "att": round(_att(m, df[outcome].to_numpy(dtype=float)), 6),
            "n_treated": m.n_treated_matched, "n_control": m.n_control_matched}


def matchit_case(csv: str, covs: list[str], outcome: str, spec: str) -> dict[str, Any]:
    if shutil.which("Rscript") is None:
        return {"skipped": "R is not installed (make bench-setup)"}
    script = OUT / "match.R"
    script.write_text(R_SCRIPT)
    kw = SPECS[spec]
    out = f"{csv}.matchit-{spec.replace(' ', '_')}.csv"
    cmd = ["/usr/bin/time", "-f", "%M", "Rscript", str(script), csv,
           "treat ~ " + " + ".join(covs), outcome, str(kw.get("ratio", 1)),
           str(kw.get("replace", False)).upper(), str(kw.get("caliper", "NA")), out]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"skipped": "MatchIt failed: " + done.stderr.strip().splitlines()[-1][:200]}
    record = json.loads(done.stdout.strip().splitlines()[-1])
    record["rscript_total_s"] = round(time.perf_counter() - start, 2)
    record["rscript_peak_rss_mib"] = round(int(done.stderr.strip().splitlines()[-1]) / 1024, 1)
    record["att"] = round(record["att"], 6)
    return {**record, **_agreement(csv, spec)}


def _agreement(csv: str, spec: str) -> dict[str, Any]:
    """How far jdl's matched set is MatchIt's: same weights per row, same controls."""
    tag = spec.replace(" ", "_")
    jdl_path, r_path = Path(f"{csv}.jdl-{tag}.csv"), Path(f"{csv}.matchit-{tag}.csv")
    if not jdl_path.exists():
        return {}
    jdl, r = pd.read_csv(jdl_path), pd.read_csv(r_path)
    both = jdl.merge(r, on="row", how="outer", suffixes=("_jdl", "_r")).fillna(0.0)
    same = np.isclose(both.weight_jdl, both.weight_r, rtol=1e-9, atol=1e-12)
    return {"rows_matched_jdl": len(jdl), "rows_matched_matchit": len(r),
            "rows_same_weight": int(same.sum()), "rows_either": len(both),
            "identical_matched_set": bool(same.all())}


def psmpy_case(csv: str, covs: list[str], outcome: str) -> dict[str, Any]:
    sys.path.insert(0, str(PEER_DIR))
    try:
        import psmpy
    except ImportError:
        return {"skipped": "psmpy is not importable (make bench-setup)"}
    from bench.bench_matching import psmpy_match

    df = pd.read_csv(csv)
    frame = pd.get_dummies(df[["treat", *covs]], drop_first=True, dtype=float)
    frame.insert(0, "pid", np.arange(len(frame)))
    psm, _, seconds = psmpy_match(frame)
    matched = psm.df_matched["pid"].to_numpy()
    y, t = df[outcome].to_numpy(dtype=float)[matched], df["treat"].to_numpy()[matched] == 1
    return {"match_s": round(seconds, 3), "att": round(float(y[t].mean() - y[~t].mean()), 6),
            "n_treated": int(t.sum()), "n_control": int((~t).sum()),
            "version": getattr(psmpy, "__version__", "0.3.16"),
            "note": "psmpy fits sklearn's penalised logistic regression (C=1), not R's glm"}


def pool_frame(people: int, treated: int, seed: int = 11) -> dict[str, str]:
    """The 1M pool's custody releases with ``treated`` events drawn with probability rising with
    record and falling with age and work; written once as CSV (what R reads)."""
    out = OUT / f"pool-{people}-{treated}.csv"
    if out.exists():
        return {"path": str(out)}
    from jdl.cohort import build_pool
    from jdl.engines import open_admin

    with open_admin(WORK_DIR / f"synth-{people}") as engine:
        strata = [("custody_release", y) for y in range(2016, 2023)]
        pool = build_pool(engine, strata=strata)
    frame = pool[["reoffended", *POOL_COVS]].dropna().reset_index(drop=True)
    rng = np.random.default_rng(seed)
    score = (0.08 * np.log1p(frame.prev_offences) - 0.03 * frame.age_at_index
             - 0.002 * frame.employment_days_1y)
    p = np.exp(score - score.max())
    chosen = rng.choice(len(frame), size=treated, replace=False, p=p / p.sum())
    frame.insert(0, "treat", 0)
    frame.loc[chosen, "treat"] = 1
    frame.to_csv(out, index=False)
    return {"path": str(out), "rows": len(frame)}


def main(quick: bool = False) -> list[dict]:
    OUT.mkdir(parents=True, exist_ok=True)
    lalonde = OUT / "lalonde.csv"
    pd.read_csv(LALONDE).to_csv(lalonde, index=False)
    sets = [("lalonde", str(lalonde), LALONDE_COVS, "re78", list(SPECS))]
    if not quick:
        for treated in (1_000, 10_000):
            csv = OUT / f"pool-1000000-{treated}.csv"
            # in its own process: a spawned case's peak RSS starts at its parent's
            run_case(f"prepare {csv.name}", pool_frame, 1_000_000, treated)
            sets.append((f"pool 1M, {treated:,} treated", str(csv), POOL_COVS, "reoffended",
                         ["nearest 1:1"]))
    records = []
    for name, csv, covs, outcome, specs in sets:
        for spec in specs:
            meta = {"data": name, "spec": spec}
            records.append({**meta, "peer": "jdl",
                            **run_case(f"jdl {spec} on {name}", jdl_case, csv, covs, outcome,
                                       spec)})
            records.append({**meta, "peer": "MatchIt",
                            **run_case(f"MatchIt {spec} on {name}", matchit_case, csv, covs,
                                       outcome, spec)})
        if name == "lalonde":
            records.append({"data": name, "spec": "nearest 1:1", "peer": "psmpy",
                            **run_case(f"psmpy nearest 1:1 on {name}", psmpy_case, csv, covs,
                                       outcome)})
    write_results("peers", records)
    return records


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main(quick="--quick" in sys.argv)

"""Which standard error is right after k:1 matching with replacement? A placebo Monte Carlo.

Fast diagnosis at the matching + inference layer (no linkage, no cohort build per replicate).
One generated population's comparison pool (``bench.validate_pipeline.Population``) gives
**placebo cohorts**: people drawn from the pool itself with a selection that depends on their
covariates (younger, more previous offences, less employment - as the planted programmes'
selection does), so there is *exactly no programme effect*: any difference between them and
their matched comparison group is the matching's error. Each replicate draws a fresh placebo
cohort (its people leave the pool, every year of them, as ``build_pool`` excludes
participants), matches it the way the evaluation does and computes every standard-error rule
of :mod:`jdl.inference._variance` on the same estimate:

* ``weights``: the lab's rule (``estimate_effects``: HC3 on ``match.data`` with the weights,
  plus the person when someone repeats);
* ``pairs+person``: ``get_matches()`` rows, two-way CR1 on the matched set and the person;
* ``pairs``: the same rows, one-way on the matched set (what ignoring reuse gives);
* ``abadie-imbens``: Abadie and Imbens (2006).

For each design and rule: the empirical SD of the estimates against the mean (and RMS) SE, the
null rejection rate (p <= 0.05) with its Monte Carlo error, and the mean estimate (the
matching's bias at no effect).

    python -m bench.validate_se_rules [--reps 200] [--sizes 60 120 250] [--seed 11]

Writes ``bench/results/validation_se_rules.json`` (and its rows ``.jsonl``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.common import RESULTS_DIR, write_results

DESIGNS: dict[str, dict[str, Any]] = {
    "one-to-one": {"design": "fixed", "method": "nearest", "ratio": 1, "replace": False,
                   "caliper": 0.2},
    "power-first": {"design": "power_first"},
    # the design power-first chooses for 95% of the pipeline's cohorts, in one matching
    "10:1 with replacement": {"design": "fixed", "method": "nearest", "ratio": 10,
                              "replace": True, "caliper": 0.2, "link": "linear.logit"},
    "5:1 without replacement": {"design": "fixed", "method": "nearest", "ratio": 5,
                                "replace": False, "caliper": 0.2},
}
RULES = ("weights", "pairs+person", "pairs", "abadie-imbens")
OUT = RESULTS_DIR / "validation_se_rules.jsonl"


def placebo_cohort(pool: pd.DataFrame, size: int, rng: np.random.Generator,
                   index_type: str) -> pd.DataFrame:
    """``size`` pool rows of one index type and two adjacent years (a programme's delivery
    window, so the comparison pool is the size a real evaluation's is) selected with
    probability rising with previous offences and falling with age and employment (no effect
    on anything: they are pool people)."""
    years = sorted(pool["index_year"].unique())
    first = years[int(rng.integers(0, len(years) - 2))]
    cand = pool[(pool["index_type"].astype(str) == index_type)
                & pool["index_year"].between(first, first + 1)]
    z = (-0.03 * (cand["age_at_index"] - 30) + 0.04 * np.minimum(cand["prev_offences"], 30)
         - 0.004 * cand["employment_days_1y"]).to_numpy(dtype=float)
    p = np.exp(z - z.max())
    pick = rng.choice(len(cand), size=size, replace=False, p=p / p.sum())
    out = cand.iloc[pick].copy()
    out["treated"] = 1
    return out


def frame_of(pool: pd.DataFrame, treated: pd.DataFrame) -> pd.DataFrame:
    """Treated rows then the pool rows of their strata, without any of the treated people."""
    strata = set(zip(treated["index_type"].astype(str), treated["index_year"].astype(int),
                     strict=True))
    key = list(zip(pool["index_type"].astype(str), pool["index_year"].astype(int), strict=True))
    keep = np.array([k in strata for k in key]) & ~pool["person_id"].isin(treated["person_id"])
    return pd.concat([treated, pool[keep]], ignore_index=True)


def se_rules(result, effect, alpha: float = 0.05) -> dict[str, float]:
    """Every rule's standard error of the same difference (the rate)."""
    from jdl.inference._variance import abadie_imbens_att, pairs_person_difference

    y = result.data["reoffended"].to_numpy(dtype=float)
    person = result.data["person_id"].to_numpy()
    out = {"weights": effect.se}
    both = pairs_person_difference(result, y, person, alpha=alpha)
    one = pairs_person_difference(result, y, None, alpha=alpha)
    ai = abadie_imbens_att(result, y, alpha=alpha)
    out["pairs+person"], out["pairs"], out["abadie-imbens"] = both.se, one.se, ai.se
    out["check_estimates_agree"] = float(max(abs(both.difference - effect.difference),
                                             abs(ai.difference - effect.difference)))
    return out


def run(pool: pd.DataFrame, sizes: list[int], reps: int, seed: int, out: Path,
        designs: dict[str, dict[str, Any]]) -> None:
    from threadpoolctl import threadpool_limits

    from bench.validate_pipeline import evaluate_design

    threadpool_limits(1)
    done = {(r["size"], r["replicate"], r["design"]) for r in read(out)}
    for rep in range(reps):
        for size in sizes:
            rng = np.random.default_rng([seed, size, rep])
            index_type = ("court_order", "custody_release")[rep % 2]
            treated = placebo_cohort(pool, size, rng, index_type)
            frame = None
            for name, overrides in designs.items():
                if (size, rep, name) in done:
                    continue
                frame = frame_of(pool, treated) if frame is None else frame
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result, effect, _, used = evaluate_design(frame, overrides, 1)
                rules = se_rules(result, effect)
                row = {"seed": seed, "size": size, "replicate": rep, "design": name,
                       "design_used": used, "estimate": effect.difference,
                       "n_treated": result.n_treated_matched,
                       "n_controls": result.n_control_matched, **{f"se_{k}": v for k, v in
                                                                  rules.items()},
                       "seconds": round(time.perf_counter() - t0, 2)}
                with open(out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
                print(f"  n={size} #{rep} {name} ({used}): {100 * row['estimate']:+.1f} pp, "
                      + ", ".join(f"{k} {100 * v:.2f}" for k, v in rules.items()
                                  if k in RULES) + f" ({row['seconds']} s)", flush=True)


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(s) for s in path.read_text().splitlines() if s.strip()] \
        if path.exists() else []


def summarise(rows: pd.DataFrame) -> dict[str, Any]:
    """Per design (and size): SD of estimates vs each rule's mean / RMS SE, rejection rates."""
    from scipy import stats

    z = stats.norm.ppf(0.975)
    out: dict[str, Any] = {}
    for design, g in rows.groupby("design", sort=False):
        per: dict[str, Any] = {}
        for label, part in [("all", g), *((str(s), p) for s, p in g.groupby("size"))]:
            n = len(part)
            sd = float(part["estimate"].std(ddof=1))
            entry: dict[str, Any] = {
                "replicates": n, "mean_estimate_pp": round(100 * part["estimate"].mean(), 3),
                "mean_estimate_se_pp": round(100 * sd / np.sqrt(n), 3),
                "sd_estimates_pp": round(100 * sd, 3),
                "median_controls": float(part["n_controls"].median()),
                "design_used": {str(k): int(v) for k, v in
                                part["design_used"].value_counts().items()}}
            for rule in RULES:
                se = part[f"se_{rule}"]
                rej = float((np.abs(part["estimate"] / se) > z).mean())
                entry[rule] = {"mean_se_pp": round(100 * float(se.mean()), 3),
                               "rms_se_over_sd": round(float(np.sqrt((se**2).mean())) / sd, 3)
                               if sd > 0 else None,
                               "rejection_rate": round(rej, 4),
                               "rejection_mc_se": round(float(np.sqrt(rej * (1 - rej) / n)), 4)}
            per[label] = entry
        out[str(design)] = per
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[60, 120, 250])
    parser.add_argument("--seed", type=int, default=11, help="the generated population")
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--design", action="append", default=[], metavar="NAME")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--summarise", action="store_true")
    args = parser.parse_args(argv)
    designs = {k: DESIGNS[k] for k in (args.design or DESIGNS)}
    start = time.perf_counter()
    if not args.summarise:
        from tests.conftest import synthetic_data

        from bench.validate_pipeline import Population

        cache = Path(f"/tmp/jdl-se-rules-pool-{args.people}-{args.seed}.parquet")
        if cache.exists():
            pool = pd.read_parquet(cache)
        else:
            pool = Population(synthetic_data(args.people, args.seed), args.seed).pool
            pool.to_parquet(cache)
        run(pool, args.sizes, args.reps, args.seed, args.out, designs)
    rows = pd.DataFrame(read(args.out))
    result = summarise(rows)
    print(json.dumps({d: {r: v["all"][r] for r in RULES} for d, v in result.items()}, indent=1))
    write_results("validation_se_rules", [{
        "case": "placebo_cohorts", "ok": True, "replicates": len(rows),
        "seconds_this_run": round(time.perf_counter() - start, 1),
        "load_avg": os.getloadavg(), "designs": result}])
    return result


if __name__ == "__main__":
    main()

"""Calibration of the probability of benefit on planted programmes (issue 20, Build 6).

The report says "we estimate an 85% chance the programme reduced re-offending". That is only
worth saying if, of all the programmes given about 85%, about 85% did reduce it. This harness
plants many programmes whose true effects are drawn from a stated distribution, evaluates each
with the lab's own stages exactly as ``bench/validate_pipeline.py`` does (its ``Population``,
``evaluate_design``, ``evaluation_row``: cohort -> pool -> matching -> estimate, true links),
computes the probability as the report would (from the *released* difference and interval,
:func:`jdl.inference.released_posterior`), and checks it two ways:

* **reliability** (by deciles of the predicted probability): the mean predicted probability
  against the observed share of evaluations whose true effect was a reduction, with the count
  and a Wilson 95% interval per decile; the issue's line is "within 5 points in deciles";
* **simulation-based calibration** (Talts, Betancourt, Simpson, Vehtari & Gelman 2018; the PIT,
  Dawid 1984): the posterior CDF at the true effect is uniform when the posterior is right, so
  each tenth of [0, 1] should hold 10% of the evaluations.

Two truths are scored: ``truth_expected``, the programme's effect on people like its
participants (the estimand of the released probability, and of the prior: run with
``--log-hr-sd 0.22`` so that the planted effects have the default prior's spread), and
``truth_realised``, the realised effect on the matched treated (the generator keeps each
participant's future with and without the programme; see ``bench/validate_pipeline.py``),
which adds the chance in these people's own futures.

The planted distribution. Each population of :data:`PEOPLE` people gets :data:`PROGRAMMES`
programmes (custody and community, national, 2013-2019, selection on observed characteristics
drawn at random) with ``log(hazard ratio) ~ N(LOG_HR_MEAN, LOG_HR_SD^2)``; each programme's
participants are cut into disjoint cohorts of :data:`SIZES`. On the risk-difference scale this
gives true effects with the spread the summary reports (measured: realised effects SD 5.5
points, the programmes' expected effects 3.5), near the default prior's N(0, 5 points^2). A
Bayesian probability is calibrated only when the prior describes the distribution of real
effects: against another planted distribution the default prior would be miscalibrated by
construction. The empirical-Bayes (catalogue) prior is the lab's answer to that (off by default:
it failed this check, see docs/matching-and-inference.md): for each evaluation its prior is
pooled (``jdl.catalogue._register.catalogue_prior``) from the released effects of k evaluations
of *other* programmes drawn from the same distribution (one per programme, never its own
programme), for each k of :data:`CATALOGUE_REPORTS`, as the lab computes it (``catalogue_k*``:
widened to the t-based predictive interval) and plain (``catalogue_plain_k*``).

    python -m bench.validate_benefit [--populations K] [--first-seed S] [--limit N] [--summarise]

Rows go to ``bench/results/validation_benefit.jsonl`` as they are made (resumable); the
summary to ``bench/results/validation_benefit.json``. Run it under the shared lock:
``flock /work/wt/heavy.lock python -m bench.validate_benefit``.
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.common import RESULTS_DIR, write_results
from bench.validate_pipeline import (
    Population,
    append_row,
    disjoint_blocks,
    evaluate_design,
    evaluation_row,
    read_rows,
    stable_seed,
)

PEOPLE = 100_000
PROGRAMMES = 24
LOG_HR_MEAN = 0.0
LOG_HR_SD = 0.15
PROGRAMME_SIZE = 500
SIZES = (150, 300)
REPS = {150: 2, 300: 1}
#: How many published reports of the type the catalogue prior is pooled from (one run each).
CATALOGUE_REPORTS = (5, 10, 20)
INTERVENTION = "employment"  # every planted programme is "the same intervention type"
WORK = Path(__file__).parent / "work" / "benefit"
JSONL = RESULTS_DIR / "validation_benefit.jsonl"
TARGET_POINTS = 5.0  # "within 5 points in deciles"
#: Selection patterns (log-odds per SD of observed characteristics), one drawn per programme.
SELECTIONS = (
    {"age": -0.4, "prior": -0.5, "employment": 0.6, "risk": -0.3},
    {"accommodation": 1.0, "prior": 0.3},
    {"employment": 0.5, "risk": -0.4, "age": -0.2},
    {"age": -0.6, "prior": 0.2},
    {"risk": 0.6, "prior": 0.5, "employment": -0.6},
    {"drugs": 1.2, "prior": 0.4},
)


# --- planting ---------------------------------------------------------------------------------

def planted_specs(seed: int, n: int = PROGRAMMES, mean: float = LOG_HR_MEAN,
                  sd: float = LOG_HR_SD) -> tuple[Any, ...]:
    """``n`` programmes with hazard ratios ``exp(N(mean, sd^2))`` (seeded by the population)."""
    from jdl.admin.synth._programmes import ProgrammeSpec

    rng = np.random.default_rng(stable_seed("benefit", seed))
    specs = []
    for i in range(n):
        hr = float(np.exp(rng.normal(mean, sd)))
        setting = "custody" if i % 2 == 0 else "community"
        specs.append(ProgrammeSpec(
            f"benefit-{i:02d}", f"Planted Organisation {i:02d}", "voluntary_community",
            INTERVENTION, setting, "National", "2013-01-01", "2019-12-31", PROGRAMME_SIZE,
            round(hr, 4), "A planted programme for the calibration of the probability of "
            "benefit.", "Probation referral", dict(SELECTIONS[int(rng.integers(len(SELECTIONS)))])))
    return tuple(specs)


def population_dir(seed: int, people: int = PEOPLE, sd: float = LOG_HR_SD) -> Path:
    """A generated population with the planted programmes of ``seed`` (made once)."""
    from jdl.admin.synth import generate

    suffix = "" if sd == LOG_HR_SD else f"-sd{sd:g}"
    target = WORK / f"synth-{people}-{seed}{suffix}"
    if not (target / "manifest.json").exists():
        generate(target, people=people, seed=seed, programmes=planted_specs(seed, sd=sd))
    return target


# --- the run ----------------------------------------------------------------------------------

def row_key(row: dict[str, Any]) -> tuple:
    return (row["population_seed"], row["programme"], row["size"], row["replicate"])


def run(seeds: list[int], out: Path, limit: int | None = None, match_seed: int = 1,
        sd: float = LOG_HR_SD) -> int:
    """Evaluate every planned cohort of every population; returns the rows written now."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    done = {row_key(r) for r in read_rows(out)}
    written = 0
    for seed in seeds:
        t0 = time.perf_counter()
        population = Population(population_dir(seed, sd=sd), seed)
        print(f"  population {seed}: {len(population.pool):,} pool rows, "
              f"{len(population.cohorts)} programmes ({time.perf_counter() - t0:.0f} s)",
              flush=True)
        for name, cohort in population.cohorts.items():
            for size in SIZES:
                blocks = disjoint_blocks(len(cohort), size, REPS[size],
                                         stable_seed(seed, name, size))
                for rep, block in enumerate(blocks):
                    base = {"population_seed": seed, "people": PEOPLE, "programme": name,
                            "size": size, "replicate": rep}
                    if row_key(base) in done:
                        continue
                    treated = cohort.iloc[block]
                    start = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        result, effect, _, design = evaluate_design(
                            population.frame(treated), {}, match_seed)
                    row = {**base, **evaluation_row(result, effect, population.outcomes,
                                                    population.programmes[name]),
                           "design_used": design,
                           "seconds": round(time.perf_counter() - start, 2)}
                    append_row(out, row)
                    written += 1
                    print(f"  {seed} {name} n={size} #{rep}: {100 * row['estimate']:+.1f} pp "
                          f"(se {100 * row['se']:.1f}), truth {100 * row['truth_realised']:+.1f}"
                          f" HR {row['hazard_ratio']:.2f} ({row['seconds']} s)", flush=True)
                    if limit is not None and written >= limit:
                        return written
    return written


# --- the probabilities, as the report gives them ------------------------------------------------

def with_probabilities(rows: pd.DataFrame, delta: float, prior_sd: float,
                       reports: tuple[int, ...] = CATALOGUE_REPORTS) -> pd.DataFrame:
    """Per evaluation with a released rate: the posterior under the default prior and under
    the catalogue prior, from the released difference and interval as the report computes it
    (exact and banded probabilities, and the posterior CDF at the truth)."""
    from jdl.catalogue._register import Effect, catalogue_prior
    from jdl.inference._benefit import (
        band_probability,
        released_posterior,
        se_from_interval,
        weakly_informative_prior,
    )

    rel = rows[rows["rel_estimate"].notna()].reset_index(drop=True)
    rel = rel.assign(rel_se=[se_from_interval(lo, hi) for lo, hi in
                             zip(rel["rel_ci_low"], rel["rel_ci_high"], strict=True)])
    default = weakly_informative_prior(prior_sd)
    # one "published report" per programme (its first cohort), the catalogue to draw from
    catalogue = rel.sort_values(["population_seed", "programme", "size", "replicate"]) \
        .groupby(["population_seed", "programme"]).head(1)
    effects = [Effect(id=i, label=f"{r.population_seed}/{r.programme}", organisation="",
                      intervention_type=INTERVENTION, difference=float(r.rel_estimate),
                      ci_low=float(r.rel_ci_low), ci_high=float(r.rel_ci_high),
                      treatment_n=None, result="", unit="proportion")
                 for i, r in enumerate(catalogue.itertuples())]
    owner = [(r.population_seed, r.programme) for r in catalogue.itertuples()]
    out = []
    for r in rel.itertuples():
        rng = np.random.default_rng(stable_seed("catalogue", r.population_seed, r.programme,
                                                r.size, r.replicate))
        others = [e for e, o in zip(effects, owner, strict=True)
                  if o != (r.population_seed, r.programme)]
        order = rng.permutation(len(others))  # the first k of one order: nested catalogues
        priors: dict[str, Any] = {"default": default}
        for k in reports:
            chosen = [others[i] for i in order[:k]]
            priors[f"catalogue_k{k}"] = catalogue_prior(chosen, INTERVENTION)
            priors[f"catalogue_plain_k{k}"] = catalogue_prior(chosen, INTERVENTION, widen=False)
        rec: dict[str, Any] = {}
        for name, prior in priors.items():
            if prior is None:  # fewer than three other programmes (a small test run)
                continue
            post = released_posterior(float(r.rel_estimate), float(r.rel_ci_low),
                                      float(r.rel_ci_high), prior.mean, prior.sd)
            p, p_by = post.cdf(0.0), post.cdf(-delta)
            rec.update({f"{name}_prior_mean": prior.mean, f"{name}_prior_sd": prior.sd,
                        f"{name}_p": p, f"{name}_p_banded": band_probability(p),
                        f"{name}_p_by": p_by, f"{name}_p_by_banded": band_probability(p_by),
                        f"{name}_pit": post.cdf(float(r.truth_realised)),
                        f"{name}_pit_expected": post.cdf(float(r.truth_expected))})
        out.append(rec)
    return pd.concat([rel, pd.DataFrame(out)], axis=1)


# --- calibration ------------------------------------------------------------------------------

def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson's score interval for k successes in n."""
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def reliability(predicted: np.ndarray, happened: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """By deciles of the predicted probability ([0, 0.1), ..., [0.9, 1]): count, mean
    predicted, observed share (Wilson 95% interval), and the gap in points; with the largest
    gap over deciles holding at least 20 evaluations, and the expected calibration error
    (the count-weighted mean gap)."""
    predicted, happened = np.asarray(predicted, float), np.asarray(happened, bool)
    which = np.minimum((predicted * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        if n == 0:
            rows.append({"decile": f"{b / bins:.1f}-{(b + 1) / bins:.1f}", "n": 0})
            continue
        k = int(happened[mask].sum())
        lo, hi = wilson(k, n)
        mean_p = float(predicted[mask].mean())
        rows.append({"decile": f"{b / bins:.1f}-{(b + 1) / bins:.1f}", "n": n,
                     "mean_predicted": round(mean_p, 4), "observed": round(k / n, 4),
                     "wilson_low": round(lo, 4), "wilson_high": round(hi, 4),
                     "gap_points": round(100 * (k / n - mean_p), 2),
                     # the gap's sampling SD if the probabilities were exactly right
                     "monte_carlo_sd_points": round(100 * math.sqrt(
                         float(np.mean(predicted[mask] * (1 - predicted[mask]))) / n), 2),
                     "predicted_inside_wilson": bool(lo <= mean_p <= hi)})
    full = [r for r in rows if r["n"] >= 20]
    ece = sum(r["n"] * abs(r["gap_points"]) for r in rows if r["n"]) / max(len(predicted), 1)
    return {"deciles": rows,
            "max_abs_gap_points_deciles_n20": max((abs(r["gap_points"]) for r in full),
                                                  default=None),
            "deciles_n20": len(full),
            "deciles_within_5_points": sum(abs(r["gap_points"]) <= TARGET_POINTS for r in full),
            "deciles_predicted_inside_wilson": sum(r["predicted_inside_wilson"] for r in full),
            "expected_calibration_error_points": round(ece, 2),
            **calibration_tests(predicted, happened, which, bins),
            "brier": round(float(np.mean((predicted - happened) ** 2)), 4),
            "evaluations": len(predicted)}


def calibration_tests(predicted: np.ndarray, happened: np.ndarray, which: np.ndarray,
                      bins: int) -> dict[str, Any]:
    """Two overall tests of calibration: Spiegelhalter's (1986) z (sum of (y - p)(1 - 2p) over
    its SD; |z| < 1.96 is no evidence of miscalibration) and Hosmer-Lemeshow's chi-square over
    the deciles (df = deciles - 2)."""
    from scipy import stats

    y = happened.astype(float)
    var = float(np.sum((1 - 2 * predicted) ** 2 * predicted * (1 - predicted)))
    z = float(np.sum((y - predicted) * (1 - 2 * predicted)) / math.sqrt(var)) if var > 0 \
        else math.nan
    hl, groups = 0.0, 0
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        e = float(predicted[mask].sum())
        if n and 0 < e < n:
            hl += (float(y[mask].sum()) - e) ** 2 / (e * (1 - e / n))
            groups += 1
    return {"spiegelhalter_z": round(z, 3),
            "spiegelhalter_p": round(float(2 * stats.norm.sf(abs(z))), 4),
            "hosmer_lemeshow_chi2": round(hl, 2),
            "hosmer_lemeshow_p": round(float(stats.chi2.sf(hl, max(groups - 2, 1))), 4)}


def pit_uniformity(pit: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """The share of posterior CDFs at the truth in each tenth (10% each when calibrated), the
    largest gap in points, and the chi-square test of uniformity."""
    from scipy import stats

    pit = np.asarray(pit, float)
    counts = np.bincount(np.minimum((pit * bins).astype(int), bins - 1), minlength=bins)
    n = len(pit)
    share = counts / n
    chi2 = float(((counts - n / bins) ** 2 / (n / bins)).sum())
    return {"share_by_tenth": [round(float(s), 4) for s in share],
            "max_abs_gap_points": round(100 * float(np.max(np.abs(share - 1 / bins))), 2),
            "monte_carlo_sd_points": round(100 * math.sqrt(0.1 * 0.9 / n), 2),
            "chi2": round(chi2, 2), "chi2_p_value": round(float(stats.chi2.sf(chi2, bins - 1)),
                                                          4),
            "central_90_coverage": round(float(((pit > 0.05) & (pit < 0.95)).mean()), 4),
            "evaluations": n}


def calibration(probs: pd.DataFrame, delta: float) -> dict[str, Any]:
    """Reliability and PIT for each prior: exact and banded probabilities of a reduction and of
    a reduction of at least ``delta``."""
    truth = probs["truth_realised"].to_numpy()
    out: dict[str, Any] = {}
    names = ["default"] + [c[:-2] for c in probs.columns
                           if c.startswith("catalogue") and c.endswith("_p")]
    for prior in names:
        if f"{prior}_p" not in probs:
            continue
        probs = probs[probs[f"{prior}_p"].notna()]
        truth = probs["truth_realised"].to_numpy()
        expected = probs["truth_expected"].to_numpy()
        out[prior] = {
            "prior_mean_points": round(100 * float(probs[f"{prior}_prior_mean"].mean()), 2),
            "prior_sd_points": round(100 * float(probs[f"{prior}_prior_sd"].mean()), 2),
            "reduction": reliability(probs[f"{prior}_p"].to_numpy(), truth < 0),
            "reduction_banded": reliability(probs[f"{prior}_p_banded"].to_numpy(), truth < 0),
            "reduction_by_delta": reliability(probs[f"{prior}_p_by"].to_numpy(), truth < -delta),
            # against the programme's expected effect (att_rate), the estimand of the
            # catalogue's programme-level prior
            "reduction_vs_expected_truth": reliability(probs[f"{prior}_p"].to_numpy(),
                                                       expected < 0),
            "pit": pit_uniformity(probs[f"{prior}_pit"].to_numpy()),
            "pit_against_expected_truth": pit_uniformity(
                probs[f"{prior}_pit_expected"].to_numpy()),
        }
    return out


def markdown(cal: dict[str, Any]) -> str:
    lines = ["| Prior | Decile | Evaluations | Mean predicted | Observed (Wilson 95%) "
             "| Gap (pts) |",
             "|---|---|---:|---:|---:|---:|"]
    for prior, c in cal.items():
        if prior not in ("default", "catalogue_k10"):  # the others are in the JSON
            continue
        for r in c["reduction"]["deciles"]:
            if not r["n"]:
                continue
            lines.append(f"| {prior} | {r['decile']} | {r['n']} | "
                         f"{100 * r['mean_predicted']:.1f}% | {100 * r['observed']:.1f}% "
                         f"({100 * r['wilson_low']:.0f}-{100 * r['wilson_high']:.0f}%) | "
                         f"{r['gap_points']:+.1f} |")
    return "\n".join(lines)


def write_summary(out: Path, meta: dict[str, Any], delta: float, prior_sd: float
                  ) -> dict[str, Any]:
    rows = pd.DataFrame(read_rows(out))
    if rows.empty:
        raise SystemExit(f"no evaluations in {out}")
    rows = rows[~rows.apply(lambda r: row_key(r), axis=1).duplicated()]
    probs = with_probabilities(rows, delta, prior_sd)
    cal = calibration(probs, delta)
    truth = probs["truth_realised"]
    table = markdown(cal)
    print(table)
    for prior, c in cal.items():
        print(f"{prior}: max |gap| {c['reduction']['max_abs_gap_points_deciles_n20']} pts over "
              f"{c['reduction']['deciles_n20']} deciles (n>=20); ECE "
              f"{c['reduction']['expected_calibration_error_points']} pts; Spiegelhalter z "
              f"{c['reduction']['spiegelhalter_z']}, HL p {c['reduction']['hosmer_lemeshow_p']}"
              f"; PIT max gap "
              f"{c['pit']['max_abs_gap_points']} pts, chi2 p {c['pit']['chi2_p_value']}")
    hr = rows.groupby(["population_seed", "programme"])["hazard_ratio"].first()
    result = {
        "case": "probability_of_benefit", "ok": True, **meta,
        "evaluations": len(rows), "evaluations_released": len(probs),
        "withheld": int(len(rows) - len(probs)),
        "populations": sorted(int(s) for s in rows["population_seed"].unique()),
        "programmes": len(hr),
        "planted": {"log_hazard_ratio": {"mean": LOG_HR_MEAN,
                                         "sd": meta.get("log_hr_sd", LOG_HR_SD)},
                    "hazard_ratio_range": [round(float(hr.min()), 3), round(float(hr.max()), 3)],
                    "people_per_population": PEOPLE, "programmes_per_population": PROGRAMMES,
                    "cohort_sizes": list(SIZES), "intervention_type": INTERVENTION},
        "truth_realised_points": {"mean": round(100 * float(truth.mean()), 2),
                                  "sd": round(100 * float(truth.std()), 2),
                                  "share_reduction": round(float((truth < 0).mean()), 4)},
        "released_se_points_median": round(100 * float(probs["rel_se"].median()), 2),
        "coverage_95_released": round(float(((probs["rel_ci_low"] <= truth)
                                             & (truth <= probs["rel_ci_high"])).mean()), 4),
        "delta": delta, "default_prior_sd": prior_sd, "catalogue_reports": list(CATALOGUE_REPORTS),
        "target": "within 5 points of the observed share in every decile (n >= 20)",
        "calibration": cal, "markdown": table, "rows_file": out.name}
    write_results(out.stem, [result])
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from jdl.core.config import InferenceSettings

    inference = InferenceSettings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--populations", type=int, default=7)
    parser.add_argument("--first-seed", type=int, default=5000)
    parser.add_argument("--limit", type=int, default=None, help="stop after N new rows")
    parser.add_argument("--out", type=Path, default=JSONL)
    parser.add_argument("--summarise", action="store_true", help="only rebuild the summary")
    parser.add_argument("--log-hr-sd", type=float, default=LOG_HR_SD,
                        help="SD of the planted log hazard ratios (0.22: expected effects with "
                             "about the default prior's 5-point SD)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    written = 0
    if not args.summarise:
        seeds = list(range(args.first_seed, args.first_seed + args.populations))
        written = run(seeds, args.out, args.limit, sd=args.log_hr_sd)
    meta = {"rows_written_this_run": written, "log_hr_sd": args.log_hr_sd,
            "seconds_this_run": round(time.perf_counter() - start, 1),
            "load_avg": os.getloadavg()}
    return write_summary(args.out, meta, delta=inference.benefit_delta,
                         prior_sd=inference.benefit_prior_sd)


if __name__ == "__main__":
    main()

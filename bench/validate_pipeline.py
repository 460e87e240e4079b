"""Validation of the whole analysis on the synthetic national records, design against design.

Every planted programme of several independently generated populations is cut into disjoint
cohorts of target sizes (default 60, 120, 250, 500 and 1,000 eligible participants) and each
cohort is evaluated with the lab's own stages — cohort -> pool -> covariate preparation ->
matching -> effect estimates — once per matching *design* (a named set of ``MatchingSettings``
overrides), with the true links so that linkage errors do not blur the test.

The truth. The generator (:mod:`jdl.admin.synth`) re-simulates each participant's future under
the programme and keeps both one-year outcomes: ``reoffences_treated`` (what the national
records hold) and ``reoffences_untreated`` (the future the same person had without it). The
primary truth of an evaluation is the **realised** effect on the participants it actually
compares (the matched treated): mean(re-offended with) - mean(re-offended without). Its
programme-wide *expected* effect (``att_rate``, a Monte Carlo mean over every participant) is
recorded beside it; coverage is reported against both. The estimator's error against the
realised truth is exactly the comparison group's error (the treated half is observed), so the
realised truth is what a perfect comparison group would recover on these people. A programme
with hazard ratio 1 has no effect: its evaluations give the false-positive rate (p <= 0.05).

Speed: each population's comparison pool is built once (without every planted participant, so
no programme's people enter another's comparison group) and cut to each cohort's
(index type, year) strata; each programme's cohort is built once and sub-sampled. Rows are
appended to a JSONL as they are made; a re-run skips the rows already there (resumable, and
several processes may share the file). ``--summarise`` rebuilds the JSON from the JSONL only.

    python -m bench.validate_pipeline [--populations K] [--people N] [--sizes 60 120 ...]
        [--max-reps R] [--design NAME=JSON ...] [--limit N] [--programmes NAME ...]
        [--summarise]

An out-of-court programme (``crossroads-diversion``: conditional cautions, generator 1.4) is
evaluated like the others, measured from the caution; ``--programmes crossroads-diversion``
runs it alone, and the summary has each design's figures ``by_setting``.

Targets (issue 18, for the new default design): coverage 93-97%, false-positive rate <= 5.5%,
|bias| < 0.5 points, and a median CI width at 60-250 participants at least 25% narrower than the
1:1 design's. Writes ``bench/results/validation_pipeline.json`` (and ``.jsonl``).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.common import RESULTS_DIR, write_results

SIZES = (60, 120, 250, 500, 1000)
SMALL_BAND = (60, 250)  # the "60-250 participants" band for the CI-width target
#: Named designs: MatchingSettings overrides (other keys go to ``jdl.matching.match``).
#: ``one-to-one`` is today's (pre-issue-18) default written out, so it stays the reference when
#: the default changes; ``default`` is whatever ``MatchingSettings()`` is in the code being run.
#: ``design: fixed`` is the setting issue 18 adds to say "exactly these" (ignored before it).
DESIGNS: dict[str, dict[str, Any]] = {
    "one-to-one": {"design": "fixed", "method": "nearest", "ratio": 1, "replace": False,
                   "caliper": 0.2},
    "default": {},
    "power-first-standin": {"design": "fixed", "method": "nearest", "ratio": 5, "replace": True,
                            "caliper": 0.2},
    # issue 18's power-first design named explicitly (rows made while it was the default, under
    # the name "default", have its fingerprint and are summarised under this name); since
    # 2026-12-05 its candidate ratios are 1, 2, 3, 5, 10, 20 (the rows made as "power-first-20")
    "power-first": {"design": "power_first"},
    # the same rule with the candidates of 2026-12-04 (1-10)
    "power-first-10": {"design": "power_first", "candidate_ratios": [1, 2, 3, 5, 10]},
}
REFERENCE = "one-to-one"
TARGETS = {"coverage": (0.93, 0.97), "false_positive_rate": 0.055, "abs_bias_pp": 0.5,
           "ci_width_reduction_small": 0.25}
ALPHA = 0.05
JSONL = RESULTS_DIR / "validation_pipeline.jsonl"


# --- designs ----------------------------------------------------------------------------------

def resolve_design(overrides: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """(MatchingSettings, extra ``match`` keyword arguments) of one design.

    A key that is neither a setting nor a ``match`` argument in the code being run is left out
    (:func:`unknown_keys` lists it; the row records it): so one design can name a setting that
    a newer version adds (``{"design": "fixed", ...}``) and still run on today's code."""
    from jdl.core.config import MatchingSettings

    fields = set(MatchingSettings.model_fields)
    overrides = {k: v for k, v in overrides.items() if k not in unknown_keys(overrides)}
    settings = MatchingSettings.model_validate(  # validates the overrides
        {**MatchingSettings().model_dump(), **{k: v for k, v in overrides.items() if k in fields}})
    return settings, {k: v for k, v in overrides.items() if k not in fields}


def unknown_keys(overrides: dict[str, Any]) -> list[str]:
    """The design's keys this code has neither as a setting nor as a ``match`` argument."""
    import inspect

    from jdl.core.config import MatchingSettings
    from jdl.matching import match

    known = set(MatchingSettings.model_fields) | set(inspect.signature(match).parameters)
    return sorted(k for k in overrides if k not in known)


def design_fingerprint(overrides: dict[str, Any]) -> str:
    """A short hash of the *resolved* design, so two names for one design run once."""
    settings, extra = resolve_design(overrides)
    payload = json.dumps({"settings": settings.model_dump(mode="json"), "extra": extra},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:10]


def distinct_designs(designs: dict[str, dict[str, Any]]) -> tuple[dict[str, dict], dict[str, str]]:
    """The designs to run (first name of each resolved design) and {alias: name run}."""
    run: dict[str, dict] = {}
    alias: dict[str, str] = {}
    seen: dict[str, str] = {}
    for name, overrides in designs.items():
        fp = design_fingerprint(overrides)
        if fp in seen:
            alias[name] = seen[fp]
        else:
            seen[fp] = name
            run[name] = overrides
    return run, alias


# --- cohorts ----------------------------------------------------------------------------------

def disjoint_blocks(n: int, size: int, max_reps: int, seed: int) -> list[np.ndarray]:
    """Up to ``max_reps`` disjoint random subsets of ``range(n)`` of ``size`` each."""
    reps = min(n // size, max_reps)
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(order[r * size:(r + 1) * size]) for r in range(reps)]


def stable_seed(*parts: object) -> int:
    return int(hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:8], 16)


class Population:
    """One generated population: its planted programmes' cohorts and one comparison pool."""

    def __init__(self, data: Path, seed: int, programmes: tuple[str, ...] | None = None):
        from jdl.cohort import build_cohort, build_pool
        from jdl.core.config import get_settings
        from jdl.engines import open_admin

        self.seed = seed
        self.generator_version = json.loads((data / "manifest.json").read_text()).get(
            "generator_version")
        truth = json.loads((data / "truth" / "programmes.json").read_text())
        self.programmes = {p["name"]: p for p in truth["programmes"]}
        participants = pd.read_parquet(data / "truth" / "participants.parquet")
        self.outcomes = participants.set_index("person_id")[
            ["reoffences_treated", "reoffences_untreated"]]
        cohort_settings = get_settings().cohort
        self.cohorts: dict[str, pd.DataFrame] = {}
        with open_admin(data) as engine:
            for name, programme in self.programmes.items():
                if programmes and name not in programmes:
                    continue
                mine = participants[participants["programme"] == name]
                if len(mine):
                    rows, link = _upload(mine)
                    cohort = build_cohort(engine, link, rows, programme["setting"],
                                          settings=cohort_settings)
                    self.cohorts[name] = cohort.data.reset_index(drop=True)
            pool = build_pool(engine, exclude_person_ids=participants["person_id"].tolist(),
                              settings=cohort_settings)
        self.pool = pool.reset_index(drop=True)
        groups = self.pool.groupby(["index_type", "index_year"], observed=True).indices
        self.pool_strata = {(str(t), int(y)): idx for (t, y), idx in groups.items()}

    def frame(self, treated: pd.DataFrame) -> pd.DataFrame:
        """Treated rows then the pool rows of their (index type, year) strata (what
        ``build_pool(strata=cohort.strata)`` returns, cut from the one pool)."""
        strata = sorted(set(zip(treated["index_type"].astype(str),
                                treated["index_year"].astype(int), strict=True)))
        parts = [self.pool_strata[s] for s in strata if s in self.pool_strata]
        idx = np.sort(np.concatenate(parts)) if parts else np.array([], int)
        return pd.concat([treated, self.pool.iloc[idx]], ignore_index=True)


def _upload(participants: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The accepted rows and the true link table of a submission of these participants."""
    pp = participants.reset_index(drop=True)
    rows = pd.DataFrame({
        "row_number": np.arange(len(pp)) + 2,
        "conviction_date": pd.to_datetime(pp["conviction_date"]),
        "intervention_start": pd.to_datetime(pp["intervention_start"]),
        "intervention_end": pd.to_datetime(pp["intervention_end"]),
        "index_date": pd.to_datetime(pp["index_date"]),
    })
    link = pd.DataFrame({"row_number": rows["row_number"],
                         "person_id": pp["person_id"].astype("Int64"),
                         "match_probability": 1.0, "method": "id"})
    return rows, link


# --- one evaluation ---------------------------------------------------------------------------

def evaluate_design(frame: pd.DataFrame, overrides: dict[str, Any], seed: int,
                    adjusted: bool = False):
    """Match and estimate as the evaluation does (``jdl.evaluation._evaluate``): covariate
    preparation with the design's exact strata, then the design (``_design``, which chooses the
    power-first design, where the code has it; else ``_match``) and ``_effects``.

    Returns (match result, the rate's effect, the covariate-adjusted rate effect or None, the
    design's name). ``adjusted``: also the covariate-adjusted effect (g-computation; it costs
    about as much again as the rest of an evaluation)."""
    from jdl.core.config import get_settings
    from jdl.evaluation import _evaluate as ev
    from jdl.matching import prepare_covariates, restrict_to_shared_levels, varying_covariates

    matching, extra = resolve_design(overrides)
    settings = get_settings().model_copy(update={"matching": matching})
    spec = ev.covariate_spec(tuple(matching.exact))
    prepared, _ = restrict_to_shared_levels(prepare_covariates(frame, spec), spec.categorical)
    covariates, exact = varying_covariates(prepared, spec), list(spec.exact)
    if hasattr(ev, "_design") and not extra:
        design = ev._design(prepared, covariates, exact, settings, seed)
        result, name = design.result, design.name
    else:
        result = ev._match(prepared, covariates, exact, settings, seed, **extra)
        name = f"{result.spec.ratio}:1 replace={result.spec.replace}"
    adjusted_effect = None
    if adjusted:
        from jdl.inference import adjusted_effects  # issue 18's covariate-adjusted effects

        adjusted_effect = adjusted_effects(result, {"reoffended": "rate"}, covariates,
                                           alpha=settings.inference.alpha)["reoffended"]
    return result, ev._effects(result, settings)["reoffended"], adjusted_effect, name


def evaluation_row(result, effect, outcomes: pd.DataFrame, programme: dict) -> dict[str, Any]:
    """The estimate, its CI and both truths for one matched evaluation."""
    data = result.data
    treated = (result.treat == 1) & (result.weights > 0)
    people = data.loc[treated, "person_id"].astype("int64").to_numpy()
    known = outcomes.loc[people]
    with_ = (known["reoffences_treated"].to_numpy() > 0).astype(float)
    without = (known["reoffences_untreated"].to_numpy() > 0).astype(float)
    observed = data.loc[treated, "reoffended"].to_numpy(dtype=float)
    true_effect = programme["true_effect"]
    balance = result.balance()
    return {
        "n_treated": int(treated.sum()),
        "n_treated_unmatched": int(((result.treat == 1) & (result.weights == 0)).sum()),
        "n_controls": int(result.n_control_matched),
        "estimate": effect.difference, "se": effect.se, "ci_low": effect.ci_low,
        "ci_high": effect.ci_high, "p_value": effect.p_value,
        "significant_by_lab_rules": bool(effect.significant),
        "truth_realised": float(with_.mean() - without.mean()),
        "truth_expected": float(true_effect["att_rate"]),
        "hazard_ratio": float(programme["hazard_ratio"]),
        "setting": programme.get("setting"),  # which index events (out_of_court: cautions)
        # the records' outcome of the matched treated = the generator's treated future?
        "treated_outcome_agreement": float((observed == with_).mean()),
        "max_abs_smd": float(balance.max_abs_smd),
        "balance_reportable": bool(balance.quality_ok),  # the lab reports this matching
        **released_rate(result),
        **other_standard_errors(result),
    }


def released_rate(result, alpha: float = ALPHA) -> dict[str, Any]:
    """What the rate's released figures are made from: the matched treated people and their
    re-offenders, the comparison group's weighted rate, head count and effective size
    (:func:`released_figures` turns them into the released interval and test)."""
    from jdl.matching._design_choice import comparison_ess

    y = result.data["reoffended"].to_numpy(dtype=float)
    w, t = result.weights, result.treat == 1
    mt, mc = t & (w > 0), (~t) & (w > 0)
    if not mc.any():
        return {}
    out: dict[str, Any] = {
        "treated_events": float(y[mt].sum()),
        "comparison_rate": float(np.average(y[mc], weights=w[mc])),
        "comparison_ess": comparison_ess(w, t)}
    return {**out, **released_figures(out["treated_events"], int(mt.sum()),
                                      out["comparison_rate"], int(mc.sum()),
                                      out["comparison_ess"], alpha)}


def released_figures(kt: float, nt: int, rc: float, nc: int, ess: float,
                     alpha: float = ALPHA, min_count: int = 10, base: int = 5,
                     min_expected: float = 5.0) -> dict[str, Any]:
    """The rate's interval and test as the lab *releases* them (``jdl.disclosure``): counts
    below ``min_count`` (events or non-events of either group) withhold the estimate; otherwise
    Newcombe's hybrid score interval and the pooled z-test from the released (rounded) counts,
    the comparison group at its released effective size (``released_two_proportions``).
    ``rel_significant`` is the released half of the lab's verdict (p <= alpha, interval clear
    of 0, n p and n (1 - p) of the treated at least ``min_expected``); the public verdict is
    this *and* the internal test (``significant_by_lab_rules``, with the 30-re-offender rule).
    Empty when the figures would be withheld."""
    from jdl.disclosure._coarsen import released_two_proportions
    from jdl.disclosure._rules import released_count

    kc = rc * nc
    if not np.isfinite(rc) or min(kt, nt - kt, kc, nc - kc) < min_count:
        return {}
    row = {"treatment_events": released_count(kt, min_count, base),
           "treatment_n": released_count(nt, min_count, base),
           "comparison_events": released_count(kc, min_count, base),
           "comparison_n": released_count(nc, min_count, base),
           "comparison_ess": released_count(ess, min_count, base)}
    d, lo, hi, p = released_two_proportions(row, alpha)
    kt_r, nt_r = row["treatment_events"], row["treatment_n"]
    return {"rel_estimate": d, "rel_ci_low": lo, "rel_ci_high": hi, "rel_p_value": p,
            "rel_significant": bool(p <= alpha and (hi < 0 or lo > 0)
                                    and min(kt_r, nt_r - kt_r) >= min_expected)}


def other_standard_errors(result) -> dict[str, Any]:
    """The rate's standard error by the other rules of :mod:`jdl.inference._variance`
    (``get_matches`` rows two-way on set and person; Abadie-Imbens), for nearest-neighbour
    designs, so that one run compares the rules on the same estimates."""
    try:
        from jdl.inference._variance import abadie_imbens_att, pairs_person_difference
    except ImportError:  # older code
        return {}
    if result.match_matrix is None or result.distance is None:
        return {}
    y = result.data["reoffended"].to_numpy(dtype=float)
    person = result.data["person_id"].to_numpy()
    return {"se_pairs_person": pairs_person_difference(result, y, person).se,
            "se_abadie_imbens": abadie_imbens_att(result, y).se}


def adjusted_columns(adjusted: Any) -> dict[str, Any]:
    """The covariate-adjusted estimate's columns (``adj_*``), or the reason it is missing."""
    if adjusted is None:
        return {}
    if isinstance(adjusted, str):
        return {"adj_error": adjusted}
    return {"adj_estimate": adjusted.difference, "adj_se": adjusted.se,
            "adj_ci_low": adjusted.ci_low, "adj_ci_high": adjusted.ci_high,
            "adj_p_value": adjusted.p_value}


# --- the run ----------------------------------------------------------------------------------

def plan(population: Population, sizes: tuple[int, ...], max_reps: int,
         null_max_reps: int | None = None) -> Iterator[tuple[str, int, int, pd.DataFrame]]:
    """(programme, target size, replicate, treated rows) of every cohort of a population;
    programmes without an effect (hazard ratio 1) give up to ``null_max_reps`` cohorts a size
    (more than the others: they alone measure the false-positive rate)."""
    for name, cohort in population.cohorts.items():
        null = population.programmes[name]["hazard_ratio"] == 1.0
        cap = null_max_reps if null and null_max_reps else max_reps
        for size in sizes:
            for rep, block in enumerate(disjoint_blocks(
                    len(cohort), size, cap, stable_seed(population.seed, name, size))):
                yield name, size, rep, cohort.iloc[block]


def row_key(row: dict[str, Any]) -> tuple:
    return (row["population_seed"], row["people"], row["programme"], row["size"],
            row["replicate"], row["design_fingerprint"])


def read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append_row(path: Path, row: dict[str, Any]) -> None:
    """One line, under an exclusive lock (several processes may write one file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write(json.dumps(row, default=float) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def run(seeds: list[int], people: int, sizes: tuple[int, ...], max_reps: int,
        designs: dict[str, dict[str, Any]], out: Path, limit: int | None = None,
        match_seed: int = 1, null_max_reps: int | None = None, adjusted: bool = False,
        programmes: tuple[str, ...] | None = None) -> int:
    """Evaluate every planned cohort with every design; returns the rows written now.

    BLAS runs on one thread: the logistic fits are small, and on a shared machine a
    multi-threaded BLAS spent 4x the CPU for the same fit (measured: 0.6 s against 4.0 s of
    CPU for two evaluations at load 9)."""
    from tests.conftest import synthetic_data
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)

    done = {row_key(r) for r in read_rows(out)}
    to_run, alias = distinct_designs(designs)
    if alias:
        print(f"  designs identical in this code: {alias} (run once)", flush=True)
    fingerprints = {name: design_fingerprint(o) for name, o in to_run.items()}
    written = 0
    for seed in seeds:
        t0 = time.perf_counter()
        population = Population(synthetic_data(people, seed), seed, programmes)
        print(f"  population {seed}: {len(population.pool):,} pool rows, cohorts "
              f"{ {k: len(v) for k, v in population.cohorts.items()} } "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
        for name, size, rep, treated in plan(population, sizes, max_reps, null_max_reps):
            base = {"population_seed": seed, "people": people, "programme": name,
                    "size": size, "replicate": rep}
            todo = {d: o for d, o in to_run.items()
                    if row_key({**base, "design_fingerprint": fingerprints[d]}) not in done}
            if not todo:
                continue
            frame = population.frame(treated)
            for design, overrides in todo.items():
                start = time.perf_counter()
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    result, effect, adjusted_effect, design_name = evaluate_design(
                        frame, overrides, match_seed, adjusted)
                row = {**base, "design": design, "design_fingerprint": fingerprints[design],
                       "overrides": overrides, "ignored_keys": unknown_keys(overrides),
                       "pool_rows": len(frame) - len(treated),
                       **evaluation_row(result, effect, population.outcomes,
                                        population.programmes[name]),
                       **adjusted_columns(adjusted_effect), "design_used": design_name,
                       "jdl_source": os.environ.get("JDL_SOURCE_LABEL", "this worktree"),
                       "generator_version": population.generator_version,
                       "warnings": sorted({str(w.message)[:80] for w in caught}),
                       "seconds": round(time.perf_counter() - start, 2)}
                append_row(out, row)
                written += 1
                print(f"  {seed} {name} n={size} #{rep} {design}: "
                      f"{100 * row['estimate']:+.1f} pp [{100 * row['ci_low']:+.1f}, "
                      f"{100 * row['ci_high']:+.1f}], truth {100 * row['truth_realised']:+.1f}"
                      f" ({row['seconds']} s)", flush=True)
                if limit is not None and written >= limit:
                    return written
    return written


# --- the summary ------------------------------------------------------------------------------

def summarise(rows: pd.DataFrame, truth: str = "truth_realised") -> dict[str, Any]:
    """Bias, RMSE, coverage, false-positive rate and CI width of a set of evaluations.

    ``truth``: the column the estimate is compared with. The false-positive rate is the share
    of evaluations of programmes with no effect (hazard ratio 1) whose p-value is <= 0.05.
    Monte Carlo standard errors (independent evaluations assumed) are given beside each."""
    n = len(rows)
    if n == 0:
        return {"evaluations": 0}
    err = rows["estimate"] - rows[truth]
    covered = (rows["ci_low"] <= rows[truth]) & (rows[truth] <= rows["ci_high"])
    covered_expected = ((rows["ci_low"] <= rows["truth_expected"])
                        & (rows["truth_expected"] <= rows["ci_high"]))
    null = rows[rows["hazard_ratio"] == 1.0]
    fp = (null["p_value"] <= ALPHA)
    cov = float(covered.mean())
    return {
        "evaluations": n,
        "bias_pp": round(100 * float(err.mean()), 3),
        "bias_se_pp": round(100 * float(err.std(ddof=1) / np.sqrt(n)), 3) if n > 1 else None,
        "rmse_pp": round(100 * float(np.sqrt((err ** 2).mean())), 3),
        "coverage_95": round(cov, 4),
        "coverage_se": round(float(np.sqrt(cov * (1 - cov) / n)), 4),
        "coverage_95_expected_truth": round(float(covered_expected.mean()), 4),
        "zero_effect_evaluations": len(null),
        "false_positive_rate": round(float(fp.mean()), 4) if len(null) else None,
        # what the public reads: "significant" under every rule of the lab (for a design's
        # "released" rows, the internal and the released test together)
        "false_positive_rate_lab_verdict": round(float(
            null["significant_by_lab_rules"].astype(bool).mean()), 4)
        if len(null) and "significant_by_lab_rules" in null else None,
        # the lab's two tests together, without its rule on counts (30 treated re-offenders):
        # a difference is called significant only when the internal estimate's test and the
        # released figures' test both reject (jdl.disclosure._coarsen._headline_measure)
        **_two_test_fpr(null),
        "median_ci_width_pp": round(100 * float((rows["ci_high"] - rows["ci_low"]).median()), 3),
        "median_n_treated": float(rows["n_treated"].median()),
        "median_controls": float(rows["n_controls"].median()),
        "treated_dropped_share": round(float(
            rows["n_treated_unmatched"].sum()
            / (rows["n_treated"].sum() + rows["n_treated_unmatched"].sum())), 4),
        "median_max_abs_smd": round(float(rows["max_abs_smd"].median()), 4),
        "share_balance_too_poor_to_report": round(
            float(1 - rows["balance_reportable"].astype(bool).mean()), 4)
        if "balance_reportable" in rows else None,
    }


def _two_test_fpr(null: pd.DataFrame) -> dict[str, Any]:
    if "rel_significant" not in null:
        return {}
    both = null[null["rel_significant"].notna()]
    if both.empty:
        return {}
    rejected = (both["rel_p_value"] <= ALPHA) & both["rel_significant"].astype(bool)
    internal = (both["internal_p_value"].fillna(both["p_value"]) if "internal_p_value" in both
                else both["p_value"])
    return {"zero_effect_evaluations_released": len(both),
            "false_positive_rate_both_tests": round(float(
                (rejected & (internal <= ALPHA)).mean()), 4)}


def width_reduction(rows: pd.DataFrame, design: str, reference: str = REFERENCE,
                    band: tuple[int, int] = SMALL_BAND) -> dict[str, Any] | None:
    """How much narrower ``design``'s CIs are than ``reference``'s on the same cohorts of the
    band's sizes: 1 - ratio of median widths, and the median of the paired ratios."""
    key = ["population_seed", "people", "programme", "size", "replicate"]
    small = rows[rows["size"].between(*band)]
    width = (small["ci_high"] - small["ci_low"]).rename("width")
    both = small.assign(width=width).pivot_table(index=key, columns="design", values="width")
    if design not in both or reference not in both:
        return None
    both = both[[design, reference]].dropna()
    if both.empty:
        return None
    return {"cohorts": len(both),
            "reduction_of_median_width": round(
                float(1 - both[design].median() / both[reference].median()), 4),
            "median_paired_reduction": round(float((1 - both[design] / both[reference]).median()),
                                             4)}


def checks(overall: dict[str, Any], reduction: dict[str, Any] | None) -> dict[str, Any]:
    """The issue's Done-when checks for one design."""
    low, high = TARGETS["coverage"]
    out: dict[str, Any] = {
        "coverage_93_97": low <= overall["coverage_95"] <= high,
        "false_positive_rate_le_5_5": overall["false_positive_rate"] is not None
        and overall["false_positive_rate"] <= TARGETS["false_positive_rate"],
        "abs_bias_lt_0_5_pp": abs(overall["bias_pp"]) < TARGETS["abs_bias_pp"],
    }
    if reduction is not None:
        out["ci_width_60_250_at_least_25pct_narrower"] = (
            reduction["reduction_of_median_width"] >= TARGETS["ci_width_reduction_small"])
    return out


def summary(rows: pd.DataFrame, reference: str = REFERENCE) -> dict[str, Any]:
    """Per design: overall, by cohort size, the width reduction against ``reference`` and the
    Done-when checks."""
    out: dict[str, Any] = {}
    for design, mine in rows.groupby("design", sort=False):
        reduction = (width_reduction(rows, design, reference) if design != reference else None)
        overall = summarise(mine)
        out[str(design)] = {
            "overall": overall,
            "by_size": {int(s): summarise(g) for s, g in mine.groupby("size")},
            "small_60_250": summarise(mine[mine["size"].between(*SMALL_BAND)]),
            # by the programme's setting: which index events it is measured from
            "by_setting": {str(s): summarise(g) for s, g in mine.groupby("setting")}
            if "setting" in mine else {},
            "ci_width_vs_" + reference: reduction,
            "checks": checks(overall, reduction),
            "se_calibration": se_calibration(mine),
            # what the design resolved to on each cohort (the power-first rule's k), and which code
            "design_used": _counts(mine, "design_used"),
            "jdl_source": _counts(mine, "jdl_source"),
        }
    return out


def se_calibration(rows: pd.DataFrame) -> dict[str, Any]:
    """Are the standard errors right, and where do false positives come from?

    * ``sd_over_se``: within each (population, programme, size) the cohorts are disjoint, so the
      SD of their estimates is the sampling SD; its ratio to their mean SE, pooled over groups of
      at least 4 cohorts (1 = calibrated);
    * ``null_shift``: at no effect, the mean estimate and its size in units of the mean SE by
      cohort size — a shift shared by every design (confounding the matching leaves, and the
      participants' realised futures, which cohorts of different sizes share) rejects more
      often the narrower the interval;
    * ``other_rules``: coverage and false-positive rate with the other standard errors recorded
      on the same rows (``se_pairs_person``, ``se_abadie_imbens``), beside the lab's."""
    if "se" not in rows:
        return {}
    key = ["population_seed", "people", "programme", "size"]
    groups = rows.groupby(key).filter(lambda g: len(g) >= 4).groupby(key)
    var = groups["estimate"].var(ddof=1)
    se2 = groups["se"].apply(lambda s: float((s ** 2).mean()))
    k = groups.size()
    out: dict[str, Any] = {
        "sd_over_se": round(float(np.sqrt((var * (k - 1)).sum() / (k - 1).sum()
                                          / ((se2 * k).sum() / k.sum()))), 3)
        if len(k) else None,
        "groups": len(k)}
    null = rows[rows["hazard_ratio"] == 1.0]
    out["null_shift"] = {int(s): {"evaluations": len(g),
                                  "mean_estimate_pp": round(100 * float(g["estimate"].mean()), 2),
                                  "mean_truth_realised_pp": round(
                                      100 * float(g["truth_realised"].mean()), 2),
                                  "shift_in_se": round(float(g["estimate"].mean()
                                                             / g["se"].mean()), 2)}
                         for s, g in null.groupby("size")}
    z = 1.959963984540054
    rules: dict[str, Any] = {}
    for col in ("se", "se_pairs_person", "se_abadie_imbens"):
        if col not in rows:
            continue
        have = rows[rows[col].notna()] if col != "se" else rows[rows.get(
            "se_pairs_person", pd.Series(np.nan, index=rows.index)).notna()]
        if have.empty:
            continue
        lo, hi = have["estimate"] - z * have[col], have["estimate"] + z * have[col]
        nul = have[have["hazard_ratio"] == 1.0]
        rules[col] = {
            "evaluations": len(have),
            "coverage_95": round(float(((lo <= have["truth_realised"])
                                        & (have["truth_realised"] <= hi)).mean()), 4),
            "zero_effect_evaluations": len(nul),
            "false_positive_rate": round(float((np.abs(nul["estimate"] / nul[col]) > z).mean()),
                                         4) if len(nul) else None,
            "mean_se_pp": round(100 * float(have[col].mean()), 3)}
    out["other_rules"] = rules
    return out


def _counts(rows: pd.DataFrame, column: str) -> dict[str, int]:
    if column not in rows:
        return {}
    return {str(k): int(v) for k, v in rows[column].fillna("not recorded").value_counts().items()}


def markdown(result: dict[str, Any]) -> str:
    """The summary table (one row per design and cohort size) for docs/."""
    lines = ["| Design | Cohort size | Evaluations | Bias (pts) | RMSE (pts) | Coverage 95% "
             "| FPR (HR=1) | FPR, both tests | Median CI width (pts) | Median controls |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for design, d in result.items():
        for label, s in [*((str(k), v) for k, v in d["by_size"].items()),
                         ("all", d["overall"])]:
            fpr = ("–" if s.get("false_positive_rate") is None
                   else f"{100 * s['false_positive_rate']:.1f}% ({s['zero_effect_evaluations']})")
            both = ("–" if s.get("false_positive_rate_both_tests") is None
                    else f"{100 * s['false_positive_rate_both_tests']:.1f}% "
                         f"({s['zero_effect_evaluations_released']})")
            lines.append(
                f"| {design} | {label} | {s['evaluations']} | {s['bias_pp']:+.2f} "
                f"| {s['rmse_pp']:.2f} | {100 * s['coverage_95']:.1f}% | {fpr} | {both} "
                f"| {s['median_ci_width_pp']:.1f} | {s['median_controls']:.0f} |")
    return "\n".join(lines)


def with_released(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` plus, for rows that record it, a copy named ``"<design> released"`` with the
    rate as the lab releases it (:func:`released_rate`) in place of the internal estimate; its
    ``significant_by_lab_rules`` becomes the public verdict (both halves)."""
    if "treated_events" not in rows:
        return rows
    rows = rows.drop(columns=[c for c in rows if c.startswith("rel_")])
    have = rows[rows["treated_events"].notna()]
    figures = pd.DataFrame([released_figures(r.treated_events, int(r.n_treated),
                                             r.comparison_rate, int(r.n_controls),
                                             r.comparison_ess)
                            for r in have.itertuples()], index=have.index)
    rows = rows.join(figures)
    if "rel_ci_low" not in rows:
        return rows
    rel = rows[rows["rel_ci_low"].notna()].copy()
    rel["internal_p_value"] = rel["p_value"]
    for col in ("estimate", "ci_low", "ci_high", "p_value"):
        rel[col] = rel["rel_" + col]
    rel["significant_by_lab_rules"] = (rel["significant_by_lab_rules"].astype(bool)
                                       & rel["rel_significant"].astype(bool))
    rel["design"] = rel["design"] + " released"
    return pd.concat([rows, rel], ignore_index=True)


def with_adjusted(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows plus, for rows with a covariate-adjusted estimate, a copy under the design name
    ``"<design> +adjusted"`` with the adjusted estimate, interval and p-value in place."""
    if "adj_estimate" not in rows:
        return rows
    adj = rows[rows["adj_estimate"].notna()].copy()
    for col in ("estimate", "ci_low", "ci_high", "p_value"):
        adj[col] = adj["adj_" + col]
    adj["design"] = adj["design"] + " +adjusted"
    return pd.concat([rows, adj], ignore_index=True)


def write_summary(out: Path, meta: dict[str, Any]) -> dict[str, Any]:
    rows = pd.DataFrame(read_rows(out))
    if rows.empty:
        raise SystemExit(f"no evaluations in {out}")
    # two processes may have made the same row: keep one
    rows = rows[~rows.apply(lambda r: row_key(r), axis=1).duplicated()]
    # a design's rows are named by what they resolve to in this code (a fingerprint made under
    # another name, e.g. "default" while the default was another design, takes today's name)
    names = {design_fingerprint(o): n for n, o in reversed(list(DESIGNS.items()))
             if n != "default"}
    rows["design"] = rows["design_fingerprint"].map(names).fillna(rows["design"])
    rows = with_released(with_adjusted(rows))
    result = summary(rows)
    table = markdown(result)
    print(table)
    print(json.dumps({d: v["checks"] for d, v in result.items()}, indent=2))
    write_results(out.stem, [{  # validation_pipeline.json for the default rows file
        "case": "planted_programmes", "ok": True, **meta,
        "evaluations": len(rows), "populations": sorted(rows["population_seed"].unique().tolist()),
        "truth": "realised effect on the matched treated (truth_realised); coverage against "
                 "the programme's expected effect is coverage_95_expected_truth",
        "targets": TARGETS, "designs": result, "markdown": table,
        "rows_file": str(out.name), "summarised_at": datetime.now(UTC).isoformat()}])
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--populations", type=int, default=4)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="these population seeds instead (e.g. one set per process)")
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--max-reps", type=int, default=8,
                        help="disjoint cohorts per programme and size, at most")
    parser.add_argument("--null-max-reps", type=int, default=20,
                        help="the same for programmes without an effect (the false positives)")
    parser.add_argument("--design", action="append", default=[], metavar="NAME=JSON",
                        help="a design (MatchingSettings overrides); repeat; default: "
                             + ", ".join(DESIGNS))
    parser.add_argument("--adjusted", action="store_true",
                        help="also the covariate-adjusted estimate (slow)")
    parser.add_argument("--limit", type=int, default=None, help="stop after N new rows")
    parser.add_argument("--programmes", nargs="+", default=None, metavar="NAME",
                        help="only these planted programmes (e.g. crossroads-diversion, the "
                             "one around cautions)")
    parser.add_argument("--out", type=Path, default=JSONL)
    parser.add_argument("--summarise", action="store_true", help="only rebuild the summary")
    args = parser.parse_args(argv)
    designs = dict(DESIGNS)
    if args.design:
        designs = {}
        for item in args.design:
            name, _, spec = item.partition("=")
            designs[name] = json.loads(spec) if spec else {}
    start = time.perf_counter()
    written = 0
    if not args.summarise:
        seeds = args.seeds or list(range(args.first_seed, args.first_seed + args.populations))
        written = run(seeds, args.people, tuple(args.sizes), args.max_reps, designs, args.out,
                      args.limit, null_max_reps=args.null_max_reps, adjusted=args.adjusted,
                      programmes=tuple(args.programmes) if args.programmes else None)
    meta = {"rows_written_this_run": written,
            "seconds_this_run": round(time.perf_counter() - start, 1),
            "load_avg": os.getloadavg()}
    return write_summary(args.out, meta)


if __name__ == "__main__":
    main()

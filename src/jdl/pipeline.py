"""The evaluation: one call from an upload to a disclosure-controlled report.

validate -> link -> cohort and pool -> match -> estimate -> sensitivity -> disclosure -> report.

Each stage takes the previous stage's plain output. This module only orchestrates and assembles
the *raw results* (lab-internal aggregates, ``tests/fixtures/raw_results_example.json`` shows
every field); everything released goes through :mod:`jdl.disclosure` first, and the report is
rendered from the released results only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from jdl import __version__
from jdl.core.config import DEFAULT_SEED, Settings, get_settings
from jdl.core.errors import JDLError

SCHEMA_VERSION = "1.0"
STAGES = ("validate", "link", "cohort", "match", "estimate", "sensitivity", "disclose", "report")

HEADLINE = {
    "proven_reoffending_rate": ("reoffended", "rate", "One-year proven re-offending rate"),
    "reoffending_frequency": ("reoffences", "frequency", "Proven re-offences per person"),
    "days_to_first_reoffence": (
        "days_to_first",
        "days",
        "Average days to first proven re-offence (re-offenders only)",
    ),
}
EXTENDED = {
    "custodial_reoffending_rate": (
        "custodial_reoffence",
        "rate",
        "Re-offended and received a custodial sentence",
    ),
    "serious_reoffending_rate": (
        "reoffended_tier1",
        "rate",
        "Re-offended with a most serious (tier 1) offence",
    ),
    "employment_days_after": (
        "employment_days_post",
        "mean",
        "Days in employment in the year after the index date",
    ),
    "benefit_days_after": (
        "benefit_days_post",
        "mean",
        "Days on out-of-work benefits in the year after the index date",
    ),
}
ASSESSMENT_COVARIATES = (
    "has_assessment",
    "risk_score",
    "need_accommodation",
    "need_employment",
    "need_drugs",
    "need_alcohol",
    "need_mental_health",
)
NUMERIC_COVARIATES = (
    "age_at_index",
    "prev_offences",
    "prev_convictions",
    "prev_cautions",
    "prev_custodial",
    "prev_offences_2y",
    "prev_custodial_2y",
    "days_since_last_offence",
    "no_previous_offence",
    "age_at_first_offence",
    "copas_rate",
    "sentence_days",
    "employment_days_1y",
    "employment_days_2y",
    "benefit_days_1y",
    "benefit_days_2y",
    *ASSESSMENT_COVARIATES,
)
CATEGORICAL_COVARIATES = (
    "sex",
    "ethnicity",
    "nationality",
    "region",
    "index_offence_group",
    "sentence_type",
)
EXACT = ("index_type", "index_year")
MIN_SUBGROUP = 50
Progress = Callable[[str], None]


class EvaluationError(JDLError):
    """The evaluation cannot produce results for this submission (reason in the message)."""


@dataclass(frozen=True)
class Evaluation:
    """What ``evaluate`` produced: the released (disclosure-controlled) results and the files."""

    results: dict[str, Any]
    out_dir: Path
    files: dict[str, Path]


def config_hash(settings: Settings, programme: dict, seed: int) -> str:
    """A short hash of everything that decides the numbers (not of the people): the analysis
    settings (:meth:`Settings.analysis`: not paths, engines, Spark's memory or the service's
    port), the programme and the seed."""
    payload = json.dumps(
        {"settings": settings.analysis(), "programme": programme, "seed": seed},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def prepare_covariates(frame: pd.DataFrame) -> pd.DataFrame:
    """Fill the gaps matching cannot take, with indicators so nothing is assumed.

    No previous offence: days since last offence 0 plus ``no_previous_offence``. No assessment:
    risk score and needs 0 alongside ``has_assessment`` (already a covariate).
    """
    out = frame.copy()
    out["no_previous_offence"] = out["days_since_last_offence"].isna().astype(int)
    out["days_since_last_offence"] = out["days_since_last_offence"].astype(float).fillna(0.0)
    for col in ASSESSMENT_COVARIATES:
        out[col] = out[col].astype(float).fillna(0.0)
    for col in NUMERIC_COVARIATES:
        out[col] = out[col].astype(float)
    return out


def restrict_to_shared_levels(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Compare like with like: where every treated person shares one level of a categorical
    characteristic (a regional programme, a custody-only one), the comparison pool is limited
    to that level before the propensity score is fitted — otherwise the score model would learn
    the between-level differences and distort the comparison within the level."""
    treated = frame[frame["treated"] == 1]
    shared = {}
    for col in CATEGORICAL_COVARIATES:
        levels = treated[col].dropna().unique()
        if len(levels) == 1 and frame[col].nunique() > 1:
            shared[col] = str(levels[0])
    if not shared:
        return frame, shared
    keep = np.ones(len(frame), dtype=bool)
    for col, level in shared.items():
        keep &= (frame[col] == level).to_numpy()
    return frame.loc[keep].reset_index(drop=True), shared


def matching_design(frame: pd.DataFrame, drop: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """(covariates, exact strata) for matching: every characteristic that varies enters the
    propensity score model; index type and year are exact strata (the JDL's practice)."""
    covariates = [c for c in CATEGORICAL_COVARIATES if c not in drop and frame[c].nunique() > 1]
    covariates += [c for c in NUMERIC_COVARIATES if c not in drop and frame[c].nunique() > 1]
    return covariates, list(EXACT)


def evaluate(
    upload: str | Path,
    programme: str | Path,
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    settings: Settings | None = None,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
    checkpoints: Checkpoints | None = None,
) -> Evaluation:
    """Run the whole evaluation and write report.html, report.pdf, results.json and internal/.

    With ``checkpoints``, the outputs of the two slow stages (linkage; cohort and pool) are
    saved as they complete and reused when present, so a run killed part-way resumes from its
    last completed stage (the service's job recovery).
    """
    from jdl.admin._store import read_manifest
    from jdl.intake import load_programme

    settings = settings or get_settings()
    step = progress or (lambda _stage: None)
    saved = checkpoints or _NoCheckpoints()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    manifest = read_manifest(data_dir)

    prog = load_programme(programme)
    submission, linked = _validated_and_linked(upload, prog, data_dir, settings, step, saved)
    link_table = linked.link_table()

    step("cohort")
    resumed = saved.load("cohort")
    if resumed is None:
        rows = submission.accepted_rows()
        resumed = _cohort_and_pool(data_dir, link_table, rows, prog.setting, submission, settings)
        saved.save("cohort", resumed)
    cohort, frame = resumed
    step("match")
    frame, shared_levels = restrict_to_shared_levels(prepare_covariates(frame))
    covariates, _ = matching_design(frame)
    exact = list(settings.matching.exact)
    result = _match(frame, covariates, exact, settings, seed)

    step("estimate")
    effects = _effects(result, settings)
    step("sensitivity")
    sensitivity = _sensitivity(frame, covariates, exact, result, effects, settings, seed)
    subgroups = _subgroups(result, settings)

    analysis = _Analysis(
        programme=prog.model_dump(mode="json"),
        manifest=manifest,
        submission=submission,
        linked=linked,
        cohort=cohort,
        result=result,
        effects=effects,
        sensitivity=sensitivity,
        subgroups=subgroups,
        covariates=covariates,
        exact=exact,
        shared_levels=shared_levels,
    )
    raw = _raw_results(analysis, settings, seed)
    internal = _write_internal(out_dir, link_table, result, raw)

    step("disclose")
    from jdl.disclosure import assert_released, release

    released = release(raw, settings.disclosure)
    results = released.results
    assert_released(results, settings.disclosure)
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "results.json"
    results_path.write_text(released.to_json())

    step("report")
    from jdl.report import render_report

    # the report carries its date; results.json does not, so it stays reproducible
    dated = {**results, "generated_at": datetime.now(UTC).date().isoformat()}
    report = render_report(
        dated,
        out_dir,
        lab_name=settings.report.lab_name,
        smd_threshold=settings.matching.smd_good,
        selective_threshold=settings.intake.min_share_of_declared,
    )
    _review_released_files(released, [results_path, *report.paths], internal)
    files = {"results": results_path, "html": report.html, "pdf": report.pdf, "internal": internal}
    return Evaluation(results=results, out_dir=out_dir, files=files)


class Checkpoints(Protocol):
    """Where a run keeps its completed stages' outputs (they hold personal data: the service's
    implementation encrypts them, and deletes them when the job ends)."""

    def load(self, stage: str) -> Any | None: ...

    def save(self, stage: str, value: Any) -> None: ...


class _NoCheckpoints:
    def load(self, stage: str) -> None:
        return None

    def save(self, stage: str, value: Any) -> None:
        return None


def _validated_and_linked(
    upload: str | Path,
    prog: Any,
    data_dir: Path,
    settings: Settings,
    step: Progress,
    saved: Checkpoints,
) -> tuple[Any, Any]:
    """Validation and linkage, or their saved outputs when an earlier attempt completed them."""
    resumed = saved.load("link")
    if resumed is not None:
        step("link")
        return resumed
    from jdl.intake import validate_submission
    from jdl.linkage import link_submission

    step("validate")
    submission = validate_submission(upload, prog, settings.intake)
    step("link")
    linked = link_submission(submission.accepted_rows(), data_dir, settings=settings.linkage,
                             data_engine=settings.data.engine, spark=settings.spark)
    saved.save("link", (submission, linked))
    return submission, linked


def _review_released_files(released: Any, paths: list[Path], internal: Path) -> list[str]:
    """Scan every released text file for numbers that look like small or unrounded counts and
    write the findings for the output checker (``internal/disclosure-review.txt``).

    The guarantee is structural — the report reads only the released results, which
    ``assert_released`` has proved obey the rules — so this heuristic scan informs the analyst's
    review (as output checkers in secure labs review every file) rather than blocking.
    """
    from jdl.disclosure import check_released_text

    findings = []
    for path in paths:
        if path.suffix in (".json", ".html"):
            findings += [
                f"{path.name}: {p}" for p in check_released_text(path.read_text(), released)
            ]
    (internal / "disclosure-review.txt").write_text(
        "Heuristic scan of released files for count-like numbers (review each; the released "
        "results passed the disclosure rules):\n" + "\n".join(findings or ["nothing found"]) + "\n"
    )
    return findings


def _report_paths(report: Any) -> dict[str, Path]:
    if isinstance(report, dict):
        return {k: Path(v) for k, v in report.items()}
    return {k: Path(v) for k, v in vars(report).items() if isinstance(v, (str, Path))}


def _cohort_and_pool(
    data_dir: Path,
    link_table: pd.DataFrame,
    rows: pd.DataFrame,
    setting: str,
    submission: Any,
    settings: Settings,
):
    from jdl.admin.records import open_records
    from jdl.cohort import analysis_frame, build_cohort, build_pool

    # duckdb or spark (settings.data.engine): the same SQL, the same results
    with open_records(data_dir, settings.data, spark=settings.spark) as engine:
        cohort = build_cohort(
            engine, link_table, rows, setting, settings=settings.cohort,
            rejected_at_intake=submission.counts.rejected,
        )
        if cohort.attrition.eligible == 0:
            raise EvaluationError(
                "None of the submitted people could be analysed.",
                hint="See the attrition: "
                + "; ".join(f"{s.label}: {s.count}" for s in cohort.attrition.steps if s.count),
            )
        pool = build_pool(engine, settings=settings.cohort,
                          exclude_person_ids=cohort.linked_person_ids, strata=cohort.strata)
    return cohort, analysis_frame(cohort, pool)


def _match(
    frame: pd.DataFrame,
    covariates: list[str],
    exact: list[str],
    settings: Settings,
    seed: int,
    **overrides: Any,
):
    from jdl.matching import match_with_settings

    return match_with_settings(
        frame, "treated", covariates, settings.matching, exact=exact, random_state=seed, **overrides
    )


def _outcomes() -> tuple[dict[str, str], dict[str, str]]:
    outcomes, labels = {}, {}
    for column, kind, label in (*HEADLINE.values(), *EXTENDED.values()):
        outcomes[column] = kind
        labels[column] = label
    return outcomes, labels


def _effects(result: Any, settings: Settings):
    from jdl.inference import estimate_effects

    outcomes, labels = _outcomes()
    return estimate_effects(result, outcomes, settings=settings.inference, labels=labels)


def _sensitivity(frame, covariates, exact, result, effects, settings, seed) -> dict[str, Any]:
    """Other specifications, E-value, Rosenbaum bound and power (lab-internal numbers)."""
    from jdl.inference import (
        e_value,
        minimum_detectable_effect,
        rosenbaum_from_match,
    )

    rate = effects["reoffended"]
    specs = [
        ("Main analysis", {}),
        ("Caliper 0.1", {"caliper": 0.1}),
        ("3 comparison people per participant", {"ratio": 3}),
        ("With replacement", {"replace": True}),
    ]
    rows = []
    # Specifications with the main covariates reuse the main propensity scores: refitting the
    # same logistic model gives the same scores, and was half an evaluation's CPU at 10M people.
    same_model = {"distance": result.distance} if result.model is not None else {}
    for label, overrides in specs:
        rows.append(
            _spec_row(label, frame, covariates, exact, settings, seed, {**same_model, **overrides})
        )
    drop = tuple(c for c in covariates if c in ASSESSMENT_COVARIATES)
    if drop:
        reduced = [c for c in covariates if c not in drop]
        rows.append(
            _spec_row("Without assessment covariates", frame, reduced, exact, settings, seed, {})
        )
    p1, p0 = rate.treatment_value / 100, rate.comparison_value / 100
    ev = {"point": None, "ci": None}
    if p0 > 0 and p1 > 0:
        rr = p1 / p0
        lo = max(p0 + rate.ci_low / 100, 1e-9) / p0
        hi = max(p0 + rate.ci_high / 100, 1e-9) / p0
        point, ci = e_value(rr, lo, hi)
        ev = {"point": float(point), "ci": float(ci)}
    rosen: dict[str, Any] = {"gamma_at_which_significance_lost": None}
    if not settings.matching.replace and settings.matching.ratio == 1:
        bounds = rosenbaum_from_match(result, "reoffended")
        rosen = {
            "gamma_at_which_significance_lost": float(bounds.gamma_critical)
            if rate.significant
            else None
        }
    mde = minimum_detectable_effect(
        max(rate.n_treated, 2), min(max(p0, 0.01), 0.99), alpha=settings.inference.alpha
    )
    power = {
        "base_rate": p0,
        "treatment_n": rate.n_treated,
        "mde": mde.mde_decrease / 100,
        "power": mde.power,
        "alpha": mde.alpha,
        # a planning figure: rounded up to the next 10 ("about 870 people")
        "required_n_for_observed": None
        if rate.required_n is None
        else int(np.ceil(rate.required_n / 10) * 10),
    }
    return {"specifications": rows, "e_value": ev, "rosenbaum": rosen, "power": power}


def _spec_row(label, frame, covariates, exact, settings, seed, overrides) -> dict[str, Any]:
    from jdl.inference import estimate_effects

    try:
        res = _match(frame, covariates, exact, settings, seed, **overrides)
        e = estimate_effects(res, {"reoffended": "rate"}, settings=settings.inference)["reoffended"]
    except JDLError as exc:
        return {
            "label": label,
            "difference": None,
            "ci_low": None,
            "ci_high": None,
            "p_value": None,
            "treatment_n": None,
            "comparison_n": None,
            "note": exc.message,
        }
    return {
        "label": label,
        "difference": e.difference / 100,
        "ci_low": e.ci_low / 100,
        "ci_high": e.ci_high / 100,
        "p_value": e.p_value,
        "treatment_n": e.n_treated,
        "comparison_n": e.n_comparison,
    }


def _age_band(age: pd.Series) -> pd.Series:
    return pd.cut(
        age,
        [0, 17, 24, 29, 39, 49, 200],
        labels=["under 18", "18-24", "25-29", "30-39", "40-49", "50+"],
    ).astype(str)


def _subgroups(result: Any, settings: Settings) -> list[dict[str, Any]]:
    """Exploratory sub-group estimates of the re-offending rate, Holm-adjusted."""
    from statsmodels.stats.multitest import multipletests

    from jdl.inference import weighted_difference

    matched = result.matched.copy()
    matched["age_band"] = _age_band(matched["age_at_index"])
    # each pair belongs to its treated member's group
    treated = matched[matched["treated"] == 1].set_index("subclass")
    rows: list[dict[str, Any]] = []
    for dimension in ("sex", "age_band", "index_offence_group", "index_type"):
        group_of = treated[dimension]
        labels = matched["subclass"].map(group_of)
        for level in sorted(group_of.dropna().unique()):
            sel = (labels == level).to_numpy()
            n_t = int((sel & (matched["treated"] == 1).to_numpy()).sum())
            n_c = int((sel & (matched["treated"] == 0).to_numpy()).sum())
            row = {
                "dimension": dimension,
                "level": str(level),
                "treatment_n": n_t,
                "comparison_n": n_c,
                "difference": None,
                "ci_low": None,
                "ci_high": None,
                "p_value": None,
                "p_adjusted": None,
                "significant": False,
            }
            if n_t < MIN_SUBGROUP:
                row["reason_not_reported"] = f"Fewer than {MIN_SUBGROUP} people in the group."
                rows.append(row)
                continue
            sub = matched[sel]
            est = weighted_difference(
                sub["reoffended"].to_numpy(float),
                sub["treated"].to_numpy() == 1,
                sub["weights"].to_numpy(float),
                sub["subclass"].to_numpy(),
                alpha=settings.inference.alpha,
            )
            row.update(
                difference=est.difference,
                ci_low=est.ci_low,
                ci_high=est.ci_high,
                p_value=est.p_value,
            )
            rows.append(row)
    tested = [r for r in rows if r["p_value"] is not None]
    if tested:
        reject, adjusted, _, _ = multipletests(
            [r["p_value"] for r in tested], alpha=settings.inference.alpha, method="holm"
        )
        for r, rej, adj in zip(tested, reject, adjusted, strict=True):
            r["p_adjusted"] = float(adj)
            r["significant"] = bool(rej)
    return rows


def _measure_dict(effect: Any, kind: str, label: str, result: Any, column: str) -> dict:
    scale = 100.0 if kind in ("rate", "frequency") else 1.0
    matched = result.matched
    t = matched["treated"] == 1
    if kind in ("rate", "frequency"):
        events_t = int(matched.loc[t, column].sum())
        events_c = round(float((matched.loc[~t, column] * matched.loc[~t, "weights"]).sum()))
    else:
        events_t, events_c = effect.n_treated, effect.n_comparison
    return {
        "label": label,
        "unit": {"rate": "proportion", "frequency": "per person", "days": "days", "mean": "days"}[
            kind
        ],
        "treatment": effect.treatment_value / scale,
        "comparison": effect.comparison_value / scale,
        "difference": effect.difference / scale,
        "ci_low": effect.ci_low / scale,
        "ci_high": effect.ci_high / scale,
        "p_value": effect.p_value,
        "significant": effect.significant,
        "conclusion": effect.conclusion,
        "treatment_n": effect.n_treated,
        "comparison_n": effect.n_comparison,
        "treatment_events": events_t,
        "comparison_events": events_c,
        "reported": not effect.suppressed,
        "reason_not_reported": " ".join(effect.notes) if effect.suppressed else None,
    }


def _profile(result: Any) -> dict[str, dict[str, int]]:
    treated = result.matched[result.matched["treated"] == 1]
    profile = {
        "sex": treated["sex"].map({"M": "Male", "F": "Female"}).value_counts(),
        "age_band": _age_band(treated["age_at_index"]).value_counts(),
        "ethnicity": treated["ethnicity"].value_counts(),
        "nationality": treated["nationality"].value_counts(),
        "index_offence_group": treated["index_offence_group"].value_counts(),
    }
    return {k: {str(i): int(n) for i, n in v.items()} for k, v in profile.items()}


def _survival(result: Any, follow_up_days: int) -> dict[str, list[dict[str, float]]]:
    from jdl.inference import survival_curves

    curves = survival_curves(result, follow_up_days=follow_up_days)
    out = {}
    for name, df in (("treatment", curves.treatment), ("comparison", curves.comparison)):
        days = np.arange(0, follow_up_days + 1, 30)
        idx = np.searchsorted(df["time"].to_numpy(), days, side="right") - 1
        surv = np.where(idx >= 0, df["survival"].to_numpy()[np.maximum(idx, 0)], 1.0)
        at_risk = df["at_risk"].to_numpy(float)[np.maximum(idx, 0)]
        out[name] = [
            {"day": int(d), "proportion_not_reoffended": float(s), "n_at_risk": round(r)}
            for d, s, r in zip(days, surv, at_risk, strict=True)
        ]
    return out


def _selective_sample(prog: dict, submitted: int, min_share: float) -> dict[str, Any]:
    declared = prog.get("declared_participants")
    basis = prog.get("selection_basis") or "all_participants"
    share = None if not declared else min(1.0, submitted / declared)
    warning = None
    if basis == "completers_only":
        warning = (
            "The organisation submitted only people who completed the programme. "
            "People who drop out often differ from those who finish, so these results "
            "are likely to make the programme look more effective than it is."
        )
    elif share is not None and share < min_share:
        warning = (
            f"The file holds {share:.0%} of the {declared} people the organisation says "
            "it worked with. If those left out differ from those included, the results "
            "may not represent the programme as a whole."
        )
    elif basis == "other":
        warning = (
            "The people in the file were chosen in a way other than 'all participants'; "
            "the results may not represent everyone the programme worked with."
        )
    return {
        "declared_participants": declared,
        "submitted": submitted,
        "share_submitted": share,
        "selection_basis": basis,
        "warning": warning,
    }


@dataclass(frozen=True)
class _Analysis:
    """Every stage's output for one evaluation: what the raw results are assembled from."""

    programme: dict[str, Any]
    manifest: dict[str, Any]
    submission: Any
    linked: Any
    cohort: Any
    result: Any
    effects: Any
    sensitivity: dict[str, Any]
    subgroups: list[dict[str, Any]]
    covariates: list[str]
    exact: list[str]
    shared_levels: dict[str, str]


def _raw_results(a: _Analysis, settings: Settings, seed: int) -> dict[str, Any]:
    """The lab-internal aggregates (the shape of tests/fixtures/raw_results_example.json)."""
    prog, manifest, submission, linked = a.programme, a.manifest, a.submission, a.linked
    cohort, result, effects, sensitivity = a.cohort, a.result, a.effects, a.sensitivity
    subgroups, covariates, exact, shared_levels = (
        a.subgroups,
        a.covariates,
        a.exact,
        a.shared_levels,
    )
    s = linked.summary
    att = cohort.attrition
    counts = {
        "submitted": submission.counts.rows,
        "rejected": submission.counts.rejected,
        "accepted": submission.counts.accepted,
        "linked": att.linked,
        "linked_by_id": s.linked_by_id,
        "linked_probabilistically": s.linked_probabilistically,
        "not_found": s.not_found,
        "ambiguous": s.ambiguous,
        "duplicates": s.duplicate,
        "eligible": att.eligible,
        "treatment_n": result.n_treated_matched,
        "comparison_n": result.n_control_matched,
        "comparison_pool_n": int((result.data["treated"] == 0).sum()),
        "unmatched_treated": att.eligible - result.n_treated_matched,
    }
    exclusions = {step.label: int(step.count) for step in att.steps}
    exclusions["No suitable comparison person (outside common support)"] = counts[
        "unmatched_treated"
    ]
    measures = {}
    for name, (column, kind, label) in {**HEADLINE, **EXTENDED}.items():
        measures[name] = _measure_dict(effects[column], kind, label, result, column)
    balance = result.balance()
    table = balance.table
    balance_rows = [
        {
            "covariate": str(cov),
            "smd_before": _num(row.get("smd_un")),
            "smd_after": _num(row.get("smd")),
            "variance_ratio_after": _num(row.get("var_ratio")),
        }
        for cov, row in table.iterrows()
    ]
    spec = result.spec
    quality = (
        "good"
        if balance.max_abs_smd < settings.matching.smd_good
        else ("acceptable" if balance.quality_ok else "poor")
    )
    warnings = []
    if quality == "poor":
        warnings.append(
            "Matching quality is too poor to report: some characteristics still "
            "differ substantially between the groups after matching ("
            + ", ".join(balance.poor)
            + ")."
        )
    selective = _selective_sample(prog, counts["submitted"], settings.intake.min_share_of_declared)
    if selective["warning"]:
        warnings.append(selective["warning"])
    raw = {
        "schema_version": SCHEMA_VERSION,
        "programme": prog,
        "data_version": manifest.get("data_version", "unknown"),
        "data_cutoff": manifest.get("data_cutoff"),
        "software_version": __version__,
        "config_hash": config_hash(settings, prog, seed),
        "seed": seed,
        "counts": counts,
        **{
            k: counts[k] for k in ("submitted", "linked", "eligible", "treatment_n", "comparison_n")
        },
        "exclusions": exclusions,
        "attrition": [
            {"step": "Submitted", "n": counts["submitted"]},
            {"step": "Accepted at validation", "n": counts["accepted"]},
            {"step": "Linked to national records", "n": counts["linked"]},
            {"step": "Eligible for analysis", "n": counts["eligible"]},
            {"step": "Matched", "n": counts["treatment_n"]},
        ],
        "headline_measures": list(HEADLINE),
        "extended_measures": list(EXTENDED),
        "measures": measures,
        "balance": balance_rows,
        "matching": {
            "method": spec.method,
            "distance": spec.distance,
            "ratio": spec.ratio,
            "replace": spec.replace,
            "caliper": spec.caliper,
            "std_caliper": spec.std_caliper,
            "exact": list(exact),
            "covariates": list(covariates),
            "comparison_restricted_to": shared_levels,
            "treated_matched": result.n_treated_matched,
            "treated_unmatched": counts["unmatched_treated"],
            "controls_matched": result.n_control_matched,
            "max_abs_smd_after": float(balance.max_abs_smd),
            "quality": quality,
            "quality_rule": (
                f"Good: every |SMD| below {settings.matching.smd_good}; poor (too "
                f"poor to report): any above {balance.smd_poor}."
            ),
        },
        "profile": _profile(result),
        "survival": _survival(result, settings.inference.follow_up_days),
        "sensitivity": {k: v for k, v in sensitivity.items() if k != "power"},
        "power": sensitivity["power"],
        "subgroups": subgroups,
        "selective_sample": selective,
        "warnings": warnings,
    }
    return raw


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if not np.isfinite(f) else round(f, 4)


def _write_internal(out_dir: Path, link_table: pd.DataFrame, result: Any, raw: dict) -> Path:
    """Lab-internal outputs, never released: the link table, matched ids, raw aggregates."""
    internal = out_dir / "internal"
    internal.mkdir(parents=True, exist_ok=True)
    link_table.to_csv(internal / "links.csv", index=False)
    matched = result.matched
    keep = [
        c
        for c in ("person_id", "event_id", "treated", "weights", "subclass")
        if c in matched.columns
    ]
    matched[keep].to_csv(internal / "matched.csv", index=False)
    (internal / "raw_results.json").write_text(json.dumps(raw, indent=2, default=str))
    (internal / "README.txt").write_text(
        "LAB-INTERNAL. Never release these files: they hold per-person link results and "
        "unsuppressed aggregates. Released outputs are report.html, report.pdf and results.json.\n"
    )
    return internal

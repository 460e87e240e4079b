"""The evaluation: one call from an upload to disclosure-controlled results.

validate -> link -> cohort and pool -> match -> estimate -> sensitivity -> disclosure.

Each stage takes the previous stage's plain output; this module only orchestrates. It assembles
the typed :class:`~jdl.evaluation._results.Results` (lab-internal), writes their dict as
``internal/raw_results.json`` and releases them through :mod:`jdl.disclosure` into
``results.json``. The report is written from the released results by
:func:`jdl.run.run_evaluation`, a layer above: the evaluation never imports the report.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from jdl import __version__
from jdl.core.config import DEFAULT_SEED, Settings, get_settings
from jdl.core.errors import JDLError
from jdl.core.results import finite_or_none
from jdl.evaluation._results import (
    AttritionStep,
    BalanceRow,
    Counts,
    MatchingSummary,
    MeasureSummary,
    Provenance,
    Results,
    SettingChange,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from jdl.inference import Prior
    from jdl.inference._benefit import PublishedEffect
    from jdl.intake import Registration
    from jdl.matching import CovariateSpec

#: The progress steps of a full run, in order ("report" is :mod:`jdl.run`'s, after these).
STAGES = ("validate", "link", "cohort", "match", "estimate", "sensitivity", "disclose", "report")
MIN_SUBGROUP = 50
#: The sensitivity row of the MatchIt-parity reference design under the power-first default.
REFERENCE_DESIGN = "1:1 without replacement (reference design)"
Progress = Callable[[str], None]


class EvaluationError(JDLError):
    """The evaluation cannot produce results for this submission (reason in the message)."""


class CouldNotBeAnswered(EvaluationError):
    """The request falls below the lab's minimum criteria: the lab declines to answer it.

    A typed outcome, not a failure: the Justice Data Lab records such requests as "could not
    be answered" (21 of 179 requests to July 2016 "could not be answered for minimum
    criteria"). ``n`` is the group size that fell short of ``minimum`` at ``stage``."""

    def __init__(self, message: str, *, n: int, minimum: int, stage: str,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.n, self.minimum, self.stage = n, minimum, stage


@dataclass(frozen=True)
class Evaluation:
    """What ``evaluate`` produced: the released (disclosure-controlled) results and the files.

    ``released`` is the disclosure stage's object (for the output checks); ``typed`` the
    lab-internal results it was made from.
    """

    results: dict[str, Any]
    out_dir: Path
    files: dict[str, Path]
    released: Any = None
    typed: Results | None = None


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


def covariate_spec(exact: tuple[str, ...] | None = None) -> CovariateSpec:
    """Matching's covariates from the registry (:mod:`jdl.cohort`'s covariate set): those with
    ``use_in_matching``, their gap-filling rules and the exact strata (``exact``: the run's
    ``settings.matching.exact``; the covariate set's own strata when not given)."""
    from jdl.cohort._covariates import EXACT_STRATA, matching_covariates
    from jdl.matching import CovariateSpec

    used = matching_covariates()
    fill = [m for m in used if m.fill_missing]
    return CovariateSpec(
        categorical=tuple(m.name for m in used if m.kind == "categorical"),
        numeric=tuple(m.name for m in used if m.kind == "numeric"),
        exact=EXACT_STRATA if exact is None else tuple(exact),
        fill_zero=tuple(m.name for m in fill if m.fill_missing == "zero"),
        indicators=tuple((m.name, m.fill_missing) for m in fill if m.fill_missing != "zero"),
    )


def _on_one_blas_thread(run: Callable[..., Evaluation]) -> Callable[..., Evaluation]:
    """``run`` with one BLAS thread (OpenBLAS's default is one per core) throughout.

    The propensity fits are long sums over the pool, and on a shared machine a second BLAS
    thread spin-waits for a busy core (a fit at 1M people took 8-12 s instead of 2 at load 3,
    and the covariate-adjusted effects doubled the evaluation's CPU: docs/performance.md).
    DuckDB keeps its own threads. One thread count also makes the fits' last digits the same on
    every machine (the adjusted limits moved in the 6th digit between thread counts)."""

    @functools.wraps(run)
    def on_one_thread(*args: Any, **kwargs: Any) -> Evaluation:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return run(*args, **kwargs)

    return on_one_thread


@_on_one_blas_thread
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
    registration: Registration | None = None,
    published_effects: Sequence[PublishedEffect] | None = None,
) -> Evaluation:
    """Run the evaluation and write results.json (released) and internal/ (never released).

    ``registration``: the organisation's analysis plan, fixed before this call (its declared
    columns are validated with the upload; its sub-analyses are run and released with the
    results, and printed with its hash in the report: :mod:`jdl.evaluation._registered`).

    ``published_effects``: the catalogue's published headline effects (released values) of
    the programme's intervention type; with at least three (and
    ``settings.inference.benefit_catalogue_prior``), the probability of benefit's prior is
    their random-effects predictive distribution, else the weakly informative one
    (:func:`benefit_prior`).

    The report is not written here (the evaluation sits below the report layer):
    :func:`jdl.run.run_evaluation` calls this, then writes report.html and report.pdf.

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
    if registration is not None:
        from jdl.outcomes import reported_outcomes

        registration.check_measure(tuple(m.result_key for m in reported_outcomes()),
                                   tuple(m.result_key for m in reported_outcomes()
                                         if m.unit == "proportion"))
    submission, linked = _validated_and_linked(
        upload, prog, data_dir, settings, step, saved,
        variables=registration.variables if registration is not None else ())
    from jdl.intake import check_programme_text

    check_programme_text(prog, submission.rows)  # published free text: no identifiers
    link_table = linked.link_table()

    step("cohort")
    resumed = saved.load("cohort")
    relinked: _Relinked | None = None  # None when resumed: the threshold rows rebuild their pool
    if resumed is None:
        rows = submission.accepted_rows()
        resumed, relinked = _cohorts_and_pool(data_dir, linked, rows, prog.setting, submission,
                                              settings)
        saved.save("cohort", resumed)
    cohort, frame = resumed
    answer_key = _answer_key(submission, settings)
    _check_minimum(cohort.attrition.eligible, settings, "eligible", out_dir, link_table,
                   answer_key)
    step("match")
    from jdl.matching import prepare_covariates, restrict_to_shared_levels, varying_covariates

    spec = covariate_spec(tuple(settings.matching.exact))
    frame, shared_levels = restrict_to_shared_levels(
        prepare_covariates(frame, spec), spec.categorical)
    covariates, exact = varying_covariates(frame, spec), list(spec.exact)
    design = _design(frame, covariates, exact, settings, seed)
    result = design.result
    _check_minimum(result.n_treated_matched, settings, "matched", out_dir, link_table,
                   answer_key)

    step("estimate")
    follow_up = cohort.spec.follow_up  # the cohort's own (with the longer one when set)
    effects = _effects(result, settings, follow_up)
    adjusted = _adjusted(result, covariates, settings, follow_up)
    step("sensitivity")
    sensitivity = _sensitivity(frame, covariates, exact, design, effects, settings, seed)
    sensitivity = _with_linkage_thresholds(sensitivity, linked, effects, data_dir, submission,
                                           prog.setting, settings, seed, relinked=relinked,
                                           design=design)
    relinked = None  # the shared pool's memory
    subgroups = _subgroups(result, settings, registration)
    registered = None
    if registration is not None:
        registered = _registered(frame, design, cohort, submission, registration, settings,
                                 seed)

    analysis = _Analysis(
        programme=prog.model_dump(mode="json"),
        manifest=manifest,
        submission=submission,
        linked=linked,
        cohort=cohort,
        result=result,
        design=design,
        effects=effects,
        adjusted=adjusted,
        sensitivity=sensitivity,
        subgroups=subgroups,
        covariates=covariates,
        exact=exact,
        shared_levels=shared_levels,
        registered=registered,
        benefit=_benefit(effects, settings, benefit_prior(
            published_effects, prog.intervention_type, settings,
            synthetic=manifest.get("source") == "synthetic")),
    )
    typed = _results(analysis, settings, seed)
    raw = typed.to_dict()
    internal = _write_internal(out_dir, link_table, result, raw)
    _write_linkage_quality(internal, linked)

    step("disclose")
    from jdl.disclosure import assert_released, release

    released = release(raw, settings.disclosure)
    results = released.results
    assert_released(results, settings.disclosure)
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "results.json"
    results_path.write_text(released.to_json())
    files = {"results": results_path, "internal": internal}
    return Evaluation(results=results, out_dir=out_dir, files=files, released=released,
                      typed=typed)


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
    *,
    variables: tuple[Any, ...] = (),
) -> tuple[Any, Any]:
    """Validation and linkage, or their saved outputs when an earlier attempt completed them."""
    resumed = saved.load("link")
    if resumed is not None:
        step("link")
        return resumed
    from jdl.intake import validate_submission
    from jdl.linkage import link_submission

    step("validate")
    submission = validate_submission(upload, prog, settings.intake, variables=variables)
    step("link")
    linked = link_submission(submission.accepted_rows(), data_dir, settings=settings.linkage,
                             data_engine=settings.data.engine, spark=settings.spark)
    saved.save("link", (submission, linked))
    return submission, linked


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
            raise _no_one_eligible(cohort)
        pool = build_pool(engine, settings=settings.cohort,
                          exclude_person_ids=cohort.linked_person_ids, strata=cohort.strata)
    return cohort, analysis_frame(cohort, pool)


def _no_one_eligible(cohort: Any) -> EvaluationError:
    return EvaluationError(
        "None of the submitted people could be analysed.",
        hint="See the attrition: "
        + "; ".join(f"{s.label}: {s.count}" for s in cohort.attrition.steps if s.count),
    )


@dataclass(frozen=True)
class _Relinked:
    """The cohorts of the people linked at the two other linkage thresholds (the sensitivity
    rows of issue 19), built with the main cohort so that one scan of the national records
    gives every cohort its comparison pool.

    ``cohorts``: per other threshold, its cohort; ``None`` when it links the same rows to the
    same people as the main threshold (the main estimate stands), or the error that stopped
    it (its row's note). ``pool``: the pool of every built cohort's strata without the people
    all of them exclude; :func:`jdl.cohort.restrict_pool` takes each cohort's own from it."""

    cohorts: dict[float, Any]
    pool: pd.DataFrame

    def frame(self, cohort: Any) -> pd.DataFrame:
        from jdl.cohort import analysis_frame, restrict_pool

        pool = restrict_pool(self.pool, exclude_person_ids=cohort.linked_person_ids,
                             strata=cohort.strata)
        return analysis_frame(cohort, pool)


def _cohorts_and_pool(
    data_dir: Path,
    linked: Any,
    rows: pd.DataFrame,
    setting: str,
    submission: Any,
    settings: Settings,
) -> tuple[tuple[Any, pd.DataFrame], _Relinked | None]:
    """The main cohort and its analysis frame (as :func:`_cohort_and_pool`), and the cohorts of
    the other linkage thresholds with one pool shared by all (:class:`_Relinked`; ``None`` for
    a link result saved by an older version, which has no scores to re-resolve).

    The comparison pool is the slow part of a cohort (a scan of every index event in the
    national records); it depends on the threshold only through the people excluded and the
    strata kept, so it is built once, for the union of the strata, without the people every
    cohort excludes, and each cohort's pool is taken from it: the same rows as a pool built
    for that cohort alone (tests/evaluation/test_shared_pool.py)."""
    from jdl.admin.records import open_records
    from jdl.cohort import build_cohort, build_pool
    from jdl.linkage import other_thresholds

    main_links = linked.link_table()
    with open_records(data_dir, settings.data, spark=settings.spark) as engine:
        def cohort_of(links: pd.DataFrame) -> Any:
            return build_cohort(engine, links, rows, setting, settings=settings.cohort,
                                rejected_at_intake=submission.counts.rejected)

        cohort = cohort_of(main_links)
        if cohort.attrition.eligible == 0:
            raise _no_one_eligible(cohort)
        others: dict[float, Any] = {}
        if "best_probability" in linked.links:
            main = (linked.threshold if linked.threshold is not None
                    else settings.linkage.match_threshold)
            for threshold in other_thresholds(main):
                links = linked.at_threshold(threshold).link_table()
                if links.equals(main_links):
                    others[threshold] = None
                    continue
                try:
                    other = cohort_of(links)
                except JDLError as exc:
                    others[threshold] = exc
                    continue
                others[threshold] = other if other.attrition.eligible else _no_one_eligible(other)
        built = [cohort, *(c for c in others.values() if c is not None
                           and not isinstance(c, JDLError))]
        excluded = set(cohort.linked_person_ids).intersection(
            *(c.linked_person_ids for c in built[1:]))
        strata = sorted({s for c in built for s in c.strata})
        pool = build_pool(engine, settings=settings.cohort, exclude_person_ids=sorted(excluded),
                          strata=strata)
    relinked = _Relinked(others, pool)
    return (cohort, relinked.frame(cohort)), (relinked if others else None)


def _answer_key(submission: Any, settings: Settings) -> bytes:
    """The key of this request's draw in the answer band (:mod:`jdl.disclosure._decision`):
    its submitted rows in a canonical form (without the file's row numbers, columns and rows
    sorted, so re-ordering a file draws nothing new) under the lab's secret. Only what the
    organisation submitted enters it, never what linkage found."""
    from jdl.disclosure import request_key

    rows = submission.accepted_rows().drop(columns=["row_number"], errors="ignore")
    rows = rows.reindex(sorted(rows.columns), axis=1).astype(str)
    canonical = rows.sort_values(list(rows.columns)).to_csv(index=False).encode()
    return request_key(settings.disclosure.decision_key or "", canonical)


def _check_minimum(n: int, settings: Settings, stage: str, out_dir: Path,
                   link_table: pd.DataFrame, key: bytes) -> None:
    """Decline the request when its group, rounded like a released count, falls below this
    request's threshold in the band above ``settings.inference.min_matched_treated``
    (:func:`jdl.disclosure.decide_answerable`; :class:`CouldNotBeAnswered`).

    The decision is not made on the exact count: with it, two uploads that differ by one
    person could be answered once and declined once exactly when that person was linked,
    eligible and matched. The message is the same at every stage and names neither the count
    nor the threshold. The link table is written to ``internal/`` first, for the service's
    differencing guard (which tells the reviewer of near-duplicate requests)."""
    from jdl.disclosure import decide_answerable

    minimum = settings.inference.min_matched_treated
    decision = decide_answerable(n, minimum, band=settings.disclosure.decision_band,
                                 base=settings.disclosure.rounding_base, key=key)
    if decision.answered:
        return
    internal = out_dir / "internal"
    internal.mkdir(parents=True, exist_ok=True)
    link_table.to_csv(internal / "links.csv", index=False)
    near = (f" Requests a little above that size (up to about {decision.band_top} people) are "
            "sometimes declined too, more often the closer they are to the minimum: the lab "
            "does not decide on the exact number, so that no single person can decide whether "
            "a request is answered."
            if decision.band_top > minimum else "")
    raise CouldNotBeAnswered(
        f"This request could not be answered: too few of the people submitted could be "
        f"analysed after linking and the eligibility rules and matched to similar people in "
        f"the national records. The lab needs at least {minimum} people in the matched "
        "treatment group, because with fewer people chance differences are as large as any "
        f"real effect of the programme.{near} The request is recorded as 'could not be "
        "answered'.",
        n=n, minimum=minimum, stage=stage,
        hint="Check that the people submitted were released from custody or began a community "
             "sentence in the years the lab covers, and that their identifiers are complete; "
             "a later submission with more people may be answerable.")


@dataclass(frozen=True)
class _Design:
    """The matching the evaluation used: the result, how it was chosen, and the keywords that
    reproduce it (for the sensitivity rows)."""

    result: Any
    name: str
    rule: str
    overrides: dict[str, Any]
    choice: Any = None


def _design(frame: pd.DataFrame, covariates: list[str], exact: list[str], settings: Settings,
            seed: int) -> _Design:
    """The lab's power-first design (:mod:`jdl.matching._design_choice`) or the configured
    fixed design (``settings.matching.design``)."""
    from dataclasses import replace

    cfg = settings.matching
    # a method, ratio or replacement other than the defaults asks for that design: it is run
    # as asked (never silently replaced by the power-first choice)
    if cfg.design == "power_first" and cfg.method == "nearest" and cfg.ratio == 1 \
            and not cfg.replace:
        from jdl.matching._design_choice import choose_with_settings

        choice = choose_with_settings(frame, "treated", covariates, cfg, exact=exact,
                                      random_state=seed)
        return _Design(choice.result, f"power-first ({choice.ratio}:1 with replacement)",
                       choice.rule, choice.overrides, choice)
    if cfg.method == "exact":
        # exact matching on the exact strata (matching.exact), balance on every covariate
        if not exact:
            raise EvaluationError("Exact matching needs the columns to match on.",
                                  hint="Set matching.exact (JDL_MATCHING__EXACT).")
        result = _match(frame, exact, [], settings, seed)
        result = replace(result, spec=replace(result.spec, covariates=tuple(covariates)))
        return _Design(result, "exact", f"exact matching on {', '.join(exact)}",
                       {"method": "exact"})
    result = _match(frame, covariates, exact, settings, seed)
    spec = result.spec
    name = (f"{spec.ratio}:1 nearest neighbour {'with' if spec.replace else 'without'} "
            "replacement" if spec.method == "nearest" else spec.method)
    return _Design(result, name, f"fixed design: {name}", {})


def _match(
    frame: pd.DataFrame,
    covariates: list[str],
    exact: list[str],
    settings: Settings,
    seed: int,
    **overrides: Any,
):
    from jdl.matching import match_with_settings

    if settings.matching.method != "nearest" and "caliper" not in overrides:
        overrides["caliper"] = None  # a caliper is nearest-neighbour's; exact/subclass have none
    return match_with_settings(
        frame, "treated", covariates, settings.matching, exact=exact, random_state=seed, **overrides
    )


def _with_linkage_thresholds(sensitivity: Any, linked: Any, effects: Any, data_dir: Path,
                             submission: Any, setting: str, settings: Settings,
                             seed: int, *, relinked: _Relinked | None = None,
                             design: _Design | None = None) -> Any:
    """Two more sensitivity rows: the headline effect with the people the linkage finds at two
    other match thresholds (:func:`jdl.linkage.other_thresholds`), re-resolved from the same
    scores, then cohort, matching and estimation as in the main analysis (issue 19).

    ``design``: the main analysis's. Under the power-first design the rows match with the
    design it chose (its ratio, replacement and logit caliper; the score refitted on the row's
    own people) rather than choosing again, so a row differs from the main analysis in the
    people linked only, not also in the ratio; and one match instead of six keeps the
    evaluation's time (docs/performance.md).

    ``relinked``: their cohorts and the shared pool, built with the main cohort
    (:func:`_cohorts_and_pool`); without it (a run resumed from its checkpoint) each cohort and
    pool is built here."""
    from dataclasses import replace

    from jdl.inference import SpecificationEstimate
    from jdl.linkage import other_thresholds
    from jdl.matching import prepare_covariates, restrict_to_shared_levels, varying_covariates

    if "best_probability" not in linked.links:  # a checkpoint saved by an older version
        return sensitivity
    main = linked.threshold if linked.threshold is not None else settings.linkage.match_threshold
    column = _rate_column()
    rows = []
    for threshold in other_thresholds(main):
        label = f"People linked at threshold {threshold:g} (main: {main:g})"
        try:
            frame = _frame_at_threshold(threshold, linked, relinked, data_dir, submission,
                                        setting, settings)
            if frame is None:
                rate = effects[column]  # the same people: the same estimate
            else:
                spec = covariate_spec(tuple(settings.matching.exact))
                frame, _ = restrict_to_shared_levels(prepare_covariates(frame, spec),
                                                     spec.categorical)
                covs = varying_covariates(frame, spec)
                if design is not None and design.choice is not None:
                    result = _match_as_chosen(frame, covs, list(spec.exact), design, settings,
                                              seed)
                else:
                    result = _design(frame, covs, list(spec.exact), settings, seed).result
                rate = _effects(result, settings)[column]
        except JDLError as exc:
            rows.append(SpecificationEstimate(label, note=exc.message))
            continue
        rows.append(SpecificationEstimate(
            label, difference=rate.difference, ci_low=rate.ci_low, ci_high=rate.ci_high,
            p_value=rate.p_value, treatment_n=rate.n_treated, comparison_n=rate.n_comparison))
    return replace(sensitivity, specifications=tuple(sensitivity.specifications) + tuple(rows))


def _frame_at_threshold(threshold: float, linked: Any, relinked: _Relinked | None,
                        data_dir: Path, submission: Any, setting: str,
                        settings: Settings) -> pd.DataFrame | None:
    """The analysis frame of the people linked at ``threshold`` (``None`` when they are the main
    analysis' people); raises the error that stops it."""
    if relinked is not None and threshold in relinked.cohorts:
        cohort = relinked.cohorts[threshold]
        if isinstance(cohort, JDLError):
            raise cohort
        return None if cohort is None else relinked.frame(cohort)
    links = linked.at_threshold(threshold).link_table()
    if links.equals(linked.link_table()):
        return None
    return _cohort_and_pool(data_dir, links, submission.accepted_rows(), setting, submission,
                            settings)[1]


def _rate_column() -> str:
    """The re-offending rate's column (the registry's headline rate)."""
    from jdl.outcomes import headline_rate

    return headline_rate().name


def _effects(result: Any, settings: Settings, follow_up: Any = None):
    """Every reported outcome's effect, each on its own people (re-offender measures among the
    matched re-offenders: :mod:`jdl.evaluation._measures`); ``follow_up``: the cohort's
    (default: the one-year follow-up alone)."""
    from jdl.evaluation._measures import estimate_reported

    return estimate_reported(result, settings, follow_up)


def _adjusted(result: Any, covariates: list[str], settings: Settings,
              follow_up: Any = None) -> dict[str, Any]:
    """Covariate-adjusted effects of every reported outcome (g-computation on the matched
    sample with the matching weights, the propensity model's covariates)."""
    from jdl.evaluation._measures import adjusted_reported

    return adjusted_reported(result, covariates, settings, follow_up)


def _sensitivity(frame, covariates, exact, design, effects, settings, seed) -> Any:
    """The lab's specifications (:data:`jdl.inference.LAB_SPECIFICATIONS`, plus one without
    the assessment covariates when they are used, and the 1:1-without-replacement reference
    row under the power-first design), the E-value and the Rosenbaum bound."""
    from jdl.cohort import covariate_measures
    from jdl.inference import (
        LAB_SPECIFICATIONS,
        Sensitivity,
        Specification,
        e_value_of_rates,
        specification_spread,
    )
    result = design.result
    column = _rate_column()
    rate = effects[column]
    assessment = {m.name for m in covariate_measures() if m.source == "assessment"}
    drop = tuple(c for c in covariates if c in assessment)
    specs = LAB_SPECIFICATIONS
    if design.choice is not None:
        # the main analysis is k:1 with replacement: the reference design is the row that
        # differs, and "with replacement" would repeat the main analysis
        specs = (*(s for s in specs if s.label != "With replacement"),
                 Specification(REFERENCE_DESIGN, {"ratio": 1, "replace": False}))
    specs = specs + (
        (Specification("Without assessment covariates", drop=drop),) if drop else ())

    def matcher(data: pd.DataFrame, _treatment: str, covs: list[str], **kw: Any) -> Any:
        strata = exact
        if settings.matching.method == "exact":
            covs, strata = exact, []  # exact matching is on the strata (see _design)
        return _match_as_chosen(data, covs, strata, design, settings, seed, **kw)

    rows = specification_spread(
        frame, "treated", covariates, specifications=specs, outcome=column,
        settings=settings.inference,
        distance=result.distance if result.model is not None or design.choice else None,
        matcher=matcher)
    ev = e_value_of_rates(rate.treatment_value, rate.comparison_value, rate.ci_low, rate.ci_high)
    return Sensitivity(specifications=rows, e_value=ev,
                       rosenbaum=_hidden_bias(frame, covariates, design, rate, column, matcher))


def _match_as_chosen(data: pd.DataFrame, covs: list[str], strata: list[str], design: _Design,
                     settings: Settings, seed: int, **kw: Any) -> Any:
    """Match ``data`` as the main analysis did (``design.overrides``: under the power-first
    design its chosen ratio, replacement and logit caliper), with ``kw`` on top; the logit is
    refitted on ``data`` unless a distance is given (the sensitivity rows, the linkage-threshold
    rows)."""
    if design.choice is not None and "distance" not in kw:
        from jdl.matching._design_choice import linear_predictor

        # the logit, refitted on ``data``, starting from the main fit (the same model on a
        # slightly different sample or with fewer covariates: a few iterations, not ten)
        kw["distance"] = linear_predictor(data, "treated", covs,
                                          start=dict(design.choice.coefficients))
    base = {k: v for k, v in design.overrides.items() if k != "distance"}
    return _match(data, covs, strata, settings, seed, **{**base, **kw})


def _hidden_bias(frame, covariates, design, rate, column, matcher) -> Any:
    """The Rosenbaum bound of a significant headline rate (McNemar's test on pairs, Rosenbaum
    2002). Under the power-first design the main analysis has no pairs, so the bound is that of
    the 1:1-without-replacement reference matching, given only when that matching is itself
    significant in the same direction (a bound of 1 would say nothing)."""
    from jdl.inference import HiddenBias, rosenbaum_from_match

    result = design.result
    if not rate.significant or result.spec.method != "nearest":
        return HiddenBias(None)
    if not result.spec.replace and result.spec.ratio == 1:
        return HiddenBias(float(rosenbaum_from_match(result, column).gamma_critical))
    if design.choice is None:
        return HiddenBias(None)
    # the main analysis's score (the logit of the same model): the pairs need no second fit
    pairs = matcher(frame, "treated", covariates, ratio=1, replace=False,
                    distance=result.distance)
    bounds = rosenbaum_from_match(pairs, column)
    rises = bounds.treated_only > bounds.discordant_pairs - bounds.treated_only
    same_direction = rises == (rate.treatment_value > rate.comparison_value)
    if bounds.gamma_critical <= 1 or not same_direction:
        return HiddenBias(None, on_reference_design=True)
    return HiddenBias(float(bounds.gamma_critical), on_reference_design=True)


def _subgroups(result: Any, settings: Settings, registration: Any = None) -> Any:
    """Exploratory sub-group estimates of the re-offending rate, Holm-adjusted (the standard
    dimensions the organisation did not register: a registered one is a matched analysis)."""
    from jdl.inference import subgroup_effects
    from jdl.inference._subgroups import SUBGROUP_DIMENSIONS

    registered = registration.sub_analyses if registration is not None else ()
    return subgroup_effects(result, _rate_column(), alpha=settings.inference.alpha,
                            min_treated=MIN_SUBGROUP,
                            dimensions=[d for d in SUBGROUP_DIMENSIONS if d not in registered])


def _registered(frame: pd.DataFrame, design: _Design, cohort: Any, submission: Any,
                registration: Any, settings: Settings, seed: int) -> Any:
    """The registered sub-analyses (:mod:`jdl.evaluation._registered`), each matched with the
    main analysis' design and estimated for the registered primary measure."""
    from jdl.evaluation._registered import registered_analyses
    from jdl.inference import estimate_effects
    from jdl.inference._subgroups import SUBGROUP_DIMENSIONS
    from jdl.matching import restrict_to_shared_levels, varying_covariates
    from jdl.outcomes import headline_rate, reported_outcomes

    primary = next(m for m in reported_outcomes()
                   if m.result_key == registration.primary_measure)
    rate = headline_rate()
    spec = covariate_spec(tuple(settings.matching.exact))

    def match(sub: pd.DataFrame) -> Any:
        sub, _ = restrict_to_shared_levels(sub, spec.categorical)
        covs = varying_covariates(sub, spec)
        if design.choice is not None:
            return _match_as_chosen(sub, covs, list(spec.exact), design, settings, seed)
        return _design(sub, covs, list(spec.exact), settings, seed).result

    def effects(result: Any) -> tuple[Any, Any]:
        kinds: dict[str, Any] = {primary.name: primary.kind, rate.name: rate.kind}
        est = estimate_effects(result, kinds,
                               settings=settings.inference,
                               labels={primary.name: primary.label, rate.name: rate.label})
        return est[primary.name], est[rate.name]

    return registered_analyses(
        frame, design.result, cohort, submission, registration,
        tuple(d for d in SUBGROUP_DIMENSIONS if d not in registration.sub_analyses),
        match, effects, alpha=settings.inference.alpha, minimum=MIN_SUBGROUP,
        measure=primary.result_key)


def _reported_measure(m: Any, effects: Any, adjusted: dict[str, Any],
                      settings: Settings, follow_up: Any = None) -> MeasureSummary:
    """One registry measure's summary: its effect with the JDL's rules for showing it, or, when
    it could not be estimated for everyone (the longer follow-up where the records end too
    soon), not reported with the reason."""
    from dataclasses import replace

    from jdl.evaluation._measures import unavailable_reason, withheld_reason

    who = {"population": m.population, "partition": m.partition or None}
    try:
        effect = effects[m.name]
    except KeyError:
        none: Any = None  # no estimate at all: every number empty
        return MeasureSummary(
            label=m.label, unit=m.unit, treatment=none, comparison=none, difference=none,
            ci_low=none, ci_high=none, p_value=none, significant=False, conclusion=none,
            treatment_n=none, comparison_n=none, treatment_events=none, comparison_events=none,
            reported=False, reason_not_reported=unavailable_reason(m, follow_up), **who)
    summary = _measure(effect, m.unit, adjusted.get(m.name))
    reason = withheld_reason(m, effect, settings)
    if reason is not None:
        summary = replace(summary, reported=False, reason_not_reported=reason)
    return replace(summary, **who)


def _measure(effect: Any, unit: str, adjusted: Any = None) -> MeasureSummary:
    adj = adjusted if adjusted is not None and not isinstance(adjusted, str) else None
    return MeasureSummary(
        label=effect.label, unit=unit, treatment=effect.treatment_value,
        comparison=effect.comparison_value, difference=effect.difference,
        ci_low=effect.ci_low, ci_high=effect.ci_high, p_value=effect.p_value,
        significant=effect.significant, conclusion=effect.conclusion,
        treatment_n=effect.n_treated, comparison_n=effect.n_comparison,
        treatment_events=effect.treatment_events, comparison_events=effect.comparison_events,
        reported=not effect.suppressed,
        reason_not_reported=" ".join(effect.notes) if effect.suppressed else None,
        comparison_ess=round(effect.comparison_ess),
        treatment_ci_low=finite_or_none(effect.treatment_ci[0]),
        treatment_ci_high=finite_or_none(effect.treatment_ci[1]),
        comparison_ci_low=finite_or_none(effect.comparison_ci[0]),
        comparison_ci_high=finite_or_none(effect.comparison_ci[1]),
        adjusted_comparison=None if adj is None else adj.comparison_mean,
        adjusted_difference=None if adj is None else adj.difference,
        adjusted_ci_low=None if adj is None else adj.ci_low,
        adjusted_ci_high=None if adj is None else adj.ci_high,
        adjusted_p_value=None if adj is None else adj.p_value,
        adjustment=None if adj is None else (
            f"{adj.model} model of the outcome on the matching covariates (g-computation on the "
            "matched sample with the matching weights)"),
        adjustment_declined=adjusted if isinstance(adjusted, str) else None)


@dataclass(frozen=True)
class _Analysis:
    """Every stage's output for one evaluation: what the results are assembled from."""

    programme: dict[str, Any]
    manifest: dict[str, Any]
    submission: Any
    linked: Any
    cohort: Any
    result: Any
    design: Any
    effects: Any
    adjusted: Any
    sensitivity: Any
    subgroups: Any
    covariates: list[str]
    exact: list[str]
    shared_levels: dict[str, str]
    registered: Any = None  # jdl.evaluation._registered.Registered, when a plan was registered
    benefit: Any = None  # jdl.inference.Benefit of the headline rate, or None


def _counts(a: _Analysis) -> Counts:
    s, att, result = a.linked.summary, a.cohort.attrition, a.result
    return Counts(
        submitted=a.submission.counts.rows, rejected=a.submission.counts.rejected,
        accepted=a.submission.counts.accepted, linked=att.linked, linked_by_id=s.linked_by_id,
        linked_probabilistically=s.linked_probabilistically, not_found=s.not_found,
        ambiguous=s.ambiguous, duplicates=s.duplicate, eligible=att.eligible,
        treatment_n=result.n_treated_matched, comparison_n=result.n_control_matched,
        comparison_pool_n=int((result.data["treated"] == 0).sum()),
        unmatched_treated=att.eligible - result.n_treated_matched,
        possibly_missed=_possibly_missed(a.linked))


def _possibly_missed(linked: Any) -> int:
    """The linkage model's expected number of people in the records who were not found."""
    uncertainty = getattr(linked, "uncertainty", None)
    return round(uncertainty.expected_missed) if uncertainty is not None else 0


def _matching(a: _Analysis, counts: Counts, balance: Any, settings: Settings
              ) -> MatchingSummary:
    from jdl.matching._design_choice import comparison_ess

    spec = a.result.spec
    quality = (
        "good"
        if balance.max_abs_smd < settings.matching.smd_good
        else ("acceptable" if balance.quality_ok else "poor")
    )
    return MatchingSummary(
        method=spec.method,
        distance="logit of the propensity score" if a.design.choice is not None
        else spec.distance, ratio=spec.ratio, replace=spec.replace,
        caliper=spec.caliper, std_caliper=spec.std_caliper, exact=tuple(a.exact),
        covariates=tuple(a.covariates), comparison_restricted_to=a.shared_levels,
        treated_matched=a.result.n_treated_matched, treated_unmatched=counts.unmatched_treated,
        controls_matched=a.result.n_control_matched,
        max_abs_smd_after=float(balance.max_abs_smd), quality=quality,
        quality_rule=(
            f"Good: every |SMD| below {settings.matching.smd_good}; poor (too "
            f"poor to report): any above {balance.smd_poor}."
        ),
        design=a.design.name, design_rule=a.design.rule,
        comparison_ess=round(comparison_ess(a.result.weights, a.result.treat)))


def _results(a: _Analysis, settings: Settings, seed: int) -> Results:
    """The typed results of one evaluation."""
    from jdl.inference import power_summary, treated_profile
    from jdl.inference import survival_curves as curves
    from jdl.intake import selective_sample
    from jdl.outcomes import reported_outcomes

    result, effects = a.result, a.effects
    counts = _counts(a)
    exclusions = {step.label: int(step.count) for step in a.cohort.attrition.steps}
    exclusions["No suitable comparison person (outside common support)"] = (
        counts.unmatched_treated)
    follow_up = a.cohort.spec.follow_up
    outcomes = reported_outcomes(follow_up)
    measures = {m.result_key: _reported_measure(m, effects, a.adjusted, settings, follow_up)
                for m in outcomes}
    balance = result.balance()
    balance_rows = tuple(
        BalanceRow(str(cov), finite_or_none(row.get("smd_un"), 4),
                   finite_or_none(row.get("smd"), 4), finite_or_none(row.get("var_ratio"), 4))
        for cov, row in balance.table.iterrows())
    matching = _matching(a, counts, balance, settings)
    warnings = []
    if matching.quality == "poor":
        warnings.append(
            "Matching quality is too poor to report: some characteristics still "
            "differ substantially between the groups after matching ("
            + ", ".join(balance.poor)
            + ")."
        )
    rate = effects[_rate_column()]
    return Results(
        programme=a.programme,
        provenance=Provenance(
            data_version=a.manifest.get("data_version", "unknown"),
            data_cutoff=a.manifest.get("data_cutoff"), software_version=__version__,
            config_hash=config_hash(settings, a.programme, seed), seed=seed),
        counts=counts,
        exclusions=exclusions,
        attrition=(
            AttritionStep("Submitted", counts.submitted),
            AttritionStep("Accepted at validation", counts.accepted),
            AttritionStep("Linked to national records", counts.linked),
            AttritionStep("Eligible for analysis", counts.eligible),
            AttritionStep("Matched", counts.treatment_n),
        ),
        headline_measures=tuple(m.result_key for m in outcomes if m.headline),
        extended_measures=tuple(m.result_key for m in outcomes if not m.headline),
        measures=measures,
        balance=balance_rows,
        matching=matching,
        profile=treated_profile(result.matched),
        survival=curves(result, follow_up_days=settings.inference.follow_up_days).points(),
        sensitivity=a.sensitivity,
        power=power_summary(rate.comparison_value, rate.n_treated, rate.required_n,
                            alpha=settings.inference.alpha,
                            ratio=rate.comparison_ess / max(rate.n_treated, 1)),
        subgroups=tuple(a.subgroups) + (a.registered.rows if a.registered else ()),
        selective_sample=selective_sample(a.programme, counts.submitted,
                                          settings.intake.min_share_of_declared),
        warnings=tuple(warnings),
        analysis_overrides=tuple(
            SettingChange(o.setting, _setting_text(o.value), _setting_text(o.lab_value))
            for o in settings.report.analysis_overrides),
        registration=a.registered.summary if a.registered else None,
        benefit=a.benefit,
    )


def benefit_prior(published_effects: Sequence[PublishedEffect] | None, intervention_type: str,
                  settings: Settings, *, synthetic: bool = False) -> Prior:
    """The probability of benefit's prior: the catalogue's predictive prior for the
    intervention type (at least three published reports, real or — for an evaluation on
    synthetic records — synthetic, never mixed) when the setting allows it, else the weakly
    informative ``N(0, benefit_prior_sd^2)``."""
    from jdl.inference import weakly_informative_prior
    from jdl.inference._benefit import catalogue_prior

    inference = settings.inference
    if published_effects and inference.benefit_catalogue_prior:
        prior = catalogue_prior(published_effects, str(intervention_type), synthetic=synthetic)
        if prior is not None:
            return prior
    return weakly_informative_prior(inference.benefit_prior_sd)


def _benefit(effects: Any, settings: Settings, prior: Prior) -> Any:
    """The headline rate's probability of benefit under ``prior`` (exact; the disclosure stage
    recomputes it from the released figures), or None without an estimate."""
    from jdl.inference import InferenceError, probability_of_benefit
    from jdl.outcomes import headline_rate

    try:
        rate = effects[_rate_column()]
    except KeyError:
        return None
    se = getattr(rate, "se", None)
    if se is None or not np.isfinite(se) or se <= 0:
        return None
    try:
        return probability_of_benefit(rate.difference, se, prior,
                                      delta=settings.inference.benefit_delta,
                                      measure=headline_rate().result_key,
                                      default_sd=settings.inference.benefit_prior_sd)
    except InferenceError:
        return None


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
    if result.match_matrix is not None and result.spec.replace and "event_id" in matched.columns:
        # with replacement a comparison person stands in several sets, so matched.csv (one row
        # per person, MatchIt's match.data) has no set id: the sets, one row per member
        # (MatchIt's get_matches)
        pairs = result.pairs()
        events = result.data["event_id"].to_numpy()
        n_sets = len(np.flatnonzero(result.treat))
        treated = pd.DataFrame({"pair": np.arange(n_sets),
                                "event_id": events[np.flatnonzero(result.treat)], "treated": 1})
        treated = treated[treated["pair"].isin(pairs["pair"])]
        controls = pd.DataFrame({"pair": pairs["pair"], "event_id": events[pairs["control_row"]],
                                 "treated": 0})
        pd.concat([treated, controls]).sort_values(["pair", "treated"], ascending=[True, False]
                                                   ).to_csv(internal / "pairs.csv", index=False)
    (internal / "raw_results.json").write_text(json.dumps(raw, indent=2, default=str))
    (internal / "README.txt").write_text(
        "LAB-INTERNAL. Never release these files: they hold per-person link results and "
        "unsuppressed aggregates. Released outputs are report.html, report.pdf and results.json.\n"
    )
    return internal


def _write_linkage_quality(internal: Path, linked: Any) -> None:
    """``internal/linkage.json``: the threshold used and the linkage model's estimate of false
    and missed links, unrounded, for the analyst (lab-internal; the report shows the missed
    people only, rounded)."""
    uncertainty = getattr(linked, "uncertainty", None)
    payload = {"threshold": getattr(linked, "threshold", None),
               "threshold_source": getattr(linked, "threshold_source", None),
               **linked.summary.as_dict(),
               "uncertainty": uncertainty.as_dict() if uncertainty is not None else None}
    (internal / "linkage.json").write_text(json.dumps(payload, indent=2))


def _setting_text(value: Any) -> str:
    """A setting's value as the report prints it (lists joined, None as 'none')."""
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)

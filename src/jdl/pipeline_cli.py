"""Whole-lab commands: `jdl synth` (records prepared for linkage), the demo and `jdl evaluate`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer
from rich.console import Console

from jdl.admin.synth import SynthConfig
from jdl.core.config import DATA_DIR_ENV, DEFAULT_DATA_DIR, DEFAULT_SEED
from jdl.core.notes import warning_lines

console = Console()
DEMO_PROGRAMME = "new-leaf-employment"
_SYNTH = SynthConfig()  # the generator's defaults are `jdl synth`'s
ENGINE_OPTION = typer.Option(
    None, "--engine", help="duckdb or spark (default: the setting JDL_DATA__ENGINE, else duckdb)."
)


def synth(
    out: Path = typer.Option(DEFAULT_DATA_DIR, "--out", envvar=DATA_DIR_ENV,
                             help="Data directory to write."),
    people: int = typer.Option(_SYNTH.people, "--people", min=1000,
                               help="People on the register."),
    seed: int = typer.Option(_SYNTH.seed, "--seed", help="Random seed (same seed, same data)."),
    chunk_size: int = typer.Option(_SYNTH.chunk_size, "--chunk-size", min=1000,
                                   help="People per chunk."),
    linkage: bool = typer.Option(
        True, "--linkage/--no-linkage",
        help="Then train the linkage model and choose its match threshold on the planted "
             "programmes' uploads (what `jdl link-train` does; about 40 s at 1M people)."),
) -> None:
    """Generate synthetic national records (Parquet + admin.duckdb) with planted programmes,
    and prepare them for linkage (the model and its calibrated threshold)."""

    manifest = _generate_with_progress(out, people, seed, chunk_size, linkage=linkage)
    console.print(
        f"Wrote {manifest['people']:,} people to [bold]{out}[/bold] "
        f"(data version {manifest['data_version']})."
    )
    from jdl.admin.cli import print_summary

    print_summary(out)


def _generate_with_progress(out: Path, people: int, seed: int, chunk_size: int, *,
                            linkage: bool = True) -> dict:
    """Generate the records; with ``linkage``, then :func:`prepare_for_linkage` them."""
    from jdl.admin.cli import _generate_records

    manifest = _generate_records(out, people, seed, chunk_size)
    if linkage:
        prepare_for_linkage(out)
    prepare_comparison_pool(out)
    return manifest


def prepare_comparison_pool(data: Path) -> None:
    """Derive the national comparison pool once for these records and the lab's definitions
    (:func:`jdl.cohort.prepare_pool`), so that evaluations read it instead of deriving it."""
    from jdl.admin.records import open_records
    from jdl.cohort import prepare_pool
    from jdl.core.config import get_settings

    settings = get_settings()
    with console.status("Deriving the national comparison pool..."), \
            open_records(data, settings.data) as engine:
        prepare_pool(engine, settings=settings.cohort)


def prepare_for_linkage(data: Path) -> None:
    """Train the linkage model and choose its threshold on the planted programmes' uploads
    (:func:`jdl.linkage.prepare_linkage`): once, here, rather than in the first evaluation."""
    from jdl.core.config import get_settings
    from jdl.linkage import load_calibration, prepare_linkage

    with console.status("Training the linkage model and choosing its match threshold..."):
        model = prepare_linkage(data, settings=get_settings().linkage)
    chosen = load_calibration(data, model)
    if chosen is not None:
        console.print(f"Linkage: match threshold {chosen.threshold:g}, chosen on "
                      f"{chosen.rows:,} labelled rows.")


def ensure_data(data: Path, people: int, seed: int) -> dict:
    """The synthetic records for (people, seed), generated unless already cached in ``data``."""
    from jdl.admin._store import read_manifest
    from jdl.admin.synth import SynthConfig

    wanted = SynthConfig(people=people, seed=seed).data_version()
    manifest = read_manifest(data)
    if manifest.get("data_version") == wanted and (data / "admin.duckdb").exists():
        console.print(f"Using cached synthetic records in {data} ({wanted}).")
        prepare_for_linkage(data)  # nothing to do unless made by an older version
        prepare_comparison_pool(data)  # nor here
        return manifest
    console.print(f"Generating synthetic national records: {people:,} people, seed {seed}...")
    return _generate_with_progress(data, people, seed, 250_000)


def demo(
    data: Path = typer.Option(DEFAULT_DATA_DIR, "--data", envvar=DATA_DIR_ENV,
                              help="Data directory (cache)."),
    people: int = typer.Option(200_000, "--people", min=1000, help="People on the register."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Random seed."),
    out: Path = typer.Option(Path("out/demo"), "--out", help="Where the demo writes."),
    programme: str = typer.Option(DEMO_PROGRAMME, "--programme", help="Planted programme."),
    engine: str | None = ENGINE_OPTION,
    plan: bool = typer.Option(
        True, "--plan/--no-plan",
        help="The upload carries the organisation's own columns (attendance, completed, "
             "delivery method, site; drawn at random, independently of the planted effect) "
             "and a registered analysis plan: sub-analyses by delivery method and attendance "
             "band, with the dose-response trend."),
) -> None:
    """The lab end to end: synthetic national records (generated once, then cached), a planted
    programme's upload with the organisation's own columns and registered plan, and its full
    evaluation with a disclosure-controlled report."""
    import json

    from jdl.admin.cli import print_summary
    from jdl.admin.synth import make_submission

    ensure_data(data, people, seed)
    print_summary(data)
    paths = make_submission(data, programme, out / "upload" / f"{programme}.csv", plan=plan)
    console.print(f"\nThe upload {programme}'s organisation would send: {paths['upload']}")
    if plan:
        console.print(f"Its analysis plan, registered with it: {paths['plan']}")
    evaluation = run_evaluation(paths["upload"], paths["programme"], data, out / "evaluation",
                                seed, engine=engine, plan=paths.get("plan"))
    print_outcome(evaluation)
    truth = json.loads((data / "truth" / "programmes.json").read_text())
    spec = next(p for p in truth["programmes"] if p["name"] == programme)
    for line in planted_truth_lines(spec, data, out / "evaluation", evaluation.results):
        console.print(line, highlight=False)
    console.print(f"\n[bold]Report:[/bold] {out / 'evaluation' / 'report.pdf'}")
    console.print(
        "\nNext: [bold]make demo-catalogue[/bold] publishes every planted programme's report in a "
        "public catalogue; [bold].venv/bin/jdl serve[/bold] then runs the web service "
        "(http://127.0.0.1:8000; docs/service.md explains accounts)."
    )


def evaluate(
    upload: Path = typer.Argument(..., help="The organisation's file (CSV, XLSX or Parquet)."),
    programme: Path = typer.Option(..., "--programme", help="Programme information (YAML/JSON)."),
    data: Path = typer.Option(DEFAULT_DATA_DIR, "--data", envvar=DATA_DIR_ENV,
                              help="National records directory."),
    out: Path = typer.Option(..., "--out", help="Directory for the report and results."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed for any random tie-breaking."),
    engine: str | None = ENGINE_OPTION,
    plan: Path | None = typer.Option(
        None, "--plan", help="The organisation's analysis plan (YAML/JSON): its own columns, "
        "primary measure and sub-analyses, registered before the evaluation."),
) -> None:
    """Evaluate a programme: validate, link, build the cohort, match, estimate, apply
    disclosure control and write report.html, report.pdf and results.json.

    A request below the lab's minimum criteria is declined, with the reason, and the command
    exits with status 3 ("could not be answered": not an error in the file or the lab)."""
    from jdl.evaluation import CouldNotBeAnswered

    try:
        evaluation = run_evaluation(upload, programme, data, out, seed, engine=engine,
                                    plan=plan)
    except CouldNotBeAnswered as exc:
        console.print(f"[bold]Could not be answered.[/bold] {exc.message}", highlight=False)
        if exc.hint:
            console.print(exc.hint, highlight=False)
        raise typer.Exit(3) from None
    print_outcome(evaluation)


def settings_with_engine(engine: str | None):
    """The settings, with ``--engine`` (when given) overriding ``data.engine``."""
    from jdl.core.config import get_settings
    from jdl.core.errors import UsageError

    settings = get_settings()
    if engine is None:
        return settings
    if engine not in ("duckdb", "spark"):
        raise UsageError(f"Unknown engine {engine!r}.", hint="Use --engine duckdb or spark.")
    data = settings.data.model_copy(update={"engine": engine})
    return settings.model_copy(update={"data": data})


def run_evaluation(upload: Path, programme: Path, data: Path, out: Path, seed: int,
                   *, engine: str | None = None, plan: Path | None = None):
    """``jdl.run.run_evaluation`` with a Rich progress bar over the stages."""
    from jdl.intake import load_registration

    registration = load_registration(plan) if plan is not None else None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from jdl.core.notes import collected_warnings
    from jdl.evaluation import STAGES
    from jdl.run import run_evaluation as evaluate

    labels = {
        "validate": "Checking the file",
        "link": "Linking to national records",
        "cohort": "Building the cohort and comparison pool",
        "match": "Matching",
        "estimate": "Estimating effects",
        "sensitivity": "Sensitivity analyses",
        "disclose": "Disclosure control",
        "report": "Writing the report",
    }
    with Progress(
        TextColumn("{task.description:<42}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("Starting", total=len(STAGES))

        def step(stage: str) -> None:
            bar.update(task, description=labels.get(stage, stage), completed=STAGES.index(stage))

        with collected_warnings() as seen:
            evaluation = evaluate(upload, programme, data, out, seed=seed, progress=step,
                                  settings=settings_with_engine(engine),
                                  registration=registration)
        bar.update(task, completed=len(STAGES))
    print_model_notes(seen)
    return evaluation


def print_model_notes(seen: Counter[str]) -> None:
    """The warnings a run raised, each once (lab-internal diagnostics, not errors)."""
    for line in warning_lines(seen):
        console.print(f"[dim]{line}[/dim]", highlight=False)


def realised_rate_effect(data: Path, programme: str, evaluation_dir: Path) -> tuple[float, int]:
    """The effect that actually happened to the participants the lab analysed, and their number.

    The generator records, for every participant, re-offences with the programme (what the
    records show) and in the same simulation without it. The lab's estimate targets the average
    effect on the analysed treated people (ATT), so the truth it should cover is the difference in
    their one-year re-offending rates, not the *expected* effect (an average over simulations,
    which a single cohort of a few hundred people can differ from by several points).
    """
    import pandas as pd

    participants = pd.read_parquet(data / "truth" / "participants.parquet")
    participants = participants[participants["programme"] == programme]
    matched = pd.read_csv(evaluation_dir / "internal" / "matched.csv")
    analysed = matched.loc[matched["treated"] == 1, ["person_id", "event_id"]].drop_duplicates()
    joined = analysed.merge(participants, on=["person_id", "event_id"], how="inner")
    if joined.empty:
        return float("nan"), 0
    effect = (joined["reoffences_treated"] > 0).mean() - (joined["reoffences_untreated"] > 0).mean()
    return float(effect), len(joined)


def planted_truth_lines(spec: dict, data: Path, evaluation_dir: Path, results: dict) -> list[str]:
    """What the demo says about the truth: expected and realised effects, and which one the
    lab's interval should cover (synthetic data only)."""
    expected = spec["true_effect"].get("att_rate")
    if expected is None:
        return []
    lines = ["", "(Synthetic data only.)",
             f"  Expected effect of the programme as planted: {100 * expected:+.1f} per 100 "
             "people."]
    realised, n = realised_rate_effect(data, spec["name"], evaluation_dir)
    if n == 0:
        return lines
    lines.append("  Effect that actually happened to the participants the lab analysed "
                 f"(their recorded outcome against the same simulation without the programme): "
                 f"{100 * realised:+.1f} per 100 people.")
    measure = results.get("measures", {}).get("proven_reoffending_rate", {})
    low, high = measure.get("ci_low"), measure.get("ci_high")
    if low is None or high is None:
        return lines
    covered = "covers" if low <= realised <= high else "does not cover"
    lines.append(f"  The lab's 95% interval ({100 * low:+.1f} to {100 * high:+.1f}) estimates the "
                 f"second of these and {covered} it; about 1 run in 20 should miss.")
    return lines


def print_outcome(evaluation) -> None:
    results = evaluation.results
    console.print(f"[bold]Evaluation of {results['programme']['programme_name']}[/bold]")
    for name in results["headline_measures"]:
        m = results["measures"][name]
        console.print(f"  {m['label']}: {m['conclusion']}", highlight=False)
        adjusted = _adjusted_line(m)
        if adjusted:
            console.print(f"    {adjusted}", highlight=False)
    for line in registered_lines(results):
        console.print(f"  {line}", highlight=False)
    for warning in results.get("warnings", []):
        console.print(f"[yellow]Warning:[/yellow] {warning}", highlight=False)
    _print_linkage_quality(evaluation.files.get("internal"))
    for key, path in evaluation.files.items():
        console.print(f"  {key}: {path}")


def registered_lines(results: dict) -> list[str]:
    """The registered plan in a few released words: its fingerprint, each registered sub-group
    analysed or not, the dose trend (the report has the numbers)."""
    reg = results.get("registration")
    if not reg:
        return []
    rows = [r for r in results.get("subgroups") or [] if r.get("registered")]
    shown = [f"{r['dimension'].replace('_', ' ')}: {r['level']}" for r in rows
             if r.get("difference") is not None]
    lines = [f"Registered plan (SHA-256 {reg['sha256'][:12]}…): {len(shown)} of {len(rows)} "
             "registered sub-groups analysed, each matched afresh"
             + (f" ({'; '.join(shown)})" if shown else "") + "."]
    dose = reg.get("dose_response")
    if dose:
        trend = ("shown" if dose.get("slope") is not None
                 else f"not shown — {dose.get('reason_not_reported')}")
        lines.append(f"Dose–response trend across the {dose['variable']} bands: {trend}")
    return lines


def _adjusted_line(m: dict) -> str | None:
    """The covariate-adjusted difference and interval as released, or why none is given."""
    d, lo, hi = (m.get(k) for k in ("adjusted_difference", "adjusted_ci_low",
                                    "adjusted_ci_high"))
    if None not in (d, lo, hi):
        return f"Adjusted for the matching covariates: {d:+g} (95% CI {lo:+g} to {hi:+g})"
    if m.get("adjustment_declined"):
        return str(m["adjustment_declined"])  # "No adjusted estimate: <why>"
    return None


def _print_linkage_quality(internal) -> None:
    """The linkage model's estimate of false and missed links (lab-internal, unrounded)."""
    import json
    from pathlib import Path

    path = Path(internal) / "linkage.json" if internal else None
    if path is None or not path.exists():
        return
    quality = json.loads(path.read_text())
    if str(quality.get("threshold_source") or "").startswith("default"):
        # an evaluation never calibrates (docs/linkage.md): say what it used instead
        console.print(
            f"[yellow]Note:[/yellow] people were linked at the default match threshold "
            f"{quality['threshold']:g}: the linkage model of these records has no calibrated "
            "threshold. `jdl link-train --data DIR` chooses one on labelled uploads.",
            highlight=False)
    u = quality.get("uncertainty")
    if not u:
        return
    console.print(
        f"  Linkage (threshold {quality['threshold']:g}, lab-internal): about "
        f"{u['expected_false_links']:,.0f} of {u['linked']:,} links may be wrong; about "
        f"{u['expected_missed']:,.0f} people submitted may not have been found.",
        highlight=False)


def register(app: typer.Typer) -> None:
    # `jdl synth` is here, not in jdl.admin: it also prepares the records for linkage (a later
    # stage), which the admin stage may not import
    app.command("synth")(synth)
    app.command("demo")(demo)
    app.command("evaluate")(evaluate)

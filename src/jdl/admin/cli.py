"""Commands for the national records: generate synthetic data, load real extracts, summarise."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from jdl.admin.synth import SynthConfig
from jdl.core.config import DATA_DIR_ENV, DEFAULT_DATA_DIR

console = Console()
_SYNTH = SynthConfig()  # the generator's defaults are the command's


def _generate_records(out: Path, people: int, seed: int, chunk_size: int) -> dict:
    from rich.progress import BarColumn, Progress, TimeElapsedColumn

    from jdl.admin.synth import generate

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        "{task.completed}/{task.total} chunks",
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("Simulating careers", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return generate(out, people=people, seed=seed, chunk_size=chunk_size, progress=update)


def synth_submission(
    data: Path = typer.Option(DEFAULT_DATA_DIR, "--data", envvar=DATA_DIR_ENV,
                              help="Data directory."),
    programme: str = typer.Option(..., "--programme", help="Planted programme name."),
    out: Path = typer.Option(..., "--out", help="CSV file to write (the upload)."),
    errors: str = typer.Option(
        "default", "--errors",
        help="Mistake mix: default (rates from published data-quality studies), harsh (the "
             "linkage stress mix), classic (the mix before swapped names, placeholder dates, "
             "compound surnames, middle names and transliterations), none."),
    seed: int = typer.Option(1, "--seed", help="Seed for the mistakes."),
    organisation_columns: bool = typer.Option(
        False, "--organisation-columns",
        help="Add the organisation's own columns (sessions attended, completed, delivery "
             "method, site), drawn at random independently of the planted effect, and a plan "
             "file declaring them."),
    plan: bool = typer.Option(
        False, "--plan",
        help="Also register an analysis plan in the plan file (implies "
             "--organisation-columns): the re-offending rate as the primary measure, "
             "sub-analyses by delivery method and by attendance band (0-5, 6-11, 12+)."),
) -> None:
    """Write the upload a planted programme's organisation would send (with realistic errors),
    its programme side-file, and a lab-internal truth file; optionally the organisation's own
    columns and its analysis plan (`jdl evaluate --plan`)."""
    from jdl.admin.synth import make_submission

    paths = make_submission(data, programme, out, errors=errors, seed=seed,
                            organisation_columns=organisation_columns, plan=plan)
    console.print(f"Upload:    {paths['upload']}")
    console.print(f"Programme: {paths['programme']}")
    if "plan" in paths:
        console.print(f"Plan:      {paths['plan']}")
    console.print(f"Truth (lab-internal, never uploaded): {paths['truth']}")


def load(
    extracts: Path = typer.Argument(..., help="Folder of extracts, one per contract table."),
    out: Path = typer.Option(..., "--out", help="Data directory to create."),
    cutoff: str = typer.Option(None, "--cutoff", help="Extract date (YYYY-MM-DD)."),
) -> None:
    """Check real extracts against the data contract and load them (see docs/data-contract.md)."""
    from jdl.admin.loader import load_extracts

    manifest = load_extracts(extracts, out, cutoff=cutoff)
    console.print(
        f"Loaded {manifest['row_counts'].get('people', 0):,} people into {out} "
        f"(data version {manifest['data_version']})."
    )


def data_summary(
    data: Path = typer.Option(DEFAULT_DATA_DIR, "--data", envvar=DATA_DIR_ENV,
                              help="Data directory."),
) -> None:
    """Headline statistics of a data directory: table sizes and one-year re-offending rates."""
    print_summary(data)


def print_summary(data: Path) -> None:
    from jdl.admin._store import read_manifest
    from jdl.admin.records import open_records
    from jdl.admin.summary import headline
    from jdl.core.config import get_settings

    settings = get_settings()
    manifest = read_manifest(data)
    cutoff = manifest.get("data_cutoff", "2024-12-31")
    with open_records(data, settings.data, spark=settings.spark) as engine:
        stats = headline(engine, cutoff)
    sizes = Table(title=f"National records in {data} (cut-off {cutoff})")
    sizes.add_column("table")
    sizes.add_column("rows", justify="right")
    for name, n in stats.counts.items():
        sizes.add_row(name, f"{n:,}")
    console.print(sizes)
    rates = Table(title="One-year proven re-offending, adults (complete follow-up)")
    for col in (
        "index type",
        "events",
        "rate",
        "published",
        "re-offences per re-offender",
        "mean days to first",
    ):
        rates.add_column(col, justify="right")
    for row in stats.reoffending.itertuples():
        rates.add_row(
            row.index_type,
            f"{row.events:,}",
            f"{row.reoffending_rate:.1%}",
            # no published figure for this index type (out-of-court: docs/data-contract.md)
            "–" if row.published_rate != row.published_rate else f"{row.published_rate:.1%}",
            f"{row.reoffences_per_reoffender:.2f}",
            f"{row.mean_days_to_first:.0f}",
        )
    console.print(rates)


def register(app: typer.Typer) -> None:
    app.command("synth-submission")(synth_submission)
    app.command("load")(load)
    app.command("data-summary")(data_summary)

"""``jdl cohort ...``: build the comparison pool, show attrition and the definitions.

Heavy libraries load inside the commands so that ``jdl --help`` stays fast.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from jdl.core.config import DATA_DIR_ENV

cohort_app = typer.Typer(
    help="Index events, eligibility, covariates, outcomes and the pool.", no_args_is_help=True
)

_DATA = typer.Option("--data", "-d", envvar=DATA_DIR_ENV,
                     help="Data directory holding admin.duckdb and manifest.json.")
_CUTOFF = typer.Option("--cutoff", help="Data cut-off date (default: from the manifest).")
_ENGINE = typer.Option("--engine", help="duckdb or spark (default: JDL_DATA__ENGINE, else duckdb).")


def _cutoff(value: str | None) -> date | None:
    from jdl.core.errors import UsageError

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"--cutoff {value!r} is not an ISO date (YYYY-MM-DD).") from exc


def _engine(value: str | None):
    from jdl.core.errors import UsageError

    if value not in (None, "duckdb", "spark"):
        raise UsageError(f"Unknown engine {value!r}.", hint="Use --engine duckdb or spark.")
    return value


@cohort_app.command("prepare")
def prepare(
    data: Annotated[Path, _DATA],
    cutoff: Annotated[str | None, _CUTOFF] = None,
) -> None:
    """Derive the national comparison pool once for a release of the records (``jdl synth`` does
    this for synthetic records), so that evaluations read it instead of deriving it: run it
    after loading new records or changing the cohort settings."""
    import time

    from rich.console import Console

    from jdl.admin.records import open_records
    from jdl.cohort import prepare_pool
    from jdl.core.config import get_settings

    settings = get_settings()
    start = time.perf_counter()
    with open_records(data, settings.data) as source:
        path = prepare_pool(source, data_cutoff=_cutoff(cutoff), settings=settings.cohort)
    console = Console()
    if path is None:
        console.print("Nothing prepared: this engine derives the pool where the records are.")
        return
    console.print(f"Comparison pool prepared: {path} ({time.perf_counter() - start:.1f} s).")


@cohort_app.command("pool")
def pool(
    data: Annotated[Path, _DATA],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the Parquet pool.")],
    cutoff: Annotated[str | None, _CUTOFF] = None,
    threads: Annotated[int | None, typer.Option(help="DuckDB threads.")] = None,
    engine: Annotated[str | None, _ENGINE] = None,
) -> None:
    """Derive covariates and outcomes for every eligible event of the national records and write
    them partitioned by index type and year."""
    import time

    from rich.console import Console
    from rich.table import Table

    from jdl.admin.records import open_records
    from jdl.cohort import write_pool
    from jdl.core.config import get_settings
    from jdl.engines import DuckDBEngine
    from jdl.engines.dialect import quote_string

    settings = get_settings()
    start = time.perf_counter()
    with open_records(data, settings.data, spark=settings.spark, engine=_engine(engine),
                      threads=threads) as source:
        write_pool(source, out, data_cutoff=_cutoff(cutoff), settings=settings.cohort)
    with DuckDBEngine() as local:  # the written pool is read back locally, whatever wrote it
        summary = local.df(
            "SELECT index_type, index_year, COUNT(*) AS events, AVG(reoffended) AS reoffended "
            f"FROM read_parquet({quote_string(str(out / '**' / '*.parquet'))}, "
            "hive_partitioning = true) "
            "GROUP BY index_type, index_year ORDER BY index_type, index_year"
        )
    table = Table("index type", "year", "events", "re-offended")
    for row in summary.itertuples(index=False):
        table.add_row(
            row.index_type, str(row.index_year), f"{row.events:,}", f"{100 * row.reoffended:.1f}%"
        )
    console = Console()
    console.print(table)
    console.print(
        f"{int(summary.events.sum()):,} pool events written to {out} in "
        f"{time.perf_counter() - start:.1f} s"
    )


@cohort_app.command("attrition")
def attrition(
    data: Annotated[Path, _DATA],
    cutoff: Annotated[str | None, _CUTOFF] = None,
    engine: Annotated[str | None, _ENGINE] = None,
) -> None:
    """Candidate pool events by index type and eligibility outcome."""
    from rich.console import Console
    from rich.table import Table

    from jdl.admin.records import open_records
    from jdl.cohort import pool_attrition
    from jdl.core.config import get_settings

    settings = get_settings()
    with open_records(data, settings.data, spark=settings.spark, engine=_engine(engine)) as source:
        counts = pool_attrition(source, data_cutoff=_cutoff(cutoff), settings=settings.cohort)
    table = Table("index type", "status", "events")
    for row in counts.itertuples(index=False):
        table.add_row(row.index_type, row.status, f"{row.events:,}")
    Console().print(table)


@cohort_app.command("definitions")
def definitions() -> None:
    """Print the exclusion rules, covariate set and outcome set (Markdown)."""
    from jdl.cohort import describe_definitions

    typer.echo(describe_definitions())


def register(app: typer.Typer) -> None:
    """Add ``jdl cohort ...`` to the root app."""
    app.add_typer(cohort_app, name="cohort")

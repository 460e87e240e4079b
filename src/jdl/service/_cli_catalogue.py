"""``jdl catalogue seed``: a demonstration catalogue from the synthetic population."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jdl.core.config import DATA_DIR_ENV, DEFAULT_DATA_DIR, DEFAULT_SEED
from jdl.core.notes import collected_warnings, warning_lines

catalogue_app = typer.Typer(help="The public catalogue of published reports.",
                            no_args_is_help=True)


@catalogue_app.command("seed")
def seed(
    data: Annotated[Path, typer.Option("--data", envvar=DATA_DIR_ENV,
                                       help="Synthetic data directory.")] = DEFAULT_DATA_DIR,
    reports: Annotated[int, typer.Option("--reports", help="How many planted programmes to "
                                         "evaluate and publish.")] = 12,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="The service's database (default: JDL_SERVICE__DATABASE_URL).")
    ] = None,
    storage_dir: Annotated[Path | None, typer.Option(
        "--storage-dir", help="The service's storage (default: JDL_SERVICE__STORAGE_DIR).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for uploads and evaluations.")
                    ] = DEFAULT_SEED,
    register: Annotated[bool, typer.Option(
        "--register/--no-register",
        help="Also take one organisation's requests through the service (its earlier cohort "
             "published, then replaced by the updated analysis with its response; a "
             "withdrawn request; one that could not be answered), so the register shows "
             "every outcome. It counts as one of --reports.")] = True,
) -> None:
    """Evaluate planted programmes of a synthetic population (covering every sector and
    intervention type it has) and publish them, marked as synthetic demonstration data; and,
    with --register, the public register's demonstration through the service."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from jdl.core.config import get_settings
    from jdl.evaluation import STAGES
    from jdl.service._catalogue_seed import choose, planted, seed_catalogue
    from jdl.service._db import open_database

    settings = get_settings()
    url = database_url or settings.service.database_url
    storage = storage_dir or settings.service.storage_dir
    from jdl.service._register_seed import REGISTER_PROGRAMME, seed_register

    programmes = planted(data)
    register = register and any(p["name"] == REGISTER_PROGRAMME for p in programmes)
    leave_out = (REGISTER_PROGRAMME,) if register else ()
    direct = reports - 1 if register else reports
    choose(programmes, reports)  # checks --reports before the database opens
    chosen = choose([p for p in programmes if p["name"] not in leave_out], direct) \
        if direct else []
    console = Console()
    sessions = open_database(url)
    with Progress(TextColumn("{task.description:<48}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task("Seeding the catalogue", total=len(chosen) * len(STAGES))
        done: dict[str, int] = {}

        def step(name: str, stage: str) -> None:
            done.setdefault(name, len(done))
            bar.update(task, description=f"{name}: {stage}",
                       completed=done[name] * len(STAGES) + STAGES.index(stage))

        with sessions() as db, collected_warnings() as seen:
            outcome = (seed_catalogue(db, data, direct, storage, settings, seed=seed, step=step,
                                      leave_out=leave_out) if direct else [])
        bar.update(task, completed=len(chosen) * len(STAGES), description="Done")
    if register:
        service = settings.service.model_copy(update={"database_url": url,
                                                      "storage_dir": Path(storage)})
        from jdl.core.errors import JDLError
        from jdl.service._register_seed import RegisterSeeded

        with console.status("The register: one organisation's requests through the "
                             "service") as status:
            try:
                with collected_warnings() as register_seen:
                    story = seed_register(settings.model_copy(update={"service": service}),
                                          data, seed=seed,
                                          step=lambda m: status.update(f"The register: {m}"))
                seen.update(register_seen)
            except JDLError as exc:  # e.g. this population's programme could not be answered
                story = RegisterSeeded(skipped=f"it stopped: {exc.message}")
        if story.already:
            console.print("  The register's demonstration: already seeded.")
        elif story.skipped:
            console.print(f"  The register's demonstration: skipped ({story.skipped}).")
        else:
            console.print(
                f"  {REGISTER_PROGRAMME}: the earlier cohort published as report "
                f"{story.early_publication}, replaced by report {story.publication} (with the "
                "organisation's response); a withdrawn request and one that could not be "
                "answered", highlight=False)
    for s in outcome:
        if s.publication_id is None:
            console.print(f"  {s.programme}: [yellow]not published[/yellow] — {s.reason}",
                          highlight=False)
        else:
            state = "already published" if s.already else "published"
            console.print(f"  {s.programme}: {state} as report {s.publication_id}",
                          highlight=False)
    for line in warning_lines(seen):
        console.print(f"[dim]{line}[/dim]", highlight=False)
    console.print("Synthetic demonstration data: `jdl serve`, then open /catalogue and "
                  "/catalogue/summary.")


def register(app: typer.Typer) -> None:
    app.add_typer(catalogue_app, name="catalogue")

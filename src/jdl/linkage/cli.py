"""``jdl link`` and ``jdl link-train`` (lab-internal: the link table names people's records)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add the linkage commands to the root app."""
    app.command("link")(link)
    app.command("link-train")(link_train)


def link(
    file: Annotated[Path, typer.Argument(help="The submission file (CSV).")],
    data: Annotated[Path, typer.Option("--data", help="Data directory with admin.duckdb.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the link table.")] = Path(
        "links.csv"
    ),
    threshold: Annotated[float | None, typer.Option(help="Match probability to link.")] = None,
    backend: Annotated[str | None, typer.Option(
        "--engine", "--backend",
        help="duckdb or spark (default: JDL_LINKAGE__BACKEND, else JDL_DATA__ENGINE, else duckdb)."
    )] = None,
    summary: Annotated[Path | None, typer.Option(help="Also write the summary JSON.")] = None,
) -> None:
    """Link a submission's people to the national records (uses DIR/linkage-model.json)."""
    from jdl.core.config import get_settings
    from jdl.linkage._api import link_submission, model_for, open_workspace
    from jdl.linkage._io import accepted_rows
    from jdl.linkage._model import MODEL_FILE

    lab = get_settings()
    updates = {k: v for k, v in {"match_threshold": threshold, "backend": backend}.items()
               if v is not None}
    settings = lab.linkage.model_copy(update=updates)
    with console.status("Preparing the register's records...") as status:
        workspace = open_workspace(data, settings)
        try:
            status.update("Reading the submission...")
            rows = accepted_rows(file)
            if not (data / MODEL_FILE).exists():
                status.update("Training the linkage model for these records (once)...")
            model = model_for(data, settings=settings, workspace=workspace)
            status.update(f"Linking {len(rows):,} rows...")
            result = link_submission(rows, data, settings=settings, model=model,
                                     workspace=workspace, data_engine=lab.data.engine,
                                     spark=lab.spark)
        finally:
            workspace.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    result.link_table().to_csv(out, index=False)
    if summary is not None:
        summary.write_text(json.dumps(result.summary.as_dict(), indent=2))
    _print_summary(result.summary.as_dict(), out)


def link_train(
    data: Annotated[Path, typer.Option("--data", help="Data directory with admin.duckdb.")],
    calibration: Annotated[
        list[Path] | None,
        typer.Option(help="Earlier submissions: their ID-confirmed rows label m."),
    ] = None,
) -> None:
    """Train the linkage model for a data directory and save it as DIR/linkage-model.json."""
    from jdl.core.config import get_settings
    from jdl.linkage._api import train_model
    from jdl.linkage._io import accepted_rows

    frames = [accepted_rows(path) for path in calibration or []]
    with console.status("Training the linkage model..."):
        model = train_model(data, calibration=frames, settings=get_settings().linkage)
    console.print(f"Trained on {model.n_people:,} people ({model.n_register_records:,} records); "
                  f"labelled pairs: {model.label_pairs}")
    console.print(model.parameters().to_string(index=False, float_format="{:.4g}".format))
    for warning in model.warnings:
        console.print(f"[yellow]Note:[/yellow] {warning}")


def _print_summary(summary: dict[str, int], out: Path) -> None:
    table = Table(title="Linkage summary (lab-internal)")
    table.add_column("Outcome")
    table.add_column("Rows", justify="right")
    for key in ("submitted", "linked_by_id", "linked_probabilistically", "not_found",
                "ambiguous", "duplicate", "people_found"):
        table.add_row(key.replace("_", " "), f"{summary[key]:,}")
    console.print(table)
    console.print(f"Link table written to {out}")

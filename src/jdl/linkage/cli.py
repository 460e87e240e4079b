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
    from jdl.linkage._calibration import load_calibration, threshold_for
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
    calibration = load_calibration(data, model)
    _, source = threshold_for(settings, calibration)
    if summary is not None:
        payload: dict = {**result.summary.as_dict(), "threshold": result.threshold,
                         "threshold_source": source}
        if result.uncertainty is not None:
            payload["uncertainty"] = result.uncertainty.as_dict()
        summary.write_text(json.dumps(payload, indent=2))
    _print_summary(result.summary.as_dict(), out)
    console.print(f"Threshold {result.threshold:g} ({source}).")
    if result.uncertainty is not None:
        _print_uncertainty(result.uncertainty, calibrated=calibration is not None)


def link_train(
    data: Annotated[Path, typer.Option("--data", help="Data directory with admin.duckdb.")],
    calibration: Annotated[
        list[Path] | None,
        typer.Option(help="Earlier submissions: their ID-confirmed rows label m."),
    ] = None,
    labelled: Annotated[
        list[Path] | None,
        typer.Option(help="Uploads whose links a person checked (truth in FILE.truth.csv: "
                          "row_number, person_id): the match threshold is chosen on them. "
                          "Default for synthetic data: the generator's harsh-mix uploads."),
    ] = None,
    min_precision: Annotated[float, typer.Option(
        min=0.5, max=1.0,
        help="The threshold rule: among thresholds with at least this precision on the "
             "labelled rows, the highest whose F1 is within one standard error of the "
             "best.")] = 0.995,
    standard_errors: Annotated[float, typer.Option(
        min=0.0, max=5.0,
        help="How many bootstrap standard errors below the best F1 a higher threshold may "
             "be and still be chosen (0: the plain highest F1).")] = 1.0,
) -> None:
    """Train the linkage model for a data directory and save it as DIR/linkage-model.json;
    choose the match threshold on labelled rows and save it as DIR/linkage-calibration.json."""
    from jdl.core.config import get_settings
    from jdl.linkage._api import train_model
    from jdl.linkage._calibration import ThresholdRule, labelled_from_files, load_calibration
    from jdl.linkage._io import accepted_rows

    frames = [accepted_rows(path) for path in calibration or []]
    checked = labelled_from_files(list(labelled)) if labelled else None
    with console.status("Training the linkage model and choosing its threshold..."):
        model = train_model(data, calibration=frames, settings=get_settings().linkage,
                            labelled=checked, rule=ThresholdRule(min_precision=min_precision,
                                                                 standard_errors=standard_errors))
    console.print(f"Trained on {model.n_people:,} people ({model.n_register_records:,} records); "
                  f"labelled pairs: {model.label_pairs}")
    console.print(model.parameters().to_string(index=False, float_format="{:.4g}".format))
    for warning in model.warnings:
        console.print(f"[yellow]Note:[/yellow] {warning}")
    chosen = load_calibration(data, model)
    if chosen is None:
        console.print("[yellow]No labelled rows:[/yellow] the threshold stays the "
                      "match_threshold setting. Pass --labelled FILE.csv to choose it.")
        return
    _print_calibration(chosen)


def _print_calibration(chosen) -> None:
    from jdl.linkage._calibration import rule_phrase

    table = Table(title=f"Threshold on {chosen.rows:,} labelled rows ({chosen.source})")
    for column in ("threshold", "precision", "recall", "F1", "± s.e.", "links", "wrong"):
        table.add_column(column, justify="right")
    for p in chosen.table:
        mark = " ◀" if p.threshold == chosen.threshold else ""
        table.add_row(f"{p.threshold:g}{mark}", f"{p.precision:.2%}", f"{p.recall:.2%}",
                      f"{p.f1:.4f}", f"{p.f1_se:.4f}", f"{p.links:,}", f"{p.wrong:,}")
    console.print(table)
    console.print(f"Chosen threshold: {chosen.threshold:g} ({rule_phrase(chosen)}); "
                  f"saved with the model.")


def _print_uncertainty(u, *, calibrated: bool) -> None:
    console.print(
        f"Model's estimate: about {u.expected_false_links:,.0f} of the {u.linked:,} links may be "
        f"wrong ({u.false_link_share:.1%}); about {u.expected_missed:,.0f} people in the records "
        f"may not have been found ({u.missed_share:.1%} of those in the records).")
    if not calibrated:
        console.print("[yellow]Note:[/yellow] no calibration for this model: rows with no "
                      "real candidate are taken at the model's word (missed people "
                      "underestimated).")


def _print_summary(summary: dict[str, int], out: Path) -> None:
    table = Table(title="Linkage summary (lab-internal)")
    table.add_column("Outcome")
    table.add_column("Rows", justify="right")
    for key in ("submitted", "linked_by_id", "linked_probabilistically", "not_found",
                "ambiguous", "duplicate", "people_found"):
        table.add_row(key.replace("_", " "), f"{summary[key]:,}")
    console.print(table)
    console.print(f"Link table written to {out}")

"""``jdl validate`` and ``jdl template``: the intake stage's commands.

Heavy libraries (pandas, openpyxl) load inside the commands so that ``jdl --help`` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from jdl.intake._submission import Submission


class TemplateKind(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    yaml = "yaml"


_DEFAULT_NAMES = {"csv": "submission-template.csv", "xlsx": "submission-template.xlsx",
                  "yaml": "programme.yaml"}


def validate(
    file: Annotated[Path, typer.Argument(help="The submission: CSV, XLSX or Parquet.")],
    programme: Annotated[Path | None, typer.Option(
        "--programme", "-p", help="Programme information (YAML or JSON).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    errors_out: Annotated[Path | None, typer.Option(
        "--errors-out", help="Also write every problem to this CSV (safe to open in Excel).")
    ] = None,
    show: Annotated[int, typer.Option("--show", min=0, help="Problems to list on screen.")] = 50,
    plan: Annotated[Path | None, typer.Option(
        "--plan", help="Your analysis plan (YAML or JSON): its declared columns are checked "
        "too.")] = None,
) -> None:
    """Check a submission file; exit 0 if the lab can use it, 1 if not."""
    import json

    from jdl.core.config import get_settings
    from jdl.intake import check_submission, load_programme, load_registration

    info = load_programme(programme) if programme is not None else None
    registration = load_registration(plan) if plan is not None else None
    submission = check_submission(
        file, info, get_settings().intake,
        variables=registration.variables if registration is not None else ())
    if errors_out is not None:
        submission.write_error_report(errors_out)
    if as_json:
        typer.echo(json.dumps(submission.to_dict(), indent=2, default=str))
    else:
        from rich.console import Console

        _print_summary(Console(), submission, show, errors_out)
    if not submission.acceptable:
        # SystemExit, not typer.Exit: the root app runs click with standalone_mode=False, where
        # typer.Exit's code is returned rather than used as the exit status.
        raise SystemExit(1)


def _print_summary(console: Console, submission: Submission, show: int,
                   errors_out: Path | None) -> None:
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    counts = submission.counts
    source = submission.source
    if source is not None:
        console.print(f"[bold]{escape(source.file_name)}[/bold]: {escape(source.describe())}")
    if submission.programme is not None:
        p = submission.programme
        console.print(f"Programme: {escape(p.programme_name)} ({escape(p.organisation)})")
    if source is not None:
        console.print(
            f"Rows in the file: [bold]{counts.rows:,}[/bold] = "
            f"[green]{counts.accepted:,} accepted[/green] + "
            f"[red]{counts.rejected:,} rejected[/red]"
            + (f" (of which {counts.blank:,} blank)" if counts.blank else "")
            + (f"; {counts.with_warnings:,} accepted rows have warnings"
               if counts.with_warnings else ""))
    issues = submission.issues
    if len(issues) and show:
        shown = issues.head(show)
        table = Table(title="Problems found (red: row rejected, yellow: row kept)")
        table.add_column("Row", justify="right")
        table.add_column("Column", overflow="fold", max_width=22)
        table.add_column("Value", overflow="fold", max_width=20)
        table.add_column("Problem", overflow="fold")
        for record in shown.itertuples(index=False):
            style = "red" if record.severity == "error" else "yellow"
            row = "" if str(record.row_number) == "<NA>" else str(record.row_number)
            table.add_row(row, Text(str(record.column)), Text(str(record.value)),
                          Text(str(record.message), style=style))
        console.print(table)
        console.print("[bold]How to fix[/bold]")
        for fix in dict.fromkeys(shown["fix"]):
            console.print(Text(f"  - {fix}"))
        if len(issues) > show:
            where = f" (all are in {errors_out})" if errors_out else \
                "; use --errors-out FILE.csv to get them all"
            console.print(f"... and {len(issues) - show:,} more problems{where}.")
    refusal = submission.refusal
    if refusal is None:
        console.print("[bold green]The submission can be used.[/bold green] "
                      "Rejected rows are left out of the analysis.")
    else:
        console.print(f"[bold red]Submission refused:[/bold red] {escape(refusal.message)}")
        if refusal.hint:
            console.print(escape(refusal.hint))


def template(
    fmt: Annotated[TemplateKind, typer.Option(
        "--format", "-f", help="csv or xlsx (the template), yaml (programme file).")
    ] = TemplateKind.xlsx,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write it.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write the submission template (CSV, or XLSX with guidance) or an example programme file."""
    from jdl.core.errors import UsageError
    from jdl.intake import write_programme_example, write_template

    path = out or Path(_DEFAULT_NAMES[fmt.value])
    if path.exists() and not force:
        raise UsageError(f"{path} already exists.", hint="Choose another --out, or add --force.")
    if fmt is TemplateKind.yaml:
        write_programme_example(path)
    else:
        write_template(path, fmt.value)
    typer.echo(f"Wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the intake commands to the root ``jdl`` app."""
    app.command("validate")(validate)
    app.command("template")(template)

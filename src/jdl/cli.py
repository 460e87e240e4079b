"""The ``jdl`` command line: one Typer app, each stage registering its own commands.

Stage CLIs live in ``jdl/<stage>/cli.py`` and expose ``register(app)``; they import heavy
libraries inside their commands so that ``jdl --help`` stays fast. Errors the user can cause
(:class:`jdl.core.errors.JDLError`) are printed as messages, never as tracebacks.
"""

from __future__ import annotations

import importlib
import sys

import click
import typer
from rich.console import Console
from typer.exceptions import TyperException

from jdl import __version__
from jdl.core.errors import JDLError

app = typer.Typer(
    name="jdl",
    help="Justice Data Lab: evaluate a programme's effect on re-offending.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True)

# Stages whose ``cli`` module registers commands, in pipeline order.
STAGES = (
    "admin",
    "intake",
    "linkage",
    "cohort",
    "matching",
    "inference",
    "report",
    "pipeline_cli",
    "service",  # the web app, with `jdl catalogue seed`
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"jdl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version."
    ),
) -> None:
    """Justice Data Lab command line."""


def _register_stages() -> None:
    for stage in STAGES:
        module_name = f"jdl.{stage}" if stage.endswith("_cli") else f"jdl.{stage}.cli"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # this stage has no commands yet
            raise
        module.register(app)


_register_stages()


def _show_usage_error(exc: Exception) -> None:
    """Print a usage mistake as click does: the usage line, where to get help, one error line.

    Typer 0.29 vendors click and raises its own exception classes (subclasses of
    :class:`typer.exceptions.TyperException`), so both families are handled here; anything
    without click's ``show`` is printed as one line.
    """
    show = getattr(exc, "show", None)
    if callable(show):
        show()
    else:
        err_console.print(f"[bold red]Error:[/bold red] {exc}", highlight=False)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app, turning user errors into messages."""
    try:
        code = app(args=argv, standalone_mode=False)
        # without standalone mode click *returns* a typer.Exit code instead of exiting
        sys.exit(code if isinstance(code, int) else 0)
    except (click.exceptions.Exit, typer.Exit) as exc:
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, typer.Abort):
        err_console.print("[red]Aborted.[/red]")
        sys.exit(130)
    except (click.ClickException, TyperException) as exc:
        _show_usage_error(exc)
        sys.exit(exc.exit_code)
    except JDLError as exc:
        err_console.print(f"[bold red]Error:[/bold red] {exc.message}", highlight=False)
        for problem in exc.problems:
            err_console.print(f"  • {problem}", highlight=False)
        if exc.hint:
            err_console.print(exc.hint, highlight=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()

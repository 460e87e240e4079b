"""Whole-lab commands: the demo (and, with the evaluation pipeline, `jdl evaluate`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()
DEMO_PROGRAMME = "new-leaf-employment"


def ensure_data(data: Path, people: int, seed: int) -> dict:
    """The synthetic records for (people, seed), generated unless already cached in ``data``."""
    from jdl.admin._store import read_manifest
    from jdl.admin.cli import _generate_with_progress
    from jdl.admin.synth import SynthConfig

    wanted = SynthConfig(people=people, seed=seed).data_version()
    manifest = read_manifest(data)
    if manifest.get("data_version") == wanted and (data / "admin.duckdb").exists():
        console.print(f"Using cached synthetic records in {data} ({wanted}).")
        return manifest
    console.print(f"Generating synthetic national records: {people:,} people, seed {seed}...")
    return _generate_with_progress(data, people, seed, 250_000)


def demo(
    data: Path = typer.Option(Path("data/default"), "--data", help="Data directory (cache)."),
    people: int = typer.Option(200_000, "--people", min=1000, help="People on the register."),
    seed: int = typer.Option(20261124, "--seed", help="Random seed."),
    out: Path = typer.Option(Path("out/demo"), "--out", help="Where the demo writes."),
    programme: str = typer.Option(DEMO_PROGRAMME, "--programme", help="Planted programme."),
) -> None:
    """Generate (or reuse) the default synthetic records, show their headline statistics and
    draw a planted programme's upload."""
    from jdl.admin.cli import print_summary
    from jdl.admin.synth import make_submission

    ensure_data(data, people, seed)
    print_summary(data)
    paths = make_submission(data, programme, out / f"{programme}.csv")
    console.print(f"\nThe upload {programme}'s organisation would send: {paths['upload']}")
    console.print(f"Its programme information: {paths['programme']}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)

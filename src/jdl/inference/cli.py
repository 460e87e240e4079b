"""``jdl power``: minimum detectable effect and required sample size for a re-offending rate."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the inference stage's commands to the root app."""
    app.command("power")(power)


def power(
    n: int = typer.Option(..., "--n", help="People in the treatment group."),
    base_rate: float = typer.Option(
        ..., "--base-rate", help="Expected comparison-group re-offending rate, e.g. 0.42."),
    difference: float | None = typer.Option(
        None, "--difference",
        help="A difference in rate to plan for (proportion, e.g. -0.05): prints the treatment "
             "group size needed to detect it."),
    ratio: float = typer.Option(1.0, "--ratio", help="Comparison people per treated person."),
    alpha: float | None = typer.Option(None, "--alpha", help="Significance level (default from "
                                       "settings, 0.05)."),
    power_: float | None = typer.Option(None, "--power", help="Power (default 0.8)."),
) -> None:
    """Smallest difference in re-offending rate detectable with N people (two-sided test)."""
    from rich.console import Console

    from jdl.core.config import get_settings
    from jdl.core.errors import UsageError
    from jdl.inference._power import minimum_detectable_effect, required_n

    cfg = get_settings().inference
    a = cfg.alpha if alpha is None else alpha
    pw = cfg.power if power_ is None else power_
    console = Console()
    res = minimum_detectable_effect(n, base_rate, alpha=a, power=pw, ratio=ratio)
    console.print(str(res), highlight=False)
    if difference is not None:
        if abs(difference) >= 1:
            raise UsageError("--difference is a proportion between -1 and 1, e.g. -0.05.")
        needed = required_n(base_rate, base_rate + difference, alpha=a, power=pw, ratio=ratio)
        console.print(
            f"To detect a difference of {100 * difference:+.1f} per 100 people "
            f"({100 * base_rate:.1f} to {100 * (base_rate + difference):.1f}) would need about "
            f"{needed} people in the treatment group and {round(needed * ratio)} in the "
            "comparison group.", highlight=False)

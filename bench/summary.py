"""``bench/results/SUMMARY.md``: the headline table and the scaling trends, generated from the
results files alone, so the summary can never disagree with them.

``python -m bench.summary`` (``make bench`` runs it last). Reads every ``bench/results/*.json``:
records carrying ``stage``/``people``/``k``/``engine`` (``bench_scaling``), plus the generator's
``synth_<people>`` cases. A record with ``skipped`` is shown as "not measured" with its reason; a
figure appears only when a record holds it.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS_DIR

ENGINES = ("duckdb", "spark")
ENGINE_NAMES = {"duckdb": "DuckDB", "spark": "Spark"}
HEADLINE_PEOPLE = (1_000_000, 10_000_000)
# (row label, stage, k): k is the submitted rows (linkage, evaluation), linked people (cohort)
# or treated people (matching)
TABLE_ROWS: tuple[tuple[str, str, int | None], ...] = (
    ("Generation of the national records", "generation", None),
    ("Linkage model training", "train", None),
    ("Linkage of 1k rows", "link", 1_000),
    ("Linkage of 10k rows", "link", 10_000),
    ("Cohort of 1k linked people", "cohort", 1_000),
    ("Comparison pool, whole population", "pool", None),
    ("Matching, 1k treated vs one control per person", "match", 1_000),
    ("Matching, 10k treated vs one control per person", "match", 10_000),
    ("Full evaluation of a 1k-row upload", "evaluate", 1_000),
)
# stages that do not run in the data engine (the generator writes files; matching is numpy)
ENGINE_INDEPENDENT = frozenset({"generation", "match"})
ENGINE_FREE = "same as DuckDB (not engine work)"
# the stage's own time inside a case (a case's wall time also counts imports and set-up)
STAGE_SECONDS = {"link": "link_s", "cohort": "cohort_s", "pool": "pool_s", "match": "match_s",
                 "evaluate": "evaluate_s"}
_SYNTH_CASE = re.compile(r"synth_(\d+)$")


@dataclass(frozen=True)
class Figure:
    """One measured (or skipped) case, normalised from a results record."""

    stage: str
    people: int
    k: int | None
    engine: str
    seconds: float | None
    cpu_s: float | None
    peak_mib: float | None
    load: float | None
    cpus: int
    measured_at: str
    skipped: str | None = None
    failed: bool = False

    @property
    def key(self) -> tuple[str, int, int | None, str]:
        return (self.stage, self.people, self.k, self.engine)


# Peak RSS of the case's own process, of its ended children, of children still running (Spark's
# JVM): the table shows the largest.
PEAK_KEYS = ("peak_rss_mib", "peak_child_rss_mib", "peak_live_child_rss_mib")


def _figure(record: dict[str, Any], stage_file: str, measured_at: str, cpus: int
            ) -> Figure | None:
    stage, people = record.get("stage"), record.get("people")
    if stage is None and stage_file == "synth":
        found = _SYNTH_CASE.match(str(record.get("case", "")))
        stage, people = ("generation", int(found.group(1))) if found else (None, None)
    if stage is None or people is None:
        return None
    seconds = record.get(STAGE_SECONDS.get(stage, "wall_s"), record.get("wall_s"))
    peaks = [record.get(k) for k in PEAK_KEYS if record.get(k)]
    engine = record.get("engine", "duckdb")
    # Spark records from before the JVM was measured counted Python's CPU only: not shown.
    counted = engine != "spark" or "peak_live_child_rss_mib" in record
    return Figure(stage=stage, people=int(people), k=record.get("k"), engine=engine,
                  seconds=seconds, cpu_s=record.get("cpu_s") if counted else None,
                  peak_mib=max(peaks) if peaks else None,
                  load=record.get("load_avg_1m"), cpus=cpus, measured_at=measured_at,
                  skipped=record.get("skipped"), failed=not record.get("ok", True))


def load_figures(results_dir: Path = RESULTS_DIR) -> dict[tuple, Figure]:
    """Every figure in ``results_dir``, the latest per (stage, people, k, engine)."""
    figures: dict[tuple, Figure] = {}
    for path in sorted(results_dir.glob("*.json")):
        payload = json.loads(path.read_text())
        cpus = int(payload.get("machine", {}).get("cpus", 0))
        for record in payload.get("results", []):
            fig = _figure(record, payload.get("stage", path.stem),
                          payload.get("measured_at", ""), cpus)
            if fig and (fig.key not in figures or figures[fig.key].measured_at <= fig.measured_at):
                figures[fig.key] = fig
    return figures


def _people(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1_000}k"


def _cell(fig: Figure | None, notes: list[str] | None = None) -> str:
    if fig is None:
        return "not measured"
    if fig.skipped:
        if notes is None:
            return f"not measured: {fig.skipped}"
        if fig.skipped not in notes:
            notes.append(fig.skipped)
        return f"not measured [{notes.index(fig.skipped) + 1}]"
    if fig.failed or fig.seconds is None:
        return "failed (see the JSON)"
    text = f"{fig.seconds:,.1f} s"
    if fig.cpu_s is not None:
        text += f" (CPU {fig.cpu_s:,.0f} s)"
    if fig.peak_mib is not None:
        text += f" / {fig.peak_mib / 1024:.1f} GiB"
    if _loaded(fig):
        text += f" (load {fig.load:.0f})"
    return text


def _loaded(fig: Figure) -> bool:
    return fig.load is not None and bool(fig.cpus) and fig.load > fig.cpus


def headline_people(figures: dict[tuple, Figure]) -> tuple[int, ...]:
    """1M and 10M people (the issue's sizes) when measured; else the two largest sizes measured
    (``make bench-quick``: 100k and 300k)."""
    measured = sorted({f.people for f in figures.values() if not f.skipped})
    if any(n in measured for n in HEADLINE_PEOPLE) or not measured:
        return HEADLINE_PEOPLE
    return tuple(measured[-2:])


def headline_table(figures: dict[tuple, Figure]) -> str:
    """Wall time / peak memory per stage at 1M and 10M people, one column per engine and size."""
    columns = [(e, n) for e in ENGINES for n in headline_people(figures)]
    head = "| stage | " + " | ".join(f"{ENGINE_NAMES[e]}, {_people(n)} people"
                                    for e, n in columns) + " |"
    lines = [head, "|---" * (len(columns) + 1) + "|"]
    notes: list[str] = []
    for label, stage, k in TABLE_ROWS:
        cells = [ENGINE_FREE if e != "duckdb" and stage in ENGINE_INDEPENDENT
                 else _cell(figures.get((stage, n, k, e)), notes) for e, n in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [""] + [f"[{i}] {note}" for i, note in enumerate(notes, 1)]
    return "\n".join(lines).rstrip()


@dataclass(frozen=True)
class Trend:
    """log(y) = intercept + slope * log(x), by least squares."""

    slope: float
    intercept: float
    r2: float
    n: int


def fit_trend(xs: Iterable[float], ys: Iterable[float]) -> Trend | None:
    """The log-log fit of ``ys`` on ``xs`` (``None`` with fewer than 3 positive points)."""
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if x and y and x > 0 and y > 0]
    if len({x for x, _ in pairs}) < 3:
        return None
    lx = np.log([x for x, _ in pairs])
    ly = np.log([y for _, y in pairs])
    slope, intercept = np.polyfit(lx, ly, 1)
    residual = ly - (intercept + slope * lx)
    total = ((ly - ly.mean()) ** 2).sum()
    r2 = 1 - (residual**2).sum() / total if total > 0 else math.nan
    return Trend(float(slope), float(intercept), float(r2), len(pairs))


def _trend_text(trend: Trend | None) -> str:
    if trend is None:
        return "–"
    return f"{trend.slope:.2f} (R² {trend.r2:.2f}, n={trend.n})"


def trend_table(figures: dict[tuple, Figure], *, by: str, fixed_people: int = 1_000_000) -> str:
    """Log-log slopes of time, CPU and peak memory against population size (``by="people"``,
    one row per stage/k/engine) or against cohort size at ``fixed_people`` (``by="k"``)."""
    groups: dict[tuple, list[Figure]] = {}
    for fig in figures.values():
        if fig.skipped or fig.failed or fig.seconds is None:
            continue
        if by == "people":
            groups.setdefault((fig.stage, fig.k, fig.engine), []).append(fig)
        elif fig.people == fixed_people and fig.k is not None:
            groups.setdefault((fig.stage, None, fig.engine), []).append(fig)
    axis = "population" if by == "people" else f"cohort size k at {_people(fixed_people)} people"
    lines = [f"| stage | engine | {axis}: sizes | time (s) | slope of time | slope of CPU "
             "| slope of peak memory |", "|---|---|---|---|---|---|---|"]
    for (stage, k, engine), figs in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] or 0,
                                                                          g[0][2])):
        figs = sorted(figs, key=lambda f: f.people if by == "people" else f.k)
        xs = [f.people if by == "people" else f.k for f in figs]
        time_fit = fit_trend(xs, [f.seconds for f in figs])
        if time_fit is None:
            continue
        label = stage if k is None else f"{stage} k={k:,}"
        sizes = ", ".join(_people(x) if by == "people" else f"{x:,}" for x in xs)
        times = ", ".join(f"{f.seconds:,.1f}" + ("*" if _loaded(f) else "") for f in figs)
        lines.append(
            f"| {label} | {ENGINE_NAMES.get(engine, engine)} | {sizes} | {times} | "
            f"{_trend_text(time_fit)} | {_trend_text(fit_trend(xs, [f.cpu_s for f in figs]))} "
            f"| {_trend_text(fit_trend(xs, [f.peak_mib for f in figs]))} |"
        )
    return "\n".join(lines)


def target_table(results_dir: Path = RESULTS_DIR) -> str:
    """Every record that carries a target (``target_s``, e.g. bench_pipeline's 1,000-row
    evaluation against 1M people, issue 18: under 30 s), each run on its own line."""
    lines = ["| case (file) | measured | wall s | without the PDF, s | CPU s (evaluation) | "
             "peak GiB | load (1 min) | target | met |", "|---" * 9 + "|"]
    for path in sorted(results_dir.glob("*.json")):
        payload = json.loads(path.read_text())
        for r in payload.get("results", []):
            if "target_s" not in r or not r.get("ok", True):
                continue
            peaks = [r[k] for k in PEAK_KEYS if r.get(k)]
            peak = f"{max(peaks) / 1024:.1f}" if peaks else "–"
            lines.append(
                f"| {r.get('case')} ({path.name}) | {payload.get('measured_at', '')} | "
                f"{r.get('evaluate_s')} | {r.get('without_pdf_s', '–')} | "
                f"{r.get('evaluate_cpu_s', r.get('cpu_s', '–'))} | {peak} | "
                f"{r.get('load_avg_1m', '–')} | < {r['target_s']:g} s | "
                f"{'yes' if r.get('meets_target') else 'no'} |")
    return "\n".join(lines) if len(lines) > 2 else "No record carries a target."


def render(results_dir: Path = RESULTS_DIR) -> str:
    """The whole SUMMARY.md text."""
    figures = load_figures(results_dir)
    return "\n\n".join([
        "# Benchmark summary",
        "Generated by `python -m bench.summary` from `bench/results/*.json`; do not edit. "
        "Cells: the stage's wall time (CPU seconds of the whole case, every thread, imports and "
        "set-up included, where recorded; for Spark, its JVM's too) / peak memory of the "
        "largest process (GiB; for Spark the JVM, whose heap grows up to the driver memory it "
        "was given; the Python process's own peak is in the JSON). "
        "\"(load N)\" marks a figure taken while the machine's 1-minute load average was above "
        "its core count: other work shared the CPU, so wall time overstates the cost (the JSON "
        "has CPU seconds). Spark's JVM runs more threads than its task slots (garbage "
        "collection, JIT compilation), so a Spark case alone on 2 cores shows a load of about "
        "2.5-3.5 by itself. docs/performance.md explains the cases.",
        headline_table(figures),
        "## Targets",
        "Cases measured against a stated target, each run on its own line (wall seconds depend "
        "on the load: compare the CPU seconds and the load column).",
        target_table(results_dir),
        "## How cost grows with the population",
        "Slope b of log(cost) = a + b·log(people): 1 is linear, 0 flat. Times marked * were "
        "taken under load (1-minute load average above the core count): their slope is less "
        "reliable than the CPU slope.",
        trend_table(figures, by="people"),
        "## How cost grows with the cohort (submitted rows, linked or treated people)",
        trend_table(figures, by="k"),
    ]) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    results_dir = Path(argv[0]) if argv else RESULTS_DIR
    out = results_dir / "SUMMARY.md"
    out.write_text(render(results_dir))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The benchmark summary is generated from the results files: checked on a small fake set."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from bench.summary import fit_trend, load_figures, main, render


def _write(directory: Path, stage: str, records: list[dict], measured_at: str) -> None:
    payload = {"stage": stage, "measured_at": measured_at, "machine": {"cpus": 2},
               "results": records}
    (directory / f"{stage}.json").write_text(json.dumps(payload))


def _case(stage: str, people: int, seconds: float, *, k=None, engine="duckdb", **extra) -> dict:
    key = {"link": "link_s", "pool": "pool_s", "evaluate": "evaluate_s"}.get(stage, "wall_s")
    return {"case": f"{stage} {people}", "ok": True, "stage": stage, "people": people, "k": k,
            "engine": engine, "wall_s": seconds + 5, key: seconds, "peak_rss_mib": 2048.0,
            "peak_child_rss_mib": 0.0, "cpu_s": 2 * seconds, "load_avg_1m": 1.0, **extra}


@pytest.fixture
def results(tmp_path: Path) -> Path:
    _write(tmp_path, "synth", [
        {"case": "synth_1000000", "ok": True, "wall_s": 31.26, "peak_rss_mib": 553.6,
         "peak_child_rss_mib": 900.0},
        {"case": "synth_10000000", "ok": True, "wall_s": 271.55, "peak_rss_mib": 3605.7},
    ], "2026-11-24T20:00:00+00:00")
    pool = [_case("pool", n, 2e-5 * n) for n in (100_000, 1_000_000, 10_000_000)]
    links = [_case("link", 1_000_000, 0.1 * k**0.5, k=k) for k in (100, 1_000, 10_000)]
    _write(tmp_path, "scaling", [
        *pool, *links,
        _case("evaluate", 10_000_000, 95.0, k=1_000, load_avg_1m=7.6),
        _case("pool", 10_000_000, 300.0, engine="spark"),
        _case("evaluate", 10_000_000, 900.0, k=1_000, engine="spark",
              peak_live_child_rss_mib=12288.0),
        {"stage": "pool", "people": 1_000_000, "k": None, "engine": "spark", "ok": True,
         "skipped": "pyspark is not installed"},
        {"case": "x", "stage": "train", "people": 1_000_000, "k": None, "engine": "duckdb",
         "ok": False, "error": "boom"},
    ], "2026-11-24T21:00:00+00:00")
    return tmp_path


def test_headline_cells_come_from_the_records(results):
    text = render(results)
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1:]
            for line in text.splitlines() if line.startswith("| ")}
    assert rows["Generation of the national records"][:2] == ["31.3 s / 0.9 GiB",
                                                              "271.6 s / 3.5 GiB"]
    # the stage's own time (pool_s), not the case's wall time; spark skipped with its reason
    assert rows["Comparison pool, whole population"][:3] == [
        "20.0 s (CPU 40 s) / 2.0 GiB", "200.0 s (CPU 400 s) / 2.0 GiB", "not measured [1]"]
    assert "[1] pyspark is not installed" in text.splitlines()
    assert rows["Generation of the national records"][2] == "same as DuckDB (not engine work)"
    # a Spark record from before its JVM was measured: CPU not shown (it would be Python's only)
    assert rows["Comparison pool, whole population"][3] == "300.0 s / 2.0 GiB |"
    # one that measured the JVM (still running at the end): its CPU, and its peak as the largest
    assert rows["Full evaluation of a 1k-row upload"][3] == "900.0 s (CPU 1,800 s) / 12.0 GiB |"
    assert rows["Linkage model training"][0] == "failed (see the JSON)"
    assert rows["Full evaluation of a 1k-row upload"][1] == "95.0 s (CPU 190 s) / 2.0 GiB (load 8)"
    assert rows["Linkage of 10k rows"][0] == "10.0 s (CPU 20 s) / 2.0 GiB"
    assert rows["Cohort of 1k linked people"] == ["not measured"] * 3 + ["not measured |"]


def test_trends_are_log_log_slopes(results):
    text = render(results)
    pool_row = next(line for line in text.splitlines() if line.startswith("| pool | DuckDB"))
    assert "1.00 (R² 1.00, n=3)" in pool_row  # time 2e-5 * people: linear
    link_row = next(line for line in text.splitlines() if line.startswith("| link | DuckDB"))
    assert "0.50 (R² 1.00, n=3)" in link_row  # time 0.1 * sqrt(k)


def test_fit_trend_known_answer():
    trend = fit_trend([1, 10, 100, 1000], [3, 30 * 1.1, 300 / 1.1, 3000])
    assert trend is not None and trend.n == 4
    # slope = 1 + cov(log10 x, noise) / (ln 10 * var(log10 x)), noise (0, ln 1.1, -ln 1.1, 0)
    assert trend.slope == pytest.approx(1 - math.log(1.1) / (5 * math.log(10)), rel=1e-12)
    assert 0.99 < trend.r2 < 1
    assert fit_trend([1, 10], [1, 2]) is None  # too few sizes to fit


def test_latest_record_wins_and_main_writes_the_file(results):
    older = [_case("pool", 100_000, 999.0)]
    _write(results, "cohort", older, "2026-11-24T19:00:00+00:00")
    assert load_figures(results)[("pool", 100_000, None, "duckdb")].seconds == 2.0
    assert main([str(results)]) == 0
    assert (results / "SUMMARY.md").read_text() == render(results)


def test_a_quick_run_shows_its_own_sizes(tmp_path):
    _write(tmp_path, "scaling", [_case("pool", n, 2e-5 * n) for n in (100_000, 300_000)],
           "2026-11-24T21:00:00+00:00")
    text = render(tmp_path)
    assert "| stage | DuckDB, 100k people | DuckDB, 300k people |" in text
    pool = next(line for line in text.splitlines() if line.startswith("| Comparison pool"))
    assert pool.startswith("| Comparison pool, whole population | 2.0 s (CPU 4 s) / 2.0 GiB | "
                           "6.0 s (CPU 12 s) / 2.0 GiB |")


def test_a_target_is_reported_met_or_not_for_each_run(tmp_path):
    from bench.summary import target_table

    runs = [{"case": "evaluate_1000_vs_1000000", "ok": True, "evaluate_s": s,
             "without_pdf_s": s - 5, "evaluate_cpu_s": 40.0, "peak_rss_mib": 1500.0,
             "load_avg_1m": 2.5, "target_s": 30.0, "meets_target": s < 30}
            for s in (27.5, 31.0)]
    _write(tmp_path, "pipeline", [{"case": "link_train_1000000", "ok": True, "wall_s": 40.0},
                                  *runs], "2026-12-05T04:00:00+00:00")
    table = target_table(tmp_path)
    rows = [line for line in table.splitlines() if line.startswith("| evaluate_1000")]
    assert len(rows) == 2
    assert "| 27.5 | 22.5 | 40.0 | 1.5 | 2.5 | < 30 s | yes |" in rows[0]
    assert rows[1].endswith("| < 30 s | no |")
    assert "## Targets" in render(tmp_path)
    assert target_table(tmp_path / "nothing") == "No record carries a target."

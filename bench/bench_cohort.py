"""Benchmark: covariates and outcomes for the whole comparison pool, and a submission's cohort.

Target (issue 5): the pool of a 1M-person population in under 30 s, 10M in under 5 min, 2 cores.
Populations come from the project generator (``jdl.admin.synth.generate``) and are kept in
``bench/work/synth-<people>`` (shared with ``bench_synth``, which keeps its 1M run there).
Each case records CPU seconds (user + system, all DuckDB threads) and the load average next to
wall time, because the machine is shared: on 2 busy cores wall time overstates the cost.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
from pathlib import Path

from bench.common import WORK_DIR, run_case, write_results
from jdl.core.config import DEFAULT_SEED

THREADS = 2
SEED = DEFAULT_SEED


def _population(people: int) -> Path:
    """The generated data directory for ``people``, made once."""
    out = WORK_DIR / f"synth-{people}"
    if not ((out / "admin.duckdb").exists() and (out / "manifest.json").exists()):
        from jdl.admin.synth import generate

        generate(out, people=people, seed=SEED)
    return out


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pool_case(data_dir: str, out_dir: str) -> dict:
    """Derive every covariate and outcome for the whole national pool; write it partitioned."""
    from jdl.cohort import write_pool
    from jdl.engines.duckdb import open_admin

    with open_admin(data_dir, threads=THREADS) as engine:
        counts = {
            t: engine.scalar(f"SELECT COUNT(*) FROM {t}")
            for t in ("people", "index_events", "offences", "employment_spells")
        }
        cpu = _cpu_s()
        out = write_pool(engine, out_dir)
        cpu = _cpu_s() - cpu
        rows = engine.scalar(
            f"SELECT COUNT(*) FROM read_parquet('{out}/**/*.parquet', hive_partitioning = true)"
        )
    return {
        **counts,
        "pool_rows": rows,
        "pool_cpu_s": round(cpu, 1),
        "load_avg_1m": round(os.getloadavg()[0], 1),
    }


def cohort_case(data_dir: str, size: int) -> dict:
    """A submission of ``size`` rows already linked by ID: index events, attrition, measures."""
    import pandas as pd

    from jdl.cohort import build_cohort
    from jdl.engines.duckdb import open_admin

    with open_admin(data_dir, threads=THREADS) as engine:
        sample = engine.df(
            f"SELECT person_id, sentence_start FROM (SELECT * FROM index_events WHERE "
            f"index_type = 'custody_release') USING SAMPLE reservoir({size} ROWS) REPEATABLE (7)"
        )
        link = pd.DataFrame(
            {
                "row_number": range(1, len(sample) + 1),
                "person_id": sample.person_id.astype("Int64"),
                "match_probability": 1.0,
                "method": "id",
            }
        )
        submission = pd.DataFrame(
            {"row_number": link.row_number, "intervention_start": sample.sentence_start}
        )
        cpu = _cpu_s()
        result = build_cohort(engine, link, submission, "custody")
        cpu = _cpu_s() - cpu
    return {
        "submitted": result.attrition.submitted,
        "eligible": result.attrition.eligible,
        "columns": result.data.shape[1],
        "cohort_cpu_s": round(cpu, 1),
    }


def main(quick: bool = False) -> list[dict]:
    """100k (and 1M unless ``quick``; 10M with ``--10m`` on the command line)."""
    sizes = [100_000] if quick else [100_000, 1_000_000]
    if "--10m" in sys.argv:
        sizes.append(10_000_000)
    records = []
    for people in sizes:
        data_dir = _population(people)
        out = WORK_DIR / f"cohort-pool-{people}"
        shutil.rmtree(out, ignore_errors=True)
        records.append(
            {**run_case(f"pool_{people}", pool_case, str(data_dir), str(out)), "threads": THREADS}
        )
        records.append(run_case(f"cohort_1000_of_{people}", cohort_case, str(data_dir), 1000))
        shutil.rmtree(out, ignore_errors=True)
    write_results("cohort", records)
    return records

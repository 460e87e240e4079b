"""Benchmark: covariates and outcomes for the whole comparison pool, and a submission's cohort.

Target (issue 5): the pool of a 1M-person population in under 30 s, 10M in under 5 min, 2 cores.
Uses the synthetic generator (``jdl.admin.synth.generate``) when it exists; otherwise a quick
SQL generator below that follows the data contract with plausible volumes (about 4.5 offences,
1.4 index events, 1.5 employment and benefit spells per person). Only sizes matter here.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from bench.common import WORK_DIR, run_case, write_results

THREADS = 2
_LISTS = {
    "ethnicity": "['White', 'Black', 'Asian', 'Mixed', 'Other', 'Unknown']",
    "nationality": "['British', 'Irish', 'EU', 'Other', 'Unknown']",
    "region": "['North East', 'North West', 'Yorkshire and the Humber', 'East Midlands', "
              "'West Midlands', 'East of England', 'London', 'South East', 'South West', 'Wales']",
    "group": "['violence', 'sexual', 'robbery', 'theft', 'criminal_damage', 'drugs', 'weapons', "
             "'public_order', 'fraud', 'misc_society', 'summary_motoring', 'summary_other']",
    "disposal": "['custody', 'custody', 'community', 'community', 'suspended', 'fine', 'fine', "
                "'fine', 'caution', 'caution', 'discharge', 'other']",
    "benefit": "['jobseekers', 'incapacity', 'income_support', 'universal_credit']",
}


def _pick(name: str) -> str:
    values = _LISTS[name]
    return f"{values}[1 + CAST(floor(random() * len({values})) AS INTEGER)]"


def _sql_population(people: int) -> list[str]:
    """Statements writing contract tables with ``people`` people (bench fallback only)."""
    day = "CAST(floor(random() * {n}) AS INTEGER)"
    return [
        "SELECT setseed(0.20261124)",
        f"""CREATE TABLE people AS SELECT range AS person_id, NULL::VARCHAR AS pnc_id,
            NULL::VARCHAR AS prison_number, 'A' AS forename, 'B' AS surname,
            DATE '1950-01-01' + {day.format(n=20000)} AS date_of_birth,
            CASE WHEN random() < 0.85 THEN 'M' ELSE 'F' END AS sex,
            {_pick('ethnicity')} AS ethnicity, {_pick('nationality')} AS nationality,
            {_pick('region')} AS region FROM range({people})""",
        "CREATE TABLE aliases (person_id BIGINT, forename VARCHAR, surname VARCHAR, "
        "date_of_birth DATE)",
        f"""CREATE TABLE offences AS
            SELECT row_number() OVER () AS offence_id, person_id, offence_date,
                   offence_date + CAST(floor(random() * 200) AS INTEGER) AS outcome_date,
                   'X' AS offence_code, {_pick('group')} AS offence_group,
                   1 + CAST(floor(random() * 3) AS INTEGER) AS severity, disposal,
                   CASE WHEN disposal IN ('custody', 'community', 'suspended')
                        THEN 30 + CAST(floor(random() * 700) AS INTEGER) END AS sentence_days,
                   random() < 0.03 AS dv_flag, random() < 0.001 AS terrorism_flag
            FROM (SELECT person_id, DATE '2008-01-01' + {day.format(n=6200)} AS offence_date,
                         {_pick('disposal')} AS disposal
                  FROM (SELECT range AS person_id,
                               UNNEST(range(1 + CAST(floor(random() * 8) AS BIGINT))) AS k
                        FROM range({people})))""",
        """CREATE TABLE index_events AS
            SELECT row_number() OVER () AS event_id, person_id,
                   CASE WHEN disposal = 'custody'
                        THEN outcome_date + CAST(sentence_days / 2 AS INTEGER)
                        ELSE outcome_date END AS index_date,
                   CASE WHEN disposal = 'custody' THEN 'custody_release' ELSE 'court_order' END
                     AS index_type,
                   offence_id, offence_group, disposal, sentence_days,
                   outcome_date AS sentence_start
            FROM offences WHERE disposal IN ('custody', 'community', 'suspended')""",
        f"""CREATE TABLE employment_spells AS
            SELECT person_id, start_date, CASE WHEN end_date > DATE '2024-12-31' THEN NULL
                   ELSE end_date END AS end_date
            FROM (SELECT person_id, DATE '2005-01-01' + {day.format(n=7300)} AS start_date,
                         random() AS r
                  FROM (SELECT range AS person_id,
                               UNNEST(range(CAST(floor(random() * 4) AS BIGINT))) AS k
                        FROM range({people})))
            CROSS JOIN LATERAL (SELECT start_date + CAST(30 + r * 1500 AS INTEGER) AS end_date)""",
        f"""CREATE TABLE benefit_spells AS
            SELECT person_id, {_pick('benefit')} AS benefit_type, start_date,
                   CASE WHEN end_date > DATE '2024-12-31' THEN NULL ELSE end_date END AS end_date
            FROM (SELECT person_id, DATE '2005-01-01' + {day.format(n=7300)} AS start_date,
                         DATE '2005-01-01' + {day.format(n=7300)} AS d2
                  FROM (SELECT range AS person_id,
                               UNNEST(range(CAST(floor(random() * 4) AS BIGINT))) AS k
                        FROM range({people})))
            CROSS JOIN LATERAL (SELECT start_date + CAST(20 + random() * 800 AS INTEGER)
                                  AS end_date)""",
        f"""CREATE TABLE assessments AS
            SELECT person_id, DATE '2008-01-01' + {day.format(n=6200)} AS assessment_date,
                   round(random() * 100, 1) AS risk_score, random() < 0.3 AS need_accommodation,
                   random() < 0.5 AS need_employment, random() < 0.3 AS need_drugs,
                   random() < 0.2 AS need_alcohol, random() < 0.3 AS need_mental_health
            FROM (SELECT range AS person_id,
                         UNNEST(range(CAST(floor(random() * 3) AS BIGINT))) AS k
                  FROM range({people}))""",
        "CREATE TABLE flags (person_id BIGINT, flag VARCHAR, flag_date DATE)",
    ]


def _make_population(out: Path, people: int) -> str:
    """Generate ``people`` into ``out`` once; return which generator made it."""
    marker = out / "generator.txt"
    if (out / "admin.duckdb").exists() and marker.exists():
        return marker.read_text()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    try:
        from jdl.admin.synth import generate  # the project generator, once it exists
    except ImportError:
        generate = None
    if generate is not None:
        generate(out, people=people, seed=20261124)
        name = "jdl.admin.synth"
    else:
        from jdl.engines.duckdb import DuckDBEngine

        with DuckDBEngine(out / "admin.duckdb", threads=THREADS) as engine:
            engine.execute("SET enable_progress_bar = false")
            for statement in _sql_population(people):
                engine.execute(statement)
        (out / "manifest.json").write_text(json.dumps({"data_cutoff": "2024-12-31"}))
        name = "bench_cohort SQL fallback"
    marker.write_text(name)
    return name


def pool_case(data_dir: str, out_dir: str) -> dict:
    """Derive every covariate and outcome for the whole national pool; write it partitioned."""
    from jdl.cohort import write_pool
    from jdl.engines.duckdb import open_admin

    with open_admin(data_dir, threads=THREADS) as engine:
        engine.execute("SET enable_progress_bar = false")
        people = engine.scalar("SELECT COUNT(*) FROM people")
        events = engine.scalar("SELECT COUNT(*) FROM index_events")
        offences = engine.scalar("SELECT COUNT(*) FROM offences")
        out = write_pool(engine, out_dir)
        rows = engine.scalar(
            f"SELECT COUNT(*) FROM read_parquet('{out}/**/*.parquet', hive_partitioning = true)")
    return {"people": people, "index_events": events, "offences": offences, "pool_rows": rows}


def cohort_case(data_dir: str, size: int) -> dict:
    """A submission of ``size`` people already linked by ID: index events, attrition, measures."""
    import pandas as pd

    from jdl.cohort import build_cohort
    from jdl.engines.duckdb import open_admin

    with open_admin(data_dir, threads=THREADS) as engine:
        engine.execute("SET enable_progress_bar = false")
        sample = engine.df(
            f"SELECT person_id, sentence_start FROM (SELECT * FROM index_events WHERE "
            f"index_type = 'custody_release') USING SAMPLE reservoir({size} ROWS) REPEATABLE (7)")
        link = pd.DataFrame({"row_number": range(1, len(sample) + 1),
                             "person_id": sample.person_id.astype("Int64"),
                             "match_probability": 1.0, "method": "id"})
        submission = pd.DataFrame({"row_number": link.row_number,
                                   "intervention_start": sample.sentence_start})
        result = build_cohort(engine, link, submission, "custody")
    return {"submitted": result.attrition.submitted, "eligible": result.attrition.eligible,
            "columns": result.data.shape[1]}


def main(quick: bool = False) -> list[dict]:
    sizes = [100_000] if quick else [100_000, 1_000_000]
    if "--10m" in sys.argv:
        sizes.append(10_000_000)
    records = []
    for people in sizes:
        data_dir = WORK_DIR / f"cohort-pop-{people}"
        generator = _make_population(data_dir, people)
        out = WORK_DIR / f"cohort-pool-{people}"
        shutil.rmtree(out, ignore_errors=True)
        record = run_case(f"pool_{people}", pool_case, str(data_dir), str(out))
        records.append({**record, "generator": generator, "threads": THREADS})
        records.append(run_case(f"cohort_1000_of_{people}", cohort_case, str(data_dir), 1000))
    write_results("cohort", records)
    return records

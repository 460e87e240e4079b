"""Every query the stage builds transpiles to Spark SQL (sqlglot), so the Spark engine can run
the same definitions; and the generated SQL is deterministic (pure builders)."""

from __future__ import annotations

from datetime import date

import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from jdl.cohort import CohortSpec, eligibility_sql, pool_events_sql, pool_sql, treated_rows_sql
from jdl.outcomes import to_dialect

SPECS = [
    CohortSpec(data_cutoff=date(2024, 12, 31)),
    CohortSpec(
        data_cutoff=date(2024, 12, 31),
        excluded_person_flags=("gang", "vulnerable"),
        custom_exclusions=(("short", "sentence_days < 30 AND index_type = 'court_order'"),),
        pool_events="all",
        count_release_day=False,
        community_lookback_days=30,
    ),
]


def _queries(spec: CohortSpec) -> list[str]:
    events = pool_events_sql(spec, exclude=True)
    return [
        *(treated_rows_sql(spec, s) for s in ("custody", "community", "both")),
        eligibility_sql(events, spec),
        pool_sql(spec),
        pool_sql(spec, exclude=True, strata=[("court_order", 2019), ("custody_release", 2020)]),
    ]


@pytest.mark.parametrize("spec", SPECS)
def test_every_query_transpiles_to_spark(spec):
    for sql in _queries(spec):
        spark = sqlglot.transpile(
            sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE
        )[0]
        sqlglot.parse_one(spark, read="spark")  # and Spark's parser reads it back
        assert "DATE_DIFF('day'" not in spark and "INTERVAL (" not in spark
        assert to_dialect(sql, "spark") == spark


def test_builders_are_pure():
    spec = SPECS[1]
    assert _queries(spec) == _queries(spec)

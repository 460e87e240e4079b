"""Every query the stage builds translates to Spark SQL through the Spark engine's own (and only)
translation, :func:`jdl.engines.dialect.to_spark_sql`, which Spark's parser reads back; and the
generated SQL is deterministic (pure builders)."""

from __future__ import annotations

from datetime import date

import pytest
import sqlglot

from jdl.cohort import CohortSpec, eligibility_sql, pool_events_sql, pool_sql, treated_rows_sql
from jdl.engines import SparkEngine
from jdl.engines.dialect import to_spark_sql

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


class _RecordingSession:
    """Stands in for a Spark session: records every statement the engine sends to Spark."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.conf = self
        self.catalog = self

    def newSession(self):
        return self

    def set(self, key, value) -> None:
        pass

    def sql(self, query, args=None):
        self.sent.append(query)
        return self

    def cache(self):
        return self

    def createOrReplaceTempView(self, name) -> None:
        pass

    def dropTempView(self, name) -> None:
        pass

    def unpersist(self) -> None:
        pass


@pytest.mark.parametrize("spec", SPECS)
def test_every_query_the_spark_engine_sends_is_spark_sql(spec):
    """The statements SparkEngine.execute actually sends (the translation, then each shared
    common table expression made a cached view) parse as Spark SQL, with no DuckDB-only date
    syntax left; no JVM needed."""
    pytest.importorskip("pyspark")
    session = _RecordingSession()
    engine = SparkEngine(session=session)
    for sql in _queries(spec):
        session.sent.clear()
        engine.execute(sql).release()
        assert session.sent
        for spark in session.sent:
            sqlglot.parse_one(spark, read="spark")  # Spark's parser reads it back
            assert "DATE_DIFF('day'" not in spark and "INTERVAL (" not in spark
        if len(session.sent) == 1:  # no shared CTE: exactly the translation
            assert session.sent[0] == to_spark_sql(sql)


def test_builders_are_pure():
    spec = SPECS[1]
    assert _queries(spec) == _queries(spec)

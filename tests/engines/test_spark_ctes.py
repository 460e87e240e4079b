"""Spark computes a common table expression that a query reads more than once a single time (a
cached view for the query's lifetime), where it would otherwise derive it again at every
reference; results stay those of DuckDB, and nothing cached outlives the query."""

from __future__ import annotations

import pandas as pd
import pytest

from jdl.engines import DuckDBEngine, SparkEngine

pytestmark = [
    pytest.mark.spark,
    pytest.mark.xdist_group("spark"),
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

FRAME = pd.DataFrame({"x": [1, 2, 3, 4], "g": ["a", "b", "a", "b"]})
SHARED = """
    WITH doubled AS (SELECT x, g, x * 2 AS y FROM t),
         big AS (SELECT x FROM doubled WHERE y > 4)
    SELECT d.x, d.y, big.x AS big_x
    FROM doubled AS d LEFT JOIN big ON big.x = d.x ORDER BY d.x"""


@pytest.fixture
def engines(spark):
    spark_engine = SparkEngine(session=spark)
    duck = DuckDBEngine()
    for engine in (spark_engine, duck):
        engine.register("t", FRAME)
    yield spark_engine, duck
    spark_engine.close()
    duck.close()


def cte_views(engine: SparkEngine) -> set[str]:
    return {name for name in engine.tables() if name.startswith("_jdl_cte_")}


def cached_leaves(result) -> int:
    return result.frame._jdf.queryExecution().optimizedPlan().toString().count("InMemoryRelation")


def test_a_cte_read_twice_is_cached_for_the_query_and_dropped_after_the_fetch(engines):
    spark, duck = engines
    result = spark.execute(SHARED)
    assert "_jdl_cte_" in result.sql and "WITH doubled" not in result.sql
    assert len(cte_views(spark)) == 1
    assert cached_leaves(result) >= 2  # both references read the one cached relation
    pd.testing.assert_frame_equal(result.df(), duck.df(SHARED))
    assert cte_views(spark) == set()


def test_a_cte_read_once_stays_inline(engines):
    spark, duck = engines
    sql = "WITH a_rows AS (SELECT x FROM t WHERE g = 'a') SELECT SUM(x) AS s FROM a_rows"
    result = spark.execute(sql)
    assert "_jdl_cte_" not in result.sql and cte_views(spark) == set()
    assert result.fetchall() == duck.execute(sql).fetchall() == [(4,)]


def test_a_with_inside_a_subquery_is_handled_like_a_top_level_one(engines):
    spark, duck = engines
    sql = f"SELECT * FROM ({SHARED}) AS wrapped ORDER BY x DESC"
    result = spark.execute(sql)
    assert "_jdl_cte_" in result.sql
    assert result.fetchall() == duck.execute(sql).fetchall()
    assert cte_views(spark) == set()


def test_a_cte_reading_an_enclosing_querys_cte_is_left_inline(engines):
    spark, duck = engines
    sql = """
        WITH outer_rows AS (SELECT x FROM t)
        SELECT * FROM (
            WITH inner_rows AS (SELECT x FROM outer_rows)
            SELECT a.x FROM inner_rows AS a JOIN inner_rows AS b ON a.x = b.x
        ) AS s ORDER BY x"""
    assert spark.execute(sql).fetchall() == duck.execute(sql).fetchall()
    assert cte_views(spark) == set()


def test_a_view_keeps_its_query_cached_ctes_until_it_is_dropped(engines):
    spark, duck = engines
    spark.create_view("kept", SHARED, cache=True)
    assert len(cte_views(spark)) == 1
    first = spark.df("SELECT * FROM kept ORDER BY x")
    again = spark.df("SELECT * FROM kept ORDER BY x")
    pd.testing.assert_frame_equal(first, duck.df(SHARED))
    pd.testing.assert_frame_equal(again, first)
    assert len(cte_views(spark)) == 1  # the view still reads them
    spark.create_view("kept", SHARED)  # replaced: the old view's CTE goes, the new one's stays
    assert len(cte_views(spark)) == 1
    pd.testing.assert_frame_equal(spark.df("SELECT * FROM kept ORDER BY x"), first)
    spark.unregister("kept")
    assert cte_views(spark) == set()


def test_a_failing_query_leaves_nothing_cached_and_is_one_clear_error(engines, capfd):
    from jdl.core.errors import EngineError

    spark, _ = engines
    with pytest.raises(EngineError, match="no_such_column") as raised:
        spark.execute(SHARED.replace("SELECT d.x", "SELECT d.no_such_column"))
    assert "no_such_column" in raised.value.sql
    assert cte_views(spark) == set()
    # not also PySpark's log of the whole analysed plan on stderr
    assert "QueryContextLogger" not in capfd.readouterr().err


def test_a_column_the_parquet_lacks_reads_as_empty(spark, tmp_path):
    """A data directory written under contract 1.1 (people without middle_names) still opens:
    the missing column reads as NULL of its type; the others as they are."""
    import duckdb

    folder = tmp_path / "parquet" / "people"
    folder.mkdir(parents=True)
    duckdb.execute(f"COPY (SELECT 1::BIGINT AS person_id, 'Mark' AS forename) TO "
                   f"'{(folder / 'part-00000.parquet').as_posix()}' (FORMAT parquet)")
    schema = {"people": (("person_id", "BIGINT"), ("forename", "VARCHAR"),
                         ("middle_names", "VARCHAR"))}
    engine = SparkEngine(tmp_path, session=spark, schema=schema)
    try:
        assert engine.execute("SELECT person_id, forename, middle_names FROM people"
                              ).fetchall() == [(1, "Mark", None)]
    finally:
        engine.close()

"""The Spark engine's pure parts, without starting a JVM: the dialect step, settings, errors."""

from __future__ import annotations

import pytest
import sqlglot

from jdl.core.config import Settings, SparkSettings
from jdl.core.errors import JDLError, UsageError
from jdl.engines.dialect import to_spark_sql
from jdl.engines.spark import _check_java, open_spark_admin, session_conf


def test_fractional_literals_divide_in_double_as_in_duckdb():
    sql = to_spark_sql("SELECT x / 365.25 AS y, 2 AS n, 1e3 AS k FROM t")
    assert sql == "SELECT x / CAST(365.25 AS DOUBLE) AS y, 2 AS n, CAST(1e3 AS DOUBLE) AS k FROM t"


def test_extract_returns_bigint_as_in_duckdb_unless_already_cast():
    sql = to_spark_sql("SELECT EXTRACT(YEAR FROM d) AS a, CAST(EXTRACT(MONTH FROM d) AS INTEGER) "
                       "AS b FROM t")
    assert "CAST(EXTRACT(YEAR FROM d) AS BIGINT) AS a" in sql
    assert "CAST(EXTRACT(MONTH FROM d) AS INT) AS b" in sql


def test_duckdb_date_functions_become_spark_functions():
    sql = to_spark_sql("SELECT DATE_DIFF('day', a, b) AS d, (a + INTERVAL 3 DAY) AS e FROM t")
    assert "DATE_DIFF('day'" not in sql
    sqlglot.parse_one(sql, read="spark")


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("SPARK_MASTER", "spark://cluster:7077")
    monkeypatch.setenv("JDL_DATA__ENGINE", "spark")
    monkeypatch.setenv("JDL_SPARK__SHUFFLE_PARTITIONS", "64")
    monkeypatch.setenv("JDL_SPARK__MAX_RESULT_SIZE", "6g")
    monkeypatch.setenv("JDL_SPARK__CONF", '{"spark.executor.memory": "8g"}')
    settings = Settings()
    assert settings.data.engine == "spark"
    assert settings.spark.master == "spark://cluster:7077"
    conf = session_conf(settings.spark)
    assert conf["spark.sql.shuffle.partitions"] == "64"
    assert conf["spark.executor.memory"] == "8g"
    assert conf["spark.driver.maxResultSize"] == "6g"
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.sql.session.timeZone"] == "UTC"


def test_default_master_is_local_mode(monkeypatch):
    monkeypatch.delenv("SPARK_MASTER", raising=False)
    assert SparkSettings().master == "local[2]"


def test_missing_java_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(JDLError, match="needs Java") as info:
        _check_java()
    assert "JAVA_HOME" in info.value.hint


def test_missing_parquet_tables_are_a_clear_error(tmp_path):
    with pytest.raises(UsageError, match="No national records"):
        open_spark_admin(tmp_path)


def test_unknown_engine_is_refused(tmp_path):
    from jdl.engines import open_admin

    with pytest.raises(UsageError, match="Unknown engine"):
        open_admin(tmp_path, engine="oracle")


def test_cli_refuses_an_unknown_engine_without_a_traceback(tmp_path):
    import subprocess
    import sys

    for args in (["evaluate", "up.csv", "--programme", "p.yaml", "--out", str(tmp_path)],
                 ["cohort", "attrition", "--data", str(tmp_path)]):
        result = subprocess.run([sys.executable, "-m", "jdl.cli", *args, "--engine", "oracle"],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode != 0
        assert "Unknown engine 'oracle'" in result.stderr + result.stdout
        assert "Traceback" not in result.stderr

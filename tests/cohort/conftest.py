"""Spec tests run on both engines, as OpenSAFELY ehrQL's spec tests do: a module opts in with
``pytestmark = pytest.mark.usefixtures("spec_engine")`` and every test in it runs once on DuckDB
and once on Spark, its ``tiny_admin`` records loaded on that engine.

The Spark runs share one JVM (one Spark session per pytest process, started once with two
shuffle partitions: the records are a handful of rows). They carry the ``spark`` marker and,
being slow, the ``slow`` one: on this project's 2-core machine the 39 Spark runs of the cohort
and outcome spec tests took 8 minutes (20-90 s each: Spark plans and compiles every query of the
cohort, however few the rows), too long for ``make test``; ``make test-all`` runs them.
``tests/engines/test_spark_parity.py`` keeps DuckDB and Spark equal in ``make test``.
"""

from __future__ import annotations

import functools

import pytest

from jdl.cohort import testing

SPARK = pytest.param(
    "spark",
    marks=[
        pytest.mark.spark,
        pytest.mark.slow,
        pytest.mark.xdist_group("spark"),
        # pyspark 4.3 warns about pandas 3 on every conversion (checked by the parity tests).
        pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
        pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
    ],
)


@pytest.fixture(scope="session")
def spec_spark_session():
    """The process's Spark session for spec tests (local[2], two shuffle partitions)."""
    pytest.importorskip("pyspark")
    from jdl.core.config import SparkSettings
    from jdl.engines.spark import spark_session, stop_spark

    session = spark_session(SparkSettings(master="local[2]", shuffle_partitions=2))
    yield session
    stop_spark()


@pytest.fixture(params=["duckdb", SPARK])
def spec_engine(request, monkeypatch):
    """The engine this run of a spec test uses: the module's ``tiny_admin`` loads its records
    there."""
    if request.param == "spark":
        request.getfixturevalue("spec_spark_session")
    monkeypatch.setattr(request.module, "tiny_admin",
                        functools.partial(testing.tiny_admin, engine=request.param))
    return request.param

"""One Spark session for every Spark test of a pytest process (tests using it are put in the
xdist group "spark", so only one worker ever starts a JVM)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    """The process's Spark session, local[2], no UI; stopped when the session ends."""
    pytest.importorskip("pyspark")
    from jdl.core.config import SparkSettings
    from jdl.engines.spark import spark_session, stop_spark

    session = spark_session(SparkSettings(master="local[2]", shuffle_partitions=4))
    yield session
    stop_spark()

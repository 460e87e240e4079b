"""One Spark session (one JVM) per pytest process, shared by its Spark tests. They are marked
with the xdist group "spark", which would keep them on one worker; with pytest 9.2 and xdist 3.8
the group has no effect (checked), so under `-n 2` each worker may start its own JVM."""

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

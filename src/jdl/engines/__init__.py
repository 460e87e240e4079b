"""The engine layer: the one place SQL built by the stages is executed.

DuckDB is the embedded default; Spark (:class:`SparkEngine`) runs the same SQL on a cluster or in
local mode. Stages build SQL with pure functions (DuckDB dialect) and hand it to an engine; they
never open connections of their own. pyspark loads only when a Spark engine is opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jdl.engines.duckdb import DuckDBEngine
from jdl.engines.spark import SparkEngine, stop_spark

if TYPE_CHECKING:
    from jdl.core.config import SparkSettings

Engine = DuckDBEngine | SparkEngine
EngineName = Literal["duckdb", "spark"]

__all__ = ["DuckDBEngine", "Engine", "EngineName", "SparkEngine", "open_admin", "stop_spark"]


def open_admin(
    data_dir: str | Path,
    *,
    engine: EngineName | None = None,
    read_only: bool = True,
    spark: SparkSettings | None = None,
    **kwargs: Any,
) -> Engine:
    """Open the national records of a data directory on ``engine``.

    ``engine``: ``"duckdb"`` (``DIR/admin.duckdb``) or ``"spark"`` (``DIR/parquet/<table>``);
    ``None`` takes ``Settings.data.engine`` (``JDL_DATA__ENGINE``). ``spark``: the Spark options
    (default ``Settings.spark``). ``kwargs`` are DuckDB options (threads, memory_limit), ignored
    by Spark.
    """
    from jdl.core.config import get_settings
    from jdl.core.errors import UsageError

    settings = get_settings()
    name = engine or settings.data.engine
    if name == "duckdb":
        from jdl.engines.duckdb import open_admin as open_duckdb

        return open_duckdb(data_dir, read_only=read_only, **kwargs)
    if name == "spark":
        from jdl.engines.spark import open_spark_admin

        return open_spark_admin(data_dir, settings=spark or settings.spark)
    raise UsageError(f"Unknown engine {name!r}.", hint="Use duckdb or spark.")

"""The engine layer: the one place SQL built by the stages is executed.

DuckDB is the embedded default; Spark (:class:`SparkEngine`) runs the same SQL on a cluster or in
local mode. Stages build SQL with pure functions (DuckDB dialect, dates through
:mod:`jdl.engines.dialect`) and hand it to an :class:`Engine`; they never open connections of
their own, never reach for an engine's driver and never ask which engine they have: whatever
differs between the two is a method here. pyspark loads only when a Spark engine is opened.

The layer knows no stage and no table of the lab's data: what it needs (the tables' column types,
the settings) comes in as arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from jdl.engines.duckdb import DuckDBEngine
from jdl.engines.spark import SparkEngine, stop_spark

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from jdl.core.config import DataSettings, SparkSettings

EngineName = Literal["duckdb", "spark"]
Params = list[Any] | dict[str, Any] | None
# Column types of tables: name -> ((column, SQL type), ...), e.g. the data contract's.
Schema = Mapping[str, Sequence[tuple[str, str]]]

__all__ = [
    "DuckDBEngine",
    "Engine",
    "EngineName",
    "Result",
    "Schema",
    "SparkEngine",
    "open_admin",
    "open_engine",
    "stop_spark",
]


class Result(Protocol):
    """A query's rows, fetched once."""

    def fetchall(self) -> list[tuple[Any, ...]]: ...

    def df(self) -> pd.DataFrame: ...

    def to_arrow_table(self) -> pa.Table: ...


@runtime_checkable
class Engine(Protocol):
    """What every engine offers the stages. SQL is DuckDB's dialect; an engine runs it as its
    own. Both :class:`DuckDBEngine` and :class:`SparkEngine` implement it
    (``tests/engines/test_interface.py``)."""

    name: str
    # True when the engine plans its own partitions (Spark); False when one process holds a
    # query's intermediates (DuckDB), so large derivations are better run in slices.
    partitions_itself: bool

    @property
    def data_dir(self) -> Path | None:
        """The data directory the engine reads (``None``: an empty or in-memory engine)."""
        ...

    def execute(self, sql: str, params: Params = None) -> Result:
        """Run one statement; a result to fetch from."""
        ...

    def df(self, sql: str, params: Params = None) -> pd.DataFrame:
        """A query's rows as pandas (dates as ``datetime64``, nullable integers as ``Int64``)."""
        ...

    def arrow(self, sql: str, params: Params = None) -> pa.Table:
        """A query's rows as an Arrow table."""
        ...

    def scalar(self, sql: str, params: Params = None) -> Any:
        """A query's one value (``None`` without rows)."""
        ...

    def register(self, name: str, data: Any) -> None:
        """Expose a pandas DataFrame or Arrow table to SQL as ``name``."""
        ...

    def unregister(self, name: str) -> None: ...

    def tables(self) -> set[str]:
        """Names of the tables and views queries can read."""
        ...

    def load_table(self, name: str, data: Any, columns: Sequence[tuple[str, str]]) -> None:
        """``data``'s rows as the table ``name`` with these (column, SQL type) pairs."""
        ...

    def create_view(self, name: str, sql: str | None = None, *,
                    parquet: str | Path | None = None, cache: bool = False) -> None:
        """Name a query or a Parquet file; ``cache`` keeps its rows once computed."""
        ...

    def append_rows(self, name: str, sql: str) -> None:
        """Add a query's rows to the scratch table ``name`` (made by the first call)."""
        ...

    def drop_table(self, name: str) -> None:
        """Drop a scratch table made by :meth:`append_rows` (if it exists)."""
        ...

    def copy_to_parquet(self, sql: str, out: str | Path, *, partition_by: tuple[str, ...] = (),
                        append_as: str | None = None) -> None:
        """Write a query's rows as Parquet under ``out`` (hive-partitioned by ``partition_by``).
        ``append_as``: add files named after it to what ``out`` holds instead of replacing it."""
        ...

    def splink_api(self) -> Any:
        """Splink's database API over this engine (``DuckDBAPI`` or ``SparkAPI``)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Engine: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


def open_engine(name: EngineName, *, spark: SparkSettings | None = None,
                threads: int | None = None, memory_limit: str | None = None) -> Engine:
    """An empty engine (in-memory DuckDB, or a Spark session of its own) for scratch work."""
    from jdl.core.errors import UsageError

    if name == "duckdb":
        return DuckDBEngine(threads=threads, memory_limit=memory_limit)
    if name == "spark":
        return SparkEngine(settings=spark)
    raise UsageError(f"Unknown engine {name!r}.", hint="Use duckdb or spark.")


def open_admin(
    data_dir: str | Path,
    data: DataSettings | None = None,
    *,
    engine: EngineName | None = None,
    schema: Schema | None = None,
    spark: SparkSettings | None = None,
    read_only: bool = True,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> Engine:
    """Open the national records of a data directory.

    ``data``: the data section of the settings (default: its defaults), which names the engine
    (``"duckdb"`` reads ``DIR/admin.duckdb``, ``"spark"`` ``DIR/parquet/<table>``) and DuckDB's
    threads and memory limit; ``engine``, ``threads`` and ``memory_limit`` override it.
    ``schema``: the tables' column types, which Spark casts the Parquet columns to (the data
    contract's: :func:`jdl.admin.records.open_records` passes them). ``spark``: the Spark
    section of the settings.
    """
    from jdl.core.config import DataSettings
    from jdl.core.errors import UsageError

    data = data or DataSettings()
    name = engine or data.engine
    if name == "duckdb":
        from jdl.engines.duckdb import open_admin as open_duckdb

        return open_duckdb(
            data_dir,
            read_only=read_only,
            threads=threads or data.duckdb_threads,
            memory_limit=memory_limit or data.duckdb_memory_limit,
        )
    if name == "spark":
        from jdl.engines.spark import open_spark_admin

        return open_spark_admin(data_dir, settings=spark, schema=schema)
    raise UsageError(f"Unknown engine {name!r}.", hint="Use duckdb or spark.")


if TYPE_CHECKING:  # both engines implement the protocol (checked by mypy, strict here)
    _duckdb: type[Engine] = DuckDBEngine
    _spark: type[Engine] = SparkEngine

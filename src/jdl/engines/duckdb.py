"""DuckDB engine: connection settings, query execution with readable errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pandas as pd

from jdl.core.config import DataSettings
from jdl.core.errors import EngineError, UsageError

ADMIN_DATABASE = "admin.duckdb"


def _quote_path(path: str | Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class DuckDBEngine:
    """A DuckDB connection with the lab's settings; errors carry the failing SQL.
    Implements :class:`jdl.engines.Engine`."""

    name = "duckdb"
    partitions_itself = False  # one process holds a query's intermediates

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        read_only: bool = False,
        threads: int | None = None,
        memory_limit: str | None = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        database = ":memory:" if self.path is None else str(self.path)
        config: dict[str, Any] = {}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        try:
            self.con = duckdb.connect(database, read_only=read_only, config=config)
        except duckdb.Error as exc:
            raise EngineError(f"Could not open the DuckDB database {database}: {exc}") from exc
        self.con.execute("SET enable_progress_bar = false")  # keep batch output clean

    def execute(self, sql: str, params: list[Any] | dict[str, Any] | None = None
                ) -> duckdb.DuckDBPyConnection:
        """Run one statement; return the DuckDB result (fetch with .fetchall(), .df(), .arrow())."""
        try:
            return self.con.execute(sql, params) if params is not None else self.con.execute(sql)
        except duckdb.Error as exc:
            raise EngineError(f"Query failed: {exc}", sql=sql) from exc

    def df(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a query and return a pandas DataFrame."""
        return self.execute(sql, params).df()

    def arrow(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
        """Run a query and return an Arrow table (a relation's: no copy of the rows)."""
        try:
            return self.con.sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise EngineError(f"Query failed: {exc}", sql=sql) from exc

    def scalar(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
        """Run a query returning one value."""
        rows = self.execute(sql, params).fetchall()  # fetch all: leaves no result open
        return rows[0][0] if rows else None

    def register(self, name: str, data: Any) -> None:
        """Expose a DataFrame / Arrow table to SQL under ``name`` (no copy)."""
        self.con.register(name, data)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)

    def load_table(self, name: str, data: Any, columns: Sequence[tuple[str, str]]) -> None:
        """``data``'s rows (a DataFrame or Arrow table holding ``columns``) as the table
        ``name``, each column cast to its SQL type."""
        self.execute(f"CREATE OR REPLACE TABLE {name} "
                     f"({', '.join(f'{c} {t}' for c, t in columns)})").fetchall()
        if len(data) == 0:
            return
        source = f"_jdl_load_{name}"
        self.register(source, data)
        try:
            casts = ", ".join(f"CAST({c} AS {t})" for c, t in columns)
            self.execute(f"INSERT INTO {name} SELECT {casts} FROM {source}").fetchall()
        finally:
            self.unregister(source)

    def create_view(self, name: str, sql: str | None = None, *,
                    parquet: str | Path | None = None, cache: bool = False) -> None:
        """Name a query or a Parquet file; ``cache`` stores its rows as a temporary table."""
        if parquet is not None:
            sql = f"SELECT * FROM read_parquet({_quote_path(parquet)})"
        elif sql is None:
            raise ValueError("create_view needs sql or parquet")
        kind = "TEMP TABLE" if cache else "TEMP VIEW"
        self.execute(f"CREATE OR REPLACE {kind} {name} AS {sql}").fetchall()

    def append_rows(self, name: str, sql: str) -> None:
        """Add a query's rows to the temporary table ``name`` (created by the first call)."""
        if name in self.tables():
            self.execute(f"INSERT INTO {name} {sql}").fetchall()
        else:
            self.execute(f"CREATE TEMP TABLE {name} AS {sql}").fetchall()

    def drop_table(self, name: str) -> None:
        self.execute(f"DROP TABLE IF EXISTS {name}").fetchall()

    def tables(self) -> set[str]:
        """Names of the tables and views in the main schema."""
        rows = self.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
        return {r[0] for r in rows}

    @property
    def data_dir(self) -> Path | None:
        """The data directory holding this database (``None`` in memory)."""
        return None if self.path is None else self.path.parent

    def copy_to_parquet(self, sql: str, out: str | Path, *, partition_by: tuple[str, ...] = (),
                        append_as: str | None = None) -> None:
        """Write a query's rows as Parquet under ``out`` (hive-partitioned by ``partition_by``);
        ``append_as``: add files ``<append_as>_<uuid>.parquet`` to those already there."""
        options = "FORMAT parquet"
        if partition_by:
            options += f", PARTITION_BY ({', '.join(partition_by)})"
            if append_as is None:
                options += ", OVERWRITE_OR_IGNORE"
        if append_as is not None:
            options += f", FILENAME_PATTERN '{append_as}_{{uuid}}', APPEND"
        self.execute(f"COPY ({sql}) TO {_quote_path(out)} ({options})").fetchall()

    def splink_api(self) -> Any:
        """Splink's DuckDB API on this connection (its tables visible to Splink)."""
        from splink import DuckDBAPI

        return DuckDBAPI(connection=self.con)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_admin(data_dir: str | Path, *, read_only: bool = True, **kwargs: Any) -> DuckDBEngine:
    """Open the national records (``DIR/admin.duckdb``) of a data directory, with the default
    ``DataSettings.duckdb_memory_limit`` unless ``memory_limit`` is given."""
    if kwargs.get("memory_limit") is None:
        kwargs["memory_limit"] = DataSettings().duckdb_memory_limit
    path = Path(data_dir) / ADMIN_DATABASE
    if not path.exists():
        raise UsageError(
            f"No national records found at {path}.",
            hint="Generate synthetic records with `jdl synth --out DIR`, or load extracts with "
            "`jdl load EXTRACTS --out DIR` (see docs/data-contract.md).",
        )
    return DuckDBEngine(path, read_only=read_only, **kwargs)

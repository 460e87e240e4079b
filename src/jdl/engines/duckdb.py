"""DuckDB engine: connection settings, query execution with readable errors."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pandas as pd

from jdl.core.errors import EngineError, UsageError

ADMIN_DATABASE = "admin.duckdb"


class DuckDBEngine:
    """A DuckDB connection with the lab's settings; errors carry the failing SQL."""

    name = "duckdb"

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

    def execute(self, sql: str, params: list[Any] | dict[str, Any] | None = None):
        """Run one statement; return the DuckDB result (fetch with .fetchall(), .df(), .arrow())."""
        try:
            return self.con.execute(sql, params) if params is not None else self.con.execute(sql)
        except duckdb.Error as exc:
            raise EngineError(f"Query failed: {exc}", sql=sql) from exc

    def df(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a query and return a pandas DataFrame."""
        return self.execute(sql, params).df()

    def scalar(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
        """Run a query returning one value."""
        rows = self.execute(sql, params).fetchall()  # fetch all: leaves no result open
        return rows[0][0] if rows else None

    def register(self, name: str, data: Any) -> None:
        """Expose a DataFrame / Arrow table to SQL under ``name`` (no copy)."""
        self.con.register(name, data)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)

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

    def copy_to_parquet(self, sql: str, out: str | Path, *, partition_by: tuple[str, ...] = ()
                        ) -> None:
        """Write a query's rows as Parquet under ``out`` (hive-partitioned by ``partition_by``)."""
        target = "'" + str(out).replace("'", "''") + "'"
        options = "FORMAT parquet"
        if partition_by:
            options += f", PARTITION_BY ({', '.join(partition_by)}), OVERWRITE_OR_IGNORE"
        self.execute(f"COPY ({sql}) TO {target} ({options})").fetchall()

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
    """Open the national records (``DIR/admin.duckdb``) of a data directory, with
    ``Settings.data``'s memory limit unless ``memory_limit`` is given."""
    if kwargs.get("memory_limit") is None:
        from jdl.core.config import get_settings

        kwargs["memory_limit"] = get_settings().data.duckdb_memory_limit
    path = Path(data_dir) / ADMIN_DATABASE
    if not path.exists():
        raise UsageError(
            f"No national records found at {path}.",
            hint="Generate synthetic records with `jdl synth --out DIR`, or load extracts with "
            "`jdl load EXTRACTS --out DIR` (see docs/data-contract.md).",
        )
    return DuckDBEngine(path, read_only=read_only, **kwargs)

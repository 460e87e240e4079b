"""The linkage workspace: one in-memory DuckDB holding the register's feature records.

The national records are attached read-only; the register's records (people plus aliases) are
turned into feature columns once per workspace and handed to Splink by table name, so Splink
never copies them through pandas.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from jdl.engines.duckdb import ADMIN_DATABASE, DuckDBEngine, open_admin
from jdl.linkage._features import (
    placeholder_share_sql,
    register_features_sql,
    term_frequency_sql,
)
from jdl.linkage._names import nickname_groups

REGISTER_TABLE = "register_features"
TF_COLUMNS = ("forename", "surname")


class Workspace:
    """An in-memory DuckDB with the register attached as ``adm`` and its feature table built."""

    def __init__(self, engine: DuckDBEngine) -> None:
        self.engine = engine
        self.register_file: Path | None = None  # the Parquet the register view reads, if any
        self._scratch: Path | None = None
        self._placeholder_share: float | None = None  # of the register's dates; per build
        self.engine.register("nickname_groups_df", nickname_groups())
        self.run("CREATE TABLE nickname_groups AS SELECT * FROM nickname_groups_df")
        self.engine.unregister("nickname_groups_df")

    @classmethod
    def open(cls, data_dir: str | Path, *, threads: int | None = None,
             memory_limit: str | None = None, cache: Path | None = None) -> Workspace:
        """Attach ``DIR/admin.duckdb`` (read-only) and build the register's feature records.

        ``cache``: a Parquet file of the feature records written by :meth:`save_register`
        for this data version; loading it is several times faster than rebuilding (10M people).
        """
        open_admin(data_dir).close()  # friendly error when the records are missing
        engine = DuckDBEngine(threads=threads, memory_limit=memory_limit)
        path = Path(data_dir) / ADMIN_DATABASE
        engine.execute(f"ATTACH '{path}' AS adm (READ_ONLY)").fetchall()
        workspace = cls(engine)
        workspace.build_register(cache if cache is not None and cache.exists() else None)
        return workspace

    @classmethod
    def from_frames(cls, people: pd.DataFrame, aliases: pd.DataFrame) -> Workspace:
        """A workspace over in-memory tables (tests, small examples)."""
        engine = DuckDBEngine()
        engine.execute("CREATE SCHEMA adm").fetchall()
        for name, frame in (("people", people), ("aliases", aliases)):
            engine.register(f"{name}_df", frame)
            engine.execute(f"CREATE TABLE adm.{name} AS SELECT * FROM {name}_df").fetchall()
            engine.unregister(f"{name}_df")
        workspace = cls(engine)
        workspace.build_register()
        return workspace

    def build_register(self, cache: Path | None = None) -> None:
        """Build the feature records, or read them from the cache as a view: each blocking
        join then reads only the columns it needs from Parquet, which measured faster than
        loading 12M records into memory first (and saves the load)."""
        self._placeholder_share = None
        if cache is not None:
            self.run(f"CREATE OR REPLACE VIEW {REGISTER_TABLE} AS "
                     f"SELECT * FROM read_parquet('{cache}')")
            self.register_file = cache
        else:
            self.run(f"CREATE OR REPLACE TABLE {REGISTER_TABLE} AS "
                     f"{register_features_sql('adm', middle_names=self._has_middle_names())}")
        for column in TF_COLUMNS:
            self.run(
                f"CREATE OR REPLACE TABLE tf_{column} AS "
                f"{term_frequency_sql(column, REGISTER_TABLE)}"
            )

    def save_register(self, path: Path) -> Path:
        """Write the register's feature records to Parquet (the cache :meth:`open` reads)."""
        self.engine.copy_to_parquet(f"SELECT * FROM {REGISTER_TABLE}", path)
        return path

    def register_parquet(self) -> Path:
        """The register's feature records as a Parquet file, for another engine (Spark) to read:
        the cache when the workspace was opened from it, else written once to a scratch folder."""
        if self.register_file is None:
            import tempfile

            self._scratch = Path(tempfile.mkdtemp(prefix="jdl-register-"))
            self.register_file = self.save_register(self._scratch / "register.parquet")
        return self.register_file

    def run(self, sql: str) -> None:
        """Run a statement to completion (DuckDB 2 refuses new work while a result is open)."""
        self.engine.execute(sql).fetchall()

    def scalar(self, sql: str) -> Any:
        """One value, fetched to completion (``DuckDBEngine.scalar`` leaves the result open)."""
        rows = self.engine.execute(sql).fetchall()
        return rows[0][0] if rows else None

    def _has_middle_names(self) -> bool:
        """Whether ``adm.people`` has ``middle_names`` (contract 1.2; a data directory loaded
        under 1.1, or a hand-made test register, has not: its people then have none)."""
        columns = self.engine.execute("DESCRIBE adm.people").fetchall()
        return any(row[0] == "middle_names" for row in columns)

    def register_placeholder_share(self) -> float:
        """The share of the register's dates of birth that are 1 January, read once per
        register build (a scan of every feature record; each upload's linking needs it)."""
        if self._placeholder_share is None:
            self._placeholder_share = float(self.scalar(placeholder_share_sql(REGISTER_TABLE)))
        return self._placeholder_share

    def count_people(self) -> int:
        return int(self.scalar("SELECT count(*) FROM adm.people"))

    def close(self) -> None:
        self.engine.close()
        if self._scratch is not None:
            import shutil

            shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

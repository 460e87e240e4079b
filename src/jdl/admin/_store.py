"""Where a data directory's tables live: Parquet files, ``admin.duckdb`` and ``manifest.json``."""

from __future__ import annotations

import json
from pathlib import Path

from jdl.admin.contract import TABLES
from jdl.engines.duckdb import ADMIN_DATABASE, DuckDBEngine

MANIFEST = "manifest.json"


def build_database(data_dir: Path, parquet_dir: Path) -> dict[str, int]:
    """(Re)create ``admin.duckdb`` with one table per contract table found under
    ``parquet_dir/<table>/*.parquet``; return row counts. Tables are written in the contract's
    column order and types, so downstream SQL can rely on them."""
    db = data_dir / ADMIN_DATABASE
    for stale in (db, db.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    with DuckDBEngine(db) as engine:
        for table in TABLES:
            files = parquet_dir / table.name
            if not files.exists():
                continue
            select = ", ".join(f"CAST({c.name} AS {c.type}) AS {c.name}" for c in table.columns)
            source = (files / "*.parquet").as_posix().replace("'", "''")
            engine.execute(
                f"CREATE TABLE {table.name} AS SELECT {select} FROM read_parquet('{source}')"
            )
            counts[table.name] = int(engine.scalar(f"SELECT count(*) FROM {table.name}"))
    return counts


def write_manifest(data_dir: Path, manifest: dict) -> None:
    (data_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))


def records_fingerprint(data_dir: str | Path) -> bytes:
    """What identifies one release of the national records in ``data_dir``: its manifest (the
    data version, cut-off and row counts), or the database file's size and modification time
    when there is no manifest. Anything derived from the records and saved beside them (the
    linkage model, the prepared comparison pool) is keyed by it, so a new release is never read
    through an old derivation."""
    data_dir = Path(data_dir)
    manifest = data_dir / MANIFEST
    if manifest.exists():
        return manifest.read_bytes()
    stat = (data_dir / ADMIN_DATABASE).stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}".encode()


def read_manifest(data_dir: str | Path) -> dict:
    """The data directory's manifest (data version, cut-off, row counts), or {} if absent."""
    path = Path(data_dir) / MANIFEST
    return json.loads(path.read_text()) if path.exists() else {}

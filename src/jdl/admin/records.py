"""The national records on an engine, with the data contract's column types."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdl.admin.contract import TABLES
from jdl.engines import Engine, Schema, open_admin

if TYPE_CHECKING:
    from jdl.core.config import DataSettings, SparkSettings


def contract_schema() -> Schema:
    """Every contract table's (column, SQL type) pairs: what an engine casts the records to."""
    return {t.name: tuple((c.name, c.type) for c in t.columns) for t in TABLES}


def open_records(data_dir: str | Path, data: DataSettings | None = None, *,
                 spark: SparkSettings | None = None, **kwargs: Any) -> Engine:
    """:func:`jdl.engines.open_admin` with the contract's column types: the way the stages and
    commands open a data directory. ``data``: the data section of the settings (engine, DuckDB
    threads and memory); ``spark``: the Spark section; ``kwargs`` override ``data``."""
    return open_admin(data_dir, data, schema=contract_schema(), spark=spark, **kwargs)

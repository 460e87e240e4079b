"""Tiny hand-built national records for spec tests: ``tiny_admin({"people": [...], ...})``.

Every contract table is created with its contract types (empty unless rows are given), so a
test states only the rows and columns that matter; other columns take :data:`DEFAULTS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pandas as pd

from jdl.admin.contract import TABLES
from jdl.engines.duckdb import DuckDBEngine

DEFAULTS: dict[str, dict[str, Any]] = {
    "people": {
        "forename": "A",
        "surname": "B",
        "date_of_birth": date(1980, 1, 1),
        "sex": "M",
        "ethnicity": "White",
        "nationality": "British",
        "region": "London",
    },
    "offences": {
        "offence_code": "X",
        "offence_group": "theft",
        "severity": 3,
        "disposal": "fine",
        "dv_flag": False,
        "terrorism_flag": False,
    },
    "index_events": {"offence_group": "theft", "disposal": "community", "sentence_days": 365},
}


def tiny_admin(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> DuckDBEngine:
    """An in-memory engine holding the contract tables with the given rows."""
    engine = DuckDBEngine()
    for table in TABLES:
        columns = ", ".join(f"{c.name} {c.type}" for c in table.columns)
        engine.execute(f"CREATE TABLE {table.name} ({columns})")
        rows = tables.get(table.name, ())
        if not rows:
            continue
        defaults = DEFAULTS.get(table.name, {})
        frame = pd.DataFrame([{**defaults, **row} for row in rows])
        for c in table.column_names:
            if c not in frame.columns:
                frame[c] = None
        engine.register("_tiny_rows", frame[list(table.column_names)])
        casts = ", ".join(f"CAST({c.name} AS {c.type})" for c in table.columns)
        engine.execute(f"INSERT INTO {table.name} SELECT {casts} FROM _tiny_rows")
        engine.unregister("_tiny_rows")
    return engine

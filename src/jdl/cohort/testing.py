"""Tiny hand-built national records for spec tests: ``tiny_admin({"people": [...], ...})``.

Every contract table is created with its contract types (empty unless rows are given), so a
test states only the rows and columns that matter; other columns take :data:`DEFAULTS`. The
same records load on either engine (``engine="spark"``), so a spec test states its rule once and
runs on both, as OpenSAFELY ehrQL's spec tests do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pandas as pd

from jdl.admin.contract import TABLES
from jdl.engines import Engine, EngineName, open_engine

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


def tiny_admin(tables: Mapping[str, Sequence[Mapping[str, Any]]],
               engine: EngineName = "duckdb") -> Engine:
    """An empty ``engine`` (in-memory DuckDB, or a Spark session) holding the contract tables
    with the given rows."""
    admin = open_engine(engine)
    for table in TABLES:
        defaults = DEFAULTS.get(table.name, {})
        frame = pd.DataFrame([{**defaults, **row} for row in tables.get(table.name, ())])
        for column in table.column_names:
            if column not in frame.columns:
                frame[column] = None
        admin.load_table(table.name, frame[list(table.column_names)],
                         [(c.name, c.type) for c in table.columns])
    return admin

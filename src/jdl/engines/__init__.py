"""The engine layer: the one place SQL built by the stages is executed.

DuckDB is the embedded default. Stages build SQL with pure functions and hand it to an engine;
they never open connections of their own.
"""

from jdl.engines.duckdb import DuckDBEngine, open_admin

__all__ = ["DuckDBEngine", "open_admin"]

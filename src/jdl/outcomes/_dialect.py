"""The one place that knows SQL dialects: date arithmetic helpers and transpilation.

Every query in the cohort and outcome stages is written in DuckDB's dialect using only the
helpers below for dates, so that :func:`to_dialect` (sqlglot) can turn it into Spark SQL.
"""

from __future__ import annotations

from datetime import date

import sqlglot

SOURCE_DIALECT = "duckdb"


def days_between(start: str, end: str) -> str:
    """Whole days from ``start`` to ``end`` (positive when ``end`` is later)."""
    return f"DATE_DIFF('day', {start}, {end})"


def add_days(column: str, days: int) -> str:
    """``column`` shifted by ``days`` (negative: earlier)."""
    sign = "+" if days >= 0 else "-"
    return f"({column} {sign} INTERVAL {abs(int(days))} DAY)"


def date_literal(value: date) -> str:
    """A SQL DATE literal (the value is a ``date``, never user text)."""
    return f"DATE '{value.isoformat()}'"


def age_at(date_of_birth: str, at: str) -> str:
    """Completed years of age on ``at`` (a 29 February birthday falls on 1 March)."""
    return (
        f"(EXTRACT(YEAR FROM {at}) - EXTRACT(YEAR FROM {date_of_birth}) - CASE WHEN "
        f"EXTRACT(MONTH FROM {at}) * 100 + EXTRACT(DAY FROM {at}) < "
        f"EXTRACT(MONTH FROM {date_of_birth}) * 100 + EXTRACT(DAY FROM {date_of_birth}) "
        f"THEN 1 ELSE 0 END)"
    )


def overlap_days(start_col: str, end_col: str, first_day: int, last_day: int) -> str:
    """Days of the spell ``[start_col, end_col]`` (both inclusive, as day offsets) that fall in
    ``[first_day, last_day]``; 0 when disjoint or when the spell is missing."""
    # LEAST/GREATEST skip NULLs in DuckDB and Spark, so a missing spell must be caught first.
    return (
        f"CASE WHEN {start_col} IS NULL OR {end_col} IS NULL THEN 0 ELSE GREATEST(0, "
        f"LEAST({end_col}, {last_day}) - GREATEST({start_col}, {first_day}) + 1) END"
    )


def quote_string(value: str) -> str:
    """A SQL string literal for a value from configuration or the data contract."""
    return "'" + value.replace("'", "''") + "'"


def to_dialect(sql: str, dialect: str) -> str:
    """The same query in another engine's dialect (e.g. ``"spark"``)."""
    if dialect == SOURCE_DIALECT:
        return sql
    return ";\n".join(sqlglot.transpile(sql, read=SOURCE_DIALECT, write=dialect))

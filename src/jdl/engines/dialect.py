"""The one place that knows SQL dialects: date arithmetic helpers and the Spark translation.

The stages write every query in DuckDB's dialect (the source dialect) using only the helpers
below for dates, so that :func:`to_spark_sql` can turn it into Spark SQL; the Spark engine runs
exactly what :func:`spark_statement` makes. Nothing here knows a table of the lab's data.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from jdl.core.errors import EngineError

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


def to_spark_sql(sql: str) -> str:
    """DuckDB SQL as Spark SQL with DuckDB's semantics where the two differ on the same text.

    sqlglot translates functions and syntax; two typing rules it leaves alone are fixed here,
    found by the parity tests:

    * a literal such as ``365.25`` is a DECIMAL in Spark, and integer / DECIMAL rounds to six
      decimal places (``copas_rate`` differed by 2e-5 relative); DuckDB divides in DOUBLE, so
      fractional literals become DOUBLE;
    * ``EXTRACT`` returns BIGINT in DuckDB and INT in Spark, so it is cast to BIGINT.
    """
    spark: str = spark_statement(sql).sql(dialect="spark")
    return spark


def spark_statement(sql: str) -> Any:
    """One DuckDB statement as a sqlglot tree with :func:`to_spark_sql`'s typing fixes, ready
    to render as Spark SQL (what :meth:`SparkEngine.execute` rewrites further)."""
    import sqlglot

    statements = [s for s in sqlglot.parse(sql, read=SOURCE_DIALECT) if s is not None]
    if len(statements) != 1:
        raise EngineError("Spark runs exactly one statement per query.", sql=sql)
    return statements[0].transform(_fix_types)


def _fix_types(node: Any) -> Any:
    from sqlglot import exp

    if isinstance(node, exp.Literal) and node.is_number and any(c in node.this for c in ".eE"):
        return exp.cast(node.copy(), "DOUBLE")
    if isinstance(node, exp.Extract) and not isinstance(node.parent, exp.Cast):
        return exp.cast(node.copy(), "BIGINT")
    return node

"""Load a deployment's own extracts (Parquet or CSV) into a data directory, checking every
table against the data contract first and reporting *all* problems at once.

Layout expected in the extracts folder, per contract table: ``<table>.parquet``,
``<table>.csv``, or a folder ``<table>/`` of Parquet files.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path

from jdl import __version__
from jdl.admin._store import build_database, write_manifest
from jdl.admin.contract import CONTRACT_VERSION, TABLES, Column, Table
from jdl.core.errors import ContractError, UsageError
from jdl.engines.duckdb import DuckDBEngine

_EXAMPLES = 3


def _source(extracts: Path, table: Table) -> tuple[str, list[Path]] | None:
    """SQL reading the table's extract, and the files it reads; None if absent."""
    folder = extracts / table.name
    parquet = extracts / f"{table.name}.parquet"
    csv = extracts / f"{table.name}.csv"
    if folder.is_dir() and list(folder.glob("*.parquet")):
        files = sorted(folder.glob("*.parquet"))
        return f"read_parquet('{_quote(folder / '*.parquet')}')", files
    if parquet.exists():
        return f"read_parquet('{_quote(parquet)}')", [parquet]
    if csv.exists():
        return f"read_csv('{_quote(csv)}', header=true, all_varchar=true)", [csv]
    return None


def _quote(path: Path) -> str:
    return path.as_posix().replace("'", "''")


def _column_problems(engine: DuckDBEngine, view: str, table: Table, col: Column) -> list[str]:
    problems: list[str] = []
    where = f"{table.name}.{col.name}"
    bad_type = engine.df(
        f"SELECT {col.name}::VARCHAR AS v FROM {view} WHERE {col.name} IS NOT NULL "
        f"AND TRY_CAST({col.name} AS {col.type}) IS NULL LIMIT {_EXAMPLES}"
    )
    if len(bad_type):
        n = engine.scalar(
            f"SELECT count(*) FROM {view} WHERE {col.name} IS NOT NULL "
            f"AND TRY_CAST({col.name} AS {col.type}) IS NULL"
        )
        problems.append(
            f"{where}: {n} value(s) are not {col.type}, e.g. "
            + ", ".join(repr(v) for v in bad_type["v"])
        )
        return problems
    typed = f"TRY_CAST({col.name} AS {col.type})"
    if not col.nullable:
        n = engine.scalar(f"SELECT count(*) FROM {view} WHERE {col.name} IS NULL")
        if n:
            problems.append(f"{where}: {n} row(s) are empty, but a value is required")
    if col.allowed is not None:
        allowed = ", ".join(f"'{v}'" if isinstance(v, str) else str(v) for v in col.allowed)
        bad = engine.df(
            f"SELECT DISTINCT {typed}::VARCHAR AS v FROM {view} WHERE {col.name} IS NOT NULL "
            f"AND {typed} NOT IN ({allowed}) LIMIT {_EXAMPLES}"
        )
        if len(bad):
            problems.append(
                f"{where}: values outside the allowed set ({', '.join(map(str, col.allowed))}),"
                f" e.g. " + ", ".join(repr(v) for v in bad["v"])
            )
    for bound, op in ((col.minimum, "<"), (col.maximum, ">")):
        if bound is not None:
            n = engine.scalar(f"SELECT count(*) FROM {view} WHERE {typed} {op} {bound}")
            if n:
                problems.append(f"{where}: {n} value(s) {op} {bound}")
    return problems


def check_table(engine: DuckDBEngine, view: str, table: Table) -> list[str]:
    """Every way the extract in ``view`` breaks the contract for ``table``."""
    present = _present(engine, view)
    missing = [c.name for c in table.columns if c.name not in present and not c.may_be_absent]
    if missing:
        return [
            f"{table.name}: missing column(s) {', '.join(missing)} "
            f"(found: {', '.join(sorted(present))})"
        ]
    problems: list[str] = []
    for col in table.columns:
        if col.name in present:
            problems += _column_problems(engine, view, table, col)
    if problems:
        return problems
    if table.unique:
        key = ", ".join(table.unique)
        n = engine.scalar(
            f"SELECT count(*) FROM (SELECT {key} FROM {view} GROUP BY {key} HAVING count(*) > 1)"
        )
        if n:
            problems.append(
                f"{table.name}: {n} duplicated value(s) of ({key}), which must be unique"
            )
    for earlier, later in table.date_order:
        n = engine.scalar(
            f"SELECT count(*) FROM {view} WHERE TRY_CAST({later} AS DATE) < "
            f"TRY_CAST({earlier} AS DATE)"
        )
        if n:
            problems.append(f"{table.name}: {n} row(s) have {later} before {earlier}")
    return problems


def _present(engine: DuckDBEngine, view: str) -> set[str]:
    return {r[0] for r in engine.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()}


def _absent_optional(engine: DuckDBEngine, view: str, table: Table) -> list[Column]:
    """The columns the extract may leave out (:attr:`Column.may_be_absent`) and does."""
    present = _present(engine, view)
    return [c for c in table.columns if c.may_be_absent and c.name not in present]


def load_extracts(extracts: str | Path, out: str | Path, *, cutoff: str | None = None) -> dict:
    """Validate the extracts against the contract and build ``out/admin.duckdb``.

    ``cutoff`` is the date the extract was taken (ISO); by default the latest outcome date.

    Raises :class:`ContractError` listing every problem found; nothing is written then.
    """
    extracts, out = Path(extracts), Path(out)
    if not extracts.is_dir():
        raise UsageError(f"{extracts} is not a folder of extracts.")
    problems: list[str] = []
    files: dict[str, list[Path]] = {}
    absent: dict[str, list[Column]] = {}
    with DuckDBEngine() as engine:
        for table in TABLES:
            found = _source(extracts, table)
            if found is None:
                if table.required:
                    problems.append(
                        f"{table.name}: no extract found (expected {table.name}.parquet, "
                        f"{table.name}.csv or a folder {table.name}/ of Parquet files)"
                    )
                continue
            sql, files[table.name] = found
            view = f"src_{table.name}"
            engine.execute(f"CREATE VIEW {view} AS SELECT * FROM {sql}")
            problems += check_table(engine, view, table)
            absent[table.name] = _absent_optional(engine, view, table)
        if not problems:
            problems += _orphans(engine, files)
    if problems:
        raise ContractError(
            f"The extracts in {extracts} do not follow the data contract "
            f"({len(problems)} problem(s)):",
            problems=problems,
            hint="See docs/data-contract.md for each table's columns, types and allowed values.",
        )
    return _install(extracts, out, files, cutoff, absent)


def _orphans(engine: DuckDBEngine, files: dict[str, list[Path]]) -> list[str]:
    problems = []
    for table in TABLES:
        if table.name in files and table.references_people:
            n = engine.scalar(
                f"SELECT count(*) FROM src_{table.name} t ANTI JOIN src_people p "
                f"ON TRY_CAST(t.person_id AS BIGINT) = TRY_CAST(p.person_id AS BIGINT)"
            )
            if n:
                problems.append(f"{table.name}: {n} row(s) refer to a person_id not in people")
    return problems


def _install(extracts: Path, out: Path, files: dict[str, list[Path]], cutoff: str | None,
             absent: dict[str, list[Column]]) -> dict:
    """Copy the extracts into ``out/parquet`` (CSV converted) and build the database. A column
    the extract may leave out and did (``absent``) is added empty, so the data directory always
    holds every contract column (``middle_names`` in an extract made for contract 1.1)."""
    parquet_dir = out / "parquet"
    if parquet_dir.exists():
        shutil.rmtree(parquet_dir)
    digest = hashlib.sha256()
    with DuckDBEngine() as engine:
        for name, paths in files.items():
            target = parquet_dir / name
            target.mkdir(parents=True, exist_ok=True)
            added = "".join(f", CAST(NULL AS {c.type}) AS {c.name}"
                            for c in absent.get(name, []))
            for i, path in enumerate(paths):
                digest.update(path.read_bytes())
                reader = (
                    f"read_csv('{_quote(path)}', header=true)"
                    if path.suffix == ".csv"
                    else f"read_parquet('{_quote(path)}')"
                )
                engine.execute(
                    f"COPY (SELECT *{added} FROM {reader}) TO "
                    f"'{_quote(target / f'part-{i:05d}.parquet')}' (FORMAT parquet)"
                )
    counts = build_database(out, parquet_dir)
    if cutoff is None:
        with DuckDBEngine(out / "admin.duckdb", read_only=True) as engine:
            cutoff = str(engine.scalar("SELECT max(outcome_date) FROM offences"))
    manifest = {
        "source": "extract",
        "extracts": str(extracts.resolve()),
        "data_version": "extract-" + digest.hexdigest()[:12],
        "contract_version": CONTRACT_VERSION,
        "software_version": __version__,
        "data_cutoff": str(cutoff),
        "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "row_counts": counts,
    }
    write_manifest(out, manifest)
    return manifest

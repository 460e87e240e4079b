"""Loading real extracts: a good extract loads; each kind of breakage is named clearly."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from jdl.admin.contract import TABLES
from jdl.admin.loader import load_extracts
from jdl.core.errors import ContractError
from jdl.engines import open_admin


@pytest.fixture()
def extracts(tmp_path, synthetic_data_dir):
    """A small extract in the contract's layout: one Parquet file per table (people as CSV)."""
    src = tmp_path / "extracts"
    src.mkdir()
    con = duckdb.connect(str(synthetic_data_dir / "admin.duckdb"), read_only=True)
    con.execute(
        "CREATE TEMP TABLE keep AS SELECT person_id FROM people ORDER BY person_id LIMIT 500"
    )
    for table in TABLES:
        target = src / (f"{table.name}.csv" if table.name == "people" else f"{table.name}.parquet")
        fmt = "csv, header true" if table.name == "people" else "parquet"
        con.execute(
            f"COPY (SELECT * FROM {table.name} SEMI JOIN keep USING (person_id)) "
            f"TO '{target.as_posix()}' (FORMAT {fmt})"
        )
    con.close()
    return src


def _rewrite(path, sql):
    con = duckdb.connect()
    tmp = path.with_suffix(".tmp" + path.suffix)
    reader = "read_csv" if path.suffix == ".csv" else "read_parquet"
    fmt = "csv, header true" if path.suffix == ".csv" else "parquet"
    con.execute(
        f"COPY ({sql.format(src=f'{reader}(' + repr(path.as_posix()) + ')')}) "
        f"TO '{tmp.as_posix()}' (FORMAT {fmt})"
    )
    shutil.move(tmp, path)


def test_good_extract_loads(extracts, tmp_path):
    manifest = load_extracts(extracts, tmp_path / "lab", cutoff="2024-12-31")
    assert manifest["row_counts"]["people"] == 500
    assert manifest["data_cutoff"] == "2024-12-31"
    with open_admin(tmp_path / "lab") as e:
        assert e.scalar("SELECT typeof(date_of_birth) FROM people LIMIT 1") == "DATE"
        assert e.scalar("SELECT count(*) FROM offences") > 500


@pytest.mark.parametrize(
    ("table", "sql", "message"),
    [
        ("people", "SELECT * EXCLUDE (sex) FROM {src}", "people: missing column(s) sex"),
        ("people", "SELECT * REPLACE ('X' AS sex) FROM {src}", "people.sex: values outside"),
        (
            "people",
            "SELECT * REPLACE ('31/02/1990' AS date_of_birth) FROM {src}",
            "people.date_of_birth: 500 value(s) are not DATE",
        ),
        (
            "people",
            "SELECT * FROM {src} UNION ALL (SELECT * FROM {src} LIMIT 1)",
            "people: 1 duplicated value(s) of (person_id)",
        ),
        (
            "offences",
            "SELECT * REPLACE (person_id + 10000000 AS person_id) FROM {src}",
            "offences: ",
        ),
        (
            "offences",
            "SELECT * REPLACE (offence_date + 9999 AS offence_date) FROM {src}",
            "have outcome_date before offence_date",
        ),
        (
            "offences",
            "SELECT * REPLACE (NULL::VARCHAR AS disposal) FROM {src}",
            "offences.disposal: ",
        ),
        (
            "assessments",
            "SELECT * REPLACE (risk_score * 10 AS risk_score) FROM {src}",
            "assessments.risk_score: ",
        ),
    ],
)
def test_broken_extracts_are_named(extracts, tmp_path, table, sql, message):
    path = next(extracts.glob(f"{table}.*"))
    _rewrite(path, sql)
    with pytest.raises(ContractError) as info:
        load_extracts(extracts, tmp_path / "lab")
    assert any(message in p for p in info.value.problems), info.value.problems
    assert not (tmp_path / "lab" / "admin.duckdb").exists()


def test_missing_required_table(extracts, tmp_path):
    (extracts / "offences.parquet").unlink()
    (extracts / "flags.parquet").unlink()  # optional: not reported
    with pytest.raises(ContractError) as info:
        load_extracts(extracts, tmp_path / "lab")
    assert [p for p in info.value.problems if p.startswith("offences: no extract")]
    assert not [p for p in info.value.problems if p.startswith("flags")]

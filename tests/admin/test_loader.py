"""Loading real extracts: a good extract loads; each kind of breakage is named clearly."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from jdl.admin.contract import CONTRACT_VERSION, TABLES
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
    assert manifest["contract_version"] == CONTRACT_VERSION == "1.2"
    with open_admin(tmp_path / "lab") as e:
        assert e.scalar("SELECT typeof(date_of_birth) FROM people LIMIT 1") == "DATE"
        assert e.scalar("SELECT count(*) FROM offences") > 500
        # middle names (contract 1.2) as extracted: most people have one, some two
        names = e.df("SELECT middle_names FROM people")["middle_names"]
        assert 0.6 < names.notna().mean() < 0.9
        assert names.dropna().str.contains(" ").any()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_extract_without_middle_names_loads_them_empty(extracts, tmp_path, fmt):
    """An extract made for contract 1.1 has no people.middle_names: it loads, the column is
    there (in admin.duckdb and the Parquet copy, for every engine), empty."""
    source = extracts / "people.csv"
    if fmt == "parquet":
        _rewrite(source, "SELECT * FROM {src}")
        duckdb.execute(f"COPY (SELECT * FROM read_csv('{source.as_posix()}')) TO "
                       f"'{(extracts / 'people.parquet').as_posix()}' (FORMAT parquet)")
        source.unlink()
        source = extracts / "people.parquet"
    _rewrite(source, "SELECT * EXCLUDE (middle_names) FROM {src}")
    manifest = load_extracts(extracts, tmp_path / "lab", cutoff="2024-12-31")
    assert manifest["row_counts"]["people"] == 500
    with open_admin(tmp_path / "lab") as e:
        assert e.scalar("SELECT count(*) FROM people WHERE middle_names IS NULL") == 500
        assert e.scalar("SELECT typeof(middle_names) FROM people LIMIT 1") == "VARCHAR"
    copied = duckdb.execute(
        f"SELECT count(*) FROM read_parquet('{(tmp_path / 'lab' / 'parquet' / 'people').as_posix()}"
        "/*.parquet') WHERE middle_names IS NULL").fetchone()
    assert copied == (500,)


def test_only_required_columns_are_reported_missing(extracts, tmp_path):
    """Without forename and middle_names, only the forename is a problem."""
    _rewrite(extracts / "people.csv", "SELECT * EXCLUDE (forename, middle_names) FROM {src}")
    with pytest.raises(ContractError) as info:
        load_extracts(extracts, tmp_path / "lab")
    assert [p.split(" (found")[0] for p in info.value.problems] == [
        "people: missing column(s) forename"]


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

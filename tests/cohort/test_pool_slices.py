"""The pool derived in slices of people (bounded memory) is exactly the pool derived in one pass,
and the national-records engine gets the configured DuckDB memory limit by default."""

from __future__ import annotations

import pandas as pd
import pytest

from jdl.cohort import build_pool, read_pool, write_pool
from jdl.engines.duckdb import open_admin


@pytest.fixture(scope="module")
def one_pass(synthetic_data_dir):
    with open_admin(synthetic_data_dir) as engine:
        return build_pool(engine, chunk_people=0)


def test_sliced_pool_equals_one_pass(synthetic_data_dir, one_pass):
    with open_admin(synthetic_data_dir) as engine:
        sliced = build_pool(engine, chunk_people=7_000)  # 30,000 people: 5 slices
        assert "_jdl_cohort_pool_slices" not in engine.tables()  # the scratch table is dropped
    assert len(one_pass) > 10_000
    pd.testing.assert_frame_equal(sliced, one_pass)


def test_sliced_pool_with_exclusions_and_strata(synthetic_data_dir, one_pass):
    strata = [("custody_release", 2019), ("court_order", 2020)]
    excluded = one_pass.person_id.head(50).tolist()
    with open_admin(synthetic_data_dir) as engine:
        whole = build_pool(engine, chunk_people=0, strata=strata, exclude_person_ids=excluded)
        sliced = build_pool(engine, chunk_people=4_000, strata=strata, exclude_person_ids=excluded)
    assert not whole.empty and not set(excluded) & set(whole.person_id)
    pd.testing.assert_frame_equal(sliced, whole)


def test_sliced_write_pool_round_trips(synthetic_data_dir, one_pass, tmp_path):
    with open_admin(synthetic_data_dir) as engine:
        out = write_pool(engine, tmp_path / "pool", chunk_people=9_000)
    assert len(list(out.rglob("slice*.parquet"))) >= 4  # one file per slice and stratum
    pd.testing.assert_frame_equal(read_pool(out), one_pass, check_dtype=False)


def test_admin_engine_takes_the_memory_limit_it_is_given(synthetic_data_dir, monkeypatch):
    """The data settings are a parameter (the entry points pass ``Settings.data``); the library
    never reads the environment, and falls back to the settings' default."""
    from jdl.core.config import DataSettings
    from jdl.engines import open_admin as open_records_on

    monkeypatch.setenv("JDL_DATA__DUCKDB_MEMORY_LIMIT", "1GB")  # not read here
    with open_records_on(synthetic_data_dir, DataSettings(duckdb_memory_limit="3GB")) as engine:
        configured = engine.scalar("SELECT current_setting('memory_limit')")
    with open_records_on(synthetic_data_dir, memory_limit="2GB") as engine:
        explicit = engine.scalar("SELECT current_setting('memory_limit')")
    with open_admin(synthetic_data_dir) as engine:
        default = engine.scalar("SELECT current_setting('memory_limit')")
    assert configured == _printed("3GB")
    assert explicit == _printed("2GB")
    assert default == _printed(DataSettings().duckdb_memory_limit)


def _printed(limit: str) -> str:
    """How DuckDB reports a memory limit it was given (it prints 1GB as 953.6 MiB)."""
    import duckdb

    with duckdb.connect(config={"memory_limit": limit}) as con:
        return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]

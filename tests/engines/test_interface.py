"""One engine interface: DuckDB and Spark implement the :class:`jdl.engines.Engine` protocol, and
each method the stages use gives the same answer on both (so no stage has to ask which engine it
has). The engine layer imports no stage and not the data contract."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pandas as pd
import pytest

import jdl.engines
from jdl.engines import DuckDBEngine, Engine, SparkEngine

pytestmark = [
    pytest.mark.xdist_group("spark"),
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

ROWS = pd.DataFrame({"person_id": [1, 2, 3], "born": ["1980-01-02", None, "1999-12-31"]})
COLUMNS = [("person_id", "BIGINT"), ("born", "DATE")]


def _members(cls) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_")}


def test_both_engines_have_every_member_of_the_protocol_with_its_parameters():
    wanted = {n for n in Engine.__dict__ if not n.startswith("_")} | set(
        Engine.__annotations__)
    for cls in (DuckDBEngine, SparkEngine):
        assert wanted <= _members(cls) | set(vars(cls)), cls
        for name in wanted:
            protocol = getattr(Engine, name, None)
            if not callable(protocol) or isinstance(protocol, property):
                continue
            expected = list(inspect.signature(protocol).parameters)
            assert list(inspect.signature(getattr(cls, name)).parameters) == expected, (
                cls, name)


def test_the_engine_layer_imports_no_stage_and_not_the_contract():
    folder = Path(jdl.engines.__file__).parent
    allowed = ("jdl.core", "jdl.engines")
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jdl"):
                assert node.module.startswith(allowed), (path.name, node.module)


@pytest.fixture
def engines(spark):
    spark_engine = SparkEngine(session=spark)
    duck = DuckDBEngine()
    yield {"duckdb": duck, "spark": spark_engine}
    spark_engine.close()
    duck.close()


@pytest.mark.spark
def test_the_methods_the_stages_use_agree(engines, tmp_path):
    results = {}
    for name, engine in engines.items():
        assert isinstance(engine, Engine)
        engine.load_table("people", ROWS, COLUMNS)
        engine.create_view("adults", "SELECT * FROM people WHERE born < DATE '1990-01-01'")
        for low in (1, 3):
            engine.append_rows("scratch", f"SELECT person_id FROM people WHERE person_id >= {low}")
        out = tmp_path / name
        for i, low in enumerate((1, 3)):
            engine.copy_to_parquet(f"SELECT person_id, born FROM people WHERE person_id >= {low}",
                                   out, partition_by=("person_id",), append_as=f"slice{i}")
        results[name] = {
            "df": engine.df("SELECT * FROM people ORDER BY person_id"),
            "arrow": engine.arrow("SELECT person_id FROM adults ORDER BY 1").to_pylist(),
            "scalar": engine.scalar("SELECT COUNT(*) FROM scratch"),
            "tables": {"people", "adults", "scratch"} <= engine.tables(),
            "files": len(list(out.glob("person_id=*/*.parquet"))) >= 3,
            "splink": type(engine.splink_api()).__name__,
        }
        engine.drop_table("scratch")
        assert "scratch" not in engine.tables()
    duck, spark = results["duckdb"], results["spark"]
    pd.testing.assert_frame_equal(duck["df"], spark["df"])
    assert duck["arrow"] == spark["arrow"] == [{"person_id": 1}]
    assert duck["scalar"] == spark["scalar"] == 4
    assert duck["tables"] and spark["tables"] and duck["files"] and spark["files"]
    assert (duck["splink"], spark["splink"]) == ("DuckDBAPI", "SparkAPI")
    assert not engines["duckdb"].partitions_itself and engines["spark"].partitions_itself

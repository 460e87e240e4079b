"""``jdl cohort ...`` commands on the small synthetic population."""

from __future__ import annotations

from typer.testing import CliRunner

from jdl.admin.contract import INDEX_TYPES
from jdl.cli import app
from jdl.cohort import describe_definitions, read_pool

runner = CliRunner()


def test_pool_command_writes_the_partitioned_pool(synthetic_data_dir, tmp_path):
    out = tmp_path / "pool"
    result = runner.invoke(
        app,
        ["cohort", "pool", "--data", str(synthetic_data_dir), "--out", str(out), "--threads", "2"],
    )
    assert result.exit_code == 0, result.output
    pool = read_pool(out)
    assert f"{len(pool):,} pool events written" in result.output
    assert set(pool.index_type) == set(INDEX_TYPES)


def test_attrition_and_definitions_commands(synthetic_data_dir):
    result = runner.invoke(app, ["cohort", "attrition", "--data", str(synthetic_data_dir)])
    assert result.exit_code == 0, result.output
    assert "follow_up_incomplete" in result.output
    result = runner.invoke(app, ["cohort", "definitions"])
    assert result.exit_code == 0
    assert result.output.strip() == describe_definitions().strip()


def test_bad_cutoff_is_a_user_error(synthetic_data_dir):
    result = runner.invoke(
        app, ["cohort", "attrition", "--data", str(synthetic_data_dir), "--cutoff", "31/12/2024"]
    )
    assert result.exit_code != 0

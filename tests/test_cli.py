"""The command line: user errors print a message and a non-zero exit code, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _jdl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jdl.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_help_lists_stage_commands():
    result = _jdl("--help")
    assert result.returncode == 0
    for command in ("synth", "synth-submission", "load", "data-summary"):
        assert command in result.stdout


def test_missing_data_dir_is_a_message_not_a_traceback(tmp_path):
    result = _jdl("data-summary", "--data", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "No national records found" in result.stderr
    assert "Traceback" not in result.stderr


def test_synth_then_summary(tmp_path):
    out = tmp_path / "data"
    result = _jdl("synth", "--people", "2000", "--seed", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert (out / "admin.duckdb").exists() and (out / "truth" / "programmes.json").exists()
    assert "One-year proven re-offending" in result.stdout
    # prepared for linkage here, so that no evaluation calibrates (issue 18)
    assert (out / "linkage-model.json").exists() and (out / "linkage-calibration.json").exists()
    assert "match threshold" in result.stdout


def test_synth_without_linkage_leaves_the_model_to_link_train(tmp_path):
    out = tmp_path / "data"
    result = _jdl("synth", "--people", "1000", "--seed", "3", "--out", str(out), "--no-linkage")
    assert result.returncode == 0, result.stderr
    assert (out / "admin.duckdb").exists() and not (out / "linkage-model.json").exists()


@pytest.mark.parametrize(("args", "error"), [
    (("evaluate",), "Missing argument"),
    (("nosuch",), "No such command 'nosuch'"),
    (("synth", "--bogus"), "No such option: --bogus"),
    (("synth", "--people", "abc"), "Invalid value for '--people'"),
])
def test_usage_mistakes_print_the_usage_and_one_error_line(args, error):
    """Every kind of usage mistake: exit 2, the usage text, one error line, no traceback.

    Typer 0.29 raises its own (vendored click) exception classes; an earlier entry point caught
    only click's and printed a ~35-line traceback for each of these.
    """
    result = _jdl(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Usage: ")
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and error, result.stderr
    assert error in error_lines[0]
    assert len(result.stderr.splitlines()) <= 5

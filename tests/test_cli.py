"""The command line: user errors print a message and a non-zero exit code, never a traceback."""

from __future__ import annotations

import subprocess
import sys


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

"""`jdl validate` and `jdl template`: exit codes, JSON, and messages instead of tracebacks."""

from __future__ import annotations

import json

import pytest

from jdl.cli import main

from ._factory import people, write_csv


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")


def run(capsys, *args: str) -> tuple[int, str, str]:
    """Exit code, stdout, stderr (whitespace runs folded, so line wrapping does not matter)."""
    with pytest.raises(SystemExit) as info:
        main([*args])
        raise SystemExit(0)
    captured = capsys.readouterr()
    return info.value.code or 0, captured.out, " ".join(captured.err.split())


def test_validate_good_file_exits_0(tmp_path, capsys):
    path = write_csv(tmp_path / "s.csv", people(70))
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 0
    assert "70 accepted" in out and "can be used" in out


def test_validate_bad_file_exits_1_with_error_table(tmp_path, capsys):
    rows = people(60)
    rows[0]["date_of_birth"] = "31/02/1990"
    path = write_csv(tmp_path / "s.csv", rows)
    code, out, _ = run(capsys, "validate", str(path), "--errors-out", str(tmp_path / "e.csv"))
    assert code == 1
    assert "not a real date" in out and "refused" in out and "60 people" in out
    assert (tmp_path / "e.csv").read_text(encoding="utf-8-sig").count("date_impossible") == 1


def test_validate_json(tmp_path, capsys):
    rows = people(70)
    rows[1]["sex"] = "Q"
    path = write_csv(tmp_path / "s.csv", rows)
    code, out, _ = run(capsys, "validate", str(path), "--json")
    result = json.loads(out)
    assert code == 0 and result["acceptable"] is True
    assert result["counts"] == {"rows": 70, "accepted": 69, "rejected": 1, "blank": 0,
                                "with_warnings": 0}
    assert result["issues"][0]["row_number"] == 3 and result["issues"][0]["code"] == "sex_invalid"


@pytest.mark.parametrize("content", [b"", b"\x00\x01binary", b"PK\x03\x04junk", b"a,b\n1,2\n"])
def test_malformed_files_give_a_message_not_a_traceback(tmp_path, capsys, content):
    path = tmp_path / "upload.xlsx"
    path.write_bytes(content)
    code, out, err = run(capsys, "validate", str(path))
    assert code == 1 and "Submission refused" in out
    assert "Traceback" not in out + err


def test_missing_file_and_bad_programme(tmp_path, capsys):
    code, _, err = run(capsys, "validate", str(tmp_path / "none.csv"))
    assert code == 2 and "There is no file" in err
    programme = tmp_path / "p.yaml"
    programme.write_text("sector: charity\n")
    path = write_csv(tmp_path / "s.csv", people(70))
    code, _, err = run(capsys, "validate", str(path), "--programme", str(programme))
    assert code == 1 and "sector" in err and "Traceback" not in err


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "yaml"])
def test_template_command(tmp_path, capsys, fmt):
    out = tmp_path / f"t.{fmt}"
    code, stdout, _ = run(capsys, "template", "--format", fmt, "--out", str(out))
    assert code == 0 and out.exists() and "Wrote" in stdout
    code, _, err = run(capsys, "template", "--format", fmt, "--out", str(out))
    assert code == 2 and "already exists" in err


def test_cli_module_stays_light():
    import subprocess
    import sys

    code = ("import sys, jdl.intake.cli, jdl.intake as i; "
            "assert 'pandas' not in sys.modules and 'pyarrow' not in sys.modules; "
            "assert sorted(i.__all__) == sorted(i._LOCATIONS); i.check_submission")
    subprocess.run([sys.executable, "-c", code], check=True)

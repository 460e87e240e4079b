"""``jdl link`` end to end: reads a submission file, writes links.csv, errors without traces."""

from __future__ import annotations

import pandas as pd
import pytest

from jdl.cli import main


def test_link_writes_the_link_table(register, data_dir, tmp_path, capsys):
    people, _ = register
    sample = people.iloc[100:170]  # intake needs at least 60 rows and an event date
    upload = pd.DataFrame({
        "forename": sample["forename"].str.title(), "surname": sample["surname"],
        "date_of_birth": [d.isoformat() for d in sample["date_of_birth"]],
        "sex": sample["sex"], "pnc_id": [sample["pnc_id"].iloc[0]] + [None] * 69,
        "index_date": "2022-03-01",
    })
    upload.to_csv(tmp_path / "upload.csv", index=False)
    out = tmp_path / "links.csv"
    try:
        main(["link", str(tmp_path / "upload.csv"), "--data", str(data_dir), "--out", str(out)])
    except SystemExit as exc:  # main() may exit explicitly on success
        assert exc.code in (0, None)
    links = pd.read_csv(out)
    assert list(links.columns) == ["row_number", "person_id", "match_probability", "method"]
    assert links["person_id"].tolist() == sample["person_id"].tolist()
    assert links["method"].tolist()[0] == "id"
    assert "Linkage summary" in capsys.readouterr().err


def test_missing_records_is_a_message_not_a_traceback(tmp_path, capsys):
    (tmp_path / "upload.csv").write_text("forename,surname,date_of_birth,sex\nA,B,1990-01-01,M\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["link", str(tmp_path / "upload.csv"), "--data", str(tmp_path / "nowhere")])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    assert "No national records" in err and "Traceback" not in err

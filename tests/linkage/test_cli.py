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


def test_link_train_chooses_the_threshold_on_labelled_uploads(register, tmp_path, capsys,
                                                             monkeypatch, request):
    """`jdl link-train --labelled FILE.csv` (truth beside it) records the chosen threshold;
    `jdl link` then uses it and shows the model's estimate of false and missed links."""
    import json

    from jdl.core.config import get_settings
    from tests.linkage.conftest import write_data_dir

    monkeypatch.setenv("JDL_LINKAGE__U_MAX_PAIRS", "200000")  # as FAST: a quicker training
    get_settings.cache_clear()
    request.addfinalizer(get_settings.cache_clear)
    people, aliases = register
    data = write_data_dir(tmp_path / "data", people, aliases)
    sample = people.iloc[400:480]
    upload = pd.DataFrame({
        "forename": sample["forename"].str.title(), "surname": sample["surname"],
        "date_of_birth": [d.isoformat() for d in sample["date_of_birth"]],
        "sex": sample["sex"], "index_date": "2022-03-01",
    })
    upload.loc[upload.index[:10], "surname"] = "Zzyzx"  # ten people not in the records
    upload.to_csv(tmp_path / "checked.csv", index=False)
    truth = pd.DataFrame({"row_number": range(2, len(sample) + 2),
                          "person_id": sample["person_id"].astype("Int64").tolist()})
    truth.loc[:9, "person_id"] = pd.NA
    truth.to_csv(tmp_path / "checked.truth.csv", index=False)
    try:
        main(["link-train", "--data", str(data), "--labelled", str(tmp_path / "checked.csv")])
    except SystemExit as exc:
        assert exc.code in (0, None)
    err = capsys.readouterr().err
    assert "Chosen threshold" in err and "labelled uploads checked.csv" in err
    saved = json.loads((data / "linkage-calibration.json").read_text())
    assert saved["threshold"] in [p["threshold"] for p in saved["table"]]
    # the one-standard-error rule by default, its standard errors shown and saved
    assert saved["standard_errors"] == 1.0 and "± s.e." in err
    assert all(p["f1_se"] >= 0 for p in saved["table"])

    summary = tmp_path / "summary.json"
    try:
        main(["link", str(tmp_path / "checked.csv"), "--data", str(data), "--out",
              str(tmp_path / "links.csv"), "--summary", str(summary)])
    except SystemExit as exc:
        assert exc.code in (0, None)
    err = capsys.readouterr().err
    assert "calibrated" in err and "may not have been found" in err
    written = json.loads(summary.read_text())
    assert written["threshold"] == saved["threshold"]
    assert written["uncertainty"]["linked"] == written["linked"]


def test_labelled_upload_without_truth_is_a_clear_error(data_dir, tmp_path, capsys):
    (tmp_path / "checked.csv").write_text("forename,surname,date_of_birth,sex\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["link-train", "--data", str(data_dir), "--labelled", str(tmp_path / "checked.csv")])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    assert "No truth file" in err and "Traceback" not in err

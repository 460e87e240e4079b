"""Synthetic uploads: the right people, realistic mistakes, truth kept apart."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from jdl.admin.synth import make_submission
from jdl.core.errors import UsageError


def _make(data_dir, tmp_path, errors="default", programme="learning-inside"):
    return make_submission(data_dir, programme, tmp_path / f"{programme}.csv", errors=errors)


def test_upload_rows_and_truth(synthetic_data_dir, tmp_path):
    paths = _make(synthetic_data_dir, tmp_path)
    upload = pd.read_csv(paths["upload"], dtype=str, keep_default_na=False)
    truth = pd.read_csv(paths["truth"])
    assert list(upload.columns) == [
        "forename",
        "surname",
        "date_of_birth",
        "sex",
        "pnc_id",
        "prison_number",
        "conviction_date",
        "intervention_start",
        "intervention_end",
        "index_date",
    ]
    assert "person_id" not in upload.columns
    assert len(upload) == len(truth)
    assert truth["row_number"].tolist() == list(range(2, len(upload) + 2))
    participants = pq.read_table(synthetic_data_dir / "truth" / "participants.parquet").to_pandas()
    members = set(participants.loc[participants.programme == "learning-inside", "person_id"])
    linked = set(truth["person_id"].dropna().astype(int))
    assert linked == members  # every participant appears; nobody else from the register
    share_missing = truth["person_id"].isna().mean()
    assert 0.02 < share_missing < 0.10  # people the register does not hold
    assert truth["errors"].fillna("").str.contains("duplicate").any()
    assert (upload["pnc_id"] == "").mean() > 0.4  # identifiers usually missing


def test_error_free_upload_matches_the_register(synthetic_data_dir, tmp_path):
    from jdl.engines import open_admin

    paths = _make(synthetic_data_dir, tmp_path, errors="none")
    upload = pd.read_csv(paths["upload"], dtype=str, keep_default_na=False)
    truth = pd.read_csv(paths["truth"])
    with open_admin(synthetic_data_dir) as e:
        people = e.df("SELECT person_id, forename, surname, date_of_birth FROM people")
    merged = truth.join(upload).merge(people, on="person_id", suffixes=("", "_reg"))
    assert (merged["forename"] == merged["forename_reg"]).all()
    dob = pd.to_datetime(merged["date_of_birth"], format="%d/%m/%Y")
    assert (dob == pd.to_datetime(merged["date_of_birth_reg"])).all()


def test_harsh_mix_has_more_mistakes(synthetic_data_dir, tmp_path):
    default = pd.read_csv(_make(synthetic_data_dir, tmp_path / "d")["truth"])
    harsh = pd.read_csv(_make(synthetic_data_dir, tmp_path / "h", errors="harsh")["truth"])

    def rate(t):
        return t["errors"].fillna("").ne("").mean()

    assert rate(harsh) > 1.5 * rate(default)
    assert harsh["errors"].fillna("").str.count(";").max() <= 2


def test_programme_side_file(synthetic_data_dir, tmp_path):
    paths = _make(synthetic_data_dir, tmp_path)
    info = yaml.safe_load(paths["programme"].read_text())
    truth = pd.read_csv(paths["truth"])
    # everyone the programme worked with: each person once, on the register or not
    people = ~truth["errors"].fillna("").str.contains("duplicate")
    assert info["declared_participants"] == int(people.sum())
    assert info["sector"] == "education" and info["setting"] == "custody"
    assert set(info) >= {
        "organisation",
        "programme_name",
        "intervention_type",
        "region",
        "delivery_start",
        "delivery_end",
        "description",
        "referral_route",
        "declared_participants",
        "selection_basis",
    }


def test_unknown_programme_is_a_clear_error(synthetic_data_dir, tmp_path):
    with pytest.raises(UsageError, match="no planted programme"):
        make_submission(synthetic_data_dir, "nope", tmp_path / "x.csv")

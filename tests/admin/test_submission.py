"""Synthetic uploads: the right people, realistic mistakes, truth kept apart."""

from __future__ import annotations

import numpy as np
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
        people = e.df("SELECT person_id, forename, middle_names, surname, date_of_birth "
                      "FROM people")
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


HARD_KINDS = ("name_swap", "middle_name", "surname_compound", "transliteration",
              "dob_placeholder", "dob_1900", "dob_missing", "dob_multi")


@pytest.fixture(scope="module")
def harsh_rows(synthetic_data_dir, tmp_path_factory):
    """A harsh-mix upload joined to its truth and to the register's record of each person."""
    from jdl.engines import open_admin

    out = tmp_path_factory.mktemp("harsh")
    frames = []
    for programme in ("learning-inside", "bridge-to-work"):
        paths = make_submission(synthetic_data_dir, programme, out / f"{programme}.csv",
                                errors="harsh", seed=3)
        upload = pd.read_csv(paths["upload"], dtype=str, keep_default_na=False)
        frames.append(pd.read_csv(paths["truth"]).join(upload))
    rows = pd.concat(frames, ignore_index=True)
    with open_admin(synthetic_data_dir) as e:
        people = e.df("SELECT person_id, forename, middle_names, surname, date_of_birth "
                      "FROM people")
    rows = rows.merge(people, on="person_id", how="left", suffixes=("", "_reg"))
    rows["kinds"] = rows["errors"].fillna("").str.split(";")
    return rows


def _only(rows, kind):
    """Rows whose only mistake is ``kind`` (duplicates allowed)."""
    return rows[rows["kinds"].map(lambda k: [x for x in k if x != "duplicate"] == [kind])]


def test_harsh_mix_makes_every_hard_kind(harsh_rows):
    kinds = harsh_rows["kinds"].explode().value_counts()
    for kind in HARD_KINDS:
        assert kinds.get(kind, 0) > 0, kind
    # the kinds meant to be measured get a few per cent of rows each
    for kind in ("name_swap", "middle_name", "surname_compound", "dob_placeholder", "dob_multi"):
        assert kinds[kind] / len(harsh_rows) > 0.015, kind
    assert harsh_rows["kinds"].map(len).max() <= 3  # two mistakes (+ duplicate)


def test_swapped_names_are_the_register_names_swapped(harsh_rows):
    swapped = _only(harsh_rows, "name_swap")
    assert len(swapped) > 5
    assert (swapped["forename"] == swapped["surname_reg"]).all()
    assert (swapped["surname"] == swapped["forename_reg"]).all()


def test_placeholder_dates_are_first_of_january(harsh_rows):
    for kind, check in (("dob_placeholder", lambda d: (d.dt.day == 1) & (d.dt.month == 1)),
                        ("dob_1900", lambda d: d == pd.Timestamp(1900, 1, 1))):
        rows = _only(harsh_rows, kind)
        assert len(rows) > 0, kind
        dob = pd.to_datetime(rows["date_of_birth"], format="%d/%m/%Y")
        assert check(dob).all(), kind
        if kind == "dob_placeholder":
            true_year = pd.to_datetime(rows["date_of_birth_reg"]).dt.year
            assert ((dob.dt.year - true_year).abs() <= 2).all()
            assert (dob.dt.year == true_year).mean() > 0.6
    assert (_only(harsh_rows, "dob_missing")["date_of_birth"] == "").all()


def test_several_digit_date_errors_change_two_or_more_digits(harsh_rows):
    rows = _only(harsh_rows, "dob_multi")
    assert len(rows) > 5
    typed = pd.to_datetime(rows["date_of_birth"], format="%d/%m/%Y").dt.strftime("%d%m%Y")
    true = pd.to_datetime(rows["date_of_birth_reg"]).dt.strftime("%d%m%Y")
    differing = [sum(a != b for a, b in zip(x, y, strict=True)) for x, y in zip(typed, true,
                                                                                 strict=True)]
    assert min(differing) >= 2


def test_compound_surnames_hold_the_registered_part(harsh_rows):
    rows = _only(harsh_rows, "surname_compound")
    assert len(rows) > 5
    parts = rows["surname"].str.split(r"[- ]", n=1, regex=True)
    assert [s in p for s, p in zip(rows["surname_reg"], parts, strict=True)] == [True] * len(rows)
    assert rows["surname"].str.contains("-").any() and rows["surname"].str.contains(" ").any()


def test_middle_names_keep_or_replace_the_forename(harsh_rows):
    rows = _only(harsh_rows, "middle_name")
    assert len(rows) > 5
    joined = pd.Series([t.startswith(r + " ") for t, r in zip(rows["forename"],
                                                              rows["forename_reg"], strict=True)],
                       index=rows.index)
    replaced = ~rows["forename"].str.contains(" ") & (rows["forename"] != rows["forename_reg"])
    assert (joined | replaced).all() and joined.any() and replaced.any()


def test_middle_names_are_the_recorded_ones(harsh_rows):
    """A person with a recorded middle name uses it (the first, with two); the register
    records every given name, so a person without one never makes the mistake."""
    rows = harsh_rows[harsh_rows["kinds"].map(lambda k: "middle_name" in k)]
    assert len(rows) > 20 and rows["middle_names"].notna().all()
    only = _only(harsh_rows, "middle_name")
    typed = only["forename"].str.split(" ").str[-1]
    assert (typed == only["middle_names"].str.split(" ").str[0]).all()
    # people without a middle name are a quarter of the upload, not of these rows
    assert harsh_rows["middle_names"].isna().mean() > 0.15


def test_without_recorded_middle_names_the_middle_name_is_one_the_register_lacks(
        synthetic_data_dir, tmp_path):
    """On a register that records no middle names (a contract 1.1 extract) who has one is
    unknown: the mistake uses a name the register does not hold for the person."""
    from jdl.admin.synth._submission import ErrorRates, _apply_errors

    rng = np.random.default_rng(4)
    people = pd.DataFrame({"forename": ["MARK"] * 400, "surname": ["WALKER"] * 400,
                           "date_of_birth": pd.Timestamp(1980, 5, 6), "sex": "M",
                           "middle_names": None, "alias_forename": None,
                           "alias_surname": None, "alias_dob": None})
    rates = ErrorRates.preset("harsh")
    out = _apply_errors(rng, people, rates)
    used = out[out["errors"].str.contains("middle_name")]
    assert len(used) > 3
    assert (used["forename"].str.split(" ").str[-1] != "MARK").all()


def test_transliterations_fold_back_or_are_known_variants(harsh_rows):
    import unicodedata

    from jdl.admin.synth._mistakes import TRANSLITERATIONS

    def fold(name: str) -> str:
        name = name.replace("ł", "l").replace("Ł", "L")
        return "".join(c for c in unicodedata.normalize("NFKD", name)
                       if not unicodedata.combining(c))

    rows = _only(harsh_rows, "transliteration")
    assert len(rows) > 5
    variants = {n: set(g) for g in TRANSLITERATIONS for n in g}
    accented = 0
    for typed, reg in [*zip(rows["forename"], rows["forename_reg"], strict=True),
                       *zip(rows["surname"], rows["surname_reg"], strict=True)]:
        if typed == reg:
            continue
        assert fold(typed) == reg or typed in variants.get(reg, ()), (typed, reg)
        accented += fold(typed) == reg
    assert accented > 0


def test_same_seed_same_upload_and_truth(synthetic_data_dir, tmp_path):
    first = make_submission(synthetic_data_dir, "bridge-to-work", tmp_path / "a.csv",
                            errors="harsh", seed=5)
    again = make_submission(synthetic_data_dir, "bridge-to-work", tmp_path / "b.csv",
                            errors="harsh", seed=5)
    other = make_submission(synthetic_data_dir, "bridge-to-work", tmp_path / "c.csv",
                            errors="harsh", seed=6)
    for key in ("upload", "truth"):
        assert first[key].read_bytes() == again[key].read_bytes()
        assert first[key].read_bytes() != other[key].read_bytes()


def test_classic_mix_has_none_of_the_harder_kinds(synthetic_data_dir, tmp_path):
    truth = pd.read_csv(_make(synthetic_data_dir, tmp_path, errors="classic")["truth"])
    kinds = set(truth["errors"].fillna("").str.split(";").explode())
    assert kinds.isdisjoint(HARD_KINDS)
    default = pd.read_csv(_make(synthetic_data_dir, tmp_path / "d")["truth"])
    default_kinds = default["errors"].fillna("").str.split(";").explode()
    # realistic, rare: about 5.3% of the kinds drawn (mean over submission seeds 0-11 on this
    # population: 5.3% with generator 1.4, 5.4% with 1.5, sd 0.6-0.9 points), so a bound of 5%
    # held on seed 1 by chance (4.9% with 1.4, 5.3% with 1.5); 8% is rare and not flaky
    assert default_kinds.isin(HARD_KINDS).mean() < 0.08


def test_unknown_preset_is_a_clear_error(synthetic_data_dir, tmp_path):
    with pytest.raises(UsageError, match="Unknown error preset"):
        _make(synthetic_data_dir, tmp_path, errors="brutal")


# --- the organisation's own columns and its plan (issue 20) ------------------------------------

def test_organisation_columns_leave_the_rest_of_the_upload_unchanged(synthetic_data_dir,
                                                                     tmp_path):
    """The columns come from their own random stream: the template's columns, the rows and the
    truth are exactly those of the upload without them."""
    plain = make_submission(synthetic_data_dir, "new-leaf-employment", tmp_path / "a.csv")
    own = make_submission(synthetic_data_dir, "new-leaf-employment", tmp_path / "b.csv",
                          organisation_columns=True)
    a = pd.read_csv(plain["upload"], dtype=str, keep_default_na=False)
    b = pd.read_csv(own["upload"], dtype=str, keep_default_na=False)
    assert list(b.columns) == [*a.columns, "Sessions attended", "Completed", "Delivery method",
                               "Site"]
    pd.testing.assert_frame_equal(b[a.columns], a)
    assert pd.read_csv(plain["truth"]).equals(pd.read_csv(own["truth"]))
    assert "plan" not in plain
    declared = yaml.safe_load(own["plan"].read_text())
    assert set(declared) == {"primary_measure", "variables"}  # columns declared, no sub-analyses


def test_organisation_columns_values_and_duplicates(synthetic_data_dir, tmp_path):
    from jdl.admin.synth._submission import (
        COMPLETION_SESSIONS,
        DELIVERY_MODES,
        SESSIONS_OFFERED,
        SITES,
    )

    paths = make_submission(synthetic_data_dir, "new-leaf-employment", tmp_path / "u.csv",
                            organisation_columns=True)
    upload = pd.read_csv(paths["upload"], dtype=str, keep_default_na=False)
    truth = pd.read_csv(paths["truth"], dtype=str, keep_default_na=False)
    sessions = upload["Sessions attended"]
    counted = sessions[sessions != ""].astype(int)
    assert counted.between(0, SESSIONS_OFFERED).all() and counted.nunique() > 8
    assert 0 < (sessions == "").mean() < 0.08  # a few blanks, as in real returns
    both = (sessions != "") & (upload["Completed"] != "")
    expected = (sessions[both].astype(int) >= COMPLETION_SESSIONS).map({True: "Yes",
                                                                       False: "No"})
    assert (upload.loc[both, "Completed"] == expected).all()
    assert set(upload["Delivery method"]) == set(DELIVERY_MODES)
    assert set(upload["Site"]) == set(SITES)
    # a person listed twice (a copied row) has the same values in both rows
    copies = truth[truth["errors"].str.contains("duplicate")]
    assert len(copies) > 0
    own = ["Sessions attended", "Completed", "Delivery method", "Site"]
    for row in copies["row_number"].astype(int):
        copy = upload.iloc[row - 2]
        same = upload[(upload["forename"] == copy["forename"])
                      & (upload["surname"] == copy["surname"])
                      & (upload["date_of_birth"] == copy["date_of_birth"])]
        assert len(same) >= 2 and (same[own].nunique() == 1).all()


def test_plan_file_registers_the_demo_plan(synthetic_data_dir, tmp_path):
    from jdl.admin.synth._submission import DEMO_PLAN
    from jdl.intake import load_registration

    paths = make_submission(synthetic_data_dir, "new-leaf-employment", tmp_path / "u.csv",
                            plan=True)
    registration = load_registration(paths["plan"])
    assert registration.as_dict() == {**DEMO_PLAN, "variables": {
        "attendance": {"kind": "count"}, "completed": {"kind": "yes_no"},
        "delivery_mode": {"kind": "category", "categories": ["In person", "Online", "Mixed"]},
        "site": {"kind": "category", "categories": ["North", "South"]}}}
    assert registration.dose_variable is not None
    assert registration.dose_variable.name == "attendance"


def test_relatives_of_registered_people_among_the_unregistered(synthetic_data_dir, tmp_path):
    """Some people the register does not hold have a twin or a same-named parent or child on
    it (their own random stream: the rest of the upload is the same without them)."""
    from dataclasses import replace

    from jdl.admin.synth import ErrorRates
    from jdl.engines import open_admin

    def upload(name, twin, namesake):
        rates = replace(ErrorRates.preset("harsh"), twin_on_register=twin,
                        namesake_on_register=namesake)
        paths = make_submission(synthetic_data_dir, "bridge-to-work", tmp_path / f"{name}.csv",
                                errors=rates, seed=4)
        return pd.read_csv(paths["truth"]).join(
            pd.read_csv(paths["upload"], dtype=str, keep_default_na=False))

    rows, without = upload("with", 0.4, 0.4), upload("without", 0.0, 0.0)
    kinds = rows["errors"].fillna("")
    assert kinds.str.contains("twin").sum() > 5 and kinds.str.contains("namesake").sum() > 5
    same = ~kinds.str.contains("twin|namesake")
    assert rows[same].equals(without[same])  # nothing else moved
    with open_admin(synthetic_data_dir) as e:
        people = e.df("SELECT forename, surname, date_of_birth FROM people")
    people["forename"] = people["forename"].str.upper()
    people["surname"] = people["surname"].str.upper()
    people["date_of_birth"] = pd.to_datetime(people["date_of_birth"])
    relatives = rows[~same].assign(
        forename=lambda f: f["forename"].str.upper(), surname=lambda f: f["surname"].str.upper(),
        date_of_birth=lambda f: pd.to_datetime(f["date_of_birth"], format="%d/%m/%Y"))
    assert relatives["person_id"].isna().all()
    for _, row in relatives.iterrows():
        if "twin" in row["errors"]:
            co = people[(people["surname"] == row["surname"])
                        & (people["date_of_birth"] == row["date_of_birth"])]
            assert (co["forename"] != row["forename"]).any(), row.to_dict()
        else:
            named = people[(people["surname"] == row["surname"])
                           & (people["forename"] == row["forename"])]
            gap = (named["date_of_birth"] - row["date_of_birth"]).abs().dt.days / 365.25
            assert ((gap > 17) & (gap < 42)).any(), row.to_dict()


def test_a_middle_name_after_swapped_names_goes_with_the_forename(harsh_rows):
    """Swapped names plus a middle name: the middle name joins or replaces the forename where
    it now stands (the surname box), and the registered surname stays in the forename box —
    whichever mistake came first. A middle name never replaces the surname."""
    both = harsh_rows[harsh_rows["kinds"].map(lambda k: {"name_swap", "middle_name"} <= set(k))]
    assert len(both) > 0
    typed_names = both["forename"] + " " + both["surname"]
    kept = [s in t.split(" ") for s, t in zip(both["surname_reg"], typed_names, strict=True)]
    assert all(kept)
    assert (both["forename"] == both["surname_reg"]).all()

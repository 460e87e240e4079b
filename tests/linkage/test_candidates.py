"""Every realistic typing error becomes a candidate pair and, where the evidence is there, a
link; near-namesakes do not. Each case is one submitted row against the hand-made register
(common names from small pools, so namesakes exist) plus a few people with rarer names."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from jdl.linkage import LinkOptions, clean_name, link_rows, score_candidates, train_model
from jdl.linkage._features import features_sql
from jdl.linkage._link import load_submission
from jdl.linkage._names import clean_name_sql, name_parts, name_parts_sql
from tests.linkage.conftest import FAST, make_register, write_data_dir

SPECIAL = [  # person_id, forename, surname, date of birth, sex
    (10_001, "John", "Dohworth", "1985-03-14", "M"),
    (10_002, "Lukasz", "Kowalczyk", "1990-07-09", "M"),
    (10_003, "Zoë", "Fairbrother", "1978-11-23", "F"),
    (10_004, "Muhammad", "Rahman", "1992-05-17", "M"),
    (10_005, "John Paul", "Tiernan", "1983-09-30", "M"),
    (10_006, "John", "Vaughan", "1980-06-12", "M"),
    (10_007, "Siobhan", "Abernethy-Grant", "1987-02-26", "F"),
    (10_008, "Ayesha", "Okonjo", "1991-02-11", "F"),
    (10_009, "Christopher", "Pennycuick", "1979-04-02", "M"),
    (10_010, "Oliver", "Penhaligon", "1995-08-21", "M"),
    (10_011, "Harry", "Quarmby", "1988-10-05", "M"),
    (10_012, "Emma", "Speight", "1932-12-14", "F"),
    (10_013, "Mark", "Ravenscroft", "1984-05-19", "M"),
    (10_014, "Sarah", "Thistlewood", "1989-01-27", "F"),
]
# Given names the register records besides the forename (contract 1.2).
MIDDLE_NAMES = {10_013: "Anthony", 10_014: "Louise Jane"}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from jdl.linkage import open_workspace

    people, aliases = make_register()
    extra = pd.DataFrame(SPECIAL, columns=["person_id", "forename", "surname", "date_of_birth",
                                           "sex"])
    extra["date_of_birth"] = pd.to_datetime(extra["date_of_birth"]).dt.date
    people = people.assign(middle_names=None)
    extra = extra.assign(pnc_id=None, prison_number=None, ethnicity="White",
                         nationality="British", region="London",
                         middle_names=extra["person_id"].map(MIDDLE_NAMES))[people.columns]
    path = write_data_dir(tmp_path_factory.mktemp("candidates") / "data",
                          pd.concat([people, extra], ignore_index=True), aliases)
    model = train_model(path, settings=FAST)
    workspace = open_workspace(path, FAST)
    yield workspace, model
    workspace.close()


def _row(forename, surname, dob, sex="M"):
    return pd.DataFrame({"row_number": [1], "forename": [forename], "surname": [surname],
                         "date_of_birth": [dt.date.fromisoformat(dob) if dob else None],
                         "sex": [sex]})


def _candidates(lab, row):
    workspace, model = lab
    load_submission(workspace, row)
    return score_candidates(workspace, model, rows_table="submission_features", floor=None)


def _link(lab, row):
    workspace, model = lab
    return link_rows(workspace, model, row, LinkOptions()).links.iloc[0]


# (why, submitted forename, surname, date of birth, sex, the person)
LINKED = [
    ("forename and surname swapped", "Dohworth", "John", "1985-03-14", "M", 10_001),
    ("swapped, with a typo", "Dohwrth", "John", "1985-03-14", "M", 10_001),
    ("1 January of the right year", "John", "Dohworth", "1985-01-01", "M", 10_001),
    ("date of birth unknown (1900-01-01)", "John", "Dohworth", "1900-01-01", "M", 10_001),
    ("two digits of the date wrong", "John", "Dohworth", "1985-08-19", "M", 10_001),
    ("married name: another surname part", "John", "Williams-Dohworth", "1985-03-14", "M",
     10_001),
    ("double-barrelled name with a space", "John", "Dohworth Williams", "1985-03-14", "M",
     10_001),
    ("double-barrelled name in the register", "Siobhan", "Grant", "1987-02-26", "F", 10_007),
    ("middle name used as forename", "Paul", "Tiernan", "1983-09-30", "M", 10_005),
    ("Ł transliterated, not deleted", "Łukasz", "Kowalczyk", "1990-07-09", "M", 10_002),
    ("accent in the register, none typed", "Zoe", "Fairbrother", "1978-11-23", "F", 10_003),
    ("Mohammed for Muhammad", "Mohammed", "Rahman", "1992-05-17", "M", 10_004),
    # the register records the middle name (middle_names), so using it is no twin's shape
    ("registered middle name used as forename", "Anthony", "Ravenscroft", "1984-05-19", "M",
     10_013),
    ("forename and registered middle name", "Mark Anthony", "Ravenscroft", "1984-05-19", "M",
     10_013),
    ("second registered middle name used as forename", "Jane", "Thistlewood", "1989-01-27",
     "F", 10_014),
]


@pytest.mark.parametrize(("why", "forename", "surname", "dob", "sex", "person"), LINKED,
                         ids=[c[0] for c in LINKED])
def test_error_becomes_a_candidate_and_links(lab, why, forename, surname, dob, sex, person):
    row = _row(forename, surname, dob, sex)
    assert person in set(_candidates(lab, row)["person_id"]), f"{why}: not a candidate"
    link = _link(lab, row)
    assert not pd.isna(link["person_id"]), f"{why}: not linked (p={link['match_probability']})"
    assert link["person_id"] == person and link["match_probability"] >= 0.9, why


# Two errors at once: the evidence is rightly weaker, but the pair must be scored.
CANDIDATES = [
    ("forename typo, day and month wrong", "Jonh", "Dohworth", "1985-07-22", 10_001),
    ("all of the date wrong", "John", "Dohworth", "1958-08-27", 10_001),
    ("surname typo, date missing", "John", "Dohwort", None, 10_001),
    # the swap levels weigh little where forenames double as surnames (this register: JAMES,
    # THOMAS, LEE), so with no date of birth the pair is scored but not linked
    ("swapped names, date missing", "Dohworth", "John", None, 10_001),
    ("swapped names, date 1900-01-01", "Dohworth", "John", "1900-01-01", 10_001),
    # neither initial agrees: the registered part of the surname is the second
    ("middle name and a married name", "Anthony", "Williams-Ravenscroft", "1984-05-19",
     10_013),
    ("another forename, second part of a registered double-barrelled name", "Louise", "Grant",
     "1987-02-26", 10_007),
]


@pytest.mark.parametrize(("why", "forename", "surname", "dob", "person"), CANDIDATES,
                         ids=[c[0] for c in CANDIDATES])
def test_two_errors_are_still_candidates(lab, why, forename, surname, dob, person):
    assert person in set(_candidates(lab, _row(forename, surname, dob))["person_id"]), why


def test_near_namesake_is_not_linked(lab):
    """Another forename with the same rare surname and date of birth looks like a twin."""
    link = _link(lab, _row("Jacob", "Vaughan", "1980-06-12"))
    assert pd.isna(link["person_id"])
    # ...though without the sibling guard the model alone would have linked him.
    workspace, model = lab
    unguarded = link_rows(workspace, model, _row("Jacob", "Vaughan", "1980-06-12"),
                          LinkOptions(twin_share=0.0, namesake_share=0.0)).links.iloc[0]
    assert unguarded["person_id"] == 10_006


def test_sibling_guard_leaves_a_typo_alone(lab):
    link = _link(lab, _row("Jhon", "Vaughan", "1980-06-12"))
    assert link["person_id"] == 10_006 and link["match_probability"] >= 0.9


# Respellings of the same forename: the sibling guard must not hold them back.
RESPELLED = [
    ("romanisation (same Soundex)", "Aisha", "Okonjo", "1991-02-11", "F", 10_008),
    ("one letter dropped", "Jon", "Vaughan", "1980-06-12", "M", 10_006),
    ("two-letter slip in a long name", "Kristopher", "Pennycuick", "1979-04-02", "M", 10_009),
    ("transposed letters", "Hrary", "Quarmby", "1988-10-05", "M", 10_011),
    ("mistyped nickname", "Chriss", "Pennycuick", "1979-04-02", "M", 10_009),
]


@pytest.mark.parametrize(("why", "forename", "surname", "dob", "sex", "person"), RESPELLED,
                         ids=[c[0] for c in RESPELLED])
def test_sibling_guard_leaves_respellings_alone(lab, why, forename, surname, dob, sex, person):
    link = _link(lab, _row(forename, surname, dob, sex))
    assert link["person_id"] == person and link["match_probability"] >= 0.9, why


# A twin (same surname and date of birth, another forename — two edits away or not) or a
# namesake relative (same full name, a date of birth decades away) who is not on the register.
RELATIVES = [
    ("twin, names two edits apart", "Olivia", "Penhaligon", "1995-08-21", "F", 10_010),
    ("twin, names two edits apart, same sex", "Harvey", "Quarmby", "1988-10-05", "M", 10_011),
    ("twin, another name", "Mark", "Penhaligon", "1995-08-21", "M", 10_010),
    ("twin, date a day out", "Mark", "Penhaligon", "1995-08-22", "M", 10_010),
    ("namesake a generation apart", "Emma", "Speight", "1963-06-23", "F", 10_012),
    # a middle name the register does not hold for him is another forename, as before
    ("twin of a man with a middle name", "Jacob", "Ravenscroft", "1984-05-19", "M", 10_013),
]


@pytest.mark.parametrize(("why", "forename", "surname", "dob", "sex", "relative"), RELATIVES,
                         ids=[c[0] for c in RELATIVES])
def test_the_guards_weaken_relatives_and_the_cap_holds_them(lab, why, forename, surname, dob,
                                                            sex, relative):
    """The guards' correction lowers a relative's probability (by how likely a relative is to
    look so alike, not to a fixed value); the optional cap makes them unlinkable."""
    workspace, model = lab
    row = _row(forename, surname, dob, sex)
    assert relative in set(_candidates(lab, row)["person_id"]), f"{why}: not even a candidate"
    guarded = link_rows(workspace, model, row, LinkOptions()).links.iloc[0]
    unguarded = link_rows(workspace, model, row,
                          LinkOptions(twin_share=0.0, namesake_share=0.0)).links.iloc[0]
    assert unguarded["person_id"] == relative, why  # the model alone links each of them
    assert guarded["best_probability"] < unguarded["best_probability"] - 0.02, why
    for threshold in (0.5, 0.85, 0.9):
        link = link_rows(workspace, model, row,
                         LinkOptions(match_threshold=threshold, related_cap=0.45)).links.iloc[0]
        assert pd.isna(link["person_id"]), f"{why}: linked at {threshold} despite the cap"
        assert link["best_probability"] < 0.5, why


def test_the_cap_holds_whatever_share_of_the_upload_is_on_the_register(lab, register):
    """The cap bounds the row posterior, which grows with the estimated share of the upload on
    the register: among 300 registered people (share near 0.96) a capped twin stays below any
    threshold the calibration can choose."""
    workspace, model = lab
    people = register[0].sample(300, random_state=3).reset_index(drop=True)
    upload = people[["forename", "surname", "date_of_birth", "sex"]].copy()
    upload.insert(0, "row_number", range(2, len(upload) + 2))
    twin = _row("Mark", "Penhaligon", "1995-08-21")
    links = link_rows(workspace, model, pd.concat([twin, upload], ignore_index=True),
                      LinkOptions(match_threshold=0.5, related_cap=0.45)).links
    row = links.set_index("row_number").loc[1]
    assert pd.isna(row["person_id"]) and row["best_probability"] < 0.5


def test_a_twin_links_only_where_the_upload_shows_replaced_forenames(lab, register):
    """The same twin-shaped row in an upload of 300 registered people typed correctly and 30
    people not on the register is less likely to be the person than in one where a third of
    the registered people's forenames were written wholly differently (the upload's own m for
    "another forename" is then high): the evidence, not a rule, decides."""
    workspace, model = lab
    people = register[0].sample(300, random_state=3).reset_index(drop=True)
    rng = np.random.default_rng(5)
    strangers = pd.DataFrame({  # names from the register's pools, dates nobody has
        "forename": rng.choice(people["forename"], 30),
        "surname": rng.choice(people["surname"], 30),
        "date_of_birth": [dt.date(1950, 1, 1) + dt.timedelta(days=int(d))
                          for d in rng.integers(0, 20_000, 30)],
        "sex": "M"})
    clean = pd.concat([people[["forename", "surname", "date_of_birth", "sex"]], strangers],
                      ignore_index=True)
    clean.insert(0, "row_number", range(2, len(clean) + 2))
    pool = register[0]["forename"].unique()
    replaced = clean.copy()
    third = (rng.random(len(replaced)) < 1 / 3) & (replaced.index < len(people))
    replaced.loc[third, "forename"] = [
        next(n for n in rng.permutation(pool) if n != f) for f in replaced.loc[third, "forename"]]
    twin = _row("Mark", "Penhaligon", "1995-08-21")

    def twin_probability(upload: pd.DataFrame) -> float:
        links = link_rows(workspace, model, pd.concat([twin, upload], ignore_index=True),
                          LinkOptions()).links
        return float(links.set_index("row_number").loc[1, "best_probability"])

    careful, careless = twin_probability(clean), twin_probability(replaced)
    assert careful < 0.9
    assert careless > careful + 0.05


def test_namesake_born_elsewhere_in_time_is_not_linked(lab):
    link = _link(lab, _row("John", "Vaughan", "1951-01-30"))
    assert pd.isna(link["person_id"])


@pytest.mark.parametrize(("raw", "clean", "parts"), [
    ("Łukasz", "LUKASZ", ["LUKASZ"]), ("Zoë", "ZOE", ["ZOE"]), ("Straße", "STRASSE", ["STRASSE"]),
    ("Ørsted", "ORSTED", ["ORSTED"]), ("Æthelred", "AETHELRED", ["AETHELRED"]),
    ("Williams-Dohworth", "WILLIAMSDOHWORTH", ["WILLIAMS", "DOHWORTH"]),
    ("José  María", "JOSEMARIA", ["JOSE", "MARIA"]), ("O'Brien", "OBRIEN", ["OBRIEN"]),
    ("D’Arcy-Smith", "DARCYSMITH", ["DARCY", "SMITH"]), ("--", None, []), (None, None, []),
])
def test_names_are_transliterated_and_split(raw, clean, parts):
    assert clean_name(raw) == clean
    assert name_parts(raw) == parts


def test_sql_cleaning_equals_python():
    values = ["Łukasz", "Zoë", "Straße", "Williams-Dohworth", "José  María", "O'Brien",
              "D’Arcy-Smith", "ﬁona", "Nguyễn", "İbrahim", "--", "", None, "smith – jones"]
    con = duckdb.connect()
    con.register("t", pd.DataFrame({"v": values}))
    rows = con.execute(f"SELECT {clean_name_sql('v')}, {name_parts_sql('v')} FROM t").fetchall()
    assert [(clean_name(v), name_parts(v)) for v in values] == [(a, b) for a, b in rows]


def test_placeholder_dates_are_features():
    con = duckdb.connect()
    con.execute("CREATE TABLE nickname_groups (name VARCHAR, name_group VARCHAR)")
    con.register("t", pd.DataFrame({
        "i": [1, 2, 3], "forename": ["A", "B", "C"], "surname": ["X", "Y", "Z"],
        "date_of_birth": [dt.date(1900, 1, 1), dt.date(1985, 1, 1), dt.date(1985, 3, 14)],
        "sex": "M", "pnc_id": None, "prison_number": None}))
    out = con.execute(features_sql("t", "s", id_expr="i", person_expr="NULL")
                      + " ORDER BY unique_id").df()
    assert out["dob"].isna().tolist() == [True, False, False]  # 1900-01-01: unknown
    years = out["dob_placeholder_year"]
    assert pd.isna(years.iloc[0]) and years.iloc[1] == 1985 and pd.isna(years.iloc[2])


def test_register_records_carry_middle_names_in_the_forename_parts(lab):
    """The person's record and their alias records: the forename is the recorded forename, its
    parts add the middle names (the guard's and the "another forename part" level's input)."""
    workspace, _ = lab
    rows = workspace.engine.df(
        "SELECT person_id, forename, forename_parts FROM register_features "
        "WHERE person_id IN (10013, 10014, 10001) ORDER BY unique_id")
    parts = {r.person_id: (r.forename, list(r.forename_parts)) for r in rows.itertuples()}
    assert parts[10_013] == ("MARK", ["MARK", "ANTHONY"])
    assert parts[10_014] == ("SARAH", ["SARAH", "LOUISE", "JANE"])
    assert parts[10_001] == ("JOHN", ["JOHN"])


def test_alias_records_take_the_person_s_middle_names():
    from jdl.linkage._register import Workspace

    people = pd.DataFrame({
        "person_id": [1, 2], "pnc_id": None, "prison_number": None,
        "forename": ["Mark", "Sarah"], "middle_names": ["Anthony", None],
        "surname": ["Smith", "Jones"], "date_of_birth": [dt.date(1980, 1, 2)] * 2,
        "sex": ["M", "F"]})
    aliases = pd.DataFrame({"person_id": [1], "forename": ["Marky"], "surname": ["Brown"],
                            "date_of_birth": [None]})
    with Workspace.from_frames(people, aliases) as ws:
        rows = ws.engine.df("SELECT unique_id, forename_parts FROM register_features "
                            "ORDER BY unique_id")
    assert [list(p) for p in rows["forename_parts"]] == [
        ["MARK", "ANTHONY"], ["MARKY", "ANTHONY"], ["SARAH"]]
    # a register without the column (contract 1.1, hand-made): no one has middle names
    with Workspace.from_frames(people.drop(columns="middle_names"), aliases) as ws:
        rows = ws.engine.df("SELECT forename_parts FROM register_features ORDER BY unique_id")
    assert [list(p) for p in rows["forename_parts"]] == [["MARK"], ["MARKY"], ["SARAH"]]


def test_new_feature_definitions_make_old_models_stale(tmp_path, monkeypatch):
    """A model or register cache written by a lab with other feature columns must not be used
    with the new ones: the data version includes the feature version."""
    from jdl.linkage import _model

    (tmp_path / "manifest.json").write_text('{"seed": 1}')
    before = _model.data_version(tmp_path)
    monkeypatch.setattr(_model, "FEATURES_VERSION", "older")
    assert _model.data_version(tmp_path) != before


def test_id_pass_accepts_swapped_names_and_married_names(lab):
    """An exact PNC ID plus two pieces of name/date evidence links by ID; a name typed in the
    other box, a part of a double-barrelled surname and 1 January of the right year count."""
    workspace, model = lab
    people, _ = make_register()
    person = people.iloc[10]
    dob = person["date_of_birth"]
    rows = pd.DataFrame({
        "row_number": [1, 2, 3],
        "forename": [person["surname"], person["forename"], "Zzyzx"],
        "surname": [person["forename"], f"Smythe-{person['surname']}", person["surname"]],
        "date_of_birth": [dob, dob, dt.date(dob.year, 1, 1)],
        "sex": [person["sex"]] * 3, "pnc_id": [person["pnc_id"]] * 3,
    })
    links = link_rows(workspace, model, rows, LinkOptions()).links
    assert links["method"].tolist() == ["id", "id", "id"]
    assert (links["person_id"] == person["person_id"]).all()

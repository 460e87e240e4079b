"""A small hand-made register (people + aliases) written as a data directory, and a trained
model for it. Names are drawn from small pools so that common names collide, as they do in the
national records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from jdl.core.config import LinkageSettings
from jdl.core.identifiers import format_pnc_id

MALE = ["JAMES", "JOHN", "WILLIAM", "ROBERT", "MICHAEL", "DAVID", "PAUL", "MARK", "STEVEN",
        "ANDREW", "THOMAS", "DANIEL", "CHRISTOPHER", "JOSEPH", "ANTHONY", "LEE", "CRAIG", "DEAN",
        "GARY", "KEVIN", "LIAM", "CONNOR", "JACK", "RYAN", "ADAM"]
FEMALE = ["SARAH", "MARGARET", "ELIZABETH", "SUSAN", "KAREN", "LISA", "EMMA", "GEMMA", "KELLY",
          "REBECCA", "SAMANTHA", "NICOLA", "CLAIRE", "LAURA", "JODIE"]
SURNAMES = ["SMITH", "JONES", "WILLIAMS", "TAYLOR", "BROWN", "DAVIES", "EVANS", "WILSON",
            "THOMAS", "ROBERTS", "JOHNSON", "LEWIS", "WALKER", "ROBINSON", "WOOD", "THOMPSON",
            "WHITE", "WATSON", "JACKSON", "WRIGHT", "GREEN", "HARRIS", "COOPER", "KING", "LEE",
            "MARTIN", "CLARKE", "JAMES", "MORGAN", "HUGHES", "EDWARDS", "HILL", "MOORE", "CLARK",
            "HARRISON", "SCOTT", "YOUNG", "MORRIS", "HALL", "WARD", "TURNER", "CARTER",
            "PHILLIPS", "MITCHELL", "PATEL", "ADAMS", "CAMPBELL", "ANDERSON", "ALLEN", "COOK",
            "OBRIEN", "KOWALSKI", "NGUYEN", "OKAFOR", "MACDONALD", "FITZGERALD", "ABERNETHY"]
N_PEOPLE = 3000


def make_register(n: int = N_PEOPLE, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``people`` and ``aliases`` tables following the data contract's columns."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["M", "F"], n, p=[0.8, 0.2])
    forename = np.where(sex == "M", rng.choice(MALE, n), rng.choice(FEMALE, n))
    weights = 1 / np.arange(1, len(SURNAMES) + 1) ** 0.6
    surname = rng.choice(SURNAMES, n, p=weights / weights.sum())
    start = dt.date(1960, 1, 1).toordinal()
    dob = [dt.date.fromordinal(start + int(d)) for d in rng.integers(0, 45 * 365, n)]
    person_id = np.arange(1, n + 1)
    people = pd.DataFrame({
        "person_id": person_id,
        "pnc_id": [format_pnc_id(2000 + i % 20, i) for i in person_id],
        "prison_number": [f"A{i:04d}BC" if i % 3 == 0 else None for i in person_id],
        "forename": forename, "surname": surname, "date_of_birth": dob, "sex": sex,
        "ethnicity": "White", "nationality": "British", "region": "London",
    })
    alias_of = rng.choice(person_id, n // 20, replace=False)
    aliases = pd.DataFrame({
        "person_id": alias_of,
        "forename": people.set_index("person_id").loc[alias_of, "forename"].to_numpy(),
        "surname": rng.choice(SURNAMES, len(alias_of)),
        "date_of_birth": people.set_index("person_id").loc[alias_of, "date_of_birth"].to_numpy(),
    })
    return people, aliases


def write_data_dir(path: Path, people: pd.DataFrame, aliases: pd.DataFrame) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path / "admin.duckdb"))
    try:
        for name, frame in (("people", people), ("aliases", aliases)):
            con.register(f"{name}_df", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_df")
    finally:
        con.close()
    return path


FAST = LinkageSettings(u_max_pairs=2e5)


@pytest.fixture(scope="session")
def register() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_register()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory, register) -> Path:
    """A data directory with admin.duckdb and a trained linkage-model.json."""
    from jdl.linkage import train_model

    path = write_data_dir(tmp_path_factory.mktemp("linkage") / "data", *register)
    train_model(path, settings=FAST)
    return path


@pytest.fixture()
def workspace(data_dir):
    from jdl.linkage import open_workspace

    ws = open_workspace(data_dir, FAST)
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def model(data_dir):
    from jdl.linkage import MODEL_FILE, load_model

    return load_model(data_dir / MODEL_FILE)

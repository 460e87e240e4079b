"""The Spark backend gives the same links as DuckDB (skipped when pyspark is absent)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

pytest.importorskip("pyspark")

from jdl.linkage import link_submission
from tests.linkage.conftest import FAST

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]


def test_spark_links_equal_duckdb_links(register, data_dir):
    people, _ = register
    sample = people.iloc[200:240]
    rows = pd.DataFrame({
        "row_number": range(1, len(sample) + 1),
        "forename": sample["forename"].str.title().to_numpy(),
        "surname": sample["surname"].to_numpy(),
        "date_of_birth": sample["date_of_birth"].to_numpy(),
        "sex": sample["sex"].to_numpy(),
        "pnc_id": [None] * len(sample),
        "prison_number": [None] * len(sample),
    })
    rows.loc[0, "forename"] = "Bill"  # nickname
    d = rows.loc[1, "date_of_birth"]
    rows.loc[1, "date_of_birth"] = dt.date(d.year + 1, d.month, min(d.day, 28))
    rows.loc[2, "surname"] = rows.loc[2, "surname"][:-1]  # typo
    rows.loc[3, ["forename", "surname"]] = ["Zebedee", "Quixote"]  # not in the records
    duck = link_submission(rows, data_dir, settings=FAST).links
    spark = link_submission(rows, data_dir,
                            settings=FAST.model_copy(update={"backend": "spark"})).links
    pd.testing.assert_series_equal(duck["person_id"], spark["person_id"])
    pd.testing.assert_series_equal(duck["method"], spark["method"])
    assert duck["match_probability"].fillna(-1).to_numpy() == pytest.approx(
        spark["match_probability"].fillna(-1).to_numpy(), rel=1e-6)

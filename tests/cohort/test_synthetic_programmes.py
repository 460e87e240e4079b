"""Index-event rules against the synthetic generator's truth: for every planted programme, the
event chosen from the intervention start alone (or the conviction date alone) is the one the
generator attached the programme to. Linkage is taken as perfect here (truth person ids)."""

from __future__ import annotations

import pandas as pd
import pytest

from jdl.admin.synth import DEFAULT_PROGRAMMES
from jdl.cohort import build_cohort
from jdl.engines.duckdb import open_admin

SETTINGS = {p.name: p.setting for p in DEFAULT_PROGRAMMES}


@pytest.fixture(scope="module")
def agreement(synthetic_data_dir):
    truth = pd.read_parquet(synthetic_data_dir / "truth" / "participants.parquet")
    results = {}
    with open_admin(synthetic_data_dir) as engine:
        for programme, rows in truth.groupby("programme"):
            rows = rows.reset_index(drop=True)
            link = pd.DataFrame(
                {
                    "row_number": range(1, len(rows) + 1),
                    "person_id": rows.person_id.astype("Int64"),
                    "match_probability": 1.0,
                    "method": "id",
                }
            )
            for column in ("intervention_start", "conviction_date"):
                submission = pd.DataFrame({"row_number": link.row_number, column: rows[column]})
                cohort = build_cohort(engine, link, submission, SETTINGS[programme])
                chosen = cohort.rows.sort_values("row_number").event_id.fillna(-1).to_numpy("int64")
                results[programme, column] = (chosen == rows.event_id.to_numpy()).mean()
    return results


def test_every_programme_gets_its_true_index_events(agreement):
    assert {p for p, _ in agreement} >= {"learning-inside", "steps-to-work"}
    worst = {key: rate for key, rate in agreement.items() if rate < 0.97}
    assert not worst, worst

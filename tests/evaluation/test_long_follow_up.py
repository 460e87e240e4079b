"""The JDL's optional two-year follow-up (issue 20), switched on by the cohort setting
``long_follow_up_days``: the cohort and the pool get the longer measures, the evaluation
estimates them on the people the records cover, and the release says so when they do not."""

from __future__ import annotations

import json
from datetime import date

import pytest

from jdl.admin.synth import make_submission
from jdl.core.config import Settings
from jdl.evaluation import evaluate

PROGRAMME = "new-leaf-employment"


@pytest.fixture(scope="module")
def two_year(synthetic_data_dir, tmp_path_factory):
    upload = make_submission(synthetic_data_dir, PROGRAMME,
                             tmp_path_factory.mktemp("upload") / f"{PROGRAMME}.csv")
    settings = Settings(cohort={"long_follow_up_days": 730})
    return evaluate(upload["upload"], upload["programme"], synthetic_data_dir,
                    tmp_path_factory.mktemp("evaluation"), settings=settings, seed=5)


def test_the_two_year_measures_are_released_or_said_to_be_impossible(two_year):
    released = json.loads((two_year.out_dir / "results.json").read_text())
    for key in ("proven_reoffending_rate_2y", "reoffending_frequency_2y"):
        m = released["measures"][key]
        if m["reported"]:
            assert m["treatment"] is not None and m["ci_low"] <= m["difference"] <= m["ci_high"]
        else:  # the records end too soon for some of the people: the reason, in words
            assert "two years" in m["reason_not_reported"]
            assert m["treatment"] is None and m["difference"] is None
    assert "proven_reoffending_rate" in released["measures"]  # the one-year ones as before


def test_the_cohort_carries_the_longer_follow_up(two_year):
    raw = json.loads((two_year.out_dir / "internal" / "raw_results.json").read_text())
    assert "proven_reoffending_rate_2y" in raw["measures"]


def test_the_setting_reaches_the_cohort_spec():
    from jdl.cohort import CohortSpec

    spec = CohortSpec.from_settings(Settings().cohort, data_cutoff=date(2024, 1, 1))
    assert spec.follow_up.long_follow_up_days is None
    with_long = CohortSpec.from_settings(Settings(cohort={"long_follow_up_days": 730}).cohort,
                                         data_cutoff=spec.data_cutoff)
    assert with_long.follow_up.long_follow_up_days == 730

"""A programme around cautions, evaluated end to end on the tests' small synthetic records: its
people are measured from their caution, compared with other people cautioned, and the report
says so."""

from __future__ import annotations

import json

import pytest

from jdl.admin.synth import make_submission
from jdl.run import run_evaluation as evaluate

PROGRAMME = "crossroads-diversion"  # setting out_of_court, hazard ratio 0.80


@pytest.fixture(scope="module")
def evaluation(synthetic_data_dir, tmp_path_factory):
    upload = make_submission(synthetic_data_dir, PROGRAMME,
                             tmp_path_factory.mktemp("upload") / f"{PROGRAMME}.csv")
    return evaluate(upload["upload"], upload["programme"], synthetic_data_dir,
                    tmp_path_factory.mktemp("evaluation"), seed=5)


def test_an_out_of_court_programme_runs_to_released_results(evaluation):
    results = json.loads((evaluation.out_dir / "results.json").read_text())
    assert results["disclosure"]  # released through disclosure control
    assert results["programme"]["setting"] == "out_of_court"
    assert results["treatment_n"] and results["treatment_n"] >= 100
    rate = results["measures"]["proven_reoffending_rate"]
    assert rate["treatment"] is not None and rate["comparison"] is not None
    assert rate["ci_low"] <= rate["difference"] <= rate["ci_high"]


def test_people_are_measured_from_their_caution(evaluation, synthetic_data_dir):
    from jdl.engines import open_admin

    matched = (evaluation.out_dir / "internal" / "matched.csv").as_posix()
    with open_admin(synthetic_data_dir) as e:
        types = e.df(f"""SELECT m.treated, ie.index_type, count(*) AS n
                         FROM read_csv_auto('{matched}') m JOIN index_events ie USING (event_id)
                         GROUP BY ALL""")
    # the treated and their comparison group alike (matching is exact on index type)
    assert set(types["index_type"]) == {"caution"}
    assert set(types["treated"]) == {0, 1}


def test_the_report_words_the_follow_up_from_a_caution(evaluation):
    html = (evaluation.out_dir / "report.html").read_text()
    assert "over one year from a caution or conditional caution." in html
    assert "release from custody or the start of a court sentence" not in html

"""Spec tests for the covariates: known at the index date, nothing later."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd
import pytest

from jdl.cohort import covariate_measures
from jdl.cohort.testing import tiny_admin
from jdl.outcomes import FollowUp, measures_sql

# Every test runs on DuckDB and on Spark (tests/cohort/conftest.py).
pytestmark = pytest.mark.usefixtures("spec_engine")

INDEX = date(2020, 3, 1)
EVENTS_SQL = (
    "SELECT person_id, event_id, 0 AS treated, index_date, index_type, "
    "offence_id AS index_offence_id, offence_group, disposal, sentence_days, sentence_start "
    "FROM index_events"
)
FOLLOW_UP = FollowUp(data_cutoff=date(2024, 12, 31))


def _covariates(engine) -> pd.DataFrame:
    sql = measures_sql(EVENTS_SQL, covariate_measures(), FOLLOW_UP)
    return engine.df(sql).sort_values("person_id").set_index("person_id")


def _event(pid: int, **kw) -> dict:
    return {
        "event_id": pid,
        "person_id": pid,
        "index_date": INDEX,
        "index_type": "court_order",
        "offence_id": pid * 100,
        **kw,
    }


def _offence(oid: int, pid: int, offence: date, outcome: date, **kw) -> dict:
    return {
        "offence_id": oid,
        "person_id": pid,
        "offence_date": offence,
        "outcome_date": outcome,
        **kw,
    }


def test_age_at_index_counts_completed_years():
    births = [date(2005, 3, 1), date(2005, 3, 2), date(2004, 2, 29), date(1960, 12, 31)]
    people = [{"person_id": i, "date_of_birth": b} for i, b in enumerate(births, start=1)]
    events = [_event(1), _event(2), _event(3, index_date=date(2019, 2, 28)), _event(4)]
    with tiny_admin({"people": people, "index_events": events}) as engine:
        ages = _covariates(engine).age_at_index.tolist()
    # 15th birthday on the index date; one day short; 29 Feb birthday not reached on 28 Feb
    assert ages == [15, 14, 14, 59]


def test_criminal_history_is_what_was_proven_before_the_index_sentence():
    d = date
    offences = [
        # person 1, court order: index offence proven on the index date
        _offence(100, 1, d(2019, 12, 1), INDEX),
        _offence(101, 1, d(2019, 12, 2), INDEX),  # sentenced with the index: not history
        _offence(102, 1, d(2019, 1, 10), d(2019, 3, 1)),  # conviction, 2 offences same day
        _offence(103, 1, d(2019, 1, 11), d(2019, 3, 1)),
        _offence(104, 1, d(2016, 5, 1), d(2016, 6, 1), disposal="caution"),
        _offence(105, 1, d(2010, 5, 1), d(2010, 8, 1), disposal="custody"),
        _offence(106, 1, d(2019, 11, 1), d(2020, 6, 1)),  # committed before, proven after
        _offence(107, 1, d(2020, 4, 1), d(2020, 5, 1)),  # after index: an outcome, not history
    ]
    with tiny_admin(
        {
            "people": [{"person_id": 1, "date_of_birth": d(1990, 6, 15)}],
            "index_events": [_event(1)],
            "offences": offences,
        }
    ) as engine:
        r = _covariates(engine).loc[1]
    assert r.prev_offences == 4  # 102, 103, 104, 105
    assert r.prev_convictions == 2  # 2019-03-01 and 2010-08-01
    assert r.prev_cautions == 1
    assert r.prev_custodial == 1
    assert r.prev_offences_2y == 2  # committed from 2018-03-02 on
    assert r.prev_convictions_2y == 1
    assert r.prev_custodial_2y == 0
    assert r.days_since_last_offence == (INDEX - d(2019, 1, 11)).days
    assert r.age_at_first_offence == 19  # 2010-05-01, born 1990-06-15
    # S = 3 previous occasions + the index one; Y = years from 2010-08-01 to the index date
    years = (INDEX - d(2010, 8, 1)).days / 365.25
    assert math.isclose(r.copas_rate, math.log((4 + 1) / (10 + years)))


def test_release_history_counts_from_the_sentence_date():
    sentence = date(2018, 3, 1)
    offences = [
        _offence(100, 1, date(2017, 12, 1), sentence, disposal="custody"),
        _offence(101, 1, date(2017, 6, 1), date(2017, 9, 1)),
        # proven while in custody for an older offence: after the sentence date, not history
        _offence(102, 1, date(2017, 1, 1), date(2019, 1, 1)),
    ]
    events = [
        _event(
            1,
            index_type="custody_release",
            index_date=INDEX,
            sentence_start=sentence,
            disposal="custody",
        )
    ]
    with tiny_admin(
        {"people": [{"person_id": 1}], "index_events": events, "offences": offences}
    ) as engine:
        r = _covariates(engine).loc[1]
    assert r.prev_offences == 1
    assert r.sentence_type == "custody"


def test_first_offender_has_no_history():
    offences = [_offence(100, 1, date(2019, 12, 1), INDEX)]
    with tiny_admin(
        {
            "people": [{"person_id": 1, "date_of_birth": date(2000, 1, 1)}],
            "index_events": [_event(1)],
            "offences": offences,
        }
    ) as engine:
        r = _covariates(engine).loc[1]
    assert (r.prev_offences, r.prev_convictions, r.prev_cautions) == (0, 0, 0)
    assert pd.isna(r.days_since_last_offence)
    assert r.age_at_first_offence == 19
    assert math.isclose(r.copas_rate, math.log(2 / 10))


def test_employment_and_benefit_history_before_index():
    spells = [
        {
            "person_id": 1,
            "start_date": INDEX - timedelta(days=500),
            "end_date": INDEX - timedelta(days=301),
        },  # 200 days, 65 of them in the last year
        {"person_id": 1, "start_date": INDEX - timedelta(days=10), "end_date": None},  # ongoing
        {"person_id": 2, "start_date": INDEX + timedelta(days=1), "end_date": None},  # later
    ]
    benefits = [
        {
            "person_id": 2,
            "benefit_type": "universal_credit",
            "start_date": INDEX - timedelta(days=900),
            "end_date": INDEX,
        }
    ]
    with tiny_admin(
        {
            "people": [{"person_id": 1}, {"person_id": 2}],
            "index_events": [_event(1), _event(2)],
            "employment_spells": spells,
            "benefit_spells": benefits,
        }
    ) as engine:
        r = _covariates(engine)
    assert r.employment_days_1y.tolist() == [65 + 10, 0]
    assert r.employment_days_2y.tolist() == [200 + 10, 0]
    assert r.employment_at_index.tolist() == [1, 0]
    assert r.benefit_days_1y.tolist() == [0, 365]
    assert r.benefit_days_2y.tolist() == [0, 730]
    assert r.benefit_at_index.tolist() == [0, 1]


def test_assessment_is_the_latest_up_to_index_within_two_years():
    a = [
        {
            "person_id": 1,
            "assessment_date": INDEX - timedelta(days=100),
            "risk_score": 40.0,
            "need_drugs": True,
        },
        {"person_id": 1, "assessment_date": INDEX, "risk_score": 60.0, "need_drugs": False},
        {"person_id": 1, "assessment_date": INDEX + timedelta(days=1), "risk_score": 90.0},
        {"person_id": 2, "assessment_date": INDEX - timedelta(days=730), "risk_score": 10.0},
        {
            "person_id": 3,
            "assessment_date": INDEX - timedelta(days=729),
            "risk_score": 20.0,
            "need_accommodation": True,
        },
    ]
    with tiny_admin(
        {
            "people": [{"person_id": i} for i in (1, 2, 3)],
            "index_events": [_event(i) for i in (1, 2, 3)],
            "assessments": a,
        }
    ) as engine:
        r = _covariates(engine)
    assert r.has_assessment.tolist() == [1, 0, 1]
    assert r.risk_score.tolist()[0] == 60.0 and pd.isna(r.risk_score.tolist()[1])
    assert r.need_drugs.astype("Int64").tolist() == [0, pd.NA, 0]
    assert r.need_accommodation.astype("Int64").tolist() == [0, pd.NA, 1]


def test_history_ends_at_the_index_conviction_when_sentencing_came_later():
    convicted, sentenced = date(2018, 1, 15), date(2018, 3, 1)
    offences = [
        _offence(100, 1, date(2017, 12, 1), convicted, disposal="custody"),  # index offence
        _offence(101, 1, date(2017, 12, 2), convicted, disposal="custody"),  # convicted with it
        _offence(102, 1, date(2017, 5, 1), date(2017, 6, 1), disposal="custody"),
        _offence(103, 1, date(2017, 5, 2), date(2017, 6, 1), disposal="fine"),  # same occasion
        _offence(104, 1, date(2017, 5, 3), date(2017, 6, 1), disposal="caution"),  # a caution
        _offence(105, 1, date(2014, 1, 1), date(2014, 2, 1), disposal="caution"),
    ]
    events = [_event(1, index_type="custody_release", sentence_start=sentenced, disposal="custody")]
    with tiny_admin(
        {"people": [{"person_id": 1}], "index_events": events, "offences": offences}
    ) as engine:
        r = _covariates(engine).loc[1]
    assert r.prev_offences == 4
    assert (r.prev_convictions, r.prev_cautions, r.prev_custodial) == (1, 2, 1)
    # recent: committed from 2016-01-15 on; the 2017 occasion counts once in each category
    assert (r.prev_offences_2y, r.prev_convictions_2y, r.prev_custodial_2y) == (3, 1, 1)

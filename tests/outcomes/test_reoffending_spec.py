"""Spec tests for the proven re-offending rule and the extended outcomes.

Each case is one person with one index event on ``INDEX`` and offences given as
(offence day, outcome day[, extra columns]) relative to the index date, with the expected
outcomes. All cases run in one query, as the pool would.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from jdl.cohort.testing import tiny_admin
from jdl.outcomes import FollowUp, measures_sql, outcome_measures

# Every test runs on DuckDB and on Spark (tests/cohort/conftest.py).
pytestmark = pytest.mark.usefixtures("spec_engine")

INDEX = date(2020, 3, 1)
CUTOFF = date(2024, 12, 31)
EVENTS_SQL = (
    "SELECT person_id, event_id, 0 AS treated, index_date, index_type, "
    "offence_id AS index_offence_id, offence_group, disposal, sentence_days, sentence_start "
    "FROM index_events"
)
CO, CR = "court_order", "custody_release"

# name: (index_type, [(offence_day, outcome_day, extra)], reoffended, reoffences, days_to_first)
REOFFENDING_CASES = {
    "no offences": (CO, [], 0, 0, None),
    "offence on day 365 counts": (CO, [(365, 400, {})], 1, 1, 365),
    "offence on day 366 does not": (CO, [(366, 400, {})], 0, 0, None),
    "proven on day 548 (last of waiting period) counts": (CO, [(1, 548, {})], 1, 1, 1),
    "proven on day 549 does not": (CO, [(1, 549, {})], 0, 0, None),
    "day 365 proven on day 548 counts": (CO, [(365, 548, {})], 1, 1, 365),
    "court order: offence on the start day does not": (CO, [(0, 30, {})], 0, 0, None),
    "custody: offence on the release day counts": (CR, [(0, 30, {})], 1, 1, 0),
    "offence before index proven after does not": (CR, [(-10, 30, {})], 0, 0, None),
    "several re-offences, first one dates": (
        CO,
        [(20, 60, {}), (10, 50, {}), (400, 420, {})],
        1,
        2,
        10,
    ),
    "a late-proven earlier offence does not set the first day": (
        CO,
        [(100, 700, {}), (200, 300, {})],
        1,
        1,
        200,
    ),
}


def _world(cases: dict[str, tuple], *, index_offence: bool = True, **tables):
    people, events, offences = [], [], []
    offence_id = 1000
    for pid, (index_type, rows, *_) in enumerate(cases.values(), start=1):
        people.append({"person_id": pid})
        index_offence_id = pid * 10_000 if index_offence else None
        events.append(
            {
                "event_id": pid,
                "person_id": pid,
                "index_date": INDEX,
                "index_type": index_type,
                "offence_id": index_offence_id,
            }
        )
        if index_offence:  # the index offence itself: committed before, proven on the index day
            offences.append(
                {
                    "offence_id": index_offence_id,
                    "person_id": pid,
                    "offence_date": INDEX - timedelta(days=30),
                    "outcome_date": INDEX,
                }
            )
        for offence_day, outcome_day, extra in rows:
            offence_id += 1
            offences.append(
                {
                    "offence_id": offence_id,
                    "person_id": pid,
                    "offence_date": INDEX + timedelta(days=offence_day),
                    "outcome_date": INDEX + timedelta(days=outcome_day),
                    **extra,
                }
            )
    return tiny_admin({"people": people, "index_events": events, "offences": offences, **tables})


def _outcomes(engine, follow_up: FollowUp | None = None) -> pd.DataFrame:
    follow_up = follow_up or FollowUp(data_cutoff=CUTOFF)
    result = engine.df(measures_sql(EVENTS_SQL, outcome_measures(follow_up), follow_up))
    return result.sort_values("event_id", ignore_index=True)


def test_reoffending_cases():
    with _world(REOFFENDING_CASES) as engine:
        result = _outcomes(engine).set_index("person_id")
    for pid, (name, case) in enumerate(REOFFENDING_CASES.items(), start=1):
        _, _, reoffended, reoffences, days = case
        row = result.loc[pid]
        got = (
            int(row.reoffended),
            int(row.reoffences),
            None if pd.isna(row.days_to_first) else int(row.days_to_first),
        )
        assert got == (reoffended, reoffences, days), name


def test_release_day_rule_is_a_setting():
    cases = {"custody release day": (CR, [(0, 30, {})])}
    with _world(cases) as engine:
        off = _outcomes(engine, FollowUp(count_release_day=False, data_cutoff=CUTOFF))
        on = _outcomes(engine, FollowUp(count_release_day=True, data_cutoff=CUTOFF))
    assert off.reoffended.tolist() == [0]
    assert on.reoffended.tolist() == [1]


@pytest.mark.parametrize(
    ("follow_up_days", "waiting", "expected"),
    [
        (365, 183, 1),
        (180, 183, 0),
        (365, 35, 1),
        (365, 34, 0),
        (730, 0, 1),
    ],
)
def test_follow_up_and_waiting_period_are_settings(follow_up_days, waiting, expected):
    # offence on day 200, proven on day 400
    with _world({"x": (CO, [(200, 400, {})])}) as engine:
        result = _outcomes(engine, FollowUp(follow_up_days, waiting, data_cutoff=CUTOFF))
    assert result.reoffended.tolist() == [expected]


def test_index_offence_is_never_a_reoffence():
    # a custody release whose index offence is (oddly) dated on the release day
    with tiny_admin(
        {
            "people": [{"person_id": 1}],
            "index_events": [
                {
                    "event_id": 1,
                    "person_id": 1,
                    "index_date": INDEX,
                    "index_type": CR,
                    "offence_id": 7,
                }
            ],
            "offences": [
                {
                    "offence_id": 7,
                    "person_id": 1,
                    "offence_date": INDEX,
                    "outcome_date": INDEX + timedelta(days=10),
                }
            ],
        }
    ) as engine:
        assert _outcomes(engine).reoffended.tolist() == [0]


def test_extended_offence_outcomes():
    cases = {
        "two custodial re-offences sentenced together, one violent tier 1": (
            CO,
            [
                (10, 50, {"disposal": "custody", "offence_group": "violence", "severity": 1}),
                (12, 50, {"disposal": "custody", "offence_group": "theft", "severity": 3}),
                (30, 80, {"disposal": "community", "offence_group": "theft", "severity": 2}),
            ],
        ),
        "one non-custodial re-offence, one offence the year before": (
            CO,
            [
                (-100, -50, {}),
                (-400, -350, {}),  # more than a year before: not in the pre volume
                (20, 40, {"disposal": "fine", "offence_group": "drugs", "severity": 2}),
            ],
        ),
        "custodial sentence outside the follow-up": (CO, [(400, 420, {"disposal": "custody"})]),
    }
    with _world(cases) as engine:
        r = _outcomes(engine).set_index("person_id")
    assert r.custodial_reoffence.tolist() == [1, 0, 0]
    assert r.custodial_sentences.tolist() == [1, 0, 0]  # one sentencing occasion
    assert r.most_serious_tier.astype("Int64").tolist() == [1, 2, pd.NA]
    assert r.reoffended_tier1.tolist() == [1, 0, 0]
    assert r.reoffended_violence.tolist() == [1, 0, 0]
    assert r.reoffended_theft.tolist() == [1, 0, 0]
    assert r.reoffended_drugs.tolist() == [0, 1, 0]
    # the index offence (day -30, proven day 0) is offending in the year before
    assert r.offences_pre.tolist() == [1, 2, 1]
    assert r.offence_change.tolist() == [2, -1, -1]


def test_pre_period_of_a_release_is_before_the_sentence():
    # released 2020-03-01 after a sentence that started 2019-03-01: the "before" year is the
    # year before sentence, not the year in custody
    sentence = date(2019, 3, 1)
    with tiny_admin(
        {
            "people": [{"person_id": 1}],
            "index_events": [
                {
                    "event_id": 1,
                    "person_id": 1,
                    "index_date": INDEX,
                    "index_type": CR,
                    "offence_id": 5,
                    "sentence_start": sentence,
                    "disposal": "custody",
                }
            ],
            "offences": [
                {
                    "offence_id": 5,
                    "person_id": 1,
                    "offence_date": date(2018, 12, 1),
                    "outcome_date": sentence,
                    "disposal": "custody",
                },
                {
                    "offence_id": 6,
                    "person_id": 1,
                    "offence_date": date(2018, 6, 1),
                    "outcome_date": date(2018, 7, 1),
                },
                {
                    "offence_id": 7,
                    "person_id": 1,
                    "offence_date": date(2017, 6, 1),
                    "outcome_date": date(2017, 7, 1),
                },
            ],
        }
    ) as engine:
        assert _outcomes(engine).offences_pre.tolist() == [2]


def test_employment_and_benefit_outcomes():
    spells = [
        # employed from 30 days before to day 100 after: 100 follow-up days, not employed on 365
        {
            "person_id": 1,
            "start_date": INDEX - timedelta(days=30),
            "end_date": INDEX + timedelta(days=100),
        },
        # ongoing job from day 300: days 300..365 = 66 days, employed on day 365
        {"person_id": 2, "start_date": INDEX + timedelta(days=300), "end_date": None},
        # two overlapping jobs covering the whole year: capped at 365
        {"person_id": 3, "start_date": INDEX - timedelta(days=5), "end_date": None},
        {"person_id": 3, "start_date": INDEX, "end_date": INDEX + timedelta(days=400)},
        # job starting after the follow-up year
        {"person_id": 4, "start_date": INDEX + timedelta(days=366), "end_date": None},
    ]
    benefits = [
        {
            "person_id": 2,
            "benefit_type": "jobseekers",
            "start_date": INDEX,
            "end_date": INDEX + timedelta(days=299),
        }
    ]
    cases = {f"p{i}": (CO, []) for i in range(1, 6)}
    with _world(cases, employment_spells=spells, benefit_spells=benefits) as engine:
        r = _outcomes(engine).set_index("person_id")
    assert r.employment_days_post.tolist() == [100, 66, 365, 0, 0]
    assert r.employment_at_end.tolist() == [0, 1, 1, 0, 0]
    assert r.benefit_days_post.tolist() == [0, 299, 0, 0, 0]
    assert r.benefit_at_end.tolist() == [0, 0, 0, 0, 0]


def _sev(day: int, proven: int, disposal: str, group: str, severity: int) -> tuple:
    return (day, proven, {"disposal": disposal, "offence_group": group, "severity": severity})


# Hand-worked cases for the JDL's re-offender measures (index offence group: theft, from
# tiny_admin's defaults). Columns: first re-offence tier (1/2/3 or None), re-offences in tiers
# 1/2/3, custody for the first re-offence, custodial sentencing dates, type changed.
JDL_CASES = {
    "two on the first day: tier 1 and custody win; a later custodial sentence": (
        CO,
        [_sev(10, 50, "custody", "violence", 1), _sev(10, 60, "community", "theft", 3),
         _sev(30, 80, "fine", "theft", 2), _sev(200, 250, "custody", "theft", 2)],
        (1, (1, 2, 1), 1, 2, 0),
    ),
    "no re-offence: every re-offender measure empty": (CO, [], (None, None, None, None, None)),
    "tier 2 first (two that day), custody later; other offence types only": (
        CO,
        [_sev(5, 40, "community", "drugs", 3), _sev(5, 40, "fine", "drugs", 2),
         _sev(100, 500, "custody", "violence", 1)],
        (2, (1, 1, 1), 0, 1, 1),
    ),
    "release day counts; too late and too long after do not": (
        CR,
        [_sev(0, 30, "custody", "theft", 3), _sev(20, 600, "custody", "violence", 1),
         _sev(366, 400, "custody", "violence", 1)],
        (3, (0, 0, 1), 1, 1, 0),
    ),
    "first re-offence non-custodial, second custodial, same sentencing day": (
        CO,
        [_sev(50, 90, "community", "fraud", 2), _sev(60, 90, "custody", "fraud", 1)],
        (2, (1, 1, 0), 0, 1, 1),
    ),
}


def test_jdl_court_outcome_and_custody_measures():
    with _world(JDL_CASES) as engine:
        r = _outcomes(engine).set_index("person_id")
    for pid, (name, (_, _, want)) in enumerate(JDL_CASES.items(), start=1):
        row = r.loc[pid]
        first_tier, tiers, custody_first, sentences, changed = want
        if first_tier is None:
            cols = [*(f"first_reoffence_tier{k}" for k in (1, 2, 3)),
                    *(f"reoffences_tier{k}" for k in (1, 2, 3)), "first_reoffence_custodial",
                    "custodial_sentences_reoffenders", "reoffence_type_changed"]
            assert row[cols].isna().all(), name
            continue
        assert [int(row[f"first_reoffence_tier{k}"]) for k in (1, 2, 3)] == [
            int(first_tier == k) for k in (1, 2, 3)], name
        assert tuple(int(row[f"reoffences_tier{k}"]) for k in (1, 2, 3)) == tiers, name
        assert sum(tiers) == int(row.reoffences), name  # the tiers split the re-offences
        assert int(row.first_reoffence_custodial) == custody_first, name
        assert int(row.custodial_sentences_reoffenders) == sentences, name
        assert int(row.reoffence_type_changed) == changed, name


def test_reoffender_measures_are_empty_exactly_for_non_reoffenders():
    from jdl.outcomes import reported_outcomes

    with _world(JDL_CASES) as engine:
        r = _outcomes(engine)
    columns = [m.name for m in reported_outcomes() if m.population == "reoffenders"]
    assert len(columns) == 9
    for column in columns:
        assert (r[column].isna() == (r.reoffended == 0)).all(), column


def test_offending_volume_change_is_released():
    from jdl.outcomes import reported_outcomes

    change = {m.name: m for m in reported_outcomes()}["offence_change"]
    assert (change.result_key, change.kind) == ("offending_volume_change", "mean")


def test_two_year_follow_up_is_off_by_default():
    names = {m.name for m in outcome_measures(FollowUp(data_cutoff=CUTOFF))}
    assert not any(n.startswith("reoffended_2y") for n in names)


TWO_YEAR_CASES = {
    "within one year": (CO, [(100, 200, {})], (1, 1, 1, 1)),
    "after one year, proven within two plus six months": (CO, [(500, 900, {})], (0, 0, 1, 1)),
    "day 730 proven on day 913 counts": (CO, [(730, 913, {})], (0, 0, 1, 1)),
    "proven on day 914 does not": (CO, [(700, 914, {})], (0, 0, 0, 0)),
    "day 731 does not": (CO, [(731, 800, {})], (0, 0, 0, 0)),
    "two in the first year, one in the second": (
        CO, [(10, 30, {}), (20, 40, {}), (400, 420, {})], (1, 2, 1, 3)),
}


@pytest.mark.parametrize("prune", [True, False])
def test_two_year_follow_up_counts_by_the_same_rule(prune):
    follow_up = FollowUp(data_cutoff=CUTOFF, long_follow_up_days=730)
    with _world(TWO_YEAR_CASES) as engine:
        r = engine.df(measures_sql(EVENTS_SQL, outcome_measures(follow_up), follow_up,
                                   prune=prune)).set_index("person_id").sort_index()
    assert "_reoffended_2y" not in r.columns  # intermediates are not returned
    for pid, (name, (_, _, want)) in enumerate(TWO_YEAR_CASES.items(), start=1):
        row = r.loc[pid]
        got = (int(row.reoffended), int(row.reoffences), int(row.reoffended_2y),
               int(row.reoffences_2y))
        assert got == want, name


def test_two_year_follow_up_is_empty_where_the_records_end_too_soon():
    # index 2020-03-01: two years plus 183 days end on 2022-08-31
    enough = FollowUp(data_cutoff=date(2022, 8, 31), long_follow_up_days=730)
    short = FollowUp(data_cutoff=date(2022, 8, 30), long_follow_up_days=730)
    cases = {"re-offends": (CO, [(100, 200, {})])}
    with _world(cases) as engine:
        ok = engine.df(measures_sql(EVENTS_SQL, outcome_measures(enough), enough))
        cut = engine.df(measures_sql(EVENTS_SQL, outcome_measures(short), short))
    assert ok.reoffended_2y.tolist() == [1]
    assert cut.reoffended_2y.isna().all() and cut.reoffences_2y.isna().all()
    assert cut.reoffended.tolist() == [1]  # the one-year measures are unaffected


def test_two_year_follow_up_says_clearly_when_it_is_not_possible():
    from jdl.outcomes import long_follow_up_problem

    follow_up = FollowUp(data_cutoff=date(2022, 8, 30), long_follow_up_days=730)
    assert long_follow_up_problem(follow_up, date(2020, 2, 28)) is None
    message = long_follow_up_problem(follow_up, INDEX)
    assert message.startswith("A follow-up of two years is not possible for this analysis")
    assert "30 August 2022" in message and "29 February 2020" in message
    assert "183-day waiting period" in message
    assert long_follow_up_problem(FollowUp(data_cutoff=CUTOFF), INDEX) is None  # off
    with pytest.raises(ValueError, match="data_cutoff is needed"):
        outcome_measures(FollowUp(long_follow_up_days=730))


@pytest.mark.parametrize("days", [365, 100, True, 730.5])
def test_long_follow_up_must_be_longer_than_one_year(days):
    with pytest.raises(ValueError, match="long_follow_up_days"):
        FollowUp(long_follow_up_days=days)

"""Property test: the SQL outcomes agree with a plain-Python reading of the written rule on
random small histories (a reference implementation, as ehrQL's in-memory engine)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jdl.cohort.testing import tiny_admin
from jdl.outcomes import FollowUp, measures_sql, outcome_measures

INDEX = date(2020, 3, 1)
FOLLOW_UP = FollowUp(data_cutoff=date(2024, 12, 31))
EVENTS_SQL = (
    "SELECT person_id, event_id, 0 AS treated, index_date, index_type, "
    "offence_id AS index_offence_id, offence_group, disposal, sentence_days, sentence_start "
    "FROM index_events"
)

offence = st.tuples(st.integers(-400, 600), st.integers(0, 400))  # offence day, days to proof
person = st.tuples(
    st.sampled_from(["court_order", "custody_release"]), st.lists(offence, max_size=6)
)


def reference(index_type: str, offences: list[tuple[int, int]]) -> tuple[int, int, int | None]:
    first = 0 if index_type == "custody_release" and FOLLOW_UP.count_release_day else 1
    days = [
        d
        for d, lag in offences
        if first <= d <= FOLLOW_UP.follow_up_days and d + lag <= FOLLOW_UP.proven_by_day
    ]
    return int(bool(days)), len(days), min(days) if days else None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(person, min_size=1, max_size=5))
def test_sql_matches_the_reference_rule(people):
    rows, events, offences = [], [], []
    for pid, (index_type, history) in enumerate(people, start=1):
        rows.append({"person_id": pid})
        events.append(
            {
                "event_id": pid,
                "person_id": pid,
                "index_date": INDEX,
                "index_type": index_type,
                "offence_id": None,
            }
        )
        for k, (day, lag) in enumerate(history):
            offences.append(
                {
                    "offence_id": pid * 100 + k,
                    "person_id": pid,
                    "offence_date": INDEX + timedelta(days=day),
                    "outcome_date": INDEX + timedelta(days=day + lag),
                }
            )
    with tiny_admin({"people": rows, "index_events": events, "offences": offences}) as engine:
        got = engine.df(measures_sql(EVENTS_SQL, outcome_measures(FOLLOW_UP), FOLLOW_UP))
    for pid, (index_type, history) in enumerate(people, start=1):
        row = got.set_index("person_id").loc[pid]
        days = None if pd.isna(row.days_to_first) else int(row.days_to_first)
        assert (int(row.reoffended), int(row.reoffences), days) == reference(index_type, history)


disposals = st.sampled_from(["custody", "community", "fine", "caution", "suspended"])
history_offence = st.tuples(
    st.integers(-3000, 600), st.integers(0, 400), disposals, st.integers(1, 3)
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["court_order", "custody_release"]),
            st.lists(history_offence, max_size=8),
            st.integers(0, 400),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_row_windows_do_not_change_any_measure(people):
    """Pruning the joined offence rows per window is only an optimisation."""
    from jdl.cohort import covariate_measures

    rows, events, offences = [], [], []
    for pid, (index_type, history, served) in enumerate(people, start=1):
        rows.append({"person_id": pid})
        index_id = pid * 100 + 99
        convicted = INDEX - timedelta(days=served + 20)
        events.append(
            {
                "event_id": pid,
                "person_id": pid,
                "index_date": INDEX,
                "index_type": index_type,
                "offence_id": index_id,
                "sentence_start": INDEX - timedelta(days=served),
            }
        )
        offences.append(
            {
                "offence_id": index_id,
                "person_id": pid,
                "offence_date": convicted - timedelta(days=30),
                "outcome_date": convicted,
                "disposal": "custody",
            }
        )
        for k, (day, lag, disposal, severity) in enumerate(history):
            offences.append(
                {
                    "offence_id": pid * 100 + k,
                    "person_id": pid,
                    "offence_date": INDEX + timedelta(days=day),
                    "outcome_date": INDEX + timedelta(days=day + lag),
                    "disposal": disposal,
                    "severity": severity,
                }
            )
    follow_up = FollowUp(data_cutoff=date(2024, 12, 31), long_follow_up_days=730)
    measures = covariate_measures() + outcome_measures(follow_up)
    with tiny_admin({"people": rows, "index_events": events, "offences": offences}) as engine:
        pruned, full = (
            engine.df(measures_sql(EVENTS_SQL, measures, follow_up, prune=prune)).sort_values(
                "event_id", ignore_index=True
            )
            for prune in (True, False)
        )
    pd.testing.assert_frame_equal(pruned, full)


def jdl_reference(index_type: str, offences: list[tuple[int, int, str, int]]):
    """The JDL's re-offender measures read plainly from the written rule: the first proven
    re-offence's tier (the most serious committed that day) and custody (any that day), the
    re-offences in each tier and the distinct custodial sentencing days; None without a
    re-offence."""
    first = 0 if index_type == "custody_release" and FOLLOW_UP.count_release_day else 1
    re = [(d, d + lag, disposal, tier) for d, lag, disposal, tier in offences
          if first <= d <= FOLLOW_UP.follow_up_days and d + lag <= FOLLOW_UP.proven_by_day]
    if not re:
        return None
    day = min(d for d, *_ in re)
    that_day = [r for r in re if r[0] == day]
    return (min(r[3] for r in that_day),
            tuple(sum(1 for r in re if r[3] == k) for k in (1, 2, 3)),
            int(any(r[2] == "custody" for r in that_day)),
            len({r[1] for r in re if r[2] == "custody"}))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["court_order", "custody_release"]),
                          st.lists(st.tuples(st.integers(-30, 400), st.integers(0, 250),
                                             disposals, st.integers(1, 3)), max_size=6)),
                min_size=1, max_size=5))
def test_jdl_reoffender_measures_match_the_reference_rule(people):
    rows, events, offences = [], [], []
    for pid, (index_type, history) in enumerate(people, start=1):
        rows.append({"person_id": pid})
        events.append({"event_id": pid, "person_id": pid, "index_date": INDEX,
                       "index_type": index_type, "offence_id": None})
        for k, (day, lag, disposal, severity) in enumerate(history):
            offences.append({"offence_id": pid * 100 + k, "person_id": pid,
                             "offence_date": INDEX + timedelta(days=day),
                             "outcome_date": INDEX + timedelta(days=day + lag),
                             "disposal": disposal, "severity": severity})
    with tiny_admin({"people": rows, "index_events": events, "offences": offences}) as engine:
        got = engine.df(measures_sql(EVENTS_SQL, outcome_measures(FOLLOW_UP), FOLLOW_UP))
    got = got.set_index("person_id")
    for pid, (index_type, history) in enumerate(people, start=1):
        row = got.loc[pid]
        want = jdl_reference(index_type, history)
        if want is None:
            assert pd.isna(row.first_reoffence_tier1) and pd.isna(row.reoffences_tier2)
            continue
        tier, tiers, custody, sentences = want
        assert [int(row[f"first_reoffence_tier{k}"]) for k in (1, 2, 3)] == [
            int(tier == k) for k in (1, 2, 3)]
        assert tuple(int(row[f"reoffences_tier{k}"]) for k in (1, 2, 3)) == tiers
        assert int(row.first_reoffence_custodial) == custody
        assert int(row.custodial_sentences_reoffenders) == sentences

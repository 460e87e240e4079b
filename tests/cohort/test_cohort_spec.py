"""Spec tests for index-event selection, eligibility, attrition and the comparison pool."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest

from jdl.cohort import (
    CohortSpec,
    analysis_frame,
    build_cohort,
    build_pool,
    pool_attrition,
    read_data_cutoff,
    read_pool,
    write_pool,
)
from jdl.cohort.testing import tiny_admin
from jdl.core.errors import UsageError

# Every test runs on DuckDB and on Spark (tests/cohort/conftest.py).
pytestmark = pytest.mark.usefixtures("spec_engine")

CUTOFF = date(2024, 12, 31)
SPEC = CohortSpec(data_cutoff=CUTOFF)
D = date(2020, 3, 1)


def _days(n: int) -> date:
    return D + timedelta(days=n)


def _link(person_ids: list[int | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row_number": range(1, len(person_ids) + 1),
            "person_id": pd.array(person_ids, dtype="Int64"),
            "match_probability": [1.0 if p else 0.0 for p in person_ids],
            "method": ["id" if p else "none" for p in person_ids],
        }
    )


def _submission(n: int, **columns) -> pd.DataFrame:
    frame = pd.DataFrame({"row_number": range(1, n + 1)})
    for name, values in columns.items():
        frame[name] = values if isinstance(values, list) else [values] * n
    return frame


def _world(events: list[dict], people: list[dict] | None = None, **tables):
    pids = sorted({e["person_id"] for e in events})
    people = people or [{"person_id": p} for p in pids]
    offences = [
        {
            "offence_id": e["offence_id"],
            "person_id": e["person_id"],
            "offence_date": e["index_date"] - timedelta(days=40),
            "outcome_date": e["index_date"] - timedelta(days=1),
            **e.pop("offence", {}),
        }
        for e in events
    ]
    return tiny_admin({"people": people, "index_events": events, "offences": offences, **tables})


def _ev(event_id: int, person_id: int, day: int, index_type: str = "court_order", **kw) -> dict:
    return {
        "event_id": event_id,
        "person_id": person_id,
        "index_date": _days(day),
        "index_type": index_type,
        "offence_id": event_id * 10,
        **kw,
    }


def _status(result) -> dict[int, str]:
    return dict(zip(result.rows.row_number, result.rows.status, strict=True))


def _event_of(result) -> dict[int, object]:
    return {
        r: (None if pd.isna(e) else int(e))
        for r, e in zip(result.rows.row_number, result.rows.event_id, strict=True)
    }


class TestIndexEvent:
    def world(self):
        return _world(
            [
                _ev(11, 1, -5),  # shortly before the intervention start
                _ev(12, 1, 10, "custody_release"),
                _ev(13, 1, 30),
                _ev(21, 2, 365),  # last day of the window
                _ev(31, 3, 366),  # just outside
                _ev(41, 4, 50, "court_order"),  # same day: the release wins
                _ev(42, 4, 50, "custody_release"),
                _ev(51, 5, -100),
                _ev(52, 5, -20),
                _ev(53, 5, -3),
                _ev(54, 5, 3),
                _ev(61, 6, -91),
                _ev(62, 6, 200),
                # released long after a conviction on day 0, sentenced on day 5
                _ev(71, 7, 800, "custody_release", sentence_start=_days(5)),
            ]
        )

    def test_custody_programmes_take_the_next_release(self):
        with self.world() as engine:
            r = build_cohort(
                engine, _link([1, 4, 7]), _submission(3, intervention_start=D), "custody", spec=SPEC
            )
        assert _event_of(r) == {1: 12, 2: 42, 3: None}

    def test_community_programmes_prefer_the_latest_order_already_started(self):
        with self.world() as engine:
            r = build_cohort(
                engine,
                _link([1, 5, 6, 2]),
                _submission(4, intervention_start=D),
                "community",
                spec=SPEC,
            )
        # within 90 days before: the latest; none there: the first one after
        assert _event_of(r) == {1: 11, 2: 53, 3: 62, 4: 21}

    def test_window_ends_are_inclusive_and_lookback_is_a_setting(self):
        spec = CohortSpec(data_cutoff=CUTOFF, community_lookback_days=0)
        with self.world() as engine:
            r = build_cohort(
                engine,
                _link([1, 2, 3, 4, 5]),
                _submission(5, intervention_start=D),
                "both",
                spec=spec,
            )
            wide = build_cohort(
                engine,
                _link([5, 6]),
                _submission(2, intervention_start=D),
                "both",
                spec=CohortSpec(data_cutoff=CUTOFF, community_lookback_days=91),
            )
        assert _event_of(r) == {1: 12, 2: 21, 3: None, 4: 42, 5: 54}
        assert _status(r)[3] == "no_index_event"
        assert _event_of(wide) == {1: 53, 2: 61}

    def test_a_conviction_date_finds_the_sentence_not_the_release(self):
        with self.world() as engine:
            by_conviction = build_cohort(
                engine, _link([7]), _submission(1, conviction_date=D), "custody", spec=SPEC
            )
            by_start = build_cohort(
                engine, _link([7]), _submission(1, intervention_start=D), "custody", spec=SPEC
            )
        assert _event_of(by_conviction) == {1: 71}
        assert _event_of(by_start) == {1: None}

    def test_reference_date_prefers_index_then_intervention_then_conviction(self):
        sub = _submission(
            3,
            index_date=[_days(30), None, None],
            intervention_start=[D, _days(-5), None],
            conviction_date=[D, D, _days(20)],
        )
        with self.world() as engine:
            r = build_cohort(engine, _link([1, 1, 1]), sub, "both", spec=SPEC)
            rows = r.rows.set_index("row_number")
        # the earliest reference date among a person's rows is kept (row 2: day -5)
        assert rows.reference_source.tolist() == [
            "index_date",
            "intervention_start",
            "conviction_date",
        ]
        assert _status(r) == {1: "duplicate_row", 2: "eligible", 3: "duplicate_row"}
        assert _event_of(r)[2] == 11

    def test_no_reference_date(self):
        with self.world() as engine:
            r = build_cohort(engine, _link([1]), _submission(1), "both", spec=SPEC)
        assert _status(r) == {1: "no_reference_date"}


class TestEligibility:
    def test_follow_up_must_end_by_the_cutoff(self):
        last = CUTOFF - timedelta(days=365 + 183)
        with _world(
            [
                {**_ev(1, 1, 0), "index_date": last},
                {**_ev(2, 2, 0), "index_date": last + timedelta(days=1)},
            ]
        ) as engine:
            r = build_cohort(
                engine, _link([1, 2]), _submission(2, intervention_start=last), "both", spec=SPEC
            )
        assert _status(r) == {1: "eligible", 2: "follow_up_incomplete"}
        assert SPEC.last_complete_index_date == last

    def test_aged_14_or_under(self):
        people = [
            {"person_id": 1, "date_of_birth": date(2005, 3, 1)},
            {"person_id": 2, "date_of_birth": date(2005, 3, 2)},
        ]
        with _world([_ev(1, 1, 0), _ev(2, 2, 0)], people) as engine:
            r = build_cohort(
                engine, _link([1, 2]), _submission(2, intervention_start=D), "both", spec=SPEC
            )
        assert _status(r) == {1: "eligible", 2: "under_minimum_age"}

    def test_index_offence_exclusions_and_their_order(self):
        events = [
            _ev(1, 1, 0, offence_group="sexual"),
            _ev(2, 2, 0, offence={"dv_flag": True}),
            _ev(3, 3, 0, offence={"terrorism_flag": True, "dv_flag": True}),
            _ev(4, 4, 2000, offence_group="sexual"),  # follow-up incomplete comes first
            _ev(5, 5, 0, offence={"offence_group": "sexual"}),  # the event's group decides
        ]
        with _world(events) as engine:
            r = build_cohort(
                engine,
                _link([1, 2, 3, 4, 5]),
                _submission(5, index_date=[D, D, D, _days(2000), D]),
                "both",
                spec=SPEC,
            )
        assert _status(r) == {
            1: "sexual_offence",
            2: "domestic_violence",
            3: "domestic_violence",
            4: "follow_up_incomplete",
            5: "eligible",
        }

    def test_offence_exclusions_are_configurable(self):
        spec = CohortSpec(data_cutoff=CUTOFF, excluded_offence_flags=("terrorism",))
        with _world([_ev(1, 1, 0, offence_group="sexual")]) as engine:
            r = build_cohort(engine, _link([1]), _submission(1, index_date=D), "both", spec=spec)
        assert _status(r) == {1: "eligible"}
        with pytest.raises(UsageError):
            CohortSpec(data_cutoff=CUTOFF, excluded_offence_flags=("arson",))

    def test_person_flags_exclude_when_recorded_by_the_index_date(self):
        flags = [
            {"person_id": 1, "flag": "gang", "flag_date": D},
            {"person_id": 2, "flag": "gang", "flag_date": _days(1)},
            {"person_id": 3, "flag": "vulnerable", "flag_date": _days(-100)},
        ]
        spec = CohortSpec(data_cutoff=CUTOFF, excluded_person_flags=("gang", "vulnerable"))
        with _world([_ev(i, i, 0) for i in (1, 2, 3)], flags=flags) as engine:
            link, sub = _link([1, 2, 3]), _submission(3, index_date=D)
            r = build_cohort(engine, link, sub, "both", spec=spec)
            default = build_cohort(engine, link, sub, "both", spec=SPEC)
        assert _status(r) == {1: "flag_gang", 2: "eligible", 3: "flag_vulnerable"}
        assert set(_status(default).values()) == {"eligible"}

    def test_custom_exclusions(self):
        spec = CohortSpec(
            data_cutoff=CUTOFF, custom_exclusions=(("short_sentence", "sentence_days < 30"),)
        )
        with _world([_ev(1, 1, 0, sentence_days=20), _ev(2, 2, 0)]) as engine:
            r = build_cohort(engine, _link([1, 2]), _submission(2, index_date=D), "both", spec=spec)
        assert _status(r) == {1: "short_sentence", 2: "eligible"}
        assert r.attrition.table().set_index("reason").loc["short_sentence", "count"] == 1
        with pytest.raises(UsageError):
            CohortSpec(data_cutoff=CUTOFF, custom_exclusions=(("bad", "sentence_days <"),))


def test_attrition_puts_every_row_in_one_bucket():
    events = [_ev(1, 1, 0), _ev(2, 2, 0, offence_group="sexual"), _ev(3, 3, 2000)]
    with _world([*events, _ev(4, 4, -200)]) as engine:
        r = build_cohort(
            engine,
            _link([1, 1, 2, 3, None, 4]),
            _submission(6, intervention_start=[D, D, D, _days(2000), D, D]),
            "both",
            spec=SPEC,
            rejected_at_intake=3,
        )
    table = r.attrition.table().set_index("reason")["count"]
    a = r.attrition
    assert (a.submitted, a.linked, a.eligible) == (9, 4, 1)
    assert table["rejected_at_intake"] == 3
    assert table["not_linked"] == 1
    assert table["duplicate_row"] == 1
    assert table["sexual_offence"] == 1
    assert table["no_index_event"] == 1
    assert table["follow_up_incomplete"] == 1
    assert sum(s.count for s in a.steps) + a.eligible == a.submitted
    assert r.data.person_id.tolist() == [1]
    assert r.linked_person_ids == [1, 2, 3, 4]
    assert r.strata == [("court_order", 2020)]


def test_accepted_rows_missing_from_the_link_table_are_not_linked():
    # e.g. linkage's linked_people(): only the rows that found someone
    with _world([_ev(1, 1, 0)]) as engine:
        r = build_cohort(
            engine, _link([1]), _submission(3, intervention_start=D), "both", spec=SPEC
        )
    assert _status(r) == {1: "eligible", 2: "not_linked", 3: "not_linked"}
    assert (r.attrition.submitted, r.attrition.linked) == (3, 1)


def test_bad_inputs_are_usage_errors():
    with _world([_ev(1, 1, 0)]) as engine:
        with pytest.raises(UsageError):
            build_cohort(engine, _link([1]), _submission(1), "prison", spec=SPEC)
        with pytest.raises(UsageError):
            build_cohort(
                engine, _link([1]).drop(columns="method"), _submission(1), "both", spec=SPEC
            )
        with pytest.raises(UsageError):  # in-memory engine: no manifest to read the cut-off
            build_cohort(engine, _link([1]), _submission(1), "both")


class TestPool:
    def world(self):
        return _world(
            [
                _ev(1, 1, 0),
                _ev(2, 1, 100),  # same person and year: first only
                _ev(3, 1, 400, "custody_release"),  # next year
                _ev(4, 2, 0, offence_group="sexual"),  # excluded
                _ev(5, 3, 10),
                _ev(6, 4, 20, "custody_release"),
            ]
        )

    def test_pool_is_first_eligible_event_per_person_and_year(self):
        with self.world() as engine:
            pool = build_pool(engine, spec=SPEC)
            every = build_pool(engine, spec=CohortSpec(data_cutoff=CUTOFF, pool_events="all"))
            counts = pool_attrition(engine, spec=SPEC)
        assert pool.event_id.tolist() == [1, 3, 5, 6]
        assert set(pool.treated) == {0}
        assert every.event_id.tolist() == [1, 2, 3, 5, 6]
        assert counts.set_index(["index_type", "status"])["events"].to_dict() == {
            ("court_order", "eligible"): 2,
            ("court_order", "sexual_offence"): 1,
            ("custody_release", "eligible"): 2,
        }

    def test_pool_excludes_people_and_reads_strata(self):
        with self.world() as engine:
            pool = build_pool(
                engine,
                spec=SPEC,
                exclude_person_ids=[3],
                strata=[("custody_release", 2020), ("court_order", 2020)],
            )
        assert pool.event_id.tolist() == [1, 6]

    def test_treated_and_pool_rows_are_computed_identically(self):
        with self.world() as engine:
            pool = build_pool(engine, spec=SPEC).set_index("event_id")
            cohort = build_cohort(
                engine, _link([3, 4]), _submission(2, intervention_start=D), "both", spec=SPEC
            ).data.set_index("event_id")
        assert cohort.index.tolist() == [5, 6]
        expected = pool.loc[[5, 6]].drop(columns="treated")
        pd.testing.assert_frame_equal(cohort.drop(columns="treated"), expected)
        assert set(cohort.treated) == {1}

    def test_analysis_frame_joins_cohort_and_pool_safely(self):
        with self.world() as engine:
            cohort = build_cohort(
                engine, _link([3]), _submission(1, intervention_start=D), "both", spec=SPEC
            )
            pool = build_pool(engine, spec=SPEC, exclude_person_ids=cohort.linked_person_ids)
            unsafe = build_pool(engine, spec=SPEC)
        frame = analysis_frame(cohort, pool)
        assert frame.treated.tolist() == [1, 0, 0, 0]
        assert frame.event_id.tolist() == [5, 1, 3, 6]
        with pytest.raises(ValueError, match="submitted people"):
            analysis_frame(cohort, unsafe)
        with pytest.raises(ValueError, match="columns"):
            analysis_frame(cohort, pool.drop(columns="reoffended"))

    def test_partitioned_pool_round_trip(self, tmp_path):
        with self.world() as engine:
            whole = build_pool(engine, spec=SPEC)
            out = write_pool(engine, tmp_path / "pool", spec=SPEC)
        assert (out / "index_type=court_order" / "index_year=2020").is_dir()
        back = read_pool(out)
        pd.testing.assert_frame_equal(back, whole, check_dtype=False)
        some = read_pool(out, strata=[("custody_release", 2020)], exclude_person_ids=[4])
        assert some.empty
        assert read_pool(out, strata=[("court_order", 2020)]).event_id.tolist() == [1, 5]


def test_data_cutoff_comes_from_the_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"data_cutoff": "2024-12-31"}))
    assert read_data_cutoff(tmp_path) == CUTOFF
    with pytest.raises(UsageError):
        read_data_cutoff(tmp_path / "missing")


class TestOutOfCourt:
    """Programmes around cautions, fines and discharges (contract 1.1)."""

    def world(self):
        return _world(
            [
                _ev(11, 1, -5),  # a court order before the intervention starts
                _ev(12, 1, -3, "caution", disposal="caution"),
                _ev(13, 1, 10, "fine", disposal="fine"),
                _ev(21, 2, 5, "caution", disposal="caution"),
                _ev(22, 2, 20, "discharge", disposal="discharge"),
                _ev(31, 3, 0, "caution", disposal="caution"),
                _ev(32, 3, 100),  # a court order later in the same year
            ]
        )

    def test_an_out_of_court_programme_takes_the_caution(self):
        with self.world() as engine:
            r = build_cohort(engine, _link([1, 2]), _submission(2, intervention_start=D),
                             "out_of_court", spec=SPEC)
        # the latest caution already given, else the next one; never the court order
        assert _event_of(r) == {1: 12, 2: 21}
        assert set(r.data.index_type) == {"caution"}

    def test_a_fine_or_discharge_programme_takes_those_only(self):
        with self.world() as engine:
            r = build_cohort(engine, _link([1, 2]), _submission(2, intervention_start=D),
                             "fine_or_discharge", spec=SPEC)
        assert _event_of(r) == {1: 13, 2: 22}

    def test_an_earlier_caution_does_not_take_a_court_orders_place_in_the_pool(self):
        with self.world() as engine:
            pool = build_pool(engine, spec=SPEC)
        # the first event of each kind per person and year: person 3's order stays
        assert 32 in pool.event_id.tolist() and 31 in pool.event_id.tolist()
        assert pool.groupby(["person_id", "index_type"]).size().max() == 1

"""Date parsing: what is understood, what is refused, and that nothing else can happen."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jdl.intake import parse_dates
from jdl.intake._dates import EXCEL_EPOCH_1904, US_ORDER

UNDERSTOOD = [
    ("2020-03-21", "2020-03-21"), ("2020/3/1", "2020-03-01"), ("2020-03-21 00:00:00", "2020-03-21"),
    ("2020-03-21T10:30", "2020-03-21"), ("21/03/2020", "2020-03-21"), ("1.3.2020", "2020-03-01"),
    ("21-03-2020", "2020-03-21"), ("03/04/2020", "2020-04-03"), ("1 Mar 2020", "2020-03-01"),
    ("01-March-2020", "2020-03-01"), ("3rd Sept 2020", "2020-09-03"), ("43831", "2020-01-01"),
    ("  21/03/2020 ", "2020-03-21"), ("29/02/2020", "2020-02-29"),
]


@pytest.mark.parametrize(("text", "expected"), UNDERSTOOD)
def test_understood_forms(text, expected):
    parsed = parse_dates(pd.Series([text], dtype=object))
    assert parsed.problem.iloc[0] is None
    assert parsed.values.iloc[0] == pd.Timestamp(expected)


REFUSED = [
    ("03/25/2020", US_ORDER), ("29/02/2019", "date_impossible"), ("32/01/2020", "date_impossible"),
    ("13/13/2020", "date_impossible"), ("2020-02-30", "date_impossible"),
    ("01/02/85", "date_two_digit_year"), ("Jan 2020", "date_unreadable"),
    ("20200101", "date_unreadable"), ("21 Foo 2020", "date_unreadable"),
    ("01/01/1899", "date_out_of_range"), ("0", "date_out_of_range"),
    ("99999999", "date_unreadable"),
]


@pytest.mark.parametrize(("text", "code"), REFUSED)
def test_refused_forms(text, code):
    parsed = parse_dates(pd.Series([text], dtype=object))
    assert parsed.problem.iloc[0] == code
    assert pd.isna(parsed.values.iloc[0])


def test_typed_cells_and_blanks():
    cells = pd.Series([dt.datetime(2020, 1, 2, 13, 0), dt.date(1999, 5, 6), 43831.75, 43831,
                       None, np.nan, "", True], dtype=object)
    parsed = parse_dates(cells)
    assert parsed.values.iloc[:4].tolist() == [pd.Timestamp(d) for d in (
        "2020-01-02", "1999-05-06", "2020-01-01", "2020-01-01")]
    assert parsed.problem.iloc[4:7].isna().all() and parsed.values.iloc[4:7].isna().all()
    assert parsed.problem.iloc[7] == "date_unreadable"


def test_mixed_time_zones_give_the_local_calendar_day():
    cells = pd.Series([pd.Timestamp("2020-01-02 23:30", tz="Europe/London"),
                       pd.Timestamp("2020-01-02 23:30", tz="America/New_York"),
                       np.datetime64("2020-01-05T10:00"), np.datetime64("NaT")], dtype=object)
    parsed = parse_dates(cells)
    assert parsed.values.iloc[:3].tolist() == [pd.Timestamp(d) for d in (
        "2020-01-02", "2020-01-02", "2020-01-05")]
    assert parsed.problem.isna().all() and pd.isna(parsed.values.iloc[3])


def test_1904_workbooks():
    parsed = parse_dates(pd.Series([0, 1], dtype=object), excel_epoch=EXCEL_EPOCH_1904)
    assert parsed.values.iloc[1] == pd.Timestamp("1904-01-02")
    assert parsed.problem.iloc[0] == "date_out_of_range"  # serial 0 is not a date


def test_swappable_marks_only_ambiguous_day_month():
    parsed = parse_dates(pd.Series(["03/04/2020", "13/04/2020", "04/04/2020", "2020-03-04"]))
    assert parsed.swappable.tolist() == [True, False, False, False]
    assert parsed.day_first_only == 1 and not parsed.looks_month_first


cells = st.one_of(
    st.none(), st.text(max_size=30), st.integers(-10**9, 10**9),
    st.floats(allow_nan=True, allow_infinity=True), st.dates(), st.datetimes(), st.booleans(),
    st.datetimes(timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5))])),
    st.times(), st.timedeltas(), st.just(np.datetime64("NaT")), st.just(pd.NaT),
    st.from_regex(r"\A\d{1,4}[-/. ]\d{1,2}[-/. ]\d{1,4}\Z"),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(cells, max_size=20))
def test_any_cells_parse_without_raising(values):
    parsed = parse_dates(pd.Series(values, dtype=object))
    assert len(parsed.values) == len(values)
    for cell, value, problem in zip(values, parsed.values, parsed.problem, strict=True):
        blank = (not cell.strip()) if isinstance(cell, str) else bool(pd.isna(cell))
        if blank:
            assert problem is None and pd.isna(value)
        else:  # every non-blank cell gives exactly one of: a date, a problem
            assert (problem is None) != pd.isna(value)
        if not pd.isna(value):
            assert 1900 <= value.year <= 2100


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
       st.sampled_from(["%d/%m/%Y", "%Y-%m-%d", "%d.%m.%Y", "%-d %b %Y", "%d-%B-%Y"]))
def test_round_trip(date, fmt):
    parsed = parse_dates(pd.Series([date.strftime(fmt)], dtype=object))
    assert parsed.values.iloc[0] == pd.Timestamp(date)

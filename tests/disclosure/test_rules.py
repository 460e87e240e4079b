"""Spec tables for the cell-level rules (docs/disclosure-control.md)."""

from __future__ import annotations

import pytest

from jdl.disclosure import complement_small, is_small, released_count, round_count, secondary_cells


@pytest.mark.parametrize(("n", "small"), [(0, True), (1, True), (9, True), (10, False),
                                          (11, False), (347, False)])
def test_counts_below_ten_are_small(n, small):
    assert is_small(n, 10) is small


@pytest.mark.parametrize(("n", "rounded"), [
    (10, 10), (11, 10), (12, 10), (13, 15), (14, 15), (15, 15), (17, 15), (18, 20),
    (347, 345), (1041, 1040), (41873, 41875), (0, 0), (2.5, 5), (347.4, 345)])
def test_round_to_nearest_five_halves_up(n, rounded):
    assert round_count(n, 5) == rounded


@pytest.mark.parametrize(("n", "min_count", "base", "out"), [
    (10, 10, 5, 10), (12, 10, 5, 10), (13, 10, 5, 15),
    (8, 8, 5, 10),  # OpenSAFELY: 7 or fewer redacted, 8 released as 10
    (12, 12, 5, 15),  # would round to 10, below the threshold: up to the next multiple
    (3, 3, 10, 10),  # would round to 0
    (23, 10, 10, 20), (25, 10, 10, 30)])
def test_released_count_never_looks_small(n, min_count, base, out):
    assert released_count(n, min_count, base) == out


@pytest.mark.parametrize(("n", "events", "small"), [
    (347, 100, False), (347, 338, True), (347, 337, False), (347, 347, True), (20, 0, False)])
def test_complement_of_a_proportion(n, events, small):
    assert complement_small(n, events, 10) is small


@pytest.mark.parametrize(("cells", "hidden", "extra"), [
    # nothing hidden: nothing more to hide
    ([("a", 5), ("b", 300)], set(), []),
    # Female hidden, Male would reveal it from the group total
    ([("Male", 339), ("Female", 8)], {"Female"}, ["Male"]),
    # one hidden cell: the next smallest joins it (and 4 + 13 >= 10)
    ([("British", 311), ("Irish", 4), ("EU", 19), ("Other", 13)], {"Irish"}, ["Other"]),
    # two hidden cells summing to 8: their sum would be a small count, hide one more
    ([("White", 221), ("Black", 61), ("Asian", 35), ("Mixed", 22), ("Other", 6),
      ("Unknown", 2)], {"Other", "Unknown"}, ["Mixed"]),
    # two hidden cells summing to at least 10: enough
    ([("a", 100), ("b", 6), ("c", 4)], {"b", "c"}, []),
    # ties: first in table order
    ([("a", 100), ("b", 20), ("c", 20), ("d", 3)], {"d"}, ["b"]),
    # zero cells are hidden too and count towards nothing
    ([("a", 100), ("b", 0), ("c", 0), ("d", 50)], {"b", "c"}, ["d"]),
    # everything hidden already
    ([("a", 3), ("b", 4)], {"a", "b"}, []),
])
def test_secondary_suppression(cells, hidden, extra):
    assert secondary_cells(cells, hidden, 10) == extra

"""The MoJ's own suppression package as a peer: its curated examples as spec tests.

``tests/disclosure/data/mojsuppression_cases.json`` holds the cases of mojSuppression's
``tests/testthat`` (inputs, threshold, and its expected output as a mask), re-typed as data. The
package chooses its secondary cells its own way; what every case must give, whoever's algorithm
runs, is protection: every small cell hidden, no row or column with a single hidden cell, and no
hidden cell recoverable exactly from the published row and column totals (the linear-programming
audit :func:`grid_ranges`, which is how an intruder attacks a suppressed table). The "indirect"
case is the one the lab's rule used to miss.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jdl.disclosure import secondary_cells
from jdl.disclosure._rules import (
    grid_ranges,
    hidden_ranges,
    line_ranges,
    pinned,
    protect_grid,
)

CASES = json.loads((Path(__file__).parent / "data" / "mojsuppression_cases.json").read_text())
IDS = [c["name"] for c in CASES["cases"]]


def _min_count(case) -> int:
    return case["threshold"] + 1  # theirs: "equal to or below"; ours: "below"


def _primary(case) -> set[tuple[int, int]]:
    return {(i, j) for i, row in enumerate(case["grid"]) for j, v in enumerate(row)
            if v <= case["threshold"] and (v != 0 or case["suppress_0"])}


def _recovered(case, guessed) -> dict:
    """Cells a line's guess pins at their true value, where the guess is right (every hidden
    cell of that line really is small): a wrong guess gives the intruder a wrong answer."""
    grid, m = case["grid"], _min_count(case)
    out = {}
    for line in guessed:
        if all(grid[i][j] < m for i, j in line):
            out |= {(i, j): r for (i, j), r in line.items() if r[0] == r[1]}
    return out


def _cells(mask) -> set[tuple[int, int]]:
    return {(i, j) for i, row in enumerate(mask) for j, h in enumerate(row) if h}


@pytest.mark.parametrize("case", CASES["cases"], ids=IDS)
def test_their_expected_output_hides_every_small_cell(case):
    # a check on our transcription of their data: their output hides what their rule says
    assert _primary(case) <= _cells(case["expected"])


@pytest.mark.parametrize("case", CASES["cases"], ids=IDS)
def test_our_table_protection_hides_every_small_cell_and_leaves_none_recoverable(case):
    grid, m = case["grid"], _min_count(case)
    mask = protect_grid(grid, m, hide_zeros=case["suppress_0"])
    hidden = _cells(mask)
    assert _primary(case) <= hidden
    for line in [*mask, *zip(*mask, strict=True)]:
        assert sum(line) != 1, "a line with one hidden cell gives it back from its total"
    zeros = case["suppress_0"]
    plain = grid_ranges(grid, mask, m, hide_zeros=zeros)
    for (i, j), (lo, hi) in plain.items():  # the attack is sound: the truth is inside
        assert lo <= grid[i][j] <= hi
    exact = {(i, j): r for (i, j), r in plain.items() if r[0] == r[1]}
    assert exact == {}, f"cells recovered exactly from the totals: {exact}"
    # the guess "every hidden cell of this line is small" pins a cell only where it holds (a
    # line hiding a larger, secondary cell gives the intruder a wrong answer, not a disclosure)
    guessed = line_ranges(grid, mask, m, hide_zeros=zeros)
    assert _recovered(case, guessed) == {}, "cells recovered by the indirect attack"


def test_the_indirect_case_is_what_a_two_cell_rule_misses():
    """Threshold 5: column c is 5, 8, 5, 8, 5. Hiding the three 5s (and, by rows, three cells
    of b) leaves each line with two or more hidden cells — but three hidden cells, each at most
    5, adding up to 15 are each exactly 5. mojSuppression's answer without its indirect option
    is attacked successfully; with it (and ours), nothing is recovered."""
    case = CASES["cases"][0]
    grid, m = case["grid"], _min_count(case)
    recovered = _recovered(case, line_ranges(grid, case["expected_without_indirect"], m))
    # the three 5s of column c, exactly, and through row 1 the 5 of column b
    assert recovered == {c: (5, 5) for c in [(0, 1), (0, 2), (2, 2), (4, 2)]}
    # a plain total-based audit (no guess about hidden cells) does not see it
    plain = grid_ranges(grid, case["expected_without_indirect"], m)
    assert all(hi - lo >= 1 for lo, hi in plain.values())
    # their indirect answer protects column c, but row 1 still hides just its two 5s (10, 5, 5
    # with a row total of 20): both recovered. Ours leaves nothing (the test above).
    assert _recovered(case, line_ranges(grid, case["expected"], m)) == {
        (0, 1): (5, 5), (0, 2): (5, 5)}
    assert all(hi - lo >= 1 for lo, hi in grid_ranges(grid, case["expected"], m).values())


def test_the_lab_one_way_rule_catches_the_indirect_case_on_its_own():
    """The same column as a one-way table with a published total (a profile table): the three
    5s alone satisfy "two cells, together at least the threshold", but are pinned; the rule
    hides one more (the first 8)."""
    column = [("r1", 5), ("r2", 8), ("r3", 5), ("r4", 8), ("r5", 5)]
    hidden = {"r1", "r3", "r5"}
    assert pinned(hidden_ranges(column, hidden, 6)) == ["r1", "r3", "r5"]
    assert secondary_cells(column, hidden, 6) == ["r2"]
    assert pinned(hidden_ranges(column, hidden | {"r2"}, 6)) == []
    # at threshold 6 (min_count 7) the three 5s could each be 3 to 6: nothing more to hide
    assert secondary_cells(column, hidden, 7) == []


@pytest.mark.parametrize(("cells", "hidden", "extra"), [
    # the lab's own scale: two hidden 9s add up to 18, so each is 9
    ([("a", 200), ("b", 9), ("c", 9), ("d", 40)], {"b", "c"}, ["d"]),
    # 9 and 8 add up to 17: each is 8 or 9, not pinned
    ([("a", 200), ("b", 9), ("c", 8), ("d", 40)], {"b", "c"}, []),
])
def test_indirect_case_with_threshold_ten(cells, hidden, extra):
    assert secondary_cells(cells, hidden, 10) == extra

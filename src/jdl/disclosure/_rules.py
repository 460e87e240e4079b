"""The cell-level rules, as small pure functions (docs/disclosure-control.md cites each)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence


def is_small(n: float, min_count: int) -> bool:
    """A count below ``min_count`` is disclosive (ONS 10-5 rule: fewer than 10; zero included,
    as ACRO treats zeros as disclosive)."""
    return n < min_count


def round_count(n: float, base: int) -> int:
    """``n`` rounded to the nearest multiple of ``base``, halves up (ONS 10-5 rule, OpenSAFELY:
    nearest 5). 12 -> 10, 13 -> 15; never below ``base`` for counts already >= ``base``."""
    return int(base * math.floor(n / base + 0.5))


def released_count(n: float, min_count: int, base: int) -> int:
    """The value a count of at least ``min_count`` is released as: rounded to ``base``, but
    never below ``min_count`` (when ``min_count`` is not a multiple of ``base``, e.g. 12 with
    base 5, the count 12 is released as 15, not 10), so no released count looks small."""
    r = round_count(n, base)
    return r if r >= min_count else base * math.ceil(min_count / base)


def complement_small(n: float, events: float, min_count: int) -> bool:
    """A proportion whose non-events ``n - events`` are few is as disclosive as one whose events
    are few: 100% of a group re-offending reveals each member's outcome (OpenSAFELY, ACRO)."""
    return is_small(n - events, min_count)


def hidden_ranges(
    cells: Sequence[tuple[Hashable, float]], hidden: set[Hashable], min_count: int,
    small: set[Hashable] | None = None,
) -> dict[Hashable, tuple[float, float]]:
    """What an intruder can say of each hidden cell of a table whose total is published.

    The intruder knows the hidden cells' sum (total minus the shown cells) and, conservatively,
    *why* each cell was hidden: a cell in ``small`` (default: the hidden cells below
    ``min_count``) lies in ``[0, min_count - 1]``, any other hidden cell is at least
    ``min_count``. Each cell's range follows from the others' bounds (the interval bounds of a
    sum). A range of one value means the cell is recovered exactly: mojSuppression's "indirect"
    case, where hidden cells all equal to the threshold add up to (number hidden) x threshold.
    """
    value = dict(cells)
    hid = [k for k, _ in cells if k in hidden]
    small = {k for k in hid if value[k] < min_count} if small is None else set(small) & set(hid)
    total = sum(value[k] for k in hid)
    low = {k: 0.0 if k in small else float(min_count) for k in hid}
    high = {k: float(min_count - 1) if k in small else math.inf for k in hid}
    out = {}
    for k in hid:
        others_low = sum(low[j] for j in hid if j != k)
        others_high = sum(high[j] for j in hid if j != k)
        out[k] = (max(low[k], total - others_high), min(high[k], total - others_low))
    return out


def pinned(ranges: dict[Hashable, tuple[float, float]]) -> list[Hashable]:
    """Hidden cells whose range holds a single value: recovered exactly."""
    return [k for k, (lo, hi) in ranges.items() if hi - lo < 1]


def secondary_cells(
    cells: Sequence[tuple[Hashable, float]], hidden: set[Hashable], min_count: int,
    small: set[Hashable] | None = None,
) -> list[Hashable]:
    """Further cells of a table to hide so its published total cannot reveal a hidden cell.

    Where a table's total is published, ``total - sum(shown cells)`` equals the sum of the hidden
    cells. So once any cell is hidden, keep hiding the smallest shown cell (first in table order
    on ties) until at least two cells are hidden, the hidden cells together hold at least
    ``min_count`` people (else their sum is itself a small count), *and* no hidden cell can be
    pinned from that sum (:func:`hidden_ranges`: three hidden cells each below 6 that add up to
    15 are each 5; the MoJ mojSuppression package's "indirect" case) — or nothing is left to hide.
    ``small`` names the cells hidden for being small (default: hidden cells below ``min_count``).
    """
    hid = [key for key, _ in cells if key in hidden]
    if not hid:
        return []
    value = dict(cells)
    small = {k for k in hid if value[k] < min_count} if small is None else set(small)
    shown = sorted((k for k, _ in cells if k not in hidden), key=lambda k: value[k])
    total = sum(value[k] for k in hid)
    extra: list[Hashable] = []

    def unsafe() -> bool:
        if len(hid) + len(extra) < 2 or total < min_count:
            return True
        return bool(pinned(hidden_ranges(cells, {*hid, *extra}, min_count, small)))

    while shown and unsafe():
        key = shown.pop(0)
        extra.append(key)
        total += value[key]
    return extra


def protect_grid(
    grid: Sequence[Sequence[float]], min_count: int, *, hide_zeros: bool = True,
) -> list[list[bool]]:
    """Primary and secondary suppression of a two-way table whose row and column totals are
    published (the shape of the MoJ mojSuppression package's examples): returns the hidden mask.

    A cell below ``min_count`` is hidden (zeros too unless ``hide_zeros`` is False, the MoJ
    package's ``suppress_0 = FALSE``, where a zero is shown and never chosen to protect another
    cell); then :func:`secondary_cells` is applied to every row and every column, repeatedly,
    until no line changes. :func:`grid_ranges` is the matching attack.
    """
    rows, cols = len(grid), len(grid[0]) if grid else 0
    can_hide = {(i, j) for i in range(rows) for j in range(cols)
                if hide_zeros or grid[i][j] != 0}
    hidden: set[Hashable] = {(i, j) for (i, j) in can_hide if grid[i][j] < min_count}
    small: set[Hashable] = set(hidden)
    lines = [[(i, j) for j in range(cols)] for i in range(rows)]
    lines += [[(i, j) for i in range(rows)] for j in range(cols)]
    changed = True
    while changed:
        changed = False
        for line in lines:
            cells = [(c, grid[c[0]][c[1]]) for c in line if c in can_hide]
            extra = secondary_cells(cells, hidden, min_count, small)
            if extra:
                hidden.update(extra)
                changed = True
    return [[(i, j) in hidden for j in range(cols)] for i in range(rows)]


def grid_ranges(
    grid: Sequence[Sequence[float]], mask: Sequence[Sequence[bool]], min_count: int,
    *, hide_zeros: bool = True, assume_small: bool = False,
) -> dict[tuple[int, int], tuple[float, float]]:
    """The intruder's attack on a protected two-way table: for each hidden cell, its smallest and
    largest value consistent with every published row and column total (linear programming, the
    standard audit of cell suppression). Hidden cells are known to be at least 0 (1 when zeros
    are shown); with ``assume_small`` the intruder also guesses that every hidden cell is below
    ``min_count`` (true when no secondary cell was needed: mojSuppression's "indirect" attack).
    An infeasible guess tells the intruder nothing exact: every range is then open."""
    from scipy.optimize import linprog

    cells = [(i, j) for i, row in enumerate(mask) for j, h in enumerate(row) if h]
    if not cells:
        return {}
    index = {c: k for k, c in enumerate(cells)}
    lo0 = 0 if hide_zeros else 1
    bounds = [(lo0, min_count - 1 if assume_small else None)] * len(cells)
    a_eq, b_eq = [], []
    for line in ([[(i, j) for j in range(len(grid[0]))] for i in range(len(grid))]
                 + [[(i, j) for i in range(len(grid))] for j in range(len(grid[0]))]):
        hid = [c for c in line if c in index]
        if hid:
            row = [0.0] * len(cells)
            for c in hid:
                row[index[c]] = 1.0
            a_eq.append(row)
            b_eq.append(float(sum(grid[i][j] for i, j in hid)))
    out = {}
    for c, k in index.items():
        objective = [0.0] * len(cells)
        objective[k] = 1.0
        lo = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        if lo.status == 2:  # the guess is impossible: the intruder learns only that
            return {c: (0.0, math.inf) for c in index}
        objective[k] = -1.0
        hi = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        top = -hi.fun if hi.status == 0 else math.inf
        out[c] = (round(lo.fun, 6), round(top, 6))
    return out


def line_ranges(
    grid: Sequence[Sequence[float]], mask: Sequence[Sequence[bool]], min_count: int,
    *, hide_zeros: bool = True,
) -> list[dict[tuple[int, int], tuple[float, float]]]:
    """The "indirect" attack one line at a time: for each row and column whose hidden cells
    could all be small (their sum at most (number hidden) x (min_count - 1)), the range of each
    of its hidden cells on that guess (one dict per such line)."""
    out: list[dict[tuple[int, int], tuple[float, float]]] = []
    lo0 = 0 if hide_zeros else 1
    lines = [[(i, j) for j in range(len(grid[0]))] for i in range(len(grid))]
    lines += [[(i, j) for i in range(len(grid))] for j in range(len(grid[0]))]
    for line in lines:
        hid = [c for c in line if mask[c[0]][c[1]]]
        total = sum(grid[i][j] for i, j in hid)
        if not hid or total > len(hid) * (min_count - 1):
            continue
        rest = len(hid) - 1
        out.append({c: (max(lo0, total - rest * (min_count - 1)),
                        min(min_count - 1, total - rest * lo0)) for c in hid})
    return out

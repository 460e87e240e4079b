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


def secondary_cells(
    cells: Sequence[tuple[Hashable, float]], hidden: set[Hashable], min_count: int
) -> list[Hashable]:
    """Further cells of a table to hide so its published total cannot reveal a hidden cell.

    Where a table's total is published, ``total - sum(shown cells)`` equals the sum of the hidden
    cells. So once any cell is hidden, keep hiding the smallest shown cell (first in table order
    on ties) until at least two cells are hidden *and* the hidden cells together hold at least
    ``min_count`` people (else their sum is itself a small count), or nothing is left to hide.
    """
    hid = [key for key, _ in cells if key in hidden]
    if not hid:
        return []
    value = dict(cells)
    shown = sorted((k for k, _ in cells if k not in hidden), key=lambda k: value[k])
    total = sum(value[k] for k in hid)
    extra: list[Hashable] = []
    while shown and (len(hid) + len(extra) < 2 or total < min_count):
        key = shown.pop(0)
        extra.append(key)
        total += value[key]
    return extra

"""Differencing guard: cohorts that differ from an earlier one by a handful of people."""

from __future__ import annotations

import pytest

from jdl.core.config import DisclosureSettings
from jdl.disclosure import DisclosureError, assert_no_differencing_risk, differencing_risks

BASE = {f"P{i}" for i in range(100)}


@pytest.mark.parametrize(("earlier", "flagged"), [
    (BASE, False),  # the same cohort again: nothing new is revealed
    (BASE - {"P1"}, True),  # one person more now: their outcome is the difference
    (BASE | {"X"}, True),  # one person fewer now
    ((BASE - {"P1"}) | {"X"}, True),  # one swapped
    (BASE - {f"P{i}" for i in range(9)}, True),  # 9 added
    (BASE - {f"P{i}" for i in range(10)}, False),  # 10 added: a group, not a person
    ({f"Q{i}" for i in range(100)}, False),  # no overlap at all
    (set(), False),  # the earlier cohort was empty? 100 differ
])
def test_small_nonzero_symmetric_differences_are_flagged(earlier, flagged):
    risks = differencing_risks(BASE, {"2024 submission": earlier})
    assert bool(risks) is flagged
    if flagged:
        assert risks[0].earlier == "2024 submission"
        assert 0 < risks[0].symmetric_difference < 10


def test_sizes_are_reported_never_ids():
    [risk] = differencing_risks(BASE, {"a": (BASE - {"P1", "P2"}) | {"X"}})
    assert (risk.only_in_current, risk.only_in_earlier, risk.symmetric_difference) == (2, 1, 3)
    assert "P1" not in risk.describe() and "3 people" in risk.describe()


def test_threshold_is_a_setting():
    earlier = {"a": BASE - {f"P{i}" for i in range(12)}}
    assert not differencing_risks(BASE, earlier)
    assert differencing_risks(BASE, earlier, DisclosureSettings(differencing_min=20))


def test_assert_raises_with_every_risk():
    earlier = {"a": BASE - {"P1"}, "b": BASE, "c": BASE | {"Y", "Z"}}
    with pytest.raises(DisclosureError) as err:
        assert_no_differencing_risk(BASE, earlier)
    assert len(err.value.problems) == 2
    assert_no_differencing_risk(BASE, {"b": BASE})


def test_the_chain_a_then_a_union_b_then_b_plus_one():
    """Published A and A ∪ B give B = (A ∪ B) - A; a new B + x then reveals x."""
    a = {f"A{i}" for i in range(60)}
    b = {f"B{i}" for i in range(60)}
    risks = differencing_risks(b | {"X"}, {"A": a, "A ∪ B": a | b})
    assert [r.earlier for r in risks] == ["A ∪ B - A"]
    assert risks[0].symmetric_difference == 1
    assert differencing_risks(b | {"X"}, {"A": a, "A ∪ B": a | b}, combinations=False) == []


def test_union_and_intersection_of_two_earlier_cohorts():
    a, b = set(range(0, 80)), set(range(40, 120))
    assert [r.earlier for r in differencing_risks(set(range(0, 119)), {"a": a, "b": b})] == [
        "a ∪ b"]
    assert [r.earlier for r in differencing_risks(set(range(40, 81)), {"a": a, "b": b})] == [
        "a ∩ b"]
    # far from every combination: nothing
    assert differencing_risks(set(range(200, 300)), {"a": a, "b": b}) == []

"""Calibration on the synthetic population (session fixture ``synthetic_data_dir``, 30,000
people).

The generator is tuned so that one-year proven re-offending of *all adult index events* matches
MoJ's published rates (42.5% after release from custody, 33.6% after the start of a court order).
Built with that definition (every event, no offence exclusions, release-day offences not
counted), the pool must match the targets within 2 points, and must agree exactly with the
foundation's own, independently written headline query (``jdl.admin.summary``).
"""

from __future__ import annotations

import pytest

from jdl.admin.contract import INDEX_TYPES
from jdl.admin.summary import PUBLISHED_RATES, reoffending_sql
from jdl.cohort import CohortSpec, build_pool, read_data_cutoff
from jdl.engines.duckdb import open_admin

TOLERANCE = 0.02


@pytest.fixture(scope="module")
def rates(synthetic_data_dir):
    cutoff = read_data_cutoff(synthetic_data_dir)
    generator_definition = CohortSpec(
        data_cutoff=cutoff, pool_events="all", excluded_offence_flags=(), count_release_day=False
    )
    with open_admin(synthetic_data_dir) as engine:
        ours = build_pool(engine, spec=generator_definition)
        default = build_pool(engine, spec=CohortSpec(data_cutoff=cutoff))
        theirs = engine.df(reoffending_sql(cutoff.isoformat())).set_index("index_type")
    adults = ours[ours.age_at_index >= 18]
    return {
        "ours": adults.groupby("index_type").reoffended.agg(["size", "mean"]),
        "theirs": theirs,
        "default": default,
        "last_index": CohortSpec(data_cutoff=cutoff).last_complete_index_date,
    }


@pytest.mark.parametrize("index_type", sorted(PUBLISHED_RATES))
def test_adult_one_year_rates_match_the_generator_targets(rates, index_type):
    row = rates["ours"].loc[index_type]
    assert row["size"] >= 5000, "population too small to calibrate to 2 points"
    assert abs(row["mean"] - PUBLISHED_RATES[index_type]) <= TOLERANCE


@pytest.mark.parametrize("index_type", INDEX_TYPES)  # cautions, fines, discharges too
def test_pool_agrees_with_the_independent_headline_query(rates, index_type):
    ours, theirs = rates["ours"].loc[index_type], rates["theirs"].loc[index_type]
    assert ours["size"] == theirs["events"]
    assert ours["mean"] == pytest.approx(theirs["reoffending_rate"], abs=1e-12)


def test_default_pool_is_consistent(rates):
    pool = rates["default"]
    reoffenders = pool[pool.reoffended == 1]
    assert (reoffenders.reoffences >= 1).all()
    assert reoffenders.days_to_first.between(0, 365).all()
    assert pool.loc[pool.reoffended == 0, "days_to_first"].isna().all()
    assert (pool.age_at_index >= 15).all()
    assert (pool.index_offence_group != "sexual").all()
    assert pool.employment_days_1y.between(0, 365).all()
    assert (pool.index_year <= rates["last_index"].year).all()
    # the first event of each kind per person and year (matching is exact on the kind)
    assert not pool.duplicated(["person_id", "index_type", "index_year"]).any()
    assert set(pool.treated) == {0}

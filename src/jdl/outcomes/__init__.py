"""Outcomes stage: proven re-offending and extended outcome measures per index event.

Measures are data (:class:`Measure`) turned into one SQL query by :func:`measures_sql`; the
cohort stage uses the same builder for covariates, so treated people and the comparison pool
share every definition.
"""

from jdl.outcomes._definitions import (
    COURT_OUTCOME_TIERS,
    HEADLINE_OUTCOMES,
    OUTCOME_SET_VERSION,
    headline_outcomes,
    headline_rate,
    long_follow_up_period,
    long_follow_up_problem,
    outcome_measures,
    reported_outcomes,
)
from jdl.outcomes._measures import (
    EVENT_COLUMNS,
    POPULATIONS,
    FollowUp,
    Measure,
    measures_sql,
)

__all__ = [
    "COURT_OUTCOME_TIERS",
    "EVENT_COLUMNS",
    "HEADLINE_OUTCOMES",
    "OUTCOME_SET_VERSION",
    "POPULATIONS",
    "FollowUp",
    "Measure",
    "headline_outcomes",
    "headline_rate",
    "long_follow_up_period",
    "long_follow_up_problem",
    "measures_sql",
    "outcome_measures",
    "reported_outcomes",
]

"""Outcomes stage: proven re-offending and extended outcome measures per index event.

Measures are data (:class:`Measure`) turned into one SQL query by :func:`measures_sql`; the
cohort stage uses the same builder for covariates, so treated people and the comparison pool
share every definition.
"""

from jdl.outcomes._definitions import (
    HEADLINE_OUTCOMES,
    OUTCOME_SET_VERSION,
    headline_outcomes,
    headline_rate,
    outcome_measures,
    reported_outcomes,
)
from jdl.outcomes._measures import EVENT_COLUMNS, FollowUp, Measure, measures_sql

__all__ = [
    "EVENT_COLUMNS",
    "HEADLINE_OUTCOMES",
    "OUTCOME_SET_VERSION",
    "FollowUp",
    "Measure",
    "headline_outcomes",
    "headline_rate",
    "measures_sql",
    "outcome_measures",
    "reported_outcomes",
]

"""The catalogue's result per measure follows the lab's significance rule (known answers)."""

from __future__ import annotations

import pytest

from jdl.catalogue._findings import classify, headline_findings
from jdl.core.config import InferenceSettings
from tests.catalogue._build import released

RULES = InferenceSettings()


def rate(**numbers):
    base = {"label": "One-year proven re-offending rate", "unit": "proportion",
            "treatment": 0.30, "comparison": 0.38, "difference": -0.08, "ci_low": -0.13,
            "ci_high": -0.03, "p_value": 0.01, "significant": True, "treatment_n": 400,
            "comparison_n": 400, "treatment_events": 120, "reported": True}
    return {**base, **numbers}


@pytest.mark.parametrize(("numbers", "reoffenders", "expected"), [
    ({}, 120, "decrease"),
    ({"difference": 0.08, "ci_low": 0.03, "ci_high": 0.13}, 120, "increase"),
    ({"p_value": 0.051, "significant": False}, 120, "inconclusive"),
    # the report said not significant (decided on unrounded counts): the catalogue agrees
    ({"significant": False}, 120, "inconclusive"),
    ({"p_value": 0.2}, 120, "inconclusive"),  # flag and p disagree: the rule wins
    ({"ci_low": -0.13, "ci_high": 0.01}, 120, "inconclusive"),  # interval includes 0
    ({}, 25, "inconclusive"),  # fewer than 30 treated re-offenders (released count)
    ({"treatment": 0.02, "treatment_n": 400}, 30, "inconclusive"),  # n p = 8 < 10
    ({"difference": None, "ci_low": None, "ci_high": None}, 120, "not_reported"),
    ({"reported": False, "reason_not_reported": "Fewer than 30 re-offenders."}, 120,
     "not_reported"),
])
def test_classify(numbers, reoffenders, expected):
    assert classify("proven_reoffending_rate", rate(**numbers), reoffenders,
                    RULES).result == expected


def test_classify_boundaries_and_settings():
    at = classify("r", rate(p_value=0.05), 30, RULES)
    assert at.result == "decrease" and at.significant  # p <= alpha, exactly 30 re-offenders
    assert classify("r", rate(p_value=0.03), 120, InferenceSettings(alpha=0.01)).result == \
        "inconclusive"
    assert classify("r", rate(), 120, InferenceSettings(min_treated_reoffenders=150)).result == \
        "inconclusive"
    assert classify("r", None, None, RULES).result == "not_reported"


def test_headline_findings_of_released_results():
    findings = headline_findings(released(n=400, diff=-0.08, p=0.01), RULES)
    assert [f.measure for f in findings] == ["proven_reoffending_rate", "reoffending_frequency",
                                             "days_to_first_reoffence"]
    assert findings[0].result == "decrease"
    # released limits: centred on the difference of the released rates (120 and 150 of 400)
    assert findings[0].treatment_n == 400 and findings[0].ci_high == pytest.approx(-0.025)
    # 60 people, 24 re-offenders (released as 25): the report's flag alone is not enough
    small = headline_findings(released(n=60, rate_t=0.4, p=0.01), RULES)[0]
    assert small.result == "inconclusive" and "30" in small.reason

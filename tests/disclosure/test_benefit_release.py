"""The probability of benefit as released (issue 20): computed from the released headline
difference and interval only, banded to 5 points, and hidden whenever the headline is."""

from __future__ import annotations

from dataclasses import replace

import pytest

from jdl.disclosure import DisclosureError, find_release_problems, release
from jdl.disclosure._coarsen import BENEFIT_HIDDEN
from jdl.inference import (
    band_probability,
    predictive_prior,
    probability_of_benefit,
    released_posterior,
)
from tests.fixtures.example_results import example_results


def _raw(prior=None) -> dict:
    typed = example_results()
    rate = typed.measures["proven_reoffending_rate"]
    se = (rate.ci_high - rate.ci_low) / 3.92
    return replace(typed, benefit=probability_of_benefit(rate.difference, se, prior)).to_dict()


def test_released_probabilities_are_recomputed_from_the_released_headline_and_banded():
    raw = _raw()
    exact = raw["benefit"]["probability"]
    out = release(raw).results
    head, b = out["measures"]["proven_reoffending_rate"], out["benefit"]
    post = released_posterior(head["difference"], head["ci_low"], head["ci_high"], 0.0, 0.05)
    assert b["probability"] == band_probability(post.cdf(0.0))
    assert b["probability_by"] == band_probability(post.cdf(-0.02))
    assert b["probability"] != exact  # the exact internal value never leaves the lab
    assert round(100 * b["probability"]) % 5 == 0 or b["probability"] in (0.01, 0.99)
    assert b["posterior_mean"] == round(post.mean, 3)
    for row in b["sensitivity"]:
        assert row["probability"] is None or round(100 * row["probability"]) % 5 == 0 \
            or row["probability"] in (0.01, 0.99)
    assert b["prior"]["source"] == "weakly informative" and b["delta"] == 0.02
    assert find_release_problems(out) == []


@pytest.mark.parametrize("hide", ["small_count", "no_interval"])
def test_hidden_with_the_headline(hide):
    raw = _raw()
    if hide == "small_count":  # fewer than 10 treated re-offenders: the headline is suppressed
        raw["measures"]["proven_reoffending_rate"]["treatment_events"] = 9
    else:
        raw["measures"]["proven_reoffending_rate"]["ci_low"] = None
    out = release(raw).results
    b = out["benefit"]
    for key in ("probability", "probability_by", "posterior_mean", "credible_low",
                "credible_high"):
        assert b[key] is None, key
    assert all(r["probability"] is None and r["probability_by"] is None
               for r in b["sensitivity"])
    assert b["reason_not_reported"] == BENEFIT_HIDDEN
    assert find_release_problems(out) == []


def test_catalogue_prior_is_released_with_its_numbers():
    prior = predictive_prior(-0.03, 0.01, 0.0004, 6, "employment")
    out = release(_raw(prior)).results
    b = out["benefit"]
    assert b["prior"]["source"] == "catalogue" and b["prior"]["reports"] == 6
    assert b["sensitivity"][0]["label"] == "Weakly informative prior"
    assert b["probability"] is not None
    assert find_release_problems(out) == []


def test_an_undeclared_benefit_field_is_refused():
    raw = _raw()
    raw["benefit"]["exact_probability"] = 0.8734
    with pytest.raises(DisclosureError, match="exact_probability"):
        release(raw)

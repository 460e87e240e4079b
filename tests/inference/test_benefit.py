"""The probability of benefit (issue 20): known answers, the catalogue prior, banding, and a
calibration check on simulated normal data that fails when the posterior's spread is wrong."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from jdl.catalogue._register import Z95, Effect, catalogue_prior, pool
from jdl.inference import (
    InferenceError,
    band_probability,
    flat_prior,
    posterior,
    predictive_prior,
    probability_of_benefit,
    released_posterior,
    weakly_informative_prior,
)
from jdl.inference._benefit import BAND_CAP, BAND_FLOOR, pooled_predictive
from jdl.report._wording import BENEFIT_CAP, BENEFIT_FLOOR, probability_text


def test_conjugate_posterior_against_a_hand_worked_case():
    # estimate -4 points, SE 3 points, prior N(0, 5^2) points:
    # precision 1/0.05^2 + 1/0.03^2 = 400 + 1111.11 = 1511.11, sd = 0.025725
    # mean = (-0.04 / 0.0009) / 1511.11 = -0.029412 (the estimate shrunk by 1111.11/1511.11)
    b = probability_of_benefit(-0.04, 0.03, weakly_informative_prior(0.05), delta=0.02)
    assert b.posterior_mean == pytest.approx(-0.0294118, abs=1e-6)
    sd = math.sqrt(1 / 1511.111111)
    assert sd == pytest.approx(0.025725, abs=1e-6)
    # P(theta < 0) = Phi(0.0294118 / 0.025725) = Phi(1.14332); by 2 points: Phi(0.36587)
    assert b.probability == pytest.approx(0.87355, abs=5e-5)
    assert b.probability_by == pytest.approx(0.64277, abs=5e-5)
    assert (b.credible_low, b.credible_high) == pytest.approx(
        (-0.0294118 - Z95 * sd, -0.0294118 + Z95 * sd), abs=1e-6)
    assert b.prior.source == "weakly informative" and "5 percentage points" in \
        b.prior.description


def test_flat_prior_gives_the_one_sided_p_value_read_the_other_way():
    for est, se in [(-0.04, 0.03), (0.01, 0.02), (-0.15, 0.05), (0.0, 0.04)]:
        b = probability_of_benefit(est, se, flat_prior(), delta=0.02)
        assert b.probability == pytest.approx(stats.norm.cdf(-est / se), abs=1e-12)
        assert b.probability_by == pytest.approx(stats.norm.cdf((-0.02 - est) / se), abs=1e-12)
        assert b.posterior_mean == est


def test_the_prior_pulls_towards_its_mean_and_a_precise_estimate_overrides_it():
    vague = probability_of_benefit(-0.04, 0.03, weakly_informative_prior(0.05))
    flat = probability_of_benefit(-0.04, 0.03, flat_prior())
    assert 0.5 < vague.probability < flat.probability  # shrunk towards no effect
    precise = probability_of_benefit(-0.04, 0.001, weakly_informative_prior(0.05))
    assert precise.posterior_mean == pytest.approx(-0.04, abs=1e-4)


def test_sensitivity_rows_are_the_other_priors():
    b = probability_of_benefit(-0.04, 0.03, weakly_informative_prior(0.05))
    labels = [r.label for r in b.sensitivity]
    assert labels == ["Sceptical prior (half the standard deviation)",
                      "Wider prior (twice the standard deviation)", "Flat prior"]
    assert [r.prior_sd for r in b.sensitivity] == [0.025, 0.1, None]
    # the sceptical prior is less sure than the default, the flat one surer
    assert b.sensitivity[0].probability < b.probability < b.sensitivity[2].probability
    catalogue = predictive_prior(-0.02, 0.01, 0.0004, 5, "employment")
    with_cat = probability_of_benefit(-0.04, 0.03, catalogue)
    assert with_cat.sensitivity[0].label == "Weakly informative prior"
    assert with_cat.sensitivity[0].prior_sd == 0.05


# the three reports: differences -5, +1, -3 points with SEs 2, 3, 2.5 points. DerSimonian-Laird
# by hand: fixed mean -0.031066, Q = 2.771855, C = 3283.56, tau^2 = (Q - 2) / C = 0.00023506;
# statsmodels combine_effects(method_re="dl"): mean_effect_re -0.0289643262543723,
# sd_eff_w_re 0.0166243471522128, tau2 0.000235064935064935 (metafor rma(method="DL") agrees)
THREE = ([-0.05, 0.01, -0.03], [0.02, 0.03, 0.025])
MU, SE_MU, TAU2 = -0.0289643262543723, 0.0166243471522128, 0.000235064935064935


def test_dersimonian_laird_pool_matches_statsmodels_numbers():
    assert pooled_predictive(*THREE) == pytest.approx((MU, SE_MU, TAU2), rel=1e-9)
    pooled = pool(*THREE)
    assert pooled.estimate == pytest.approx(MU, rel=1e-9)
    assert pooled.tau2 == pytest.approx(TAU2, rel=1e-9)


def _effect(i: int, d: float, se: float, kind: str = "employment",
            synthetic: bool = False) -> Effect:
    return Effect(id=i, label=f"p{i}", organisation="o", intervention_type=kind, difference=d,
                  ci_low=d - Z95 * se, ci_high=d + Z95 * se, treatment_n=100,
                  result="inconclusive", unit="proportion", synthetic=synthetic)


def test_catalogue_prior_is_the_predictive_distribution_of_three_reports():
    effects = [_effect(i, d, se) for i, (d, se) in enumerate(zip(*THREE, strict=True))]
    plain = catalogue_prior(effects, "employment", widen=False)
    assert plain.source == "catalogue" and plain.reports == 3
    assert plain.mean == pytest.approx(MU, rel=1e-9)
    assert plain.sd == pytest.approx(math.sqrt(TAU2 + SE_MU ** 2), rel=1e-9)  # 0.022615
    assert plain.sd == pytest.approx(0.022615, abs=1e-6)
    # widened to the t-based predictive interval: t(0.975, 1) = 12.7062 over z = 1.95996
    prior = catalogue_prior(effects, "employment")
    assert prior.mean == plain.mean
    assert prior.sd == pytest.approx(0.022615 * 12.7062 / 1.95996, rel=1e-4)  # 0.14661
    assert "3 published reports of employment programmes" in prior.description
    # other types, synthetic reports and the report itself are left out; < 3 -> no prior
    more = [*effects, _effect(9, 0.2, 0.01, kind="mentoring"), _effect(10, 0.2, 0.01,
                                                                    synthetic=True)]
    assert catalogue_prior(more, "employment").mean == pytest.approx(MU, rel=1e-9)
    assert catalogue_prior(effects, "employment", exclude_id=0) is None
    assert catalogue_prior(effects[:2], "employment") is None
    assert catalogue_prior(effects, "other") is None
    synthetic = [_effect(i, d, se, synthetic=True) for i, (d, se) in
                 enumerate(zip(*THREE, strict=True))]
    assert catalogue_prior(synthetic, "employment") is None
    assert catalogue_prior(synthetic, "employment", synthetic=True).mean == pytest.approx(MU)


def test_bad_input_is_a_clear_error():
    with pytest.raises(InferenceError, match="positive standard error"):
        posterior(-0.04, 0.0, flat_prior())
    with pytest.raises(InferenceError, match="positive number"):
        weakly_informative_prior(0.0)
    with pytest.raises(InferenceError, match="at least 3"):
        predictive_prior(0.0, 0.01, 0.0, 2)
    with pytest.raises(InferenceError, match="delta"):
        probability_of_benefit(-0.04, 0.03, delta=-0.01)


@pytest.mark.parametrize(("p", "banded", "text"), [
    (0.874, 0.85, "85%"), (0.876, 0.9, "90%"), (0.5, 0.5, "50%"), (0.03, 0.05, "5%"),
    (0.98, 0.95, "95%"), (0.991, 0.99, "more than 99%"), (0.9999, 0.99, "more than 99%"),
    (0.009, 0.01, "less than 1%"), (0.0, 0.01, "less than 1%"), (0.012, 0.05, "5%")])
def test_banding(p, banded, text):
    assert band_probability(p) == banded
    assert probability_text(band_probability(p)) == text
    assert band_probability(None) is None
    assert (BENEFIT_CAP, BENEFIT_FLOOR) == (BAND_CAP, BAND_FLOOR)  # the report's words agree


def test_released_posterior_uses_only_the_released_interval():
    # a symmetric released interval: the SE is its half width over z
    post = released_posterior(-0.04, -0.04 - Z95 * 0.03, -0.04 + Z95 * 0.03, 0.0, 0.05)
    direct = posterior(-0.04, 0.03, weakly_informative_prior(0.05))
    assert (post.mean, post.sd) == pytest.approx((direct.mean, direct.sd), rel=1e-12)


def _pit_gap(pit: np.ndarray) -> float:
    share = np.bincount(np.minimum((pit * 10).astype(int), 9), minlength=10) / len(pit)
    return float(np.max(np.abs(share - 0.1)))


def test_calibrated_on_simulated_normal_data_and_the_check_catches_a_wrong_sd():
    """Effects drawn from the prior, estimates with known SEs: the posterior's probability of a
    reduction is calibrated by deciles (within 2 points at 20,000 draws) and its CDF at the
    truth is uniform; a posterior 30% too narrow or too wide fails the same check."""
    rng = np.random.default_rng(20)
    n, prior = 20_000, weakly_informative_prior(0.05)
    theta = rng.normal(0.0, 0.05, n)
    se = rng.uniform(0.015, 0.06, n)
    est = theta + rng.normal(0.0, se)
    posts = [posterior(float(e), float(s), prior) for e, s in zip(est, se, strict=True)]
    p = np.array([q.cdf(0.0) for q in posts])
    deciles = np.minimum((p * 10).astype(int), 9)
    for b in range(10):
        mask = deciles == b
        assert abs(p[mask].mean() - (theta[mask] < 0).mean()) < 0.02, b
    pit = np.array([q.cdf(float(t)) for q, t in zip(posts, theta, strict=True)])
    assert _pit_gap(pit) < 0.01
    for factor in (0.7, 1.3):
        wrong = stats.norm.cdf((theta - np.array([q.mean for q in posts]))
                               / (factor * np.array([q.sd for q in posts])))
        assert _pit_gap(wrong) > 0.02, factor

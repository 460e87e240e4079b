"""The evaluation's probability of benefit: its settings reach it, and the catalogue's
published effects become its prior only when allowed and when there are enough of them."""

from __future__ import annotations

from types import SimpleNamespace

from jdl.catalogue._register import Z95, Effect
from jdl.core.config import Settings
from jdl.evaluation._evaluate import _benefit, _rate_column, benefit_prior


def _effects(n: int, synthetic: bool = False) -> list[Effect]:
    return [Effect(id=i, label="p", organisation="o", intervention_type="employment",
                   difference=d, ci_low=d - Z95 * 0.02, ci_high=d + Z95 * 0.02, treatment_n=200,
                   result="inconclusive", unit="proportion", synthetic=synthetic)
            for i, d in enumerate([-0.05, -0.01, 0.02, -0.03][:n])]


def test_prior_follows_the_settings_and_the_catalogue():
    s = Settings()
    assert s.inference.benefit_catalogue_prior is False  # off by default (its calibration)
    assert benefit_prior(_effects(4), "employment", s).source == "weakly informative"
    s = s.model_copy(update={"inference": s.inference.model_copy(
        update={"benefit_prior_sd": 0.04, "benefit_delta": 0.03,
                "benefit_catalogue_prior": True})})
    assert benefit_prior(None, "employment", s).sd == 0.04
    assert benefit_prior(_effects(2), "employment", s).source == "weakly informative"
    assert benefit_prior(_effects(3), "employment", s).source == "catalogue"
    # synthetic reports inform only an evaluation on synthetic records
    assert benefit_prior(_effects(3, True), "employment", s).source == "weakly informative"
    assert benefit_prior(_effects(3, True), "employment", s, synthetic=True).source == \
        "catalogue"
    off = s.model_copy(update={"inference": s.inference.model_copy(
        update={"benefit_catalogue_prior": False})})
    assert benefit_prior(_effects(4), "employment", off).source == "weakly informative"
    rate = SimpleNamespace(difference=-0.04, se=0.03)
    b = _benefit({_rate_column(): rate}, s, benefit_prior(None, "employment", s))
    assert b.delta == 0.03 and b.prior.sd == 0.04
    assert b.sensitivity[0].prior_sd == 0.02  # the settings' SD halved
    assert _benefit({}, s, benefit_prior(None, "employment", s)) is None
    assert _benefit({_rate_column(): SimpleNamespace(difference=0.0, se=0.0)}, s,
                    benefit_prior(None, "employment", s)) is None

"""The Rosenbaum bound under the power-first design: of the 1:1 reference matching, and only
when that matching is significant in the same direction."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from jdl.evaluation._evaluate import _Design, _hidden_bias
from jdl.matching import match
from jdl.matching._design_choice import choose_design, linear_predictor
from jdl.report._wording import rosenbaum_sentence


def _frame(effect: float, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_t, n_c = 300, 6000
    x = np.concatenate([rng.normal(0.4, 1, n_t), rng.normal(0, 1, n_c)])
    treated = np.r_[np.ones(n_t, bool), np.zeros(n_c, bool)]
    p = 1 / (1 + np.exp(-(-0.4 + 0.8 * x + effect * treated)))
    return pd.DataFrame({"treated": treated, "x": x,
                         "reoffended": (rng.random(len(x)) < p).astype(int)})


def _matcher(data, _t, covs, **kw):
    kw.setdefault("distance", linear_predictor(data, "treated", covs))
    return match(data, "treated", covs, caliper=0.2, std_caliper=True, random_state=1,
                 **{"ratio": 10, "replace": True, **kw})


def _rate(data, result, significant: bool):
    w = result.weights
    t = result.treat
    y = data["reoffended"].to_numpy()
    return SimpleNamespace(significant=significant,
                           treatment_value=np.average(y[t], weights=w[t]),
                           comparison_value=np.average(y[~t], weights=w[~t]))


def _design(data):
    choice = choose_design(data, "treated", ["x"], exact=None)
    return _Design(choice.result, "power-first", choice.rule, choice.overrides, choice)


def test_bound_of_the_reference_pairs_when_both_are_significant():
    data = _frame(effect=-1.2)
    design = _design(data)
    bias = _hidden_bias(data, ["x"], design, _rate(data, design.result, True), "reoffended",
                        _matcher)
    assert bias.on_reference_design
    assert bias.gamma_at_which_significance_lost is not None
    assert bias.gamma_at_which_significance_lost > 1.3
    words = rosenbaum_sentence({"gamma_at_which_significance_lost": 1.6,
                                "on_reference_design": True}, True)
    assert words.startswith("In the check that pairs each participant with one comparison")


def test_no_bound_when_the_reference_pairs_show_nothing():
    data = _frame(effect=0.0)
    design = _design(data)
    # the main analysis called significant (as chance can), the 1:1 pairs not: no bound of 1
    bias = _hidden_bias(data, ["x"], design, _rate(data, design.result, True), "reoffended",
                        _matcher)
    assert bias.gamma_at_which_significance_lost is None
    assert bias.on_reference_design


def test_no_bound_for_an_inconclusive_result():
    data = _frame(effect=-1.2)
    design = _design(data)
    bias = _hidden_bias(data, ["x"], design, _rate(data, design.result, False), "reoffended",
                        _matcher)
    assert bias.gamma_at_which_significance_lost is None

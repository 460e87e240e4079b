"""Balance when a covariate is constant among the matched comparison people."""

import numpy as np

from jdl.matching._balance import balance_stats


def test_variance_ratio_is_undefined_not_an_error_when_controls_are_constant():
    x = np.array([1.0, 2.0, 3.0, 0.0, 0.0, 0.0])
    treat = np.array([True, True, True, False, False, False])
    w = np.ones(6)
    m1, m0, smd, vr, *_ = balance_stats(x, treat, w, 1.0, False)
    assert (m1, m0, smd) == (2.0, 0.0, 2.0)
    assert np.isnan(vr)

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


def test_the_largest_smd_alone_is_the_balance_tables_exactly():
    """The sensitivity rows take ``max_abs_smd()`` instead of the whole balance table (whose
    eCDF statistics sort every column of the pool): the same number, bit for bit."""
    from pathlib import Path

    import pandas as pd

    from jdl.matching import match

    df = pd.read_csv(Path(__file__).parent / "data" / "lalonde.csv")
    covs = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
    designs = [{}, {"replace": True, "ratio": 3}, {"caliper": 0.1},
               {"distance": "mahalanobis"}, {"method": "subclass"}]
    for kw in designs:
        m = match(df, "treat", covs, **kw)
        assert m.max_abs_smd() == m.balance().max_abs_smd, kw

"""Where the adjusted values are shown (the report's measure and the CLI's outcome), a
declined covariate-adjusted estimate shows its plain reason instead (issue 18 leftover)."""

from __future__ import annotations

import copy
import re

from jdl.core.config import DisclosureSettings
from jdl.disclosure import assert_released, release
from jdl.inference._adjusted import REASONS

REASON = "No adjusted estimate: " + REASONS["few_clusters"]


def _with_adjustment(raw: dict, declined: bool) -> tuple[dict, str]:
    raw = copy.deepcopy(raw)
    name = raw["headline_measures"][0]
    m = raw["measures"][name]
    if declined:
        m.update(adjusted_comparison=None, adjusted_difference=None, adjusted_ci_low=None,
                 adjusted_ci_high=None, adjusted_p_value=None, adjustment=None,
                 adjustment_declined=REASON)
    else:
        d = m["difference"]
        m.update(adjusted_comparison=m["comparison"], adjusted_difference=d,
                 adjusted_ci_low=d - 0.05, adjusted_ci_high=d + 0.05, adjusted_p_value=0.5,
                 adjustment="logistic model", adjustment_declined=None)
    return raw, name


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_report_gives_the_reason_where_the_adjusted_difference_would_be(raw):
    from jdl.report import render_html

    declined, name = _with_adjustment(raw, declined=True)
    released = release(declined, DisclosureSettings())
    assert_released(released.results, DisclosureSettings())  # a released label, no number
    assert released.results["measures"][name]["adjustment_declined"] == REASON
    text = _text(render_html(released.results))
    assert ("No difference adjusted for the characteristics used in matching is given (a "
            "model of the outcome on the matched groups, as a check on the comparison): there "
            "are fewer matched sets than terms in the model") in text
    estimated, _ = _with_adjustment(raw, declined=False)
    text = _text(render_html(release(estimated, DisclosureSettings()).results))
    assert "Adjusted for the characteristics used in matching" in text
    assert "No difference adjusted" not in text


def test_the_cli_prints_the_reason_or_the_adjusted_values():
    from jdl.pipeline_cli import _adjusted_line

    assert _adjusted_line({"adjustment_declined": REASON}) == REASON
    assert REASON.startswith("No adjusted estimate: there are fewer matched sets")
    line = _adjusted_line({"adjusted_difference": -0.04, "adjusted_ci_low": -0.09,
                           "adjusted_ci_high": 0.01})
    assert line == "Adjusted for the matching covariates: -0.04 (95% CI -0.09 to +0.01)"
    assert _adjusted_line({"difference": 0.1}) is None

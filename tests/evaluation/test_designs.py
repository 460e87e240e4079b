"""The whole evaluation runs to a report with every supported matching option (issue 18,
finding 1), the power-first default records its design, and a request below the post-linkage
minimum is declined as "could not be answered" (build 4).

Linkage and the cohort run once (shared checkpoints); each design then matches, estimates,
releases and writes the report (about 25-60 s each, so they are marked slow).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from jdl.admin.synth import make_submission
from jdl.core.config import MatchingSettings, Settings
from jdl.evaluation import CouldNotBeAnswered
from jdl.run import run_evaluation

PROGRAMME = "new-leaf-employment"
DESIGNS: dict[str, dict[str, Any]] = {
    "power_first": {"design": "power_first"},
    "1:1 reference": {},
    "with replacement": {"design": "fixed", "replace": True},
    "3:1": {"design": "fixed", "ratio": 3},
    "3:1 with replacement": {"design": "fixed", "ratio": 3, "replace": True},
    "exact": {"design": "fixed", "method": "exact"},
    "subclass": {"design": "fixed", "method": "subclass", "exact": ()},
}


class _Memory:
    """Checkpoints kept in memory: the designs share one linkage and cohort."""

    def __init__(self) -> None:
        self.saved: dict[str, Any] = {}

    def load(self, stage: str) -> Any:
        return self.saved.get(stage)

    def save(self, stage: str, value: Any) -> None:
        self.saved[stage] = value


@pytest.fixture(scope="module")
def upload(synthetic_data_dir, tmp_path_factory):
    return make_submission(synthetic_data_dir, PROGRAMME,
                           tmp_path_factory.mktemp("upload") / f"{PROGRAMME}.csv")


@pytest.fixture(scope="module")
def shared() -> _Memory:
    return _Memory()


def _run(upload, data_dir, out, matching, shared, **settings):
    return run_evaluation(upload["upload"], upload["programme"], data_dir, out,
                          settings=Settings(matching=matching, **settings), seed=3,
                          checkpoints=shared)


@pytest.mark.slow
@pytest.mark.parametrize("design", list(DESIGNS))
def test_the_evaluation_runs_to_a_report_with_every_design(design, upload, synthetic_data_dir,
                                                            tmp_path, shared):
    ev = _run(upload, synthetic_data_dir, tmp_path, DESIGNS[design], shared)
    assert ev.files["html"].exists() and ev.files["pdf"].exists()
    results = json.loads((tmp_path / "results.json").read_text())
    rate = results["measures"]["proven_reoffending_rate"]
    assert rate["difference"] is not None and rate["ci_low"] < rate["ci_high"]
    m = results["matching"]
    assert m["design"]
    # the comparison group's effective size is released rounded and never exceeds its head count
    assert m["comparison_ess"] % 5 == 0 and m["comparison_ess"] <= m["controls_matched"]
    assert results["subgroups"] and results["survival"]["comparison"]
    html = ev.files["html"].read_text()
    assert "Effective size of the comparison group" in html
    # each group's own interval and the covariate-adjusted difference, as released
    assert rate["treatment_ci_low"] < rate["treatment"] < rate["treatment_ci_high"]
    assert rate["comparison_ci_low"] < rate["comparison"] < rate["comparison_ci_high"]
    assert "Participants: " in html and "(95% confidence interval" in html
    if rate["adjusted_difference"] is not None:
        assert "Adjusted for the characteristics used in matching" in html
        assert rate["adjusted_ci_low"] <= rate["adjusted_difference"] <= rate["adjusted_ci_high"]
    if design == "power_first":
        assert m["replace"] is True and m["ratio"] in MatchingSettings().candidate_ratios
        assert "by balance first" in m["design_rule"]
        labels = [r["label"] for r in results["sensitivity"]["specifications"]]
        assert "1:1 without replacement (reference design)" in labels
        assert (tmp_path / "internal" / "pairs.csv").exists()


@pytest.mark.slow
def test_a_request_below_the_minimum_could_not_be_answered(upload, synthetic_data_dir,
                                                           tmp_path, shared):
    with pytest.raises(CouldNotBeAnswered) as declined:
        _run(upload, synthetic_data_dir, tmp_path, {}, shared,
             inference={"min_matched_treated": 100_000})
    assert declined.value.minimum == 100_000 and declined.value.stage == "eligible"
    assert declined.value.message.startswith("This request could not be answered")
    assert "100000" in declined.value.message.replace(",", "")
    assert not (tmp_path / "results.json").exists()  # nothing released
    # the link table stays (lab-internal) for the differencing guard: whether a request is
    # answered can turn on one person
    assert (tmp_path / "internal" / "links.csv").is_file()

"""Registered sub-analyses end to end (issue 20 part 1): an upload with attendance and
delivery-mode columns and a registered plan gives matched sub-analyses, Holm-adjusted, a
dose-response block and the plan's text and hash, all through disclosure control; and the
release's rules for the registration block, on the typed example."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from jdl.admin.synth import make_submission
from jdl.core.errors import JDLError
from jdl.disclosure import assert_released, release
from jdl.evaluation import evaluate
from jdl.evaluation._registered import RegistrationSummary
from jdl.inference import DECLINED_FOR_CONFIDENTIALITY, DoseResponse, SubgroupEstimate
from jdl.intake import RegistrationError, registration_from_dict
from tests.fixtures.example_results import example_results

PROGRAMME = "new-leaf-employment"
PLAN = {"primary_measure": "proven_reoffending_rate",
        "variables": {"attendance": "count",
                      "delivery_mode": {"kind": "category",
                                        "categories": ["In person", "Online"]},
                      "site": {"kind": "category", "categories": ["North", "South"]}},
        "sub_analyses": ["delivery_mode", "attendance", "site", "sex"],
        "dose_bands": [8]}


@pytest.fixture(scope="module")
def upload(synthetic_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("upload")
    paths = make_submission(synthetic_data_dir, PROGRAMME, out / f"{PROGRAMME}.csv")
    rows = pd.read_csv(paths["upload"], dtype=str, keep_default_na=False)
    rng = np.random.default_rng(5)
    rows["Sessions attended"] = rng.integers(0, 17, len(rows)).astype(str)
    rows["Delivery method"] = rng.choice(["In person", "online"], len(rows))
    # a "site" of three people: the organisation must not learn their outcomes
    rows["site"] = "North"
    rows.loc[rows.index[:3], "site"] = "South"
    path = out / "with-variables.csv"
    rows.to_csv(path, index=False)
    return {"upload": path, "programme": paths["programme"]}


@pytest.fixture(scope="module")
def evaluation(synthetic_data_dir, upload, tmp_path_factory):
    plan = registration_from_dict(PLAN)
    out = tmp_path_factory.mktemp("evaluation")
    return plan, evaluate(upload["upload"], upload["programme"], synthetic_data_dir, out,
                          seed=3, registration=plan)


def _registered(rows):
    return [r for r in rows if r.get("registered")]


def test_registration_text_and_hash_are_released(evaluation):
    plan, done = evaluation
    reg = done.results["registration"]
    assert reg["text"] == plan.canonical_json()
    assert reg["sha256"] == hashlib.sha256(reg["text"].encode()).hexdigest() == plan.sha256
    assert reg["primary_measure"] == "proven_reoffending_rate"
    assert reg["sub_analyses"] == ["delivery_mode", "attendance", "site", "sex"]
    assert_released(done.results)  # every released value declared and passing the checks


def test_each_level_is_a_separate_matched_analysis_with_holm(evaluation):
    _, done = evaluation
    raw = json.loads((done.files["internal"] / "raw_results.json").read_text())
    rows = _registered(raw["subgroups"])
    assert [(r["dimension"], r["level"]) for r in rows] == [
        ("delivery_mode", "In person"), ("delivery_mode", "Online"),
        ("attendance", "0 to 8"), ("attendance", "9 or more"),
        ("site", "North"), ("site", "South"), ("sex", "F"), ("sex", "M")]
    analysed = [r for r in rows if r["difference"] is not None]
    assert len(analysed) >= 3
    # re-matched: each level's comparison group is its own, not the headline's ATT weights
    head = raw["measures"]["proven_reoffending_rate"]
    for r in analysed:
        assert r["treatment_n"] < head["treatment_n"]
        assert r["ci_low"] < r["difference"] < r["ci_high"]
    # Holm across the registered family only (hand check of the step-down)
    ps = [r["p_value"] for r in analysed]
    order = np.argsort(ps)
    m, running, expected = len(ps), 0.0, {}
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        expected[i] = running
    assert [r["p_adjusted"] for r in analysed] == pytest.approx(
        [expected[i] for i in range(m)])
    # the standard dimension registered (sex) is not also in the exploratory table
    assert not [r for r in raw["subgroups"] if r["dimension"] == "sex"
                and not r.get("registered")]
    assert {r["dimension"] for r in raw["subgroups"] if not r.get("registered")} == {
        "age_band", "index_offence_group", "index_type"}


def test_a_site_of_three_and_its_complement_are_not_analysed(evaluation):
    _, done = evaluation
    for where in (json.loads((done.files["internal"] / "raw_results.json").read_text()),
                  done.results):
        site = [r for r in _registered(where["subgroups"]) if r["dimension"] == "site"]
        assert [r["reason_not_reported"] for r in site] == [DECLINED_FOR_CONFIDENTIALITY] * 2
        for r in site:
            assert r["treatment_n"] is None and r["treatment_events"] is None
            assert r["difference"] is None


def test_dose_response_block(evaluation):
    _, done = evaluation
    raw = json.loads((done.files["internal"] / "raw_results.json").read_text())
    dose = raw["registration"]["dose_response"]
    assert dose["variable"] == "attendance" and "Thompson and Higgins" in dose["method"]
    bands = [r for r in _registered(raw["subgroups"]) if r["dimension"] == "attendance"]
    if all(r["difference"] is not None for r in bands):
        # two bands: the trend is their difference
        assert dose["slope"] == pytest.approx(bands[1]["difference"] - bands[0]["difference"])
    released = done.results["registration"]["dose_response"]
    shown = [r for r in _registered(done.results["subgroups"])
             if r["dimension"] == "attendance"]
    assert released["bands"] == sum(r["difference"] is not None for r in shown)
    if any(r["difference"] is None for r in shown):
        assert released["slope"] is None and released["reason_not_reported"]
    else:
        assert released["slope"] == pytest.approx(
            shown[1]["difference"] - shown[0]["difference"], abs=1e-4)


def test_a_frequency_primary_measure_with_sub_analyses_is_refused(synthetic_data_dir,
                                                                    upload, tmp_path):
    plan = registration_from_dict({**PLAN, "primary_measure": "reoffending_frequency"})
    with pytest.raises(RegistrationError, match="estimated for a rate"):
        evaluate(upload["upload"], upload["programme"], synthetic_data_dir, tmp_path,
                 registration=plan)
    unknown = registration_from_dict({**PLAN, "primary_measure": "happiness"})
    with pytest.raises(JDLError, match="not one of the lab's measures"):
        evaluate(upload["upload"], upload["programme"], synthetic_data_dir, tmp_path,
                 registration=unknown)


# ------------------------------------------------------------------- the release's rules


def _example_with(rows, dose):
    base = example_results()
    summary = RegistrationSummary('{"primary_measure":"proven_reoffending_rate"}', "0" * 64,
                                  "proven_reoffending_rate", ("attendance",), dose)
    return replace(base, subgroups=(*base.subgroups, *rows), registration=summary).to_dict()


def _band(level, n, events, d, lo, hi, p):
    return SubgroupEstimate("attendance", level, n, n, events, events + 10, d, lo, hi, p, p,
                            False, registered=True, comparison_ess=n)


def test_dose_trend_is_recomputed_from_released_bands_and_withheld_with_one():
    dose = DoseResponse("attendance", "m", 2, -0.1, -0.2, 0.0, 0.05)
    shown = [_band("0 to 8", 200, 80, -0.05, -0.14, 0.04, 0.3),
             _band("9 or more", 200, 60, -0.10, -0.19, -0.01, 0.03)]
    out = release(_example_with(shown, dose)).results
    bands = [r for r in out["subgroups"] if r.get("registered")]
    assert all(r["difference"] is not None for r in bands)
    released = out["registration"]["dose_response"]
    assert released["slope"] == pytest.approx(bands[1]["difference"] - bands[0]["difference"],
                                              abs=1e-4)
    assert_released(out)
    # a band of 20 people: withheld, so is its partner (else rebuilt from the total), and the
    # trend (else the hidden band could be estimated back from it)
    small = [_band("0 to 8", 20, 8, -0.05, -0.3, 0.2, 0.7), shown[1]]
    out = release(_example_with(small, dose)).results
    assert [r["difference"] for r in out["subgroups"] if r.get("registered")] == [None, None]
    released = out["registration"]["dose_response"]
    assert released["slope"] is None and released["p_value"] is None
    assert released["bands"] == 0 and released["reason_not_reported"]
    assert_released(out)


def test_holm_families_are_separate_at_release():
    rows = [_band("0 to 8", 200, 80, -0.05, -0.14, 0.04, 0.3),
            _band("9 or more", 200, 60, -0.10, -0.19, -0.01, 0.03)]
    # two exploratory rows (a dimension of two large levels)
    rows += [replace(_band(level, 300, 90, -0.08, -0.15, -0.01, 0.02), dimension="region",
                     registered=False) for level in ("East", "West")]
    out = release(_example_with(rows, None)).results
    registered = [r for r in out["subgroups"] if r.get("registered")]
    exploratory = [r for r in out["subgroups"] if not r.get("registered")
                   and r.get("p_value") is not None]
    # each family adjusted within itself: the largest p of a family of m is not multiplied
    for family in (registered, exploratory):
        if family:
            top = max(family, key=lambda r: r["p_value"])
            assert top["p_adjusted"] == pytest.approx(
                max(r["p_adjusted"] for r in family))
    # the family of two: the smaller p doubled (released p-values are coarsened, so to 0.02),
    # not multiplied by the size of the exploratory rows added to it
    assert exploratory
    ps = sorted(r["p_value"] for r in registered)
    smallest = min(r["p_adjusted"] for r in registered)
    assert smallest == pytest.approx(2 * ps[0], abs=0.02)
    assert smallest < (2 + len(exploratory)) * ps[0] - 0.05


def test_the_report_prints_the_plan_and_its_sub_analyses(evaluation, tmp_path):
    from jdl.report import render_report

    plan, done = evaluation
    files = render_report(done.results, tmp_path, formats=("html",))
    html = files.html.read_text()
    section = html[html.index('id="registered"'):html.index('id="subgroups"')]
    assert "registered analysis plan" in section
    assert plan.sha256 in section
    # the plan's text, escaped as HTML
    assert "&#34;primary_measure&#34;:&#34;proven_reoffending_rate&#34;" in section \
        or "&quot;primary_measure&quot;:&quot;proven_reoffending_rate&quot;" in section
    assert "Delivery mode: Online" in section or "Delivery mode: In person" in section
    assert "Site: South" in section  # listed as not analysed, with no number of people
    assert "Dose and response: Attendance" in section
    # what the plan did not name is labelled exploratory
    rest = html[html.index('id="subgroups"'):]
    assert "They were not in the organisation's registered plan" in rest


def test_each_sub_analysis_matches_its_own_people(monkeypatch):
    """The frame each registered level is matched on: its participants only, against the
    comparison pool at the same level for a standard dimension and the whole pool for the
    organisation's own variable (a stand-in matcher records what it is given)."""
    from types import SimpleNamespace

    from jdl.evaluation._registered import registered_analyses

    rng = np.random.default_rng(0)
    n_t, n_c = 240, 600
    frame = pd.DataFrame({
        "treated": [1] * n_t + [0] * n_c,
        "event_id": np.arange(n_t + n_c),
        "sex": rng.choice(["F", "M"], n_t + n_c),
        "reoffended": rng.integers(0, 2, n_t + n_c)})
    frame.loc[:119, "sex"], frame.loc[120:239, "sex"] = "F", "M"
    cohort = SimpleNamespace(rows=pd.DataFrame({
        "event_id": np.arange(n_t), "row_number": np.arange(n_t) + 2, "status": "eligible"}))
    submission = SimpleNamespace(variable_values=lambda: pd.DataFrame({
        "row_number": np.arange(n_t) + 2,
        "delivery_mode": ["Online"] * 60 + ["In person"] * 180,
        # "North": the people online and one more; "South": everyone else
        "site": ["North"] * 61 + ["South"] * 179}))
    seen = {}

    def match(sub):
        treated = sub[sub["treated"] == 1]
        key = (len(treated), tuple(sorted(sub.loc[sub["treated"] == 0, "sex"].unique())))
        seen.setdefault("calls", []).append(key)
        return SimpleNamespace(n_treated_matched=len(treated), data=sub)

    def effects(result):
        n = int((result.data["treated"] == 1).sum())
        e = SimpleNamespace(kind="rate", n_treated=n, n_comparison=n, treatment_events=n // 3,
                            comparison_events=n // 3, comparison_ess=n, suppressed=False,
                            notes=(), difference=-0.05, ci_low=-0.15, ci_high=0.05,
                            p_value=0.3)
        return e, e

    main = SimpleNamespace(data=frame, treat=frame["treated"].to_numpy() == 1,
                           weights=np.ones(len(frame)))
    plan = registration_from_dict({
        "primary_measure": "proven_reoffending_rate",
        "variables": {"delivery_mode": {"kind": "category",
                                        "categories": ["In person", "Online"]}},
        "sub_analyses": ["delivery_mode", "sex"]})
    out = registered_analyses(frame, main, cohort, submission, plan,
                              (), match, effects, alpha=0.05,
                              minimum=50, measure="proven_reoffending_rate")
    assert seen["calls"] == [(180, ("F", "M")), (60, ("F", "M")),   # the whole pool
                             (120, ("F",)), (120, ("M",))]            # the same sex only
    assert [r.treatment_n for r in out.rows] == [180, 60, 120, 120]
    assert all(r.registered and r.measure == "proven_reoffending_rate" for r in out.rows)
    assert out.summary.sha256 == plan.sha256 and out.summary.dose_response is None

    # a second variable whose groups are the first's but for one person: not analysed
    seen.clear()
    overlap = registration_from_dict({
        "primary_measure": "proven_reoffending_rate",
        "variables": {"delivery_mode": {"kind": "category",
                                        "categories": ["In person", "Online"]},
                      "site": {"kind": "category", "categories": ["North", "South"]}},
        "sub_analyses": ["delivery_mode", "site"]})
    out = registered_analyses(frame, main, cohort, submission, overlap, (), match, effects,
                              alpha=0.05, minimum=50)
    assert [(r.dimension, r.level, r.treatment_n) for r in out.rows] == [
        ("delivery_mode", "In person", 180), ("delivery_mode", "Online", 60),
        ("site", "North", None), ("site", "South", None)]
    assert len(seen["calls"]) == 2  # the declined groups were never matched

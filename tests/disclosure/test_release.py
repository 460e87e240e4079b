"""Spec-style tests for ``release``: small dicts in, released dicts out."""

from __future__ import annotations

import copy
import itertools
import json
import math
from pathlib import Path

import pytest

from jdl.core.config import DisclosureSettings
from jdl.core.errors import JDLError
from jdl.disclosure import DisclosureError, Released, find_release_problems, release
from jdl.disclosure._coarsen import released_threshold, two_proportions

FIXTURE = Path(__file__).parents[1] / "fixtures" / "raw_results_example.json"


@pytest.fixture
def example() -> dict:
    return json.loads(FIXTURE.read_text())


def measure(n_t, ev_t, n_c, ev_c, unit="proportion", **extra) -> dict:
    m = {"label": "x", "unit": unit, "treatment": 0.3, "comparison": 0.35, "difference": -0.05,
         "ci_low": -0.1, "ci_high": 0.0, "p_value": 0.04, "significant": True,
         "conclusion": "words", "treatment_n": n_t, "comparison_n": n_c,
         "treatment_events": ev_t, "comparison_events": ev_c, "reported": True,
         "reason_not_reported": None}
    m.update(extra)
    return m


# --- counts ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "released"), [
    (0, None), (1, None), (9, None), (10, 10), (11, 10), (12, 10), (13, 15), (347, 345),
    (1041, 1040), (None, None)])
def test_a_count_is_suppressed_below_ten_else_rounded_to_five(raw, released):
    out = release({"counts": {"linked": raw}}).results
    assert out["counts"]["linked"] == released
    assert ("/counts/linked" in out["disclosure"]["suppressed"]) is (raw is not None and raw < 10)


@pytest.mark.parametrize(("raw", "released"), [(7, None), (8, 10), (12, 10), (13, 15)])
def test_opensafely_threshold_is_a_setting(raw, released):
    s = DisclosureSettings(min_count=8)
    assert release({"counts": {"linked": raw}}, s).results["counts"]["linked"] == released


def test_top_level_copies_are_counts_too():
    out = release({"counts": {"submitted": 431, "treatment_n": 9},
                   "submitted": 431, "treatment_n": 9}).results
    assert out["submitted"] == out["counts"]["submitted"] == 430
    assert out["treatment_n"] is None and out["counts"]["treatment_n"] is None


def test_every_count_kind_is_rounded(example):
    out = release(example).results
    assert out["attrition"][0] == {"step": "Submitted", "n": 430}
    assert out["matching"]["treated_matched"] == 345
    assert out["sensitivity"]["specifications"][2]["comparison_n"] == 1040
    assert out["power"]["treatment_n"] == 345
    assert out["selective_sample"]["submitted"] == 430
    assert out["programme"]["declared_participants"] == 400
    assert out["counts"]["comparison_pool_n"] == 41875


def test_non_counts_are_untouched(example):
    out = release(example).results
    assert out["matching"]["caliper"] == 0.2 and out["matching"]["ratio"] == 1
    assert out["programme"]["organisation"] == "New Leaf Trust"
    assert out["seed"] == example["seed"]


# --- derived values --------------------------------------------------------------------------

def test_a_rate_from_a_suppressed_count_is_suppressed():
    out = release({"measures": {"custodial": measure(347, 8, 347, 14)}}).results
    m = out["measures"]["custodial"]
    assert m["treatment_events"] is None and m["treatment"] is None
    # a measure not reported carries no estimate at all, on either side
    assert m["comparison"] is None and m["comparison_events"] == 15
    for k in ("difference", "ci_low", "ci_high", "p_value", "significant", "conclusion"):
        assert m[k] is None, k
    assert m["reported"] is False and "confidentiality" in m["reason_not_reported"]


@pytest.mark.parametrize(("n", "events", "hidden"), [
    (347, 347, True),  # a 100% cell: everyone re-offended
    (347, 338, True),  # 9 did not re-offend
    (347, 337, False),  # 10 did not
    (347, 0, True),  # a 0% cell
])
def test_zero_and_hundred_percent_cells_are_disclosive(n, events, hidden):
    out = release({"measures": {"r": measure(n, events, 400, 150)}}).results["measures"]["r"]
    assert (out["treatment"] is None) is hidden
    assert (out["difference"] is None) is hidden
    assert (out["treatment_events"] is None) is hidden  # n - events would give it away


def test_complement_rule_is_a_setting():
    s = DisclosureSettings(suppress_complement=False)
    out = release({"measures": {"r": measure(347, 340, 400, 150)}}, s).results
    assert out["measures"]["r"]["treatment"] == round(340 / 345, 4)  # from rounded counts


def test_complement_rule_applies_to_proportions_only():
    days = measure(100, 100, 126, 126, unit="days")
    out = release({"measures": {"proven_reoffending_rate": measure(347, 100, 347, 126),
                                "days_to_first_reoffence": days}}).results
    assert out["measures"]["days_to_first_reoffence"]["difference"] is not None


def test_frequency_and_days_follow_the_reoffender_counts():
    out = release({"measures": {
        "proven_reoffending_rate": measure(347, 8, 347, 126),
        "reoffending_frequency": measure(347, 30, 347, 455, unit="per person"),
        "days_to_first_reoffence": measure(8, 8, 126, 126, unit="days")}}).results["measures"]
    assert out["reoffending_frequency"]["treatment"] is None
    assert out["reoffending_frequency"]["difference"] is None
    assert out["reoffending_frequency"]["comparison"] is None
    assert out["days_to_first_reoffence"]["treatment"] is None


def test_a_hidden_complement_hides_the_same_number_elsewhere_in_the_measures():
    # 340 of 347 re-offended: the events are hidden, and so is the days measure's n (the same
    # 340 re-offenders), or it would give the events back.
    out = release({"measures": {
        "proven_reoffending_rate": measure(347, 340, 347, 126),
        "days_to_first_reoffence": measure(340, 340, 126, 126, unit="days")}}).results
    days = out["measures"]["days_to_first_reoffence"]
    assert days["treatment_n"] is None and days["treatment"] is None


def test_derived_value_without_its_counts_is_hidden():
    m = measure(None, None, 347, 126)
    out = release({"measures": {"r": m}}).results["measures"]["r"]
    assert out["treatment"] is None and out["difference"] is None


def test_sensitivity_power_and_e_values_follow_the_headline(example):
    example["measures"]["proven_reoffending_rate"]["treatment_events"] = 9
    out = release(example).results
    for spec in out["sensitivity"]["specifications"]:
        assert spec["difference"] is None and spec["p_value"] is None
        assert spec["label"]
    assert out["sensitivity"]["e_value"] == {"point": None, "ci": None}
    assert out["sensitivity"]["rosenbaum"]["gamma_at_which_significance_lost"] is None
    # the headline is not reported: no estimate of it anywhere, on either side
    assert out["power"]["base_rate"] is None
    assert out["survival"] == {"treatment": [], "comparison": []}
    assert find_release_problems(out) == []


def test_people_needed_is_one_figure_in_the_measure_and_the_power_block(example):
    """The report quotes the power block's figure, the catalogue the measure's: the issue's
    "about 4,800" beside "about 4,900" came from two roundings of one number."""
    quoted = []
    # released rates about 0.30..0.36 against 0.36..0.40: the two roundings used to part in
    # a few of these (a figure just under a rounding boundary, then rounded up to 10 first)
    for events, comparison in itertools.product(range(100, 126), range(126, 140, 2)):
        raw = copy.deepcopy(example)
        rate = raw["measures"]["proven_reoffending_rate"]
        rate.update(treatment=events / 347, treatment_events=events, comparison_events=comparison,
                    comparison=comparison / 347, difference=-0.02,
                    ci_low=-0.09, ci_high=0.05, p_value=0.5, significant=False, required_n=1)
        raw["power"]["required_n_for_observed"] = 1
        out = release(raw).results
        needed = out["measures"]["proven_reoffending_rate"]["required_n"]
        assert out["power"]["required_n_for_observed"] == needed, events
        assert find_release_problems(out) == []
        quoted += [needed] if needed is not None else []
    assert len(quoted) >= 10 and all(isinstance(n, int) and n > 100 for n in quoted)


def test_not_finite_numbers_are_released_as_null():
    m = measure(347, 100, 347, 126, p_value=math.nan)
    r = release({"measures": {"r": m}})
    assert r.results["measures"]["r"]["p_value"] is None
    assert "/measures/r/p_value" in r.suppressed


# --- secondary suppression -------------------------------------------------------------------

def test_one_suppressed_cell_beside_a_total_takes_the_next_smallest_with_it():
    out = release({"counts": {"treatment_n": 347},
                   "profile": {"sex": {"Male": 339, "Female": 8}}}).results
    assert out["profile"]["sex"] == {"Male": None, "Female": None}
    assert out["counts"]["treatment_n"] == 345


def test_secondary_suppression_in_the_example(example):
    out = release(example).results["profile"]
    assert out["ethnicity"] == {"White": 220, "Black": 60, "Asian": 35, "Mixed": None,
                                "Other": None, "Unknown": None}
    assert out["nationality"] == {"British": 310, "Irish": None, "EU": 20, "Other": None}
    assert out["sex"] == {"Male": 320, "Female": 30}


def test_secondary_suppression_is_a_setting():
    s = DisclosureSettings(secondary_suppression=False)
    out = release({"profile": {"sex": {"Male": 339, "Female": 8}}}, s).results
    assert out["profile"]["sex"] == {"Male": 340, "Female": None}


def test_exclusions_hide_consistently_with_the_counts():
    raw = {"counts": {"submitted": 500, "not_found": 23, "rejected": 6},
           "exclusions": {"Rejected at validation": 6, "Not found in the national records": 23,
                          "No index event in the window": 40}}
    r = release(raw)
    out = r.results
    assert out["exclusions"]["Rejected at validation"] is None
    assert out["exclusions"]["Not found in the national records"] is None  # secondary
    assert out["counts"]["not_found"] is None  # the same number, published elsewhere
    assert out["exclusions"]["No index event in the window"] == 40
    rules = {a.path: a.rule for a in r.audit if a.action == "suppressed"}
    assert rules["/counts/not_found"] == "consistency"
    assert rules["/exclusions/Not found in the national records"] == "secondary"


def test_subgroups_hide_with_their_profile_table():
    row = {"treatment_n": 339, "comparison_n": 339, "difference": -0.07, "ci_low": -0.1,
           "ci_high": -0.01, "p_value": 0.02, "p_adjusted": 0.04, "significant": True}
    raw = {"profile": {"sex": {"Male": 339, "Female": 8}},
           "subgroups": [{"dimension": "sex", "level": "Male", **row},
                         {"dimension": "sex", "level": "Female", **row,
                          "treatment_n": 8, "comparison_n": 8}]}
    out = release(raw).results
    for sub in out["subgroups"]:
        assert sub["treatment_n"] is None and sub["comparison_n"] is None
        assert sub["difference"] is None and sub["significant"] is None
    assert find_release_problems(out) == []


# --- survival --------------------------------------------------------------------------------

def test_survival_points_need_ten_at_risk_and_ten_reoffenders_and_never_show_the_number():
    curve = [{"day": 0, "proportion_not_reoffended": 1.0, "n_at_risk": 60},
             {"day": 90, "proportion_not_reoffended": 0.85, "n_at_risk": 51},  # 9 re-offended
             {"day": 180, "proportion_not_reoffended": 0.8, "n_at_risk": 48},  # 12 re-offended
             {"day": 270, "proportion_not_reoffended": 0.5, "n_at_risk": 9}]  # 9 at risk
    r = release({"measures": {"proven_reoffending_rate": measure(60, 30, 60, 30)},
                 "survival": {"treatment": curve, "comparison": curve}})
    out = r.results["survival"]
    assert out["treatment"] == [
        {"day": 0, "proportion_not_reoffended": 1.0},
        # recomputed from rounded numbers: 1 - 10 / 60, so 12 cannot be read back
        {"day": 180, "proportion_not_reoffended": round(1 - 10 / 60, 4)}]
    assert r.results["disclosure"]["dropped"] == [
        "/survival/treatment/1", "/survival/treatment/3",
        "/survival/comparison/1", "/survival/comparison/3"]
    rules = {a.path: a.rule for a in r.audit if a.action == "dropped"}
    assert rules["/survival/treatment/1"] == "survival_events"
    assert rules["/survival/treatment/3"] == "survival_at_risk"
    assert all("n_at_risk" not in p for arm in out.values() for p in arm)


def test_survival_curves_need_the_headline_rate_they_end_at():
    curve = [{"day": 0, "proportion_not_reoffended": 1.0, "n_at_risk": 40}]
    out = release({"survival": {"treatment": curve}}).results["survival"]
    assert out["treatment"] == []  # no rate measure: the events behind the curve are unknown


def test_survival_without_numbers_at_risk_uses_the_non_reoffenders():
    curve = [{"day": 0, "proportion_not_reoffended": 1.0},
             {"day": 365, "proportion_not_reoffended": 0.5}]
    raw = {"measures": {"proven_reoffending_rate": measure(60, 50, 60, 50)},
           "survival": {"treatment": curve, "comparison": curve, "other": curve}}
    out = release(raw).results["survival"]
    assert out["comparison"] == curve  # 10 did not re-offend: at least 10 at risk throughout
    assert out["other"] == []  # no way to know the number at risk
    raw["measures"]["proven_reoffending_rate"] = measure(60, 51, 60, 50)
    out = release(raw).results["survival"]
    # 9 did not re-offend: the rate is hidden, so are both curves (it is not reported)
    assert out["treatment"] == [] and out["comparison"] == []


# --- refusals --------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    {"people": [{"person_id": "P1", "reoffended": True}]},
    {"counts": {"submitted": 100}, "internal": {"rows": [{"row_number": 3}]}},
    {"profile": {"sex": {"Male": 100}}, "x": [{"Forename": "Ann", "Surname": "Lee"}]},
    {"pnc_id": "12/345A"},
    {"linked": [{"date_of_birth": "1990-01-01"}]},
])
def test_individual_level_rows_are_refused(raw):
    with pytest.raises(DisclosureError, match="individual-level") as err:
        release(raw)
    assert isinstance(err.value, JDLError)
    assert err.value.problems


def test_unknown_fields_are_refused_by_default_listing_all():
    with pytest.raises(DisclosureError) as err:
        release({"counts": {"submitted": 100}, "mystery": 7, "measures": {"r": {"oddity": 3}}})
    assert err.value.problems == ["/mystery", "/measures/r/oddity"]


def test_unknown_fields_may_be_released_as_null():
    s = DisclosureSettings(unknown_fields="suppress")
    r = release({"counts": {"submitted": 100}, "mystery": 7, "note": "7 people"}, s)
    assert r.results["mystery"] is None and r.results["note"] is None
    assert set(r.suppressed) == {"/mystery", "/note"}


@pytest.mark.parametrize(("raw", "problem"), [
    ({"counts": {"submitted": "431"}}, "/counts/submitted: expected a count"),
    ({"counts": {"submitted": -1}}, "/counts/submitted: expected a count"),
    ({"counts": {"submitted": True}}, "/counts/submitted: expected a count"),
    ({"balance": [{"covariate": "age", "smd_after": "small"}]}, "/balance/0/smd_after"),
    ({"programme": {"organisation": 12}}, "/programme/organisation: expected text"),
])
def test_wrong_types_are_refused(raw, problem):
    with pytest.raises(DisclosureError) as err:
        release(raw)
    assert any(p.startswith(problem) for p in err.value.problems)


def test_released_results_are_not_released_again(example):
    with pytest.raises(DisclosureError, match="already"):
        release(release(example).results)


# --- the object ------------------------------------------------------------------------------

def test_the_example_releases_cleanly_and_raw_is_untouched(example):
    before = copy.deepcopy(example)
    r = release(example)
    assert example == before
    assert isinstance(r, Released)
    out = r.results
    assert set(out) == set(example) | {"disclosure"}
    assert find_release_problems(out) == []
    assert json.loads(r.to_json()) == out
    assert out["disclosure"]["rules"]["min_count"] == 10
    assert out["disclosure"]["suppressed"] == sorted(r.suppressed)
    assert all(out["disclosure"]["notes"])
    assert not any(str(n) in " ".join(out["disclosure"]["notes"]) for n in (6, 4, 8))


def test_released_is_immutable(example):
    r = release(example)
    r.results["counts"]["submitted"] = 431
    assert r.results["counts"]["submitted"] == 430
    with pytest.raises(AttributeError):
        r.results_json = "{}"  # type: ignore[misc]


@pytest.mark.parametrize(("raw", "problem"), [
    ({"measures": [1, 2]}, "/measures: expected an object"),
    ({"profile": {"sex": [3, 4]}}, "/profile/sex: expected an object"),
    ({"subgroups": [None]}, "/subgroups/0: expected an object"),
    ({"survival": {"treatment": {"day": 0}}}, "/survival/treatment: expected a list"),
    ({"sensitivity": {"specifications": 3}}, "/sensitivity/specifications: expected a list"),
])
def test_blocks_of_the_wrong_shape_are_refused(raw, problem):
    with pytest.raises(DisclosureError, match="shape") as err:
        release(raw)
    assert problem in err.value.problems


def test_measures_over_everyone_do_not_follow_the_reoffender_counts():
    out = release({"measures": {
        "proven_reoffending_rate": measure(347, 8, 347, 126),
        "employment_days_after": measure(347, 347, 347, 347, unit="days")}}).results
    assert out["measures"]["employment_days_after"]["treatment"] is not None
    assert out["measures"]["employment_days_after"]["difference"] is not None


def test_consistency_holds_without_secondary_suppression():
    s = DisclosureSettings(secondary_suppression=False)
    out = release({"measures": {
        "proven_reoffending_rate": measure(347, 340, 347, 126),
        "days_to_first_reoffence": measure(340, 340, 126, 126, unit="days")}}, s).results
    assert out["measures"]["days_to_first_reoffence"]["treatment_n"] is None


def test_a_one_level_dimension_is_the_total_and_is_hidden(example):
    """Issue 15, attack 3: a custody-only programme's index_type row is the cohort."""
    example["subgroups"].append(
        {"dimension": "index_type", "level": "custody", "treatment_n": 347, "comparison_n": 347,
         "treatment_events": 100, "comparison_events": 126, "difference": -0.07,
         "ci_low": -0.14, "ci_high": -0.01, "p_value": 0.02, "p_adjusted": 0.05,
         "significant": True})
    example["profile"]["setting"] = {"custody": 347}
    out = release(example).results
    row = out["subgroups"][-1]
    assert all(row[k] is None for k in ("treatment_n", "treatment_events", "difference",
                                        "ci_low", "p_value"))
    assert out["profile"]["setting"] == {"custody": None}  # "all of them" is a 100% cell


def test_subgroup_rows_need_events_and_non_events_on_each_side(example):
    rows = example["subgroups"]
    rows[0].update(treatment_events=9)  # Male: 9 treated re-offenders
    out = release(example).results["subgroups"]
    assert out[0]["treatment_events"] is None and out[0]["difference"] is None
    example = json.loads(FIXTURE.read_text())
    example["subgroups"][0].pop("treatment_events")
    example["subgroups"][0].pop("comparison_events")
    out = release(example).results["subgroups"]
    assert out[0]["difference"] is None  # no events to check: no estimate


def test_one_withheld_level_withholds_another(example):
    # Female has no estimate (fewer than 50): Male's would give it back from the headline
    out = release(example).results["subgroups"]
    assert [r["difference"] for r in out] == [None, None]
    assert out[0]["reason_not_reported"] == "Not shown to protect confidentiality."


def test_subgroup_estimates_from_rounded_counts(example):
    rows = example["subgroups"]
    rows[1].update(treatment_n=60, comparison_n=60, treatment_events=22, comparison_events=31,
                   difference=-0.15, ci_low=-0.3312, ci_high=0.0312, p_value=0.1034,
                   p_adjusted=0.2068, reason_not_reported=None)
    row = release(example).results["subgroups"][1]
    assert row["treatment"] == round(20 / 60, 4) and row["comparison"] == round(30 / 60, 4)
    assert row["difference"] == round(20 / 60 - 30 / 60, 4)
    # limits and p from the released 20/60 and 30/60 only (Newcombe's hybrid score interval,
    # pooled z-test: statsmodels' confint_proportions_2indep(method="newcomb") and
    # proportions_ztest give the same), not the exact 22/60 and 31/60; Holm over both rows
    assert (row["ci_low"], row["ci_high"]) == (-0.3288, 0.0092)
    assert (row["p_value"], row["p_adjusted"]) == (0.06, 0.07)


def test_two_proportions_known_answer():
    # Newcombe (1998), Stat Med 17:873, Table II example (56/70 vs 48/80), method 10
    d, lo, hi, p = two_proportions(56, 70, 48, 80)
    assert d == pytest.approx(0.2)
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)
    assert p == pytest.approx(0.00805, abs=5e-5)  # pooled z = 2.65


def test_released_threshold_clears_the_rounding_window():
    # a released 30 may be 28 or 29: only 35 (33 or more) shows at least 30
    assert released_threshold(30, 5) == 35
    assert released_threshold(50, 5) == 55
    assert released_threshold(30, 10) == 40  # a released 30 may be 25-34


def test_subgroup_at_the_threshold_is_withheld_whatever_its_exact_size(example):
    # exact 48 (no estimate, "Fewer than 50") and exact 52 (an estimate) are both released as 50:
    # both rows read the same, so the wording cannot tell which side of 50 the group lies
    out = []
    for n_exact, has_estimate in ((48, False), (52, True)):
        ex = json.loads(FIXTURE.read_text())
        ex["subgroups"][1].update(treatment_n=n_exact, comparison_n=n_exact,
                                  treatment_events=20, comparison_events=25)
        if has_estimate:
            ex["subgroups"][1].update(difference=-0.1, ci_low=-0.3, ci_high=0.1, p_value=0.3,
                                      p_adjusted=0.6, reason_not_reported=None)
        out.append(release(ex).results["subgroups"])
    assert out[0] == out[1]
    assert out[0][1]["difference"] is None and out[0][1]["treatment_n"] == 50
    assert "Fewer than 50" not in out[0][1]["reason_not_reported"]


def test_headline_rule_on_treated_reoffenders_uses_the_released_count(example):
    # 28 and 31 treated re-offenders are both released as 30: same wording, neither significant
    texts = []
    for events in (28, 31):
        ex = json.loads(FIXTURE.read_text())
        m = ex["measures"]["proven_reoffending_rate"]
        m.update(treatment_events=events, comparison_events=60, significant=events >= 30)
        r = release(ex).results["measures"]["proven_reoffending_rate"]
        assert r["treatment_events"] == 30 and r["significant"] is False
        texts.append(r["conclusion"])
    assert texts[0] == texts[1]
    assert "Fewer than 30" not in texts[0] and "below 35" in texts[0]


def test_sensitivity_rows_other_than_the_main_analysis_carry_no_interval(example):
    out = release(example).results
    specs = out["sensitivity"]["specifications"]
    main = next(r for r in specs if r["label"].startswith("Main analysis"))
    head = out["measures"]["proven_reoffending_rate"]
    assert main["ci_low"] == head["ci_low"] and main["p_value"] == head["p_value"]
    others = [r for r in specs if not r["label"].startswith("Main analysis")]
    assert others and all(r["ci_low"] is None and r["p_value"] is None for r in others)
    assert all(abs(r["difference"] / 0.05 - round(r["difference"] / 0.05)) < 1e-9
               for r in others if r["difference"] is not None)
    broken = copy.deepcopy(out)
    broken["sensitivity"]["specifications"][specs.index(others[0])]["ci_low"] = -0.2
    assert any("specification without released counts" in p
               for p in find_release_problems(broken))

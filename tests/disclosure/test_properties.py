"""Property tests: whatever the raw results, nothing small or unrounded is released."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jdl.core.config import DisclosureSettings
from jdl.disclosure import DisclosureError, Kind, find_release_problems, kind_of, release
from jdl.disclosure._schema import TOP_LEVEL_COUNTS, leaves

small_or_large = st.one_of(st.integers(0, 30), st.integers(0, 2_000))
label = st.text("abcdefgh", min_size=1, max_size=6)


@st.composite
def proportion(draw, unit="proportion"):
    n_t, n_c = draw(small_or_large), draw(small_or_large)
    ev_t, ev_c = draw(st.integers(0, n_t)), draw(st.integers(0, n_c))
    return {"label": "m", "unit": unit, "treatment": ev_t / max(n_t, 1),
            "comparison": ev_c / max(n_c, 1), "difference": 0.01, "ci_low": -0.1,
            "ci_high": 0.1, "p_value": 0.5, "significant": False, "conclusion": "words",
            "treatment_n": n_t, "comparison_n": n_c, "treatment_events": ev_t,
            "comparison_events": ev_c, "reported": True, "reason_not_reported": None}


@st.composite
def raw_results(draw):
    counts = draw(st.dictionaries(st.sampled_from(
        ["submitted", "rejected", "accepted", "linked", "not_found", "eligible", "treatment_n",
         "comparison_n", "unmatched_treated"]), small_or_large))
    profile = draw(st.dictionaries(st.sampled_from(["sex", "age_band", "ethnicity"]),
                                   st.dictionaries(label, small_or_large, min_size=1,
                                                   max_size=6), max_size=3))
    measures = {"proven_reoffending_rate": draw(proportion()),
                "reoffending_frequency": draw(proportion("per person")),
                "custodial_reoffending_rate": draw(proportion())}
    days = draw(proportion("days"))
    days["treatment_events"], days["comparison_events"] = days["treatment_n"], days["comparison_n"]
    measures["days_to_first_reoffence"] = days
    subgroups = [{"dimension": dim, "level": lvl, "treatment_n": n, "comparison_n": n,
                  "difference": 0.0, "ci_low": -0.1, "ci_high": 0.1, "p_value": 0.9,
                  "p_adjusted": 1.0, "significant": False}
                 for dim, table in profile.items() for lvl, n in table.items()]
    point = st.fixed_dictionaries(
        {"day": st.integers(0, 365), "proportion_not_reoffended": st.floats(0, 1)},
        optional={"n_at_risk": small_or_large})
    return {
        **{k: v for k, v in counts.items()  # top-level copies
           if k in TOP_LEVEL_COUNTS and draw(st.booleans())},
        "counts": counts,
        "exclusions": draw(st.dictionaries(label, small_or_large, max_size=6)),
        "attrition": [{"step": k, "n": v} for k, v in counts.items()],
        "measures": measures,
        "profile": profile,
        "subgroups": subgroups,
        "survival": {"treatment": draw(st.lists(point, max_size=4)),
                     "comparison": draw(st.lists(point, max_size=4))},
        "sensitivity": {"specifications": [{"label": "main", "difference": 0.0,
                                            "treatment_n": draw(small_or_large),
                                            "comparison_n": draw(small_or_large)}],
                        "e_value": {"point": 1.5}},
        "power": {"treatment_n": draw(small_or_large), "base_rate": 0.3, "mde": 0.1},
    }


disclosure_settings = st.builds(
    DisclosureSettings, min_count=st.integers(1, 20), rounding_base=st.integers(1, 10),
    suppress_complement=st.booleans(), secondary_suppression=st.booleans(),
    min_at_risk=st.integers(1, 20))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=raw_results(), s=disclosure_settings)
def test_no_small_or_unrounded_count_is_ever_released(raw, s):
    out = release(raw, s).results
    json.dumps(out, allow_nan=False)
    for path, value in leaves(out):
        if kind_of(path) is Kind.COUNT and value is not None:
            assert value >= s.min_count and value % s.rounding_base == 0, (path, value)
        assert path[-1] != "n_at_risk"
    assert find_release_problems(out, s) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=raw_results(), s=disclosure_settings)
def test_hidden_cells_cannot_be_recovered_from_a_table_total(raw, s):
    out = release(raw, s).results
    tables = [(raw["profile"][k], out["profile"][k]) for k in raw["profile"]]
    tables.append((raw["exclusions"], out["exclusions"]))
    for before, after in tables:
        hidden = [k for k in after if after[k] is None]
        assert all(before[k] >= s.min_count or k in hidden for k in before)
        if hidden and s.secondary_suppression and len(hidden) < len(after):
            assert len(hidden) >= 2
            assert sum(before[k] for k in hidden) >= s.min_count


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=raw_results(), s=disclosure_settings)
def test_no_rate_rests_on_a_small_count(raw, s):
    out = release(raw, s).results["measures"]
    for name, m in raw["measures"].items():
        for side in ("treatment", "comparison"):
            n, ev = m[f"{side}_n"], m[f"{side}_events"]
            small = n < s.min_count or ev < s.min_count or (
                s.suppress_complement and m["unit"] == "proportion" and n - ev < s.min_count)
            if small:
                assert out[name][side] is None, (name, side)
                assert out[name]["difference"] is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 500) | st.floats(allow_nan=True) | label,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
        st.sampled_from(["counts", "measures", "profile", "survival", "subgroups", "treatment",
                         "n_at_risk", "treatment_n", "unit", "exclusions", "sex", "day", "x"]),
        kids, max_size=4),
    max_leaves=20)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.dictionaries(st.sampled_from(["counts", "measures", "profile", "survival",
                                            "subgroups", "exclusions", "sensitivity", "power",
                                            "attrition", "mystery"]), json_values))
def test_any_dict_is_released_safely_or_refused_with_a_disclosure_error(raw):
    try:
        out = release(raw, DisclosureSettings(unknown_fields="suppress")).results
    except DisclosureError:
        return
    assert find_release_problems(out) == []

"""The lab attacks itself (issue 15, Build 6).

An intruder holds everything the lab publishes about an evaluation (``results.json``; the report
and the catalogue show the same numbers) and the lab's documented rules, and tries the attacks
that worked before: exact counts behind a rounded one from a rate shown to many digits (1), a
hidden headline through a sub-group row (3), hidden profile cells from balance SMDs (4), the
paired outcome table from rates and a CI (5), and sub-group subtraction, ``share_submitted``,
survival steps and unreported measures (6). Each attack is written here from the published
definitions (the CR1 variance, MatchIt's SMD), not by calling the lab's disclosure code, and is
checked to be *sound*: the truth (from the lab-internal raw results) is always among its
candidates. The assertion is that the candidates never narrow to one.

The evaluations are real pipeline runs on small synthetic cohorts (uploads cut to a few dozen
rows, like a small charity's); one runs in ``make test``, two more are ``slow``.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from jdl.disclosure import release

BASE, MIN = 5, 10
Z = stats.norm.ppf(0.975)


# --- the intruder's toolkit ----------------------------------------------------------------------

def rounds_to(n: int, released: int) -> bool:
    """Whether a true count ``n`` is released as ``released`` (ONS 10-5, the lab's docs)."""
    r = int(BASE * math.floor(n / BASE + 0.5))
    return n >= MIN and max(r, MIN) == released


def box(released: int) -> range:
    """Every true count the lab could have rounded to ``released``."""
    return range(max(MIN, released - 2), released + 3)


def cr1_interval(n: int, b: int, c: int) -> tuple[float, float, float]:
    """Difference, CI low and high of a 1:1 matched rate with CR1 errors on pairs: b pairs where
    only the treated person re-offended, c where only the comparison person did."""
    d = (b - c) / n
    adj = n / (n - 1) * (2 * n - 1) / (2 * n - 2)
    se = math.sqrt(max(adj * (b + c - (b - c) ** 2 / n) / n**2, 0.0))
    return d, d - Z * se, d + Z * se


def paired_tables(m: dict) -> list[tuple[int, int, int, int]]:
    """Attack 5: every paired outcome table (n, a, b, c) — a pairs where both re-offended —
    consistent with a released rate measure: rounded counts, and limits centred on the released
    difference whose half width is the exact one rounded up to 0.01 (the p-value is a function
    of those two)."""
    out = []
    step = 0.01
    half = round((m["ci_high"] - m["ci_low"]) / 2, 6)
    for n in box(m["treatment_n"]):
        kt_range, kc_range = box(m["treatment_events"]), box(m["comparison_events"])
        for b in range(n + 1):
            for c in range(n + 1 - b):
                _, lo, hi = cr1_interval(n, b, c)
                exact = (hi - lo) / 2
                if not (half - step - 1e-9 < exact <= half + 1e-9
                        or (half == step and exact <= step)):
                    continue
                for a in range(max(0, kt_range[0] - b, kc_range[0] - c),
                               min(n - b - c, kt_range[-1] - b, kc_range[-1] - c) + 1):
                    out.append((n, a, b, c))
    return out


def smd_candidates(smd: float, decimals: int, n_released: int,
                   eligible_released: int | None = None) -> set[int]:
    """Attack 4: treated counts k (the hidden profile cell, below 10) of a yes/no characteristic
    consistent with its released SMD after matching, for some comparison count. MatchIt's SMD:
    the difference in proportions among the matched, over the SD of the characteristic among
    all eligible treated people (k plus some of the unmatched ones, of ``eligible``)."""
    out = set()
    eligible = box(eligible_released) if eligible_released else None
    for n in box(n_released):
        for ne in (eligible or [n]):
            if ne < n:
                continue
            for k in range(MIN):
                kc = np.arange(0, n + 1)
                ke = np.arange(k, k + ne - n + 1)
                pe = ke / ne
                sd = np.sqrt(pe * (1 - pe))[:, None]
                diff = (k - kc[None, :]) / n
                with np.errstate(divide="ignore", invalid="ignore"):
                    s = np.where(sd > 1e-8, diff / sd, diff)
                if np.isclose(np.round(s, decimals), smd, atol=10 ** -(decimals + 3)).any():
                    out.add(k)
    return out


# --- small synthetic evaluations -----------------------------------------------------------------

COHORTS = [
    # declares 123 participants (not a multiple of 5) and submits 80 rows: the selective-sample
    # warning fires, and the evaluation must still pass its own release check
    pytest.param(("new-leaf-employment", 80, 123), id="new-leaf-80-rows-123-declared"),
    pytest.param(("second-chance-mentoring", 0, None), id="second-chance-all",
                 marks=pytest.mark.slow),
    pytest.param(("open-door-housing", 90, None), id="open-door-90-rows", marks=pytest.mark.slow),
]


@pytest.fixture(scope="module", params=COHORTS)
def evaluation(request, synthetic_data_dir, tmp_path_factory):
    """(released results, lab-internal raw results) of a pipeline run on a small cohort."""
    from jdl.admin.synth import make_submission
    from jdl.core.config import Settings
    from jdl.evaluation import evaluate

    programme, rows, declared = request.param
    tmp = tmp_path_factory.mktemp(programme)
    sub = make_submission(synthetic_data_dir, programme, tmp / f"{programme}.csv")
    if rows:
        df = pd.read_csv(sub["upload"], dtype=str, keep_default_na=False)
        df.head(rows).to_csv(sub["upload"], index=False)
    if declared:
        side = yaml.safe_load(Path(sub["programme"]).read_text())
        side["declared_participants"] = declared
        Path(sub["programme"]).write_text(yaml.safe_dump(side))
    # below the lab's post-linkage minimum (60 matched): run as a re-run with it lowered; the
    # attacks here target 1:1 pairs (attack 5 rebuilds the paired table), so the 1:1 reference
    # design (tests/disclosure/test_independent_intruder.py attacks the power-first default)
    ev = evaluate(sub["upload"], sub["programme"], synthetic_data_dir, tmp / "out", seed=3,
                  settings=Settings(matching={"design": "fixed"},
                                    inference={"min_matched_treated": 10},
                                    disclosure={"decision_band": 0}))
    raw = json.loads((ev.out_dir / "internal" / "raw_results.json").read_text())
    return json.loads((ev.out_dir / "results.json").read_text()), raw


def _rates(results):
    for name, m in (results.get("measures") or {}).items():
        if m.get("unit") in ("proportion", "per person"):
            yield f"/measures/{name}", m
    for i, r in enumerate(results.get("subgroups") or []):
        yield f"/subgroups/{i}", r


def test_attack1_rates_carry_nothing_beyond_the_rounded_counts(evaluation):
    """A rate shown to many digits used to pin the exact counts (85/330 is really 84/329). Every
    rate released is now the released events over the released group size: the intruder's
    candidates are every pair of counts that rounds to the released ones (25 pairs, not 1)."""
    released, _ = evaluation
    checked = 0
    for where, m in _rates(released):
        for side in ("treatment", "comparison"):
            if m.get(side) is None:
                continue
            n, k = m[f"{side}_n"], m[f"{side}_events"]
            assert m[side] == round(k / n, 4), where
            per_person = m.get("unit") == "per person"  # re-offences may outnumber people
            candidates = [(kk, nn) for nn in box(n) for kk in box(k) if per_person or kk <= nn]
            assert len({kk for kk, _ in candidates}) >= 2, where
            assert len({nn for _, nn in candidates}) >= 2, where
            checked += 1
    assert checked >= 2


def test_attack1_a_rate_to_one_decimal_of_a_percent_would_pin_the_counts():
    """Why rates are not just rounded: with n rounded to 5 and a rate shown to 1 decimal place in
    %, 18 of 60 (30.0%) is the only pair near (20, 60) giving 30.0%."""
    k, n = 18, 60
    shown = round(100 * k / n, 1)
    pairs = [(kk, nn) for nn in box(60) for kk in box(20) if round(100 * kk / nn, 1) == shown]
    assert pairs == [(18, 60)]


def test_attack3_no_subgroup_row_republishes_a_hidden_headline(evaluation):
    released, raw = evaluation
    head = released["measures"]["proven_reoffending_rate"]
    rows = released.get("subgroups") or []
    by_dim: dict[str, list[dict]] = {}
    for r in rows:
        by_dim.setdefault(r["dimension"], []).append(r)
    for dim, group in by_dim.items():
        raw_levels = [r for r in raw["subgroups"] if r["dimension"] == dim and r["treatment_n"]]
        if len(raw_levels) == 1:  # the level is the whole cohort
            assert all(r.get(k) is None for r in group for k in
                       ("treatment_n", "treatment_events", "difference")), dim
        if head["treatment_events"] is None or head["comparison_events"] is None:
            assert all(r.get("treatment_events") is None and r.get("comparison_events") is None
                       and r.get("difference") is None for r in group), dim
    for r, raw_row in zip(rows, raw["subgroups"], strict=True):
        if r.get("difference") is not None:  # the headline's thresholds, each side
            for side in ("treatment", "comparison"):
                n, ev = raw_row[f"{side}_n"], raw_row[f"{side}_events"]
                assert ev >= MIN and n - ev >= MIN


def test_attack3_a_one_level_dimension_with_a_hidden_headline():
    """The custody-only programme: its ``index_type`` row is the cohort; the headline has 9
    treated re-offenders and is hidden. The row used to publish them."""
    raw = json.loads((Path(__file__).parents[1] / "fixtures" / "raw_results_example.json")
                     .read_text())
    raw["measures"]["proven_reoffending_rate"]["treatment_events"] = 9
    raw["subgroups"].append({"dimension": "index_type", "level": "custody", "treatment_n": 347,
                             "comparison_n": 347, "treatment_events": 9,
                             "comparison_events": 126, "difference": -0.33, "ci_low": -0.38,
                             "ci_high": -0.28, "p_value": 0.0001, "p_adjusted": 0.0003,
                             "significant": True})
    out = release(raw).results
    row = out["subgroups"][-1]
    assert row["treatment_events"] is None and row["treatment_n"] is None
    assert row["difference"] is None and row["ci_low"] is None and row["p_value"] is None


def test_attack4_balance_smds_do_not_give_back_hidden_profile_cells(evaluation):
    released, raw = evaluation
    names = {"sex": {"Male": "M", "Female": "F"}}
    smd = {b["covariate"]: b for b in released["balance"]}
    attacked = 0
    for dim, cells in released["profile"].items():
        for level, value in cells.items():
            if value is not None:
                continue
            row = smd.get(f"{dim}{names.get(dim, {}).get(level, level)}")
            if row is None or row.get("smd_after") is None:
                continue
            truth = raw["profile"][dim][level]
            cand = smd_candidates(row["smd_after"], 1, released["treatment_n"],
                                  released["counts"]["eligible"])
            if truth < MIN:
                assert truth in cand  # the attack is sound
            assert len(cand) >= 2, (dim, level, cand)
            attacked += 1
    assert attacked >= 0  # some cohorts hide no cell that has an SMD row


def test_attack4_four_decimals_would_pin_a_hidden_cell():
    """The attack works on what the lab used to release: 3 of 61 treated vs 6 of 61 matched
    comparison people, SMD to 4 decimals, pins the 3; to 1 decimal it does not."""
    n, k, kc = 61, 3, 6
    pt = k / n
    exact = (pt - kc / n) / math.sqrt(pt * (1 - pt))
    assert smd_candidates(round(exact, 4), 4, 60) == {3}
    assert len(smd_candidates(round(exact, 1), 1, 60)) >= 3


def test_attack5_rates_and_ci_do_not_give_back_the_paired_table(evaluation):
    released, raw = evaluation
    m = released["measures"]["proven_reoffending_rate"]
    if m["difference"] is None:
        pytest.skip("headline hidden in this cohort")
    tables = paired_tables(m)
    truth_kt = raw["measures"]["proven_reoffending_rate"]["treatment_events"]
    assert truth_kt in {a + b for _, a, b, _ in tables}  # the attack is sound
    assert len(tables) >= 2
    assert len({a + b for _, a, b, _ in tables}) >= 2  # treated re-offenders not pinned
    assert len({a + c for _, a, _, c in tables}) >= 2  # comparison re-offenders not pinned
    assert len({n for n, *_ in tables}) >= 2  # nor the exact group size behind the rounded one
    assert len({b for _, _, b, _ in tables}) >= 2 and len({c for *_, c in tables}) >= 2


def test_attack5_the_cr1_formula_is_the_labs():
    """The intruder's closed form for CR1 on pairs equals the lab's estimator (so attack 5 is
    as strong as it can be)."""
    from jdl.inference import weighted_difference

    n, a, b, c = 40, 6, 9, 4
    y_t = [1] * a + [1] * b + [0] * c + [0] * (n - a - b - c)
    y_c = [1] * a + [0] * b + [1] * c + [0] * (n - a - b - c)
    y = np.array(y_t + y_c, float)
    treat = np.array([True] * n + [False] * n)
    est = weighted_difference(y, treat, np.ones(2 * n), np.array(list(range(n)) * 2))
    d, lo, hi = cr1_interval(n, b, c)
    assert est.difference == pytest.approx(d) and est.ci_low == pytest.approx(lo)
    assert est.ci_high == pytest.approx(hi)


def test_attack6_no_single_withheld_level_and_no_exact_share(evaluation):
    released, raw = evaluation
    by_dim: dict[str, list[dict]] = {}
    for r in released.get("subgroups") or []:
        by_dim.setdefault(r["dimension"], []).append(r)
    for dim, group in by_dim.items():
        if len(group) > 1:  # (a one-level dimension is attack 3's)
            assert sum(r["difference"] is None for r in group) != 1, dim
    ss = released.get("selective_sample") or {}
    if raw["programme"].get("declared_participants") == 123:  # the evaluation got its report
        assert ss["declared_participants"] == 125 and ss["warning"]
    if ss.get("share_submitted") is not None and ss.get("declared_participants"):
        share, declared = ss["share_submitted"], ss["declared_participants"]
        assert round(share * 10) == pytest.approx(share * 10)
        # submitted counts consistent with the share (to 10%) and the rounded declared figure
        fits = {s for d in box(declared) for s in range(0, 2 * d)
                if min(1.0, round(s / d, 1)) == share}
        assert len(fits) >= 5


def test_attack6_survival_steps_hide_one_to_nine_events(evaluation):
    released, raw = evaluation
    for arm, points in (released.get("survival") or {}).items():
        raw_points = {p["day"]: p for p in raw["survival"][arm]}
        n0 = raw["survival"][arm][0]["n_at_risk"]
        # re-offenders by each day shown, from the exact curve
        gone = [round(n0 * (1 - raw_points[p["day"]]["proportion_not_reoffended"]))
                for p in points]
        events = raw["measures"]["proven_reoffending_rate"][f"{arm}_events"]
        for before, after in itertools.pairwise(gone):
            assert after - before >= MIN, (arm, gone)
        if gone:
            assert events - gone[-1] == 0 or events - gone[-1] >= MIN


def test_attack6_unreported_measures_carry_no_estimate(evaluation):
    released, _ = evaluation
    for name, m in released["measures"].items():
        if not m.get("reported"):
            for k in ("treatment", "comparison", "difference", "ci_low", "ci_high", "p_value",
                      "conclusion"):
                assert m.get(k) is None, (name, k)


def test_declared_participants_not_divisible_by_five_get_a_report():
    raw = json.loads((Path(__file__).parents[1] / "fixtures" / "raw_results_example.json")
                     .read_text())
    raw = copy.deepcopy(raw)
    raw["programme"]["declared_participants"] = 123
    warning = ("The file holds about 50% of the people the organisation says it worked "
               "with.")
    raw["selective_sample"].update(declared_participants=123, submitted=61,
                                   share_submitted=61 / 123, warning=warning)
    out = release(raw).results
    assert out["programme"]["declared_participants"] == 125
    assert out["selective_sample"]["share_submitted"] == 0.5


def test_acro_blocks_nothing_the_lab_shows(evaluation):
    """ACRO's check on the tables of a real evaluation, rebuilt from its lab-internal raw
    results (skipped without ACRO; see test_acro.py)."""
    pytest.importorskip("acro")
    from tests.disclosure.test_acro import check_against_acro

    _, raw = evaluation
    check_against_acro(raw)

"""An independent intruder (issue 15): attacks written without reading tests/disclosure/
test_intruder.py or the arguments in docs/disclosure-control.md.

The intruder holds only what the lab releases (results.json, the report's text) and the lab's
published source code (so it knows every formula). Each attack enumerates every lab-internal
value consistent with what is released and counts as a success only when it pins a value the
rules hide (a count below 10, or the exact count behind a rounded one) *and* that value is the
true one in ``internal/raw_results.json``. Tests assert that nothing is pinned; attacks that
still succeed are marked ``xfail(strict=True)`` with the hole in the reason, so the suite goes
red (XPASS) the moment the hole is closed and the marker must come off.

The core attack (``headline_candidates``): for 1:1 matching without replacement, the headline
rate's estimate is a function of the paired 2x2 table only — ``n`` pairs, ``a`` pairs where
both re-offended, ``b`` only the participant, ``c`` only the comparison person. The difference
is ``(b - c) / n`` and its CR1 standard error is ``sqrt(adj * (b + c - (b - c)^2 / n)) / n`` with
``adj = n/(n-1) * (2n-1)/(2n-2)`` (a few lines of algebra on ``weighted_difference``). Rounded
counts leave ~5 values each of ``n``, ``a + b`` and ``a + c``; the released 0.01 CI limits,
two-decimal p-value, the 0.01 difference of the "Main analysis" sensitivity row, the
one-decimal E-value and the power block (MDE at 0.01 from the raw comparison rate, sample size
needed at two significant figures) leave — on small cohorts — exactly one.
"""

from __future__ import annotations

import functools
import html
import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from scipy import stats

from jdl.core.config import Settings
from jdl.disclosure._coarsen import coarse_p, significant_figures
from jdl.inference._power import minimum_detectable_effect, required_n
from jdl.inference._sensitivity import e_value_of_rates

MIN_COUNT, BASE = 10, 5
Z = float(stats.norm.ppf(0.975))
STEP = 0.01  # the step CI limits and the sensitivity differences are released to

# --- the evaluations attacked --------------------------------------------------------------------

#: "Row dropped" marker: keep only this many rows of people who re-offended (truth), the rest not.
FEW_REOFFENDERS = -6
#: name -> (planted programme, rows of its upload kept, row dropped, programme-file edits)
RUNS: dict[str, tuple[str, int | None, int | None, dict[str, Any]]] = {
    # both settings, 66 rows -> ~47 matched pairs
    "mentoring66": ("second-chance-mentoring", 66, None, {}),
    "mentoring66_minus1": ("second-chance-mentoring", 66, 0, {}),
    # custody only
    "family70": ("family-links", 70, None, {}),
    # community only
    "restore70": ("restore-together", 70, None, {}),
    # community only, 70 rows of which only 6 people re-offended in the generator's truth, so
    # its headline has fewer than 10 treated re-offenders (chosen from the truth, not by row
    # position, so a new generator version cannot move the premise)
    "restore70_minus3": ("restore-together", 70, FEW_REOFFENDERS, {}),
    # completers only, 123 declared participants
    "completers123": ("second-chance-mentoring", 100, None,
                      {"selection_basis": "completers_only", "declared_participants": 123}),
    # 110 rows: 28 treated re-offenders, released as 30
    "mentoring110": ("second-chance-mentoring", 110, None, {}),
    # a full custody programme without row 10 (sub-group rows with estimates)
    "housing_minus10": ("open-door-housing", None, 10, {}),
}
FAST_RUN = "mentoring66"
#: The attacked cohorts are below the lab's post-linkage minimum (60 matched participants), so
#: they are run as an analyst's re-run with the minimum lowered would be (issue 18).
SMALL_COHORTS = Settings(inference={"min_matched_treated": 10}, disclosure={"decision_band": 0})


@pytest.fixture(scope="module")
def evaluations(tmp_path_factory, synthetic_data_dir):
    """Runs each named evaluation once per module (lazily) and returns its output folder."""
    import yaml

    from jdl.admin.synth import make_submission
    from jdl.run import run_evaluation

    root = tmp_path_factory.mktemp("independent-intruder")
    done: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name in done:
            return done[name]
        programme, rows, drop, edits = RUNS[name]
        base = root / "base" / programme
        if not (base / "upload.csv").exists():
            make_submission(synthetic_data_dir, programme, base / "upload.csv")
        work = root / name
        work.mkdir()
        df = pd.read_csv(base / "upload.csv", dtype=str, keep_default_na=False)
        if drop is not None and drop < 0:
            df = _with_few_reoffenders(df, base, synthetic_data_dir, rows or len(df), -drop)
        else:
            if rows:
                df = df.iloc[:rows]
            if drop is not None:
                df = df.drop(index=df.index[drop])
        df.to_csv(work / "upload.csv", index=False)
        spec = yaml.safe_load((base / "upload.programme.yaml").read_text())
        spec.update(edits)
        (work / "programme.yaml").write_text(yaml.safe_dump(spec))
        run_evaluation(work / "upload.csv", work / "programme.yaml", synthetic_data_dir,
                       work / "out", seed=20261124, settings=SMALL_COHORTS)
        done[name] = work / "out"
        return done[name]

    return get


def _with_few_reoffenders(df: pd.DataFrame, base: Path, data_dir: Path, rows: int,
                          reoffenders: int) -> pd.DataFrame:
    """``rows`` rows of the upload, of which only ``reoffenders`` are people who re-offended
    within a year in the generator's truth (the others did not), in file order."""
    truth = pd.read_csv(base / "upload.truth.csv", dtype={"errors": str},
                        keep_default_na=False)
    outcomes = pd.read_parquet(data_dir / "truth" / "participants.parquet",
                               columns=["person_id", "reoffences_treated"])
    person = pd.to_numeric(truth["person_id"], errors="coerce")
    reoffended = person.map(outcomes.set_index("person_id")["reoffences_treated"] > 0)
    yes = df.index[reoffended.fillna(False).to_numpy(bool)][:reoffenders]
    no = df.index[(reoffended == False).to_numpy(bool)][:rows - reoffenders]  # noqa: E712
    return df.loc[sorted([*yes, *no])]


def released(out: Path) -> dict[str, Any]:
    return json.loads((out / "results.json").read_text())


def truth(out: Path) -> dict[str, Any]:
    """Lab-internal: used only to check whether an attack's answer is right."""
    return json.loads((out / "internal" / "raw_results.json").read_text())


SLOW = pytest.mark.slow

# --- the intruder's tools (released values and published formulas only) -------------------------


def rounded(x: int) -> int:
    r = int(BASE * math.floor(x / BASE + 0.5))
    return r if r >= MIN_COUNT else BASE * math.ceil(MIN_COUNT / BASE)


def preimage(value: int | None, hidden_max: int = MIN_COUNT - 1) -> list[int]:
    """Every true count released as ``value`` (None: hidden, so below ``min_count``)."""
    if value is None:
        return list(range(hidden_max + 1))
    return [x for x in range(max(0, value - BASE), value + BASE)
            if x >= MIN_COUNT and rounded(x) == value]


def near(raw: float, shown: float | None, step: float = STEP) -> bool:
    return shown is None or abs(raw - shown) <= step / 2 + 1e-9


def limit_ok(raw: float, shown: float | None, difference: float | None) -> bool:
    """A released CI limit: the raw limit rounded, or widened to the released difference."""
    if shown is None or near(raw, shown):
        return True
    return difference is not None and any(
        abs(shown - f(difference / STEP) * STEP) < 1e-9 for f in (math.floor, math.ceil))


def paired(n: int, b: int, c: int) -> tuple[float, float, float, float]:
    """Difference, CI limits and p-value of a 1:1 matched design (CR1 on pairs)."""
    diff = (b - c) / n
    ss = b + c - (b - c) ** 2 / n
    adj = n / (n - 1) * (2 * n - 1) / (2 * n - 2)
    se = math.sqrt(max(adj * ss, 0.0)) / n
    if se == 0:
        return diff, diff, diff, 1.0 if diff == 0 else 0.0
    return diff, diff - Z * se, diff + Z * se, float(2 * stats.norm.sf(abs(diff / se)))


@functools.cache
def _mde(n: int, base_rate: float) -> float:
    return minimum_detectable_effect(max(n, 2), min(max(base_rate, 0.01), 0.99)).mde_decrease


def _row_ok(row: dict[str, Any], n: int, b: int, c: int) -> bool:
    _, lo, hi, p = paired(n, b, c)
    d = row.get("difference")
    return (limit_ok(lo, row.get("ci_low"), d) and limit_ok(hi, row.get("ci_high"), d)
            and (row.get("p_value") is None or coarse_p(p) == row["p_value"]))


def headline_candidates(res: dict[str, Any]) -> set[tuple[int, int, int]]:
    """Every (pairs, treated re-offenders, comparison re-offenders) consistent with the whole
    release of a 1:1 matched evaluation."""
    m = res["measures"]["proven_reoffending_rate"]
    sens = res.get("sensitivity") or {}
    main = next((r for r in sens.get("specifications") or []
                 if r.get("label") == "Main analysis"), None)
    ev, power = sens.get("e_value") or {}, res.get("power") or {}
    out = set()
    for n in preimage(m["treatment_n"], 10_000):
        for kt in preimage(m["treatment_events"]):
            for kc in preimage(m["comparison_events"]):
                if kt > n or kc > n:
                    continue
                for a in range(max(0, kt + kc - n), min(kt, kc) + 1):
                    b, c = kt - a, kc - a
                    if not _row_ok(m, n, b, c):
                        continue
                    diff, lo, hi, p = paired(n, b, c)
                    if main and main.get("difference") is not None and not (
                            near(diff, main["difference"]) and near(lo, main["ci_low"])
                            and near(hi, main["ci_high"]) and coarse_p(p) == main["p_value"]):
                        continue
                    if ev.get("point") is not None:
                        e = e_value_of_rates(kt / n, kc / n, lo, hi)
                        if e.point is None or round(e.point, 1) != ev["point"]:
                            continue
                        if ev.get("ci") is not None and round(e.ci, 1) != ev["ci"]:
                            continue
                    if power.get("mde") is not None and not near(_mde(n, kc / n), power["mde"]):
                        continue
                    if power.get("required_n_for_observed") is not None:
                        try:
                            need = required_n(kc / n, kt / n)
                        except Exception:  # no sample size for this candidate (e.g. equal rates)
                            continue
                        if significant_figures(math.ceil(need / 10) * 10) != power[
                                "required_n_for_observed"]:
                            continue
                    out.add((n, kt, kc))
    return out


def pinned(candidates: set[tuple[int, ...]], true: tuple[int, ...], labels: tuple[str, ...]
           ) -> list[str]:
    """Components the candidates pin to one value that is the true one."""
    return [f"{label}={true[i]}" for i, label in enumerate(labels)
            if {c[i] for c in candidates} == {true[i]}]


# --- attack 1: the exact counts behind the headline's rounded counts -----------------------------

HEADLINE_HOLE = (
    "headline CI limits (0.01), p-value (2 dp), the 'Main analysis' sensitivity row, E-value "
    "(1 dp), power mde (0.01, from the raw comparison rate) and required_n_for_observed are "
    "computed from the exact paired table: together they pin n, treated and comparison "
    "re-offenders behind the rounded counts")


def _attack_headline(out: Path) -> list[str]:
    res, raw = released(out), truth(out)["measures"]["proven_reoffending_rate"]
    if res["measures"]["proven_reoffending_rate"]["treatment_n"] is None:
        return []
    true = (raw["treatment_n"], raw["treatment_events"], raw["comparison_events"])
    return pinned(headline_candidates(res), true, ("pairs", "treated_events", "comparison_events"))


def test_headline_counts_not_pinned_by_rounded_statistics(evaluations):
    assert _attack_headline(evaluations(FAST_RUN)) == []


@SLOW
@pytest.mark.parametrize("name", [
    "mentoring66_minus1",
    "family70",
    "restore70",
    "completers123",
])
def test_headline_counts_not_pinned_small_cohorts(evaluations, name):
    assert _attack_headline(evaluations(name)) == []


# --- attack 2: the same on every sub-group row with an estimate ----------------------------------

def _attack_subgroups(out: Path) -> list[str]:
    res, raw = released(out), truth(out)
    found = []
    for i, row in enumerate(res.get("subgroups") or []):
        if row.get("ci_low") is None or row.get("treatment_n") is None:
            continue
        cands = set()
        for n in preimage(row["treatment_n"], 10_000):
            for kt in preimage(row["treatment_events"]):
                for kc in preimage(row["comparison_events"]):
                    for a in range(max(0, kt + kc - n), min(kt, kc, n) + 1):
                        if _row_ok(row, n, kt - a, kc - a):
                            cands.add((n, kt, kc))
        r = raw["subgroups"][i]
        true = (r["treatment_n"], r["treatment_events"], r["comparison_events"])
        found += [f"{row['dimension']}={row['level']}: {p}"
                  for p in pinned(cands, true, ("n", "treated_events", "comparison_events"))]
    return found


@SLOW
def test_subgroup_rows_do_not_pin_counts(evaluations):
    assert _attack_subgroups(evaluations("housing_minus10")) == []


def test_subgroup_rows_do_not_pin_counts_small(evaluations):
    assert _attack_subgroups(evaluations(FAST_RUN)) == []


# --- attack 3: a hidden headline comes back some other way ---------------------------------------

@SLOW
def test_hidden_headline_stays_hidden(evaluations):
    """Community-only cohort with fewer than 10 treated re-offenders: nothing built on them
    may be released — rates, CI, p, E-value, Rosenbaum, power, survival points, sensitivity
    estimates, the one-level index_type row — and the enumeration leaves every count open."""
    out = evaluations("restore70_minus3")
    res, raw = released(out), truth(out)
    assert raw["measures"]["proven_reoffending_rate"]["treatment_events"] < MIN_COUNT  # premise
    m = res["measures"]["proven_reoffending_rate"]
    assert m["treatment_events"] is None
    assert all(m[k] is None for k in ("treatment", "difference", "ci_low", "ci_high", "p_value"))
    assert all(v is None for v in res["sensitivity"]["e_value"].values())
    assert all(r["difference"] is None and r["ci_low"] is None
               for r in res["sensitivity"]["specifications"])
    assert res["power"]["mde"] is None and res["power"]["required_n_for_observed"] is None
    assert res["survival"].get("treatment") in ([], None)
    for row in res["subgroups"]:
        assert row["treatment_events"] is None, row
    for name in ("reoffending_frequency", "days_to_first_reoffence"):
        assert res["measures"][name]["treatment"] is None
    cands = headline_candidates(res)
    assert len({c[1] for c in cands}) > 1


# --- attack 4: hidden cells bounded by totals, with the pinned group size ---------------------

def _bounded_hidden_cells(out: Path) -> list[str]:
    """The strongest intruder: group sizes from attack 1, shown cells from their preimages,
    hidden cells assumed below 10; a hidden cell is found when its interval is one value and
    that value is true."""
    res, raw = released(out), truth(out)
    ns = {c[0] for c in headline_candidates(res)} or set(
        preimage(res["measures"]["proven_reoffending_rate"]["treatment_n"], 10_000))
    found = []
    for dim, cells in (res.get("profile") or {}).items():
        hidden = [k for k, v in cells.items() if v is None]
        if not hidden:
            continue
        lo_shown = sum(min(preimage(v)) for v in cells.values() if v is not None)
        hi_shown = sum(max(preimage(v)) for v in cells.values() if v is not None)
        s_lo, s_hi = min(ns) - hi_shown, max(ns) - lo_shown
        for k in hidden:
            lo = max(0, s_lo - (MIN_COUNT - 1) * (len(hidden) - 1))
            hi = min(MIN_COUNT - 1, s_hi)
            if lo == hi and raw["profile"][dim][k] == lo:
                found.append(f"profile/{dim}/{k}={lo}")
    return found


def test_hidden_profile_cells_not_bounded(evaluations):
    assert _bounded_hidden_cells(evaluations(FAST_RUN)) == []


@SLOW
@pytest.mark.parametrize("name", ["family70", "restore70", "restore70_minus3", "completers123"])
def test_hidden_profile_cells_not_bounded_small_cohorts(evaluations, name):
    assert _bounded_hidden_cells(evaluations(name)) == []


# --- attack 5: numbers of people in the report's sentences ---------------------------------------

_PEOPLE = re.compile(r"(?<![\d.])(\d[\d,]*) (?:people|participants|re-offenders|persons?)\b")
_ALLOWED_CONTEXT = re.compile(r"(fewer than|at least|For|per|than|of) $", re.I)


def report_text(out: Path) -> str:
    text = (out / "report.html").read_text()
    text = re.sub(r"<(style|script).*?</\1>", " ", text, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text)))


def _unrounded_people(text: str) -> list[str]:
    bad = []
    for m in _PEOPLE.finditer(text):
        n = int(m.group(1).replace(",", ""))
        before = text[max(0, m.start() - 14):m.start()]
        if _ALLOWED_CONTEXT.search(before):  # rule wording: "fewer than 10 people", "For 100"
            continue
        start = text.rfind(". ", 0, m.start())
        end = text.find(". ", m.end())
        sentence = text[start + 1:end if end >= 0 else len(text)]
        if re.search(r"\b100\b", sentence) or "re-offending rate of" in sentence:
            continue  # a difference in rates "per 100 people", not a number of people
        if n < MIN_COUNT or n % BASE:
            bad.append(text[max(0, m.start() - 60):m.end()])
    return bad


def test_report_sentences_quote_only_rounded_numbers_of_people(evaluations):
    assert _unrounded_people(report_text(evaluations(FAST_RUN))) == []


@SLOW
@pytest.mark.parametrize("name", ["completers123", "restore70_minus3", "family70"])
def test_report_sentences_quote_only_rounded_numbers_small_cohorts(evaluations, name):
    out = evaluations(name)
    assert _unrounded_people(report_text(out)) == []
    if name == "completers123":  # an upload declaring 123 participants gets its report
        res = released(out)
        assert (out / "report.pdf").stat().st_size > 0
        assert res["selective_sample"]["declared_participants"] % BASE == 0
        assert "123" not in report_text(out)


# --- attack 6: ACRO as a peer on tables rebuilt from the internal results ------------------------

def _acro_blocked_but_released(out: Path) -> list[tuple]:
    """Every cell ACRO's crosstab marks (threshold 10, zeros disclosive) in the treatment
    profile, the headline outcome table and each sub-group outcome table (events and
    non-events, both arms), that the lab releases as a number (non-events count as released
    when the row's n and events both are)."""
    import logging
    import warnings

    acro_mod = pytest.importorskip("acro")
    raw, res = truth(out), released(out)
    tables: dict[str, tuple[dict, dict]] = {}
    m, mr = raw["measures"]["proven_reoffending_rate"], res["measures"]["proven_reoffending_rate"]

    def add(name, key, count, shown):
        cells, rel = tables.setdefault(name, ({}, {}))
        cells[key], rel[key] = count, shown

    for s in ("treatment", "comparison"):
        add("headline", (s, "yes"), m[f"{s}_events"], mr[f"{s}_events"])
        add("headline", (s, "no"), m[f"{s}_n"] - m[f"{s}_events"],
            None if mr[f"{s}_events"] is None or mr[f"{s}_n"] is None else "implied")
    for dim, cells in raw["profile"].items():
        for level, k in cells.items():
            add(f"profile:{dim}", (level, "treated"), k, res["profile"][dim].get(level))
    for i, r in enumerate(raw["subgroups"]):
        rr = res["subgroups"][i]
        for s in ("treatment", "comparison"):
            name = f"subgroup:{r['dimension']}:{s}"
            add(name, (r["level"], "yes"), r[f"{s}_events"], rr[f"{s}_events"])
            add(name, (r["level"], "no"), r[f"{s}_n"] - r[f"{s}_events"],
                None if rr[f"{s}_events"] is None or rr[f"{s}_n"] is None else "implied")
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            acro = acro_mod.ACRO(suppress=False)
            problems, checked = [], 0
            for name, (cells, shown) in tables.items():
                if not sum(cells.values()):
                    continue
                df = pd.DataFrame([k for k, v in cells.items() for _ in range(int(v))],
                                  columns=["row", "col"])
                acro.crosstab(df["row"], df["col"])
                outcome = list(acro.results.results.values())[-1].outcome
                for (r, c), verdict in outcome.stack().items():
                    if verdict not in ("ok", ""):
                        checked += 1
                        if shown.get((r, c)) is not None:
                            problems.append((name, r, c, cells[(r, c)], verdict))
    finally:
        logging.disable(logging.NOTSET)
    assert checked > 0, "ACRO blocked nothing at all: the check is not exercising it"
    return problems


def test_acro_blocks_nothing_the_lab_released(evaluations):
    pytest.importorskip("acro")  # a peer checker: requirements-peers.txt (--no-deps)
    assert _acro_blocked_but_released(evaluations(FAST_RUN)) == []


@SLOW
@pytest.mark.parametrize("name", ["family70", "restore70", "restore70_minus3", "completers123",
                                  "housing_minus10"])
def test_acro_blocks_nothing_the_lab_released_small_cohorts(evaluations, name):
    pytest.importorskip("acro")
    assert _acro_blocked_but_released(evaluations(name)) == []


# --- attack 7: the group size behind each sensitivity row ----------------------------------------

PAIRED_SPECS = ("Caliper 0.1", "Without assessment covariates")  # 1:1 without replacement


def _attack_sensitivity_rows(out: Path) -> list[str]:
    """Rows re-matched 1:1 without replacement release difference, CI (0.01) and p from the
    exact paired table of their own analysis: enumerate (n, b, c) against them."""
    res, raw = released(out), truth(out)
    found = []
    for i, row in enumerate(res["sensitivity"]["specifications"]):
        if row.get("label") not in PAIRED_SPECS or row.get("ci_low") is None:
            continue
        ns = set()
        for n in preimage(row["treatment_n"], 10_000):
            for b in range(n + 1):
                for c in range(n + 1 - b):
                    d, lo, hi, p = paired(n, b, c)
                    if (near(d, row["difference"]) and near(lo, row["ci_low"])
                            and near(hi, row["ci_high"]) and coarse_p(p) == row["p_value"]):
                        ns.add(n)
        true = raw["sensitivity"]["specifications"][i]["treatment_n"]
        if ns == {true}:
            found.append(f"{row['label']}: treatment_n={true} (released {row['treatment_n']})")
    return found


SENSITIVITY_HOLE = (
    "sensitivity rows ('Caliper 0.1', 'Without assessment covariates') release difference, "
    "CI and p rounded from their exact paired table (coarsen: _row(from_counts=False)): they "
    "pin the exact group size behind the rounded treatment_n (e.g. 40 -> 42)")


def test_sensitivity_rows_do_not_pin_group_sizes(evaluations):
    assert _attack_sensitivity_rows(evaluations(FAST_RUN)) == []


@SLOW
@pytest.mark.parametrize("name", ["family70", "restore70", "completers123"])
def test_sensitivity_rows_do_not_pin_group_sizes_small_cohorts(evaluations, name):
    assert _attack_sensitivity_rows(evaluations(name)) == []


# --- attack 8: rule wording on the exact count splits a rounding window -------------------------

SUBGROUP_MIN_TREATED = 50  # inference: a sub-group with fewer treated people gets no estimate
MIN_TREATED_REOFFENDERS = 30  # inference: fewer treated re-offenders -> "not significant" wording


def _threshold_splits(out: Path) -> list[str]:
    """A released count whose rounding window straddles a threshold that the lab applied to
    the *exact* count and announces (a reason, a sentence, an estimate shown or not): the
    wording tells on which side the exact count lies (released 50 + "Fewer than 50 people in
    the group" -> 48 or 49). Reports the splits where the narrowed set excludes a value the
    rounding alone allows (checked against the truth)."""
    res, raw = released(out), truth(out)
    found = []
    for row, r in zip(res.get("subgroups") or [], raw["subgroups"], strict=True):
        window = preimage(row["treatment_n"], 10_000) if row["treatment_n"] is not None else []
        if not window or not min(window) < SUBGROUP_MIN_TREATED <= max(window):
            continue
        said_fewer = "Fewer than" in (row.get("reason_not_reported") or "")
        shown = row.get("ci_low") is not None
        if said_fewer or shown:
            side = [x for x in window if (x < SUBGROUP_MIN_TREATED) == said_fewer]
            if r["treatment_n"] in side:
                found.append(f"{row['dimension']}={row['level']}: released {row['treatment_n']}"
                             f" -> one of {side}")
    m = res["measures"]["proven_reoffending_rate"]
    if m["treatment_events"] is not None and m.get("conclusion") is not None:
        window = preimage(m["treatment_events"])
        if min(window) < MIN_TREATED_REOFFENDERS <= max(window):
            fewer = f"Fewer than {MIN_TREATED_REOFFENDERS} people" in m["conclusion"]
            side = [x for x in window if (x < MIN_TREATED_REOFFENDERS) == fewer]
            if raw["measures"]["proven_reoffending_rate"]["treatment_events"] in side:
                found.append(f"treated re-offenders: released {m['treatment_events']} -> one of "
                             f"{side}")
    return found


def test_rule_wording_does_not_split_rounded_counts(evaluations):
    assert _threshold_splits(evaluations(FAST_RUN)) == []


@SLOW
def test_rule_wording_does_not_split_rounded_counts_subgroups(evaluations):
    assert _threshold_splits(evaluations("housing_minus10")) == []


@SLOW
def test_rule_wording_does_not_split_rounded_counts_headline(evaluations):
    assert _threshold_splits(evaluations("mentoring110")) == []


# --- attack 9: survival points read back as counts -----------------------------------------------

def _on_grid(proportion: float, n: float, weighted: bool) -> bool:
    """Is ``1 - proportion`` (to the 4 places released) a ratio of two multiples of the
    rounding base, the denominator near the released group size? A weighted comparison arm
    (matching with replacement) starts its curve at its rounded sum of weights, which need not
    be the released head count, so for that arm denominators within 20% of it are tried (a
    weaker check); the treatment arm's denominator is its released size."""
    gone = 1 - proportion
    if not weighted:
        return abs(gone * n - BASE * round(gone * n / BASE)) <= 0.01
    for denominator in range(max(BASE, BASE * round(0.8 * n / BASE)), int(1.2 * n) + BASE, BASE):
        numerator = BASE * round(gone * denominator / BASE)
        if abs(numerator / denominator - gone) < 5e-5:
            return True
    return False


def _survival_off_grid(out: Path) -> list[str]:
    """A point that is not (rounded re-offenders) / (rounded group) would carry exact counts:
    (1 - point) must be a multiple of the rounding base over a multiple of the rounding base."""
    res = released(out)
    m = res["measures"]["proven_reoffending_rate"]
    bad = []
    for arm, points in (res.get("survival") or {}).items():
        n = m.get(f"{arm}_n")
        for p in points:
            if n and not _on_grid(p["proportion_not_reoffended"], n, arm == "comparison"):
                bad.append(f"{arm} day {p['day']}: {p['proportion_not_reoffended']}")
            if "n_at_risk" in p:
                bad.append(f"{arm} day {p['day']}: n_at_risk released")
    return bad


def test_survival_points_are_rounded_counts(evaluations):
    assert _survival_off_grid(evaluations(FAST_RUN)) == []

"""ACRO (SACRO's output checker, PyPI ``acro``) as a second opinion on every table the lab
releases: each table is rebuilt as records from the lab-internal raw results, ACRO checks it with
its defaults (threshold 10, zeros disclosive, suppression on), and every cell ACRO blocks must be
hidden by the lab too (docs/disclosure-control.md, "Peers in the test suite").

ACRO 1.0.2 declares ``pandas<=2.3.3`` while the lab pins pandas 3, so it is not in
requirements.lock; install it with ``pip install --no-deps -r requirements-peers.txt``. The
module is skipped without it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from jdl.disclosure import release

acro_module = pytest.importorskip("acro")
logging.getLogger("acro").setLevel(logging.WARNING)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "raw_results_example.json"


def _acro():
    return acro_module.ACRO(suppress=True)


def _blocked(table: pd.DataFrame) -> set[tuple[str, str]]:
    """(row, column) of every cell ACRO suppressed (NaN in its mitigated table)."""
    return {(str(r), str(c)) for r in table.index for c in table.columns
            if pd.isna(table.loc[r, c])}


def _records(counts: dict[str, int], column: str = "all") -> pd.DataFrame:
    rows = [(level, column) for level, n in counts.items() for _ in range(int(n))]
    return pd.DataFrame(rows, columns=["level", "group"])


def _frequency_table(counts: dict[str, int]) -> set[str]:
    """Cells ACRO blocks in a one-way frequency table of ``counts`` (zero cells, which records
    cannot carry, are blocked by ACRO's zeros rule: added by hand)."""
    df = _records(counts)
    table = _acro().crosstab(df["level"], df["group"])
    blocked = {r for r, _ in _blocked(table)}
    return blocked | {k for k, n in counts.items() if n == 0}


def _outcome_table(rows: dict[str, tuple[int, int]]) -> set[tuple[str, str]]:
    """Cells ACRO blocks in group x outcome, each group given as (n, events)."""
    recs = [(g, "yes") for g, (_, ev) in rows.items() for _ in range(int(ev))]
    recs += [(g, "no") for g, (n, ev) in rows.items() for _ in range(int(n - ev))]
    df = pd.DataFrame(recs, columns=["group", "outcome"])
    blocked = _blocked(_acro().crosstab(df["group"], df["outcome"]))
    for g, (n, ev) in rows.items():  # empty cells are not in the records: zeros are blocked
        if ev == 0:
            blocked.add((g, "yes"))
        if n - ev == 0:
            blocked.add((g, "no"))
    return blocked


def check_against_acro(raw: dict) -> int:
    """Assert every cell ACRO blocks in the tables rebuilt from ``raw`` is hidden in the lab's
    release; returns how many cells ACRO blocked."""
    out = release(raw).results
    blocked_total = 0
    for dim, cells in raw.get("profile", {}).items():
        blocked = _frequency_table(cells)
        blocked_total += len(blocked)
        for level in blocked:
            assert out["profile"][dim][level] is None, (dim, level)
    blocked = _frequency_table(raw.get("exclusions", {}))
    blocked_total += len(blocked)
    for reason in blocked:
        assert out["exclusions"][reason] is None, reason
    for name, m in raw.get("measures", {}).items():
        if m.get("unit") != "proportion":
            continue
        blocked = _outcome_table({"treatment": (m["treatment_n"], m["treatment_events"]),
                                  "comparison": (m["comparison_n"], m["comparison_events"])})
        blocked_total += len(blocked)
        for side, _ in blocked:
            released = out["measures"][name]
            assert released[f"{side}_events"] is None, (name, side)
            assert released["treatment"] is None and released["difference"] is None, name
    for i, row in enumerate(raw.get("subgroups", [])):
        if row.get("treatment_events") is None:
            continue
        blocked = _outcome_table({s: (row[f"{s}_n"], row[f"{s}_events"])
                                  for s in ("treatment", "comparison")})
        blocked_total += len(blocked)
        for side, _ in blocked:
            assert out["subgroups"][i][f"{side}_events"] is None, (i, side)
            assert out["subgroups"][i]["difference"] is None, i
    return blocked_total


def _small_cohort(n: int, events: int, comparison_events: int, female: int) -> dict:
    """The raw example cut down to a small, low-risk cohort of ``n`` treated people."""
    raw = json.loads(FIXTURE.read_text())
    for m in raw["measures"].values():
        m["treatment_n"] = m["comparison_n"] = n
    rate = raw["measures"]["proven_reoffending_rate"]
    rate.update(treatment_events=events, comparison_events=comparison_events)
    raw["measures"]["custodial_reoffending_rate"].update(treatment_events=3,
                                                         comparison_events=5)
    raw["measures"]["serious_reoffending_rate"].update(treatment_events=11,
                                                       comparison_events=n - 8)
    days = raw["measures"]["days_to_first_reoffence"]
    days.update(treatment_n=events, treatment_events=events, comparison_n=comparison_events,
                comparison_events=comparison_events)
    raw["profile"] = {
        "sex": {"Male": n - female, "Female": female},
        "age_band": {"18-24": 20, "25-29": 14, "30-39": n - 20 - 14 - 7 - 2, "40-49": 7,
                     "50+": 2},
        "ethnicity": {"White": n - 18, "Black": 12, "Asian": 6, "Other": 0},
    }
    raw["subgroups"] = [
        {"dimension": "sex", "level": "Male", "treatment_n": n - female,
         "comparison_n": n - female, "treatment_events": events - 4,
         "comparison_events": comparison_events - 3, "difference": -0.05, "ci_low": -0.2,
         "ci_high": 0.1, "p_value": 0.5, "p_adjusted": 0.9, "significant": False},
        {"dimension": "sex", "level": "Female", "treatment_n": female, "comparison_n": female,
         "treatment_events": 4, "comparison_events": 3, "difference": None, "ci_low": None,
         "ci_high": None, "p_value": None, "p_adjusted": None, "significant": False},
    ]
    return raw


@pytest.mark.parametrize("cohort", [
    dict(n=58, events=12, comparison_events=19, female=9),  # near 60, low risk
    dict(n=62, events=9, comparison_events=14, female=11),  # headline below 10
    dict(n=75, events=65, comparison_events=60, female=30),  # 10 non-re-offenders: shown
    dict(n=61, events=52, comparison_events=40, female=20),  # 9 non-re-offenders: a 100%-ish cell
])
def test_every_cell_acro_blocks_the_lab_blocks(cohort):
    assert check_against_acro(_small_cohort(**cohort)) > 0


def test_the_raw_example():
    assert check_against_acro(json.loads(FIXTURE.read_text())) > 0

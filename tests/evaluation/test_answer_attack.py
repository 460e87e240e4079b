"""The answered/declined attack through the real pipeline (issue 18 leftover; the decision's
arithmetic is tested over many variants in tests/disclosure/test_decision.py).

An organisation uploads its people (U), then the same file without one matched participant x
(U - x). Under the old rule (exact count against the minimum) with the minimum at U's matched
count, U is answered and U - x declined: x was matched. Under the lab's rule the answer to
U - x is the one it would get if x had not been matched at all."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from jdl.admin.synth import make_submission
from jdl.core.config import Settings
from jdl.disclosure import decide_answerable
from jdl.evaluation import CouldNotBeAnswered, evaluate
from jdl.evaluation._evaluate import _answer_key
from tests.evaluation.test_designs import PROGRAMME, _Memory

SECRET = "attack-test secret"


def _run(upload: Path, programme: Path, data: Path, out: Path, memory: _Memory,
         **sections) -> int | None:
    """The matched count of an answered run, or None when declined."""
    # exact matching: each participant is matched if their stratum has comparison people, so
    # removing a matched one removes exactly one (with a propensity model, refitting it moves
    # the caliper and others in or out: 167 -> 164 here)
    settings = Settings(**{"disclosure": {"decision_key": SECRET},
                           "matching": {"design": "fixed", "method": "exact"}, **sections})
    try:
        evaluate(upload, programme, data, out, settings=settings, seed=3, checkpoints=memory)
    except CouldNotBeAnswered:
        return None
    raw = json.loads((out / "internal" / "raw_results.json").read_text())
    return raw["matching"]["treated_matched"]


@pytest.mark.slow
def test_one_matched_person_no_longer_decides_the_answer(synthetic_data_dir, tmp_path):
    sub = make_submission(synthetic_data_dir, PROGRAMME, tmp_path / f"{PROGRAMME}.csv")
    upload, programme = Path(sub["upload"]), Path(sub["programme"])
    full = _Memory()
    n = _run(upload, programme, synthetic_data_dir, tmp_path / "u", full)
    assert n is not None and n >= 60
    # x: a matched participant, and the file without x's row (header = row 1)
    internal = tmp_path / "u" / "internal"
    matched = pd.read_csv(internal / "matched.csv")
    links = pd.read_csv(internal / "links.csv")
    once = links["person_id"].value_counts()
    treated = matched.loc[(matched["treated"] == 1) & (matched["weights"] > 0), "person_id"]
    x = next(p for p in treated if once.get(p) == 1)
    row = int(links.loc[links["person_id"] == x, "row_number"].iloc[0])
    rows = pd.read_csv(upload, dtype=str, keep_default_na=False)
    less = tmp_path / "without_x.csv"
    rows.drop(index=row - 2).to_csv(less, index=False)
    fewer = _Memory()
    assert _run(less, programme, synthetic_data_dir, tmp_path / "ux", fewer) == n - 1

    # the old rule, minimum at U's count: answered with x, declined without x
    exact = {"disclosure": {"decision_key": SECRET, "decision_band": 0, "rounding_base": 1},
             "inference": {"min_matched_treated": n}}
    assert _run(upload, programme, synthetic_data_dir, tmp_path / "e1", full, **exact) == n
    assert _run(less, programme, synthetic_data_dir, tmp_path / "e2", fewer, **exact) is None

    # the lab's rule, the band starting at U's count as released: U - x gets exactly the
    # answer it would get had x never been matched (n people), whatever the draw
    minimum = 5 * int(n / 5 + 0.5)
    assert 5 * int((n - 1) / 5 + 0.5) == minimum  # x's removal does not cross a step here
    lab = {"inference": {"min_matched_treated": minimum}}
    answered = _run(less, programme, synthetic_data_dir, tmp_path / "l2", fewer, **lab)

    class _Accepted:
        def accepted_rows(self):
            return fewer.saved["link"][0].accepted_rows()

    key = _answer_key(_Accepted(), Settings(disclosure={"decision_key": SECRET}))
    unmatched_world = decide_answerable(n, minimum, band=40, base=5, key=key)
    assert (answered is not None) == unmatched_world.answered

"""The full evaluation (issue 7 target: a 1,000-person submission against 1M people in under
60 s end to end, peak memory under 4 GiB). Uses the 1M-person population that bench_synth
keeps in bench/work/synth-1000000 (generated here if missing); the linkage model is trained
once beforehand (its own case), as in a deployment."""

from __future__ import annotations

import os
import shutil
import time

from bench.common import WORK_DIR, run_case, write_results
from jdl.core.config import DEFAULT_SEED

PROGRAMME = "learning-inside"


def _population(people: int):
    from jdl.admin._store import read_manifest
    from jdl.admin.synth import SynthConfig, generate

    data = WORK_DIR / f"synth-{people}"
    if read_manifest(data).get("data_version") != SynthConfig(people=people,
                                                              seed=DEFAULT_SEED).data_version():
        generate(data, people=people, seed=DEFAULT_SEED)
    return data


def train_case(people: int) -> dict:
    from jdl.linkage import train_model

    train_model(_population(people))
    return {"people": people}


def evaluate_case(people: int, size: int) -> dict:
    import pandas as pd

    from jdl.admin.synth import make_submission
    from jdl.run import run_evaluation as evaluate

    data = _population(people)
    paths = make_submission(data, PROGRAMME, WORK_DIR / "pipeline" / "upload.csv")
    rows = pd.read_csv(paths["upload"], dtype=str, keep_default_na=False).head(size)
    rows.to_csv(paths["upload"], index=False)
    out = WORK_DIR / "pipeline" / "out"
    shutil.rmtree(out, ignore_errors=True)
    stages: dict[str, float] = {}
    start = time.perf_counter()

    def progress(stage: str) -> None:  # seconds from the start to each stage's beginning
        stages[stage] = round(time.perf_counter() - start, 2)

    ev = evaluate(paths["upload"], paths["programme"], data, out, progress=progress)
    seconds = time.perf_counter() - start
    return {"people": people, "submitted": size, "treatment_n": ev.results["treatment_n"],
            "evaluate_s": round(seconds, 2), "stage_start_s": stages,
            "load_avg_1m_after": round(os.getloadavg()[0], 2)}


def main(quick: bool = False, label: str = "") -> list[dict]:
    """``label``: results go to ``pipeline-<label>.json`` (e.g. one file per code version)."""
    people = 200_000 if quick else 1_000_000
    records = [
        run_case(f"link_train_{people}", train_case, people),
        run_case(f"evaluate_1000_vs_{people}", evaluate_case, people, 1000),
    ]
    write_results(f"pipeline-{label}" if label else "pipeline", records)
    return records


if __name__ == "__main__":
    import sys

    label = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--label=")), "")
    main(quick="--quick" in sys.argv, label=label)

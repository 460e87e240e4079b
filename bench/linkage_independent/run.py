"""Run the independent linkage benchmark: build the register, train once, link every set.

    python -m bench.linkage_independent.run [--quick] [--synth DIR] [--label NAME]

1. The register: the 200k people (and aliases) of a synthetic data directory made by the lab's
   generator (``--synth``; generated into bench/work when absent) plus the originals of every
   test set, 90% of each set's people (a seeded draw): the other 10% are submitted but not on
   the register, so wrong links to namesakes show up as lost precision.
2. The lab is prepared once on that register as ``jdl link-train`` prepares a directory
   (``train_model``: no calibration uploads; the match threshold chosen by the lab's rule on
   the labelled harsh-mix uploads of the synthetic part's planted programmes — never on these
   sets), and timed.
3. Each set is linked with names and date of birth only (no sex, no IDs), at that threshold
   (the directory's default) and at 0.5 for the threshold sweep. Rows intake would refuse
   (no forename, surname or valid date of birth) are not submitted; they are counted.
4. Precision, recall, F1 per set, per error type and per threshold, blocking recall, time and
   machine load go to ``bench/results/linkage_independent.json`` (``--quick``: ``…quick.json``),
   keyed by ``--label`` so runs on different code sit side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.linkage_independent import sets
from bench.linkage_independent.score import (
    at_threshold,
    best_threshold,
    by_error_type,
    metrics,
    sweep,
)

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "bench" / "work" / "linkage_independent"
RESULTS = Path(os.environ.get("JDL_BENCH_RESULTS") or ROOT / "bench" / "results")
SEED = 20261204
LEFT_OUT = 0.10
PERSON_ID_BASE = 50_000_000  # test people's ids; the generator's are 1..people
RELATED_CAP = 0.45  # the cap docs/linkage.md measures relatives with (LinkageSettings.related_cap)


def test_sets(quick: bool, synth: Path) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Every set's (originals, rows)."""
    return {
        "febrl1": sets.febrl(1),
        "febrl2": sets.febrl(2),
        "febrl3_crosscheck": sets.febrl(3),
        "febrl4_crosscheck": sets.febrl(4),
        "splink_fake_1000": sets.splink_fake_1000(),
        "splink_historical": sets.splink_historical(400 if quick else 2000, 2, SEED),
        "own_error_mix": sets.corrupted(40 if quick else 200, SEED + 1),
        "register_namesakes": sets.register_namesakes(synth / "admin.duckdb",
                                                      500 if quick else 3000, SEED + 2),
    }


def place(all_sets: dict[str, tuple[pd.DataFrame, pd.DataFrame]], seed: int = SEED):
    """Person ids for every set's people, 10% of each set left off the register.

    Returns the register's new people and, per set, the submission rows (``row_number,
    forename, surname, date_of_birth``), the truth (``row_number, person_id, errors``) and the
    count of rows intake would refuse."""
    rng = np.random.default_rng(seed)
    people, placed, next_id = [], {}, PERSON_ID_BASE
    for name, (originals, rows) in all_sets.items():
        ids = dict(zip(originals["key"], range(next_id, next_id + len(originals)), strict=True))
        next_id += len(originals) + 1000
        on_register = rng.random(len(originals)) >= LEFT_OUT
        kept = originals[on_register]
        people.append(kept.assign(person_id=kept["key"].map(ids)))
        registered = set(kept["key"])
        complete = rows["forename"].notna() & rows["surname"].notna() & rows["dob"].notna()
        submitted = rows[complete].reset_index(drop=True)
        submission = pd.DataFrame({
            "row_number": np.arange(1, len(submitted) + 1, dtype="int64"),
            "forename": submitted["forename"], "surname": submitted["surname"],
            "date_of_birth": submitted["dob"], "sex": None, "pnc_id": None,
            "prison_number": None,
        })
        truth = pd.DataFrame({
            "row_number": submission["row_number"],
            "person_id": pd.array([ids[k] if k in registered else None
                                   for k in submitted["key"]], dtype="Int64"),
            "errors": submitted["errors"].fillna(""),
        })
        placed[name] = {"submission": submission, "truth": truth,
                        "refused_by_intake": int((~complete).sum()),
                        "people": len(originals), "on_register": int(on_register.sum())}
    return pd.concat(people, ignore_index=True), placed


def synth_dir(given: str | None, quick: bool) -> Path:
    """The generator's 200k-person records: ``--synth``, else generated once into WORK."""
    if given:
        if not (Path(given) / "admin.duckdb").exists():
            raise SystemExit(f"error: no admin.duckdb in {given} (make one with `jdl synth "
                             f"--out DIR`, or leave --synth out)")
        return Path(given)
    path = WORK / "synth-200000"
    if not (path / "admin.duckdb").exists():
        from jdl.admin.synth import generate

        generate(path, people=200_000, seed=SEED)
    return path


def build_register(synth: Path, people: pd.DataFrame, target: Path) -> Path:
    """``target/admin.duckdb``: the synthetic people and aliases plus the test people
    (names and date of birth only), and a manifest whose hash is the data version."""
    import duckdb

    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    # the synthetic part's planted programmes: the labelled uploads the threshold rule uses
    shutil.copytree(synth / "truth", target / "truth")
    con = duckdb.connect(str(target / "admin.duckdb"))
    try:
        con.execute(f"ATTACH '{synth / 'admin.duckdb'}' AS s (READ_ONLY)")
        con.execute("CREATE TABLE people AS SELECT * FROM s.people")
        con.execute("CREATE TABLE aliases AS SELECT * FROM s.aliases")
        frame = people.loc[:, ["person_id", "forename", "surname", "dob"]]
        con.register("test_people", frame)
        con.execute("""
            INSERT INTO people (person_id, forename, surname, date_of_birth)
            SELECT person_id, forename, surname, CAST(dob AS DATE) FROM test_people
        """)
        n = con.execute("SELECT count(*) FROM people").fetchone()[0]
    finally:
        con.close()
    digest = pd.util.hash_pandas_object(people.astype(str), index=False).sum()
    (target / "manifest.json").write_text(json.dumps({
        "source": "synthetic + independent linkage benchmark people",
        "synth": str(synth), "people": int(n), "test_people": len(people),
        "test_people_hash": int(digest) % 2**63,
    }, indent=2))
    return target


def link_set(data_dir: Path, model, workspace, entry: dict[str, Any]) -> dict[str, Any]:
    """Link one set at the default threshold and at 0.5; score it."""
    from jdl.core.config import LinkageSettings
    from jdl.linkage import link_submission, score_candidates
    from jdl.linkage._link import load_submission

    submission, truth = entry["submission"], entry["truth"]
    start = time.perf_counter()
    result = link_submission(submission, data_dir, model=model, workspace=workspace)
    link_s = time.perf_counter() - start
    low = link_submission(submission, data_dir, model=model, workspace=workspace,
                          settings=LinkageSettings(match_threshold=0.5)).links
    # the other relatives policy: a pair a twin or namesake explains as well is capped below
    # any threshold the rule can choose (what the own mix's twins stratum asks for)
    capped = link_submission(submission, data_dir, model=model, workspace=workspace,
                             settings=LinkageSettings(match_threshold=0.5,
                                                      related_cap=RELATED_CAP)).links
    table = sweep(low, truth)
    best = best_threshold(table)
    load_submission(workspace, submission)
    candidates = score_candidates(workspace, model, rows_table="submission_features",
                                  floor=None)
    in_blocks = truth.merge(candidates[["row_number", "person_id"]].drop_duplicates()
                            .astype({"person_id": "Int64"}), on=["row_number", "person_id"])
    truth_in = truth[truth["person_id"].notna()]
    blocked = by_error_type(in_blocks.assign(person_id=in_blocks["person_id"]), truth)
    return {
        "people": entry["people"], "on_register": entry["on_register"],
        "rows_submitted": len(submission), "rows_refused_by_intake": entry["refused_by_intake"],
        "link_s": round(link_s, 2),
        "default_threshold": {"threshold": result.threshold,
                              "source": result.threshold_source,
                              **metrics(result.links, truth),
                              "ambiguous": int(result.links["ambiguous"].sum())},
        "best_threshold": {"threshold": float(best), **table[best]},
        "with_related_cap": {"related_cap": RELATED_CAP, "threshold": result.threshold,
                             **metrics(at_threshold(capped, result.threshold), truth)},
        "sweep": table,
        "blocking_recall": round(len(in_blocks) / len(truth_in), 5) if len(truth_in) else 1.0,
        "candidate_pairs": len(candidates),
        "by_error_type": {k: {**v, "blocking_recall": blocked.get(k, {}).get("recall")}
                          for k, v in by_error_type(result.links, truth).items()},
        "wrong_link_examples": _wrong_examples(result.links, submission, truth, workspace),
    }


def _wrong_examples(links, submission, truth, workspace, limit: int = 8) -> list[dict]:
    """A few wrong links with the names involved (public test data: nothing private)."""
    merged = links.merge(truth, on="row_number", suffixes=("", "_true"))
    wrong = merged[merged["person_id"].notna()
                   & (merged["person_id"] != merged["person_id_true"]).fillna(True)]
    out = []
    for _, row in wrong.head(limit).iterrows():
        sub = submission[submission["row_number"] == row["row_number"]].iloc[0]
        got = workspace.engine.execute(
            "SELECT forename, surname, CAST(date_of_birth AS VARCHAR) FROM adm.people "
            "WHERE person_id = ?", [int(row["person_id"])]).fetchall()
        out.append({"submitted": f"{sub['forename']} {sub['surname']} {sub['date_of_birth']}",
                    "linked_to": " ".join(map(str, got[0])) if got else None,
                    "true_person_on_register": bool(pd.notna(row["person_id_true"])),
                    "p": round(float(row["match_probability"]), 4), "errors": row["errors"]})
    return out


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(quick: bool = False, synth: str | None = None, label: str | None = None) -> dict:
    import jdl
    from jdl.core.config import LinkageSettings
    from jdl.linkage import open_workspace, train_model

    label = label or _git("rev-parse", "--short", "HEAD")
    load_start = os.getloadavg()
    started = time.perf_counter()
    synth_path = synth_dir(synth, quick)
    all_sets = test_sets(quick, synth_path)
    people, placed = place(all_sets)
    data_dir = build_register(synth_path, people, WORK / "register")
    prep_s = time.perf_counter() - started
    start = time.perf_counter()
    workspace = open_workspace(data_dir, LinkageSettings())
    model = train_model(data_dir, workspace=workspace)
    train_s = time.perf_counter() - start
    results = {}
    try:
        for name, entry in placed.items():
            results[name] = link_set(data_dir, model, workspace, entry)
            d = results[name]["default_threshold"]
            print(f"{name}: P {d['precision']:.4f} R {d['recall']:.4f} F1 {d['f1']:.4f} "
                  f"(best {results[name]['best_threshold']['threshold']}: "
                  f"F1 {results[name]['best_threshold']['f1']:.4f}) "
                  f"{results[name]['link_s']} s", flush=True)
    finally:
        workspace.close()
    run = {
        "label": label, "commit": _git("rev-parse", "HEAD"),
        "branch": _git("rev-parse", "--abbrev-ref", "HEAD"),
        "jdl_package": str(Path(jdl.__file__).parent),  # the lab code measured
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "quick": quick,
        "register_people": model.n_people, "register_records": model.n_register_records,
        "prepare_s": round(prep_s, 1), "train_s": round(train_s, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(), "sets": results,
    }
    path = RESULTS / ("linkage_independent.quick.json" if quick else "linkage_independent.json")
    payload = json.loads(path.read_text()) if path.exists() else {"runs": {}}
    payload["runs"][label] = run
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))
    print(f"written {path} (label {label}); train {run['train_s']} s, "
          f"peak {run['peak_rss_mib']} MiB")
    return run


def _cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sets (a few minutes)")
    parser.add_argument("--synth", help="a 200k-person data directory from `jdl synth`")
    parser.add_argument("--label", help="name of this run in the results file")
    args = parser.parse_args()
    try:
        main(args.quick, args.synth, args.label)
    except sets.SourceMissing as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    _cli()

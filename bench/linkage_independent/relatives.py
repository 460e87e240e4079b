"""The generator's harsh mix with twins and namesakes of registered people mixed in.

    SRC=DATA_DIR python -m bench.linkage_independent.relatives DATA_COPY LABEL

Copies the synthetic data directory ``SRC`` (default ``tests/.cache/synth-200000-11``) to
``DATA_COPY`` (once), trains and calibrates there as ``jdl link-train`` does, then links the
harsh-mix uploads of the planted programmes (seed 1) together with twins (another forename of
the same sex, half with the same initial; same surname and date of birth; not on the register)
and namesakes (the same full name born 18-40 years earlier) of 300 registered people with rare
surnames: first at about real uploads' prevalence (``realistic``: the probes spread over many
uploads, ten at a time), then all 600 in one upload (a stress test: the per-upload m learns
from them) with the lab's defaults, with the guards' cap at 0.45 and with both guards off.
Prints precision, recall and recall per kind of mistake at 0.5, 0.85, 0.9 and the calibrated
threshold, and how many twins and namesakes linked (to their relative); appends the figures to
``bench/work/relatives.jsonl``. Used for docs/linkage.md ("The generator's harsh mix, and
relatives mixed into it").
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
PROBE_ROWS = 90_000_000  # row numbers of the probes (the harsh uploads' are below)


def probes(admin_db: Path, people: int = 300, seed: int = 5) -> pd.DataFrame:
    """Twins and namesakes of registered people with rare surnames (none of them registered)."""
    con = duckdb.connect(str(admin_db), read_only=True)
    try:
        ppl = con.execute(
            "SELECT person_id, forename, surname, date_of_birth, sex FROM people").df()
        aliases = con.execute("SELECT forename, surname FROM aliases").df()
    finally:
        con.close()
    rng = np.random.default_rng(seed)
    counts = ppl["surname"].value_counts()
    rare = ppl[ppl["surname"].map(counts) <= 20].sample(people, random_state=seed)
    names_by_sex = {s: g["forename"].unique() for s, g in ppl.groupby("sex")}
    known = set(zip(ppl["forename"], ppl["surname"], strict=True)) | set(
        zip(aliases["forename"], aliases["surname"], strict=True))
    rows = []
    for _, r in rare.iterrows():
        pool = names_by_sex[r["sex"]]
        forename = pool[rng.integers(len(pool))]
        if forename[0] != r["forename"][0] and rng.random() < 0.5:
            same = [x for x in pool if x[0] == r["forename"][0] and x != r["forename"]]
            forename = same[rng.integers(len(same))] if same else forename
        if forename != r["forename"] and (forename, r["surname"]) not in known:
            rows.append(("twin", forename, r["surname"], r["date_of_birth"], r["sex"],
                         r["person_id"]))
        earlier = pd.Timestamp(r["date_of_birth"]) - pd.DateOffset(
            years=int(rng.integers(18, 40)), days=int(rng.integers(1, 360)))
        rows.append(("namesake", r["forename"], r["surname"], earlier.date(), r["sex"],
                     r["person_id"]))
    out = pd.DataFrame(rows, columns=["probe", "forename", "surname", "date_of_birth", "sex",
                                      "relative"])
    out["row_number"] = PROBE_ROWS + np.arange(len(out))
    return out


def _measure(links: pd.DataFrame, truth: pd.DataFrame, relatives: pd.DataFrame
             ) -> dict[str, Any]:
    rows = links.merge(truth, on="row_number")
    linked, in_records = rows["person_id"].notna(), rows["true"].notna()
    correct = linked & in_records & (rows["person_id"] == rows["true"]).fillna(False)
    kinds = rows[in_records].assign(
        kind=rows.loc[in_records, "errors"].fillna("none").replace("", "none").str.split(";"),
        ok=correct[in_records]).explode("kind")
    by_kind = kinds.groupby("kind")["ok"].agg(["size", "mean"])
    probe = links.merge(relatives[["row_number", "probe", "relative"]], on="row_number")
    probe = probe[probe["person_id"].notna()]
    out: dict[str, Any] = {
        "precision": round(float(correct.sum() / max(linked.sum(), 1)), 5),
        "recall": round(float(correct.sum() / in_records.sum()), 5),
        "wrong": int((linked & ~correct).sum()),
        "by_kind": {k: [int(v["size"]), round(float(v["mean"]), 4)]
                    for k, v in by_kind.iterrows()},
    }
    for kind in ("twin", "namesake"):
        of_kind = probe["probe"] == kind
        out[f"{kind}s_linked"] = int(of_kind.sum())
        out[f"{kind}s_to_relative"] = int((of_kind & (probe["person_id"] == probe["relative"]))
                                          .sum())
    return out


def _realistic(workspace, model, rows: pd.DataFrame, truth: pd.DataFrame,
               relatives: pd.DataFrame, threshold: float, batch: int = 10) -> dict[str, Any]:
    """The probes at about the prevalence real uploads have (``batch`` relatives in an upload
    of several thousand rows, ~0.1-0.2%; the generator's own rate is 0.2% of rows): the
    harsh upload is linked once per batch of probes, with the lab's defaults, so the
    per-upload m is learnt from an upload that is not full of relatives. Returns how many
    probes of each kind linked at 0.5, 0.7, 0.85, 0.9 and ``threshold``."""
    from jdl.linkage import LinkOptions, link_rows

    thresholds = sorted({0.5, 0.7, 0.85, 0.9, threshold})
    linked: dict[str, dict[str, int]] = {str(t): {"twin": 0, "namesake": 0} for t in thresholds}
    shuffled = relatives.sample(frac=1.0, random_state=11)
    for start in range(0, len(shuffled), batch):
        part = shuffled.iloc[start:start + batch]
        upload = pd.concat([rows, part[[c for c in rows.columns if c in part]]],
                           ignore_index=True)
        result = link_rows(workspace, model, upload, LinkOptions(match_threshold=0.5))
        for t in thresholds:
            links = result.at_threshold(t).links.merge(part[["row_number", "probe"]],
                                                       on="row_number")
            for kind, n in links[links["person_id"].notna()]["probe"].value_counts().items():
                linked[str(t)][str(kind)] += int(n)
    out = {"batch": batch, "probes": shuffled["probe"].value_counts().to_dict(),
           "linked": linked}
    print("realistic prevalence:", out, flush=True)
    return out


def main(target: Path, label: str) -> dict[str, Any]:
    from jdl.linkage import LinkOptions, link_rows, load_model, open_workspace, train_model
    from jdl.linkage._calibration import generated_labelled_rows, load_calibration
    from jdl.linkage._model import MODEL_FILE, data_version

    source = Path(os.environ.get("SRC", ROOT / "tests" / ".cache" / "synth-200000-11"))
    if not target.exists():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("linkage-*"))
    start = time.perf_counter()
    model_file = target / MODEL_FILE
    if not model_file.exists() or load_model(model_file).data_version != data_version(target):
        train_model(target)
    train_s = round(time.perf_counter() - start, 1)
    model = load_model(model_file)
    calibration = load_calibration(target, model)
    threshold = calibration.threshold if calibration else 0.9
    rows, truth, _source = generated_labelled_rows(target, seed=1)
    relatives = probes(target / "admin.duckdb")
    upload = pd.concat([rows, relatives[[c for c in rows.columns if c in relatives]]],
                       ignore_index=True)
    truth = truth[["row_number", "person_id", "errors"]].rename(columns={"person_id": "true"})
    out: dict[str, Any] = {"label": label, "train_s": train_s, "threshold": threshold,
                           "load": os.getloadavg(), "rows": len(rows),
                           "probes": relatives["probe"].value_counts().to_dict()}
    configs = {
        "default": LinkOptions(match_threshold=0.5),
        "cap 0.45": LinkOptions(match_threshold=0.5, related_cap=0.45),
        "guards off": LinkOptions(match_threshold=0.5, twin_share=0, namesake_share=0),
    }
    workspace = open_workspace(target)
    try:
        out["realistic"] = _realistic(workspace, model, rows, truth, relatives, threshold)
        for name, options in configs.items():
            result = link_rows(workspace, model, upload, options)
            out[name] = {}
            for t in sorted({0.5, 0.85, 0.9, threshold}):
                figures = _measure(result.at_threshold(t).links, truth, relatives)
                out[name][str(t)] = figures
                print(name, t, {k: v for k, v in figures.items() if k != "by_kind"})
                print("   ", {k: v[1] for k, v in figures["by_kind"].items()}, flush=True)
    finally:
        workspace.close()
    with (ROOT / "bench" / "work" / "relatives.jsonl").open("a") as handle:
        handle.write(json.dumps(out, default=str) + "\n")
    return out


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])

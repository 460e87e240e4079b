"""Recall per kind of mistake on the generator's harsh mix, overall and where it is the row's only
mistake, with how many of the uploads' relatives (twins and same-named relatives of registered
people, at the generator's rates) linked.

    python -m bench.linkage_independent.harsh_kinds DATA_DIR SEEDS OUT.json

``DATA_DIR``: a synthetic data directory prepared for linkage (model and calibration, as
``jdl synth`` / ``jdl link-train`` leave it); ``SEEDS``: comma-separated generator seeds, one
harsh upload of every planted programme per seed. Figures at the calibrated threshold and at
0.9. Used for docs/linkage.md ("Relatives at real prevalence, and the harsh mix per kind").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd


def _kinds(errors: pd.Series) -> pd.Series:
    return errors.fillna("").replace("", "none").str.split(";")


def figures(links: pd.DataFrame, threshold: float) -> dict[str, Any]:
    """``links``: the link table at a low threshold joined to the truth (``true``, ``errors``)."""
    linked = links["person_id"].notna() & (links["match_probability"] >= threshold)
    correct = linked & (links["person_id"] == links["true"]).fillna(False)
    in_records = links["true"].notna()
    kinds = _kinds(links["errors"])
    table = pd.DataFrame({"kind": kinds, "ok": correct, "in_records": in_records,
                          "linked": linked}).explode("kind")
    relatives = table[table["kind"].isin(["twin", "namesake"])].groupby("kind")["linked"]
    by_kind = table[table["in_records"]].groupby("kind")["ok"].agg(["size", "mean"])
    single = pd.DataFrame({"kinds": kinds.map(lambda k: [x for x in k if x != "duplicate"]),
                           "ok": correct})[in_records]
    single = single[single["kinds"].map(len) <= 1]
    single["kind"] = single["kinds"].map(lambda k: k[0] if k else "none")
    alone = single.groupby("kind")["ok"].agg(["size", "mean"])
    return {
        "threshold": threshold, "rows": len(links),
        "precision": round(float(correct.sum() / max(int(linked.sum()), 1)), 5),
        "recall": round(float(correct[in_records].mean()), 5),
        "wrong": int((linked & ~correct).sum()),
        "by_kind": {str(k): [int(v["size"]), round(float(v["mean"]), 4)]
                    for k, v in by_kind.iterrows()},
        "alone": {str(k): [int(v["size"]), round(float(v["mean"]), 4)]
                  for k, v in alone.iterrows()},
        "relatives_linked": {str(k): [int(v.size), int(v.sum())] for k, v in relatives},
    }


def main(data_dir: Path, seeds: list[int], out: Path) -> dict[str, Any]:
    from jdl.linkage import LinkOptions, link_rows, load_model, open_workspace
    from jdl.linkage._calibration import generated_labelled_rows, load_calibration
    from jdl.linkage._model import MODEL_FILE

    model = load_model(data_dir / MODEL_FILE)
    calibration = load_calibration(data_dir, model)
    threshold = calibration.threshold if calibration else 0.9
    workspace = open_workspace(data_dir)
    frames = []
    try:
        for seed in seeds:
            labelled = generated_labelled_rows(data_dir, seed=seed)
            if labelled is None:
                raise SystemExit(f"{data_dir} has no planted programmes")
            rows, truth, _ = labelled
            links = link_rows(workspace, model, rows, LinkOptions(match_threshold=0.01)).links
            frames.append(links.merge(
                truth[["row_number", "person_id", "errors"]].rename(columns={"person_id": "true"}),
                on="row_number"))
    finally:
        workspace.close()
    links = pd.concat(frames, ignore_index=True)
    result = {"seeds": seeds, "calibrated": threshold,
              "at": [figures(links, t) for t in sorted({threshold, 0.9})]}
    out.write_text(json.dumps(result, indent=1))
    for f in result["at"]:
        print(f["threshold"], {k: v for k, v in f.items() if k not in ("by_kind", "alone")})
        print("   ", {k: f"{v[1]:.1%} ({v[0]})" for k, v in f["by_kind"].items()})
        print("    alone", {k: f"{v[1]:.1%} ({v[0]})" for k, v in f["alone"].items()})
    return result


if __name__ == "__main__":
    main(Path(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")], Path(sys.argv[3]))

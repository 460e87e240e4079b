"""Linkage benchmark: quality against the synthetic truth and speed, 1M and 10M people.

Submissions are the planted programmes' uploads from ``jdl.admin.synth.make_submission``
(all programmes of a data directory concatenated, through intake's accepted rows), at the
generator's ``default`` and ``harsh`` error presets. The model is trained once per data
directory (timed) and reused by every link case. The 10M register is built from the 1M
generator output by recombining forenames, surnames, dates of birth and sexes of different
people (linkage reads only ``people`` and ``aliases``; generating 10M full histories would take
far longer than the linkage itself).

``python -m bench.run bench_linkage`` (``--quick``: 200k people only).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from bench.common import WORK_DIR, run_case, write_results
from jdl.core.config import DEFAULT_SEED

SEED = DEFAULT_SEED
ROW_OFFSET = 1_000_000  # row numbers of programme k start at k * ROW_OFFSET


def _data_dir(people: int) -> Path:
    return WORK_DIR / f"linkage-{people}"


def _ensure_data(people: int) -> Path:
    """Generate (or recombine, for 10M) the national records once; reused across runs."""
    path = _data_dir(people)
    if (path / "admin.duckdb").exists():
        return path
    if people > 1_000_000:
        return _recombined(_ensure_data(1_000_000), path, people // 1_000_000)
    from jdl.admin.synth import generate

    generate(path, people=people, seed=SEED)
    return path


def _recombined(source: Path, target: Path, factor: int) -> Path:
    """``factor`` copies of the source register's people and aliases, names and dates of
    birth recombined across people (copy 0 is the source itself, so its truth files hold).
    Copies have no aliases (copying the originals' would give each copy its original's
    names); a copy's middle names go with its forename (generator 1.6); copies get IDs no
    original can have (PNC year 01..09, a digit for the prison number's letter), so an ID
    typed in a submission still points to one person."""
    import duckdb

    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / "truth", target / "truth", dirs_exist_ok=True)
    con = duckdb.connect(str(target / "admin.duckdb"))
    try:
        con.execute(f"ATTACH '{source / 'admin.duckdb'}' AS s (READ_ONLY)")
        n = con.execute("SELECT max(person_id) FROM s.people").fetchone()[0]
        con.execute("CREATE TABLE people AS SELECT * FROM s.people")
        con.execute("CREATE TABLE aliases AS SELECT * FROM s.aliases")
        for c in range(1, factor):
            shuffled = {
                key: f"(SELECT {cols}, row_number() OVER (ORDER BY hash(person_id, {c}, "
                     f"'{key}')) AS rn FROM s.people)"
                for key, cols in (("f", "forename, middle_names, sex"), ("s", "surname"),
                                  ("d", "date_of_birth"))
            }
            con.execute(f"""
                INSERT INTO people
                SELECT p.person_id + {c * n},
                       CASE WHEN p.pnc_id IS NOT NULL THEN '{c:02d}' || substr(p.pnc_id, 3) END,
                       CASE WHEN p.prison_number IS NOT NULL
                            THEN '{c}' || substr(p.prison_number, 2) END,
                       f.forename, f.middle_names, s.surname, d.date_of_birth, f.sex,
                       p.ethnicity,
                       p.nationality, p.region
                FROM (SELECT *, row_number() OVER () AS rn FROM s.people) AS p
                JOIN {shuffled['f']} AS f USING (rn) JOIN {shuffled['s']} AS s USING (rn)
                JOIN {shuffled['d']} AS d USING (rn)
            """)
    finally:
        con.close()
    (target / "manifest.json").write_text(json.dumps(
        {"source": "recombined", "from": str(source), "factor": factor}))
    return target


def _submission(data_dir: Path, preset: str) -> tuple[Path, Path]:
    """All programmes' uploads at ``preset``, through intake; saved as Parquet (rows, truth)."""
    import pandas as pd

    from jdl.admin.synth import make_submission
    from jdl.intake import check_submission

    out = data_dir / "subs"
    rows_path, truth_path = out / f"{preset}.rows.parquet", out / f"{preset}.truth.parquet"
    if rows_path.exists() and truth_path.exists():
        return rows_path, truth_path
    programmes = json.loads((data_dir / "truth" / "programmes.json").read_text())["programmes"]
    rows, truths = [], []
    for k, spec in enumerate(programmes):
        paths = make_submission(data_dir, spec["name"], out / f"{spec['name']}-{preset}.csv",
                                errors=preset, seed=SEED + k)
        accepted = check_submission(paths["upload"]).accepted_rows()
        truth = pd.read_csv(paths["truth"], dtype={"errors": str}, keep_default_na=False)
        truth = truth[truth["row_number"].isin(accepted["row_number"])]
        accepted["row_number"] += k * ROW_OFFSET
        truth = truth.assign(row_number=truth["row_number"] + k * ROW_OFFSET,
                             programme=spec["name"],
                             person_id=pd.to_numeric(truth["person_id"]).astype("Int64"))
        rows.append(accepted)
        truths.append(truth)
    pd.concat(rows, ignore_index=True).to_parquet(rows_path)
    pd.concat(truths, ignore_index=True).to_parquet(truth_path)
    return rows_path, truth_path


def train_case(data_dir: str) -> dict[str, Any]:
    """Train and save the model (and the register cache) from scratch."""
    from jdl.linkage import MODEL_FILE, train_model

    for stale in [Path(data_dir) / MODEL_FILE, *Path(data_dir).glob("linkage-register-*")]:
        stale.unlink(missing_ok=True)
    start = time.perf_counter()
    model = train_model(data_dir)
    return {"train_s": round(time.perf_counter() - start, 2), "people": model.n_people,
            "register_records": model.n_register_records, "warnings": list(model.warnings)}


def link_case(data_dir: str, rows_path: str, truth_path: str,
              blocking: bool = False) -> dict[str, Any]:
    """Link a prepared submission with the saved model; quality against the truth."""
    import pandas as pd

    from jdl.linkage import (
        link_quality,
        link_submission,
        model_for,
        open_workspace,
    )

    rows, truth = pd.read_parquet(rows_path), pd.read_parquet(truth_path)
    start = time.perf_counter()
    workspace = open_workspace(data_dir)
    model = model_for(data_dir, train_if_missing=False)
    result = link_submission(rows, data_dir, model=model, workspace=workspace)
    link_s = time.perf_counter() - start
    quality = link_quality(result.links, truth)
    record: dict[str, Any] = {"link_s": round(link_s, 2), "rows": len(rows),
                              **{k: round(v, 5) if isinstance(v, float) else v
                                 for k, v in quality.items()},
                              "summary": result.summary.as_dict(),
                              "recall_by_error": _recall_by_error(result.links, truth),
                              "by_programme": _by_programme(result.links, truth)}
    record["threshold_sweep"] = _sweep(rows, truth, data_dir, model, workspace)
    if blocking:
        record.update(_blocking(workspace, rows, truth))
    workspace.close()
    return record


def _blocking(workspace, rows, truth) -> dict[str, Any]:
    """Blocking recall and candidate pairs, counted in SQL from the blocked pairs alone.

    Scoring every blocked pair into pandas (``score_candidates(floor=None)``) holds all their
    comparison columns in memory: at 10M people (about 5M pairs) that took over 23 GiB and was
    killed. Whether the true person is among a row's candidates needs only (row, person)."""
    from jdl.linkage import blocking_recall
    from jdl.linkage._link import SUBMISSION_TABLE, load_submission
    from jdl.linkage._register import REGISTER_TABLE
    from jdl.linkage._settings import blocked_pairs_sql

    load_submission(workspace, rows)
    workspace.run("CREATE OR REPLACE TABLE bench_blocked AS "
                  + blocked_pairs_sql(SUBMISSION_TABLE, REGISTER_TABLE))
    pairs = int(workspace.engine.df("SELECT count(*) AS n FROM bench_blocked")["n"][0])
    found = workspace.engine.df(
        f"SELECT DISTINCT b.id_l AS row_number, r.person_id FROM bench_blocked AS b "
        f"JOIN {REGISTER_TABLE} AS r ON r.unique_id = b.id_r")
    workspace.run("DROP TABLE bench_blocked")
    return {"blocking_recall": round(blocking_recall(found, truth), 5),
            "candidate_pairs": pairs}


def _sweep(rows, truth, data_dir, model, workspace) -> dict[str, Any]:
    """Precision and recall at several thresholds (one link at 0.5, then filtered: a row's
    best person is the same whatever the threshold)."""
    from jdl.core.config import LinkageSettings
    from jdl.linkage import link_quality, link_submission

    low = LinkageSettings(match_threshold=0.5)
    links = link_submission(rows, data_dir, settings=low, model=model,
                            workspace=workspace).links
    out = {}
    for threshold in (0.5, 0.8, 0.9, 0.95, 0.99, 0.999):
        keep = (links["method"] == "id") | (links["match_probability"] >= threshold)
        q = link_quality(links.assign(person_id=links["person_id"].where(keep)), truth)
        out[str(threshold)] = {"precision": round(q["precision"], 5),
                               "recall": round(q["recall"], 5)}
    return out


def _recall_by_error(links, truth) -> dict[str, Any]:
    """Recall per planted error kind (a row with two errors counts under both)."""
    merged = truth.merge(links[["row_number", "person_id"]], on="row_number",
                         suffixes=("_true", ""))
    merged = merged[merged["person_id_true"].notna()]
    merged["correct"] = (merged["person_id"] == merged["person_id_true"]).fillna(False)
    kinds = merged["errors"].fillna("").str.split(";")
    exploded = merged.assign(kind=kinds).explode("kind")
    exploded["kind"] = exploded["kind"].replace("", "none")
    grouped = exploded.groupby("kind")["correct"].agg(["size", "mean"])
    return {k: {"rows": int(r["size"]), "recall": round(float(r["mean"]), 4)}
            for k, r in grouped.iterrows()}


def _by_programme(links, truth) -> dict[str, Any]:
    from jdl.linkage import link_quality

    out = {}
    for name, part in truth.groupby("programme"):
        q = link_quality(links[links["row_number"].isin(part["row_number"])], part)
        out[name] = {"rows": q["rows"], "precision": round(q["precision"], 4),
                     "recall": round(q["recall"], 4)}
    return out


def main(quick: bool = False) -> list[dict]:
    sizes = [200_000] if quick else [1_000_000, 10_000_000]
    records = []
    for people in sizes:
        data_dir = _ensure_data(people)
        subs = {preset: _submission(data_dir, preset) for preset in ("default", "harsh")}
        records.append(run_case(f"train_{people}", train_case, str(data_dir)))
        for preset, (rows_path, truth_path) in subs.items():
            records.append(run_case(f"link_{preset}_vs_{people}", link_case, str(data_dir),
                                    str(rows_path), str(truth_path), True))
    write_results("linkage", records)
    return records

"""How cost grows with the population and with the submitted cohort, stage by stage.

For each population size (people in the synthetic national records; 100k, 300k, 1M, 3M, 10M,
``--quick``: 100k and 300k) and engine, each case in a fresh process: linkage model training,
linkage of 100 / 1k / 10k submitted rows (names and dates of birth only, so every row takes the
probabilistic path), a cohort of 100 / 1k / 10k linked people, the whole comparison pool written
as Parquet, matching 100 / 1k / 10k treated against one control per person, and the full
evaluation of a 1,000-row upload (100 and 10k rows too at 1M). Generation is timed for the sizes
this module generates (300k, 3M); ``bench_synth`` times 100k, 1M and 10M.

Every record carries ``stage``, ``people``, ``k`` (submitted rows/treated), ``engine``,
``wall_s``, ``cpu_s``, ``peak_rss_mib`` and ``load_avg_1m``; ``bench.summary`` turns them into
``bench/results/SUMMARY.md`` with log-log trend fits. ``--engine spark`` (or ``--engines
duckdb,spark``) selects engines; a stage an engine cannot run is recorded as ``skipped`` with
the reason, never as a figure. ``--sizes 1000000,10000000`` picks population sizes, ``--cohorts
1000,10000`` the cohort sizes k. Spark cases record the Spark options they ran with.

Memory on a shared machine: cases run one at a time; DuckDB takes ``Settings.data``'s memory
limit; populations live in ``bench/work/synth-<people>`` (git-ignored) and pool output is deleted
after each case.
"""

from __future__ import annotations

import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from bench.common import WORK_DIR, run_case, write_results
from jdl.core.config import DEFAULT_SEED

SEED = DEFAULT_SEED
SIZES = (100_000, 300_000, 1_000_000, 3_000_000, 10_000_000)
QUICK_SIZES = (100_000, 300_000)
COHORTS = (100, 1_000, 10_000)
PROGRAMME = "learning-inside"


def population(people: int) -> Path:
    """The generated data directory for ``people`` (made once, shared with the other benches)."""
    from jdl.admin._store import read_manifest
    from jdl.admin.synth import SynthConfig

    out = WORK_DIR / f"synth-{people}"
    version = SynthConfig(people=people, seed=SEED).data_version()
    if not (out / "admin.duckdb").exists() or read_manifest(out).get("data_version") != version:
        raise FileNotFoundError(f"{out} is missing: run the generate case first")
    return out


def generate_case(people: int) -> dict[str, Any]:
    from jdl.admin.synth import generate

    manifest = generate(WORK_DIR / f"synth-{people}", people=people, seed=SEED)
    return {"offences": manifest["row_counts"]["offences"]}


def _upload(data_dir: Path, k: int, out: Path) -> Path:
    """``k`` people with a custody release, as an upload without IDs (names, date of birth, sex,
    intervention start on the day the sentence started): every row is linked probabilistically
    and most are eligible."""
    from jdl.admin.records import open_records as open_admin

    with open_admin(data_dir, engine="duckdb") as engine:
        rows = engine.df(f"""
            SELECT p.forename, p.surname, strftime(p.date_of_birth, '%d/%m/%Y') AS date_of_birth,
                   p.sex, strftime(e.sentence_start, '%d/%m/%Y') AS intervention_start
            FROM (SELECT * FROM (SELECT * FROM index_events
                                 WHERE index_type = 'custody_release'
                                   AND index_date BETWEEN DATE '2016-01-01' AND DATE '2022-12-31')
                  USING SAMPLE reservoir({k} ROWS) REPEATABLE (7)) AS e
            JOIN people AS p USING (person_id)""")
    out.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out, index=False)
    return out


def train_case(people: int, engine: str) -> dict[str, Any]:
    from jdl.core.config import LinkageSettings
    from jdl.linkage import MODEL_FILE, train_model

    data = population(people)
    for stale in [data / MODEL_FILE, *data.glob("linkage-register-*")]:
        stale.unlink(missing_ok=True)
    model = train_model(data, settings=LinkageSettings(backend=engine))
    return {"register_records": model.n_register_records}


def link_case(people: int, k: int, engine: str) -> dict[str, Any]:
    from jdl.core.config import LinkageSettings
    from jdl.intake import check_submission
    from jdl.linkage import link_submission

    data = population(people)
    upload = _upload(data, k, WORK_DIR / "scaling" / f"link-{people}-{k}.csv")
    rows = check_submission(upload).accepted_rows()
    start = time.perf_counter()
    result = link_submission(rows, data, settings=LinkageSettings(backend=engine))
    return {"link_s": round(time.perf_counter() - start, 3), "rows": len(rows),
            "linked": result.summary.linked}


def cohort_case(people: int, k: int, engine: str) -> dict[str, Any]:
    import pandas as pd

    from jdl.admin.records import open_records as open_admin
    from jdl.cohort import build_cohort

    data = population(people)
    with open_admin(data, engine="duckdb") as admin:  # the same sample for every engine
        sample = admin.df(
            f"SELECT person_id, sentence_start FROM (SELECT * FROM index_events WHERE "
            f"index_type = 'custody_release') USING SAMPLE reservoir({k} ROWS) REPEATABLE (7)"
        )
    with open_admin(data, engine=engine) as admin:
        link = pd.DataFrame({"row_number": range(1, len(sample) + 1),
                             "person_id": sample.person_id.astype("Int64"),
                             "match_probability": 1.0, "method": "id"})
        submission = pd.DataFrame({"row_number": link.row_number,
                                   "intervention_start": sample.sentence_start})
        start = time.perf_counter()
        result = build_cohort(admin, link, submission, "custody")
        cohort_s = time.perf_counter() - start
    return {"cohort_s": round(cohort_s, 3), "eligible": result.attrition.eligible}


def pool_case(people: int, engine: str) -> dict[str, Any]:
    from jdl.admin.records import open_records as open_admin
    from jdl.cohort import write_pool

    data = population(people)
    out = WORK_DIR / "scaling" / f"pool-{people}-{engine}"
    shutil.rmtree(out, ignore_errors=True)
    try:
        with open_admin(data, engine=engine) as admin:
            start = time.perf_counter()
            write_pool(admin, out)
            pool_s = time.perf_counter() - start
        import duckdb

        rows = duckdb.sql(f"SELECT COUNT(*) FROM read_parquet('{out}/**/*.parquet')").fetchall()
        return {"pool_s": round(pool_s, 3), "pool_rows": rows[0][0]}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def match_case(people: int, k: int) -> dict[str, Any]:
    """``k`` treated against ``people`` controls, bench_matching's data (glm included)."""
    from bench.bench_matching import COVS, make_data
    from jdl.matching import match

    df = make_data(k, people)
    warnings.filterwarnings("ignore", "fitted probabilities", RuntimeWarning)
    start, cpu = time.perf_counter(), time.process_time()
    m = match(df, "treat", COVS)
    return {"match_s": round(time.perf_counter() - start, 3),
            "match_cpu_s": round(time.process_time() - cpu, 3),
            "controls_matched": m.n_control_matched}


def evaluate_case(people: int, k: int, engine: str) -> dict[str, Any]:
    from jdl.admin.synth import make_submission
    from jdl.core.config import get_settings
    from jdl.linkage import prepare_linkage
    from jdl.run import run_evaluation as evaluate

    data = population(people)
    # trained and calibrated by train_case; here only if missing, outside the timing (an
    # evaluation never calibrates)
    prepare_linkage(data)
    work = WORK_DIR / "scaling" / f"evaluate-{people}-{k}"
    programme = make_submission(data, PROGRAMME, work / "programme-source.csv")["programme"]
    upload = _upload(data, k, work / "upload.csv")
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    settings = get_settings().model_copy(deep=True)
    settings.data.engine = engine
    settings.linkage.backend = engine
    start = time.perf_counter()
    ev = evaluate(upload, programme, data, out, settings=settings)
    return {"evaluate_s": round(time.perf_counter() - start, 3),
            "treatment_n": ev.results["treatment_n"],
            "comparison_n": ev.results.get("comparison_n")}


def _record(stage: str, people: int, k: int | None, engine: str, func, *args) -> dict[str, Any]:
    meta = {"stage": stage, "people": people, "k": k, "engine": engine, **_engine_conf(engine)}
    return {**meta, **run_case(f"{stage} k={k} {engine} {people}", func, *args)}


def _engine_conf(engine: str) -> dict[str, Any]:
    """The Spark options a case ran with (``JDL_SPARK__*``): its figures depend on them."""
    if engine != "spark":
        return {}
    from jdl.core.config import get_settings

    spark = get_settings().spark
    return {"spark_master": spark.master, "spark_driver_memory": spark.driver_memory,
            "spark_shuffle_partitions": spark.shuffle_partitions}


# Linkage training always runs in embedded DuckDB (see docs/deployment.md).
TRAINED_IN_DUCKDB = ("the model is trained in embedded DuckDB on either engine "
                     "(the DuckDB figure applies)")


STAGES = ("generation", "train", "link", "cohort", "pool", "evaluate", "match")


def skipped_records(people: int, engine: str, stages: tuple[str, ...], reason: str,
                    cohorts: tuple[int, ...] = COHORTS) -> list[dict[str, Any]]:
    """Records saying why a size/engine was not measured (``--skip REASON``, for the cohort
    sizes ``cohorts``): the summary then shows the reason instead of a figure."""
    ks = {"link": cohorts, "cohort": cohorts, "match": cohorts,
          "evaluate": tuple(k for k in (1_000,) if k in cohorts)}
    return [{"case": f"{stage} k={k} {engine} {people}", "ok": True, "stage": stage,
             "people": people, "k": k, "engine": engine, "skipped": reason}
            for stage in stages if stage != "generation" for k in ks.get(stage, (None,))]


def run_population(people: int, engines: list[str], quick: bool,
                   stages: tuple[str, ...] = STAGES,
                   cohorts: tuple[int, ...] = COHORTS) -> list[dict[str, Any]]:
    """Every case (of ``stages``; ``cohorts``: the k of the link, cohort and match cases) for
    one population size."""
    records = []
    data = WORK_DIR / f"synth-{people}"
    try:
        population(people)
    except FileNotFoundError:
        shutil.rmtree(data, ignore_errors=True)
        records.append(_record("generation", people, None, "duckdb", generate_case, people))
    for engine in engines:
        if "train" in stages and engine == "spark":
            records += skipped_records(people, engine, ("train",), TRAINED_IN_DUCKDB)
        elif "train" in stages:
            records.append(_record("train", people, None, engine, train_case, people, engine))
        for k in cohorts if "link" in stages else ():
            records.append(_record("link", people, k, engine, link_case, people, k, engine))
        for k in cohorts if "cohort" in stages else ():
            records.append(_record("cohort", people, k, engine, cohort_case, people, k,
                                   engine))
        if "pool" in stages:
            records.append(_record("pool", people, None, engine, pool_case, people, engine))
        uploads = COHORTS if people == 1_000_000 and not quick else (1_000,)
        for k in [k for k in uploads if k in cohorts] if "evaluate" in stages else ():
            records.append(_record("evaluate", people, k, engine, evaluate_case, people, k,
                                   engine))
    for k in cohorts if "match" in stages else ():  # in memory (numpy): engine-independent
        records.append(_record("match", people, k, "duckdb", match_case, people, k))
    return records


def _option(argv: list[str], name: str, default: str) -> str:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def main(quick: bool = False, argv: list[str] | None = None) -> list[dict]:
    argv = sys.argv[1:] if argv is None else argv
    sizes = [int(s) for s in _option(argv, "--sizes", "").split(",") if s] or list(
        QUICK_SIZES if quick else SIZES)
    engines = _option(argv, "--engines", _option(argv, "--engine", "duckdb")).split(",")
    stages = tuple(_option(argv, "--stages", ",".join(STAGES)).split(","))
    skip = _option(argv, "--skip", "")
    cohorts = tuple(int(k) for k in _option(argv, "--cohorts", "").split(",") if k) or COHORTS
    records: list[dict] = []
    for people in sizes:
        if skip:
            records += [r for e in engines
                        for r in skipped_records(people, e, stages, skip, cohorts)]
        else:
            records += run_population(people, engines, quick, stages, cohorts)
        _save(records)  # after each size: a stop keeps the rest
    return records


def _save(records: list[dict]) -> None:
    """Merge into ``scaling.json`` under a lock (several runs may measure at once)."""
    import fcntl

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    with open(WORK_DIR / ".scaling.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        write_results("scaling", _merged(records))


def _merged(records: list[dict]) -> list[dict]:
    """New records replace earlier ones of the same (stage, people, k, engine) in
    ``scaling.json``, so sizes and engines can be measured in separate runs."""
    import json

    from bench.common import RESULTS_DIR

    path = RESULTS_DIR / "scaling.json"
    old = json.loads(path.read_text())["results"] if path.exists() else []
    key = lambda r: (r.get("stage"), r.get("people"), r.get("k"), r.get("engine"))  # noqa: E731
    fresh = {key(r) for r in records}
    return [r for r in old if key(r) not in fresh] + records


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)

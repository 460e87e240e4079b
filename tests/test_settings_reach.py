"""Settings are parameters: every section passed to ``evaluate`` reaches the stage it names and
changes what it says it changes; the config hash covers exactly what decides the numbers.

Issue 17 found an analyst's re-run with ``{"cohort": {"follow_up_days": 730,
"min_age_at_index": 18}}`` built with 365 days and age 15 (the cohort read the global settings),
``matching.exact`` replaced by a constant and the survival follow-up read globally. One
evaluation with every section changed is compared with one on the defaults, on the lab-internal
outputs and the national records themselves.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from jdl.admin.synth import make_submission
from jdl.core.config import ANALYSIS_SECTIONS, Settings
from jdl.core.errors import JDLError
from jdl.engines.duckdb import DuckDBEngine
from jdl.evaluation import config_hash
from jdl.run import run_evaluation as evaluate

PROGRAMME = "new-leaf-employment"  # custody, 2015-2018, about 220 people
SEED = 3
CHANGED: dict[str, dict[str, Any]] = {
    "data": {"duckdb_threads": 1, "duckdb_memory_limit": "3GB"},
    "linkage": {"min_id_evidence": 4},  # more than the 3 identifiers: no ID link possible
    "cohort": {"follow_up_days": 730, "min_age_at_index": 18},
    "matching": {"exact": ("index_type",), "caliper": 0.05, "smd_good": 0.3},
    "inference": {"follow_up_days": 200, "alpha": 0.2},
    "disclosure": {"rounding_base": 10},
    "report": {"lab_name": "Seams Test Lab", "contact": "seams@lab.example"},
}


@pytest.fixture(scope="module")
def upload(synthetic_data_dir, tmp_path_factory):
    return make_submission(synthetic_data_dir, PROGRAMME,
                           tmp_path_factory.mktemp("upload") / f"{PROGRAMME}.csv")


def _run(data_dir: Path, upload: dict, out: Path, settings: Settings, monkeypatch) -> dict:
    """Evaluate; return the released and raw results, the report, the matched people (with
    their index date, year and date of birth from the records) and the DuckDB engines opened."""
    opened: list[dict[str, Any]] = []
    original = DuckDBEngine.__init__

    def spy(self, path=None, **kwargs):
        opened.append({"path": path, **kwargs})
        original(self, path, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(DuckDBEngine, "__init__", spy)
        evaluate(upload["upload"], upload["programme"], data_dir, out, settings=settings,
                 seed=SEED)
    matched = pd.read_csv(out / "internal" / "matched.csv")
    with duckdb.connect(str(data_dir / "admin.duckdb"), read_only=True) as con:
        con.register("matched", matched)
        matched = con.sql(
            "SELECT m.*, e.index_date, EXTRACT(YEAR FROM e.index_date) AS index_year, "
            "p.date_of_birth FROM matched AS m JOIN index_events AS e USING (event_id) "
            "JOIN people AS p ON p.person_id = m.person_id"
        ).df()
    return {
        "released": json.loads((out / "results.json").read_text()),
        "raw": json.loads((out / "internal" / "raw_results.json").read_text()),
        "html": (out / "report.html").read_text(),
        "matched": matched,
        "pairs": pd.read_csv(out / "internal" / "pairs.csv")
        if (out / "internal" / "pairs.csv").exists() else None,
        "opened": opened,
    }


@pytest.fixture(scope="module")
def runs(synthetic_data_dir, upload, tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    try:
        default = _run(synthetic_data_dir, upload, tmp_path_factory.mktemp("default"),
                       Settings(), monkeypatch)
        changed = _run(synthetic_data_dir, upload, tmp_path_factory.mktemp("changed"),
                       Settings(**CHANGED), monkeypatch)
    finally:
        monkeypatch.undo()
    return default, changed


def _age(born: pd.Series, on: pd.Series) -> pd.Series:
    before_birthday = (on.dt.month * 100 + on.dt.day) < (born.dt.month * 100 + born.dt.day)
    return on.dt.year - born.dt.year - before_birthday.astype(int)


def test_cohort_settings_reach_the_cohort(runs, synthetic_data_dir):
    default, changed = runs
    labels = list(changed["raw"]["exclusions"])
    assert "Aged 17 or under at index" in labels
    assert any(label.startswith("Follow-up not complete (730 days") for label in labels)
    assert "Aged 14 or under at index" in default["raw"]["exclusions"]
    # nobody matched, treated or comparison, was under 18 at the index date
    people = changed["matched"]
    ages = _age(pd.to_datetime(people["date_of_birth"]), pd.to_datetime(people["index_date"]))
    assert ages.min() >= 18
    cutoff = date.fromisoformat(changed["raw"]["data_cutoff"])
    assert pd.to_datetime(people["index_date"]).max().date() <= cutoff - timedelta(730 + 183)
    # two years of follow-up: more of the same people re-offend than in one year
    rate = "proven_reoffending_rate"
    assert (changed["raw"]["measures"][rate]["comparison"]
            > default["raw"]["measures"][rate]["comparison"] + 0.05)


def test_matching_settings_reach_matching(runs):
    default, changed = runs
    assert default["raw"]["matching"]["exact"] == ["index_type", "index_year"]
    assert changed["raw"]["matching"]["exact"] == ["index_type"]
    assert changed["raw"]["matching"]["caliper"] == 0.05
    assert "every |SMD| below 0.3" in changed["raw"]["matching"]["quality_rule"]

    def years_per_pair(run):
        if run["pairs"] is None:
            return run["matched"].groupby("subclass")["index_year"].nunique()
        # matching with replacement (the power-first default): the sets are in pairs.csv
        years = run["matched"][["event_id", "index_year"]]
        return run["pairs"].merge(years, on="event_id").groupby("pair")["index_year"].nunique()

    assert years_per_pair(default).max() == 1  # exact on the year: every pair shares it
    assert years_per_pair(changed).max() > 1  # not any more (k:1 sets: up to k + 1 years)


def test_inference_settings_reach_inference_and_the_survival_curves(runs):
    default, changed = runs
    assert [p["day"] for p in default["raw"]["survival"]["treatment"]][-1] == 360
    assert [p["day"] for p in changed["raw"]["survival"]["treatment"]][-1] == 180
    assert default["raw"]["power"]["alpha"] == 0.05
    assert changed["raw"]["power"]["alpha"] == 0.2


def test_linkage_settings_reach_linkage(runs):
    default, changed = runs
    assert default["raw"]["counts"]["linked_by_id"] > 0
    assert changed["raw"]["counts"]["linked_by_id"] == 0


def test_disclosure_settings_reach_the_released_results(runs):
    default, changed = runs

    def counts(run):
        return [run["released"][k] for k in ("submitted", "linked", "eligible", "treatment_n",
                                             "comparison_n")]

    assert all(n % 10 == 0 for n in counts(changed))
    assert any(n % 10 == 5 for n in counts(default) + [
        v for v in default["released"]["counts"].values() if isinstance(v, int)])


def test_report_and_data_settings_reach_the_report_and_the_engine(runs, synthetic_data_dir):
    default, changed = runs
    assert "Seams Test Lab" in changed["html"] and "Seams Test Lab" not in default["html"]
    assert "seams@lab.example" in changed["html"] and "seams@lab.example" not in default["html"]
    records = str(synthetic_data_dir / "admin.duckdb")
    # the cohort's engine on the records (linkage opens them too, only to check they exist)
    opened = [o for o in changed["opened"] if str(o["path"]) == records and "threads" in o]
    assert opened and all(o["threads"] == 1 and o["memory_limit"] == "3GB" for o in opened)
    default_opened = [o for o in default["opened"] if str(o["path"]) == records and "threads" in o]
    assert all(o["threads"] is None and o["memory_limit"] == "4GB" for o in default_opened)


def test_intake_settings_reach_validation(synthetic_data_dir, upload, tmp_path):
    settings = Settings(intake={"min_cohort_size": 10_000})
    with pytest.raises(JDLError, match=r"10,000|10000"):
        evaluate(upload["upload"], upload["programme"], synthetic_data_dir, tmp_path,
                 settings=settings, seed=SEED)


# --- the config hash covers exactly what decides the numbers ---------------------------------

def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 2 + 0.1
    if isinstance(value, str):
        return value + "_other"
    if isinstance(value, tuple):
        return (*value, "other")
    if isinstance(value, dict):
        return {**value, "other": "TRUE"}
    if value is None:
        return 1
    raise TypeError(type(value))


def _hash(settings: Settings) -> str:
    return config_hash(settings, {"programme_name": "P"}, SEED)


def _analysis_fields():
    base = Settings()
    for section in ANALYSIS_SECTIONS:
        model = getattr(base, section)
        for name, info in type(model).model_fields.items():
            extra = info.json_schema_extra
            operational = isinstance(extra, dict) and extra.get("operational")
            yield section, name, bool(operational)


@pytest.mark.parametrize(("section", "field", "operational"), list(_analysis_fields()))
def test_config_hash_changes_with_every_value_that_decides_the_numbers(section, field,
                                                                       operational):
    base = Settings()
    model = getattr(base, section)
    altered = model.model_copy(update={field: _changed(getattr(model, field))})
    changed = _hash(base.model_copy(update={section: altered}))
    assert (changed != _hash(base)) is not operational


@pytest.mark.parametrize(("section", "update"), [
    ("service", {"port": 9999, "host": "0.0.0.0", "database_url": "sqlite:///x.db",
                 "storage_dir": Path("/elsewhere")}),
    ("spark", {"driver_memory": "64g", "max_result_size": "9g", "shuffle_partitions": 400,
               "master": "spark://cluster:7077"}),
    ("data", {"data_dir": Path("/other"), "engine": "spark", "duckdb_threads": 1,
              "duckdb_memory_limit": "1GB"}),
    ("linkage", {"backend": "spark", "threads": 1, "memory_limit": "1GB"}),
    ("cohort", {"pool_chunk_people": 10}),
    ("intake", {"max_file_bytes": 1, "max_rows": 1}),
    ("report", {"lab_name": "Other"}),
    ("catalogue", {"large_cohort": 7}),
])
def test_config_hash_ignores_where_and_how_fast(section, update):
    base = Settings()
    altered = getattr(base, section).model_copy(update=update)
    assert _hash(base.model_copy(update={section: altered})) == _hash(base)


def test_config_hash_covers_programme_and_seed():
    base = Settings()
    assert config_hash(base, {"a": 1}, 1) != config_hash(base, {"a": 2}, 1)
    assert config_hash(base, {"a": 1}, 1) != config_hash(base, {"a": 1}, 2)


def test_only_entry_points_read_the_global_settings():
    """``get_settings()`` (the environment) is read by the CLIs, the service and the evaluation's
    entry; every other function takes its settings as a parameter."""
    import ast

    import jdl

    root = Path(jdl.__file__).parent
    entry = ("cli.py", "pipeline_cli.py", "run.py")  # the commands and the end-to-end run
    entry_packages = ("service", "core")
    readers = []
    for path in root.rglob("*.py"):
        relative = path.relative_to(root)
        if path.name in entry or relative.parts[0] in entry_packages:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "get_settings"):
                readers.append(f"{relative}:{node.lineno}")
    outside = [r for r in readers if not r.startswith("evaluation/_evaluate.py:")]
    assert outside == []
    # the evaluation's entry, `evaluate`, once
    assert len(readers) <= 1, readers

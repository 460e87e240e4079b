"""The Done-when of issue 20 part 1 from the command line, as a fresh clone would run it:
`jdl synth-submission --plan` writes an upload with attendance, completion, delivery-mode and
site columns and a registered plan; `jdl evaluate --plan` gives a report with the registered
matched sub-analyses, the dose-response trend and the extended (JDL) measures, every released
value passing disclosure control."""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml

from jdl.disclosure import assert_released

PROGRAMME = "new-leaf-employment"


def _jdl(*args: str) -> None:
    from jdl.cli import main

    with pytest.raises(SystemExit) as done:
        main(list(args))
    assert done.value.code == 0


@pytest.fixture(scope="module")
def evaluated(synthetic_data_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("cli-plan")
    upload = work / f"{PROGRAMME}.csv"
    _jdl("synth-submission", "--data", str(synthetic_data_dir), "--programme", PROGRAMME,
         "--out", str(upload), "--plan")
    plan = work / f"{PROGRAMME}.plan.yaml"
    _jdl("evaluate", str(upload), "--programme", str(work / f"{PROGRAMME}.programme.yaml"),
         "--plan", str(plan), "--data", str(synthetic_data_dir), "--out", str(work / "out"),
         "--seed", "5")
    results = json.loads((work / "out" / "results.json").read_text())
    return plan, results, work / "out"


def test_the_plan_is_printed_with_its_hash(evaluated):
    from jdl.intake import load_registration

    plan, results, _ = evaluated
    reg = results["registration"]
    assert reg["text"] == load_registration(plan).canonical_json()
    assert reg["sha256"] == hashlib.sha256(reg["text"].encode()).hexdigest()
    assert reg["sub_analyses"] == yaml.safe_load(plan.read_text())["sub_analyses"]
    assert reg["sub_analyses"] == ["delivery_mode", "attendance"]


def test_registered_sub_analyses_and_dose_trend_are_released(evaluated):
    _, results, _ = evaluated
    registered = [(r["dimension"], r["level"]) for r in results["subgroups"]
                  if r.get("registered")]
    assert registered == [("delivery_mode", "In person"), ("delivery_mode", "Online"),
                          ("delivery_mode", "Mixed"), ("attendance", "0 to 5"),
                          ("attendance", "6 to 11"), ("attendance", "12 or more")]
    # at least the largest group (in person, about half) is a matched analysis of its own
    shown = [r for r in results["subgroups"] if r.get("registered")
             and r["difference"] is not None]
    assert shown and all(r["ci_low"] <= r["difference"] <= r["ci_high"] for r in shown)
    assert results["registration"]["dose_response"]["variable"] == "attendance"
    # everything not registered is exploratory: the lab's standard sub-groups
    assert {r["dimension"] for r in results["subgroups"] if not r.get("registered")} >= {
        "sex", "age_band"}
    assert_released(results)


def test_the_extended_measures_are_released(evaluated):
    _, results, _ = evaluated
    measures = results["measures"]
    # the JDL's menu: rate and frequency by court-outcome tier, custody rate and frequency,
    # pre/post volume and change in offence type; each released or not reported with a reason
    for key in ("first_reoffence_tier1_rate", "first_reoffence_tier2_rate",
                "first_reoffence_tier3_rate", "tier1_reoffending_frequency",
                "tier2_reoffending_frequency", "tier3_reoffending_frequency",
                "first_reoffence_custody_rate", "custodial_sentence_frequency",
                "offending_volume_change", "offence_type_change_rate"):
        m = measures[key]
        assert (m["difference"] is not None) != bool(m.get("reason_not_reported")), key
    assert sum(measures[k]["difference"] is not None for k in measures) >= 10


def test_the_report_shows_the_plan_and_says_what_is_exploratory(evaluated):
    _, results, out = evaluated
    html = (out / "report.html").read_text()
    assert results["registration"]["sha256"] in html
    assert "exploratory" in html.lower()
    assert (out / "report.pdf").read_bytes()[:5] == b"%PDF-"


def test_the_command_line_summarises_the_plan(evaluated):
    from jdl.pipeline_cli import registered_lines

    _, results, _ = evaluated
    lines = registered_lines(results)
    assert lines[0].startswith(f"Registered plan (SHA-256 {results['registration']['sha256'][:12]}")
    assert "of 6 registered sub-groups analysed" in lines[0]
    assert lines[1].startswith("Dose–response trend across the attendance bands:")
    assert registered_lines({"measures": {}}) == []


def test_the_demo_evaluates_with_the_organisations_columns_and_plan(synthetic_data_dir,
                                                                    tmp_path, capsys):
    """`jdl demo` (what `make demo` runs) on the tests' records: the upload carries the own
    columns, the plan is registered, and the report has the registered sub-analyses."""
    out = tmp_path / "demo"
    _jdl("demo", "--data", str(synthetic_data_dir), "--people", "30000", "--seed", "7",
         "--out", str(out))
    printed = " ".join(capsys.readouterr().out.split())
    assert "Its analysis plan, registered with it:" in printed
    assert "registered sub-groups analysed" in printed
    upload = (out / "upload" / f"{PROGRAMME}.csv").read_text().splitlines()[0]
    assert upload.endswith("Sessions attended,Completed,Delivery method,Site")
    results = json.loads((out / "evaluation" / "results.json").read_text())
    assert results["registration"]["sub_analyses"] == ["delivery_mode", "attendance"]
    assert [r for r in results["subgroups"] if r.get("registered")]
    assert_released(results)

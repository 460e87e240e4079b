"""The evaluation end to end on synthetic records: released outputs are aggregate,
disclosure-controlled and reproducible; every submitted row is accounted for."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import pandas as pd
import pytest

from jdl.admin.synth import make_submission
from jdl.run import run_evaluation as evaluate

PROGRAMME = "new-leaf-employment"


@pytest.fixture(scope="module")
def upload(synthetic_data_dir, tmp_path_factory):
    return make_submission(synthetic_data_dir, PROGRAMME,
                           tmp_path_factory.mktemp("upload") / f"{PROGRAMME}.csv")


@pytest.fixture(scope="module")
def evaluation(synthetic_data_dir, upload, tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluation")
    return evaluate(upload["upload"], upload["programme"], synthetic_data_dir, out, seed=3)


def test_results_json_has_the_documented_fields(evaluation):
    results = json.loads((evaluation.out_dir / "results.json").read_text())
    for key in ("submitted", "linked", "eligible", "treatment_n", "comparison_n", "exclusions",
                "measures", "balance", "matching", "data_version", "software_version",
                "config_hash"):
        assert key in results, key
    for name in ("proven_reoffending_rate", "reoffending_frequency", "days_to_first_reoffence"):
        measure = results["measures"][name]
        for field in ("treatment", "comparison", "difference", "ci_low", "ci_high", "p_value",
                      "significant", "conclusion"):
            assert field in measure, (name, field)
    rate = results["measures"]["proven_reoffending_rate"]
    if rate["treatment"] is not None:
        assert 0 <= rate["treatment"] <= 1 and 0 <= rate["comparison"] <= 1
        assert rate["ci_low"] <= rate["difference"] <= rate["ci_high"]
    assert all({"covariate", "smd_before", "smd_after"} <= set(b) for b in results["balance"])


def _numbers_under(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _numbers_under(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _numbers_under(v, f"{path}[{i}]")
    else:
        yield path, node


COUNT_PATH = re.compile(
    r"^\.(submitted|linked|eligible|treatment_n|comparison_n|counts\.\w+|exclusions\..+|"
    r"attrition\[\d+\]\.n|profile\..+|measures\.\w+\.(treatment_n|comparison_n|"
    r"treatment_events|comparison_events)|subgroups\[\d+\]\.(treatment_n|comparison_n))$"
)


def test_no_small_or_unrounded_count_is_released(evaluation, synthetic_data_dir):
    results = json.loads((evaluation.out_dir / "results.json").read_text())
    counts = [(p, v) for p, v in _numbers_under(results) if COUNT_PATH.match(p)]
    assert len(counts) > 30
    for path, value in counts:
        if value is None or (value == 0 and path.startswith(".exclusions")):
            continue
        assert isinstance(value, int), (path, value)
        assert value >= 10 and value % 5 == 0, (path, value)


def test_no_personal_data_in_released_files(evaluation, upload):
    rows = pd.read_csv(upload["upload"], dtype=str, keep_default_na=False)
    released = [(evaluation.out_dir / "results.json").read_text(),
                (evaluation.out_dir / "report.html").read_text()]
    pdf = (evaluation.out_dir / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    for text in released:
        for key in ("person_id", "row_number", "pnc_id", "date_of_birth", "forename"):
            assert f'"{key}"' not in text
        for surname in rows["surname"].head(50):
            if len(surname) > 3:
                assert not re.search(rf"\b{re.escape(surname)}\b", text), surname
        for pnc in rows["pnc_id"]:
            if pnc:
                assert pnc not in text
    internal = evaluation.out_dir / "internal"
    assert (internal / "links.csv").exists() and (internal / "matched.csv").exists()
    linkage = json.loads((internal / "linkage.json").read_text())  # for the analyst only
    assert 0 < linkage["threshold"] < 1 and linkage["uncertainty"]["linked"] == linkage["linked"]
    assert zlib.crc32(pdf) != 0


def test_every_submitted_row_is_accounted_for(evaluation, upload):
    raw = json.loads((evaluation.out_dir / "internal" / "raw_results.json").read_text())
    rows = len(pd.read_csv(upload["upload"], dtype=str))
    assert raw["counts"]["submitted"] == rows
    analysed = raw["counts"]["treatment_n"]
    assert analysed + sum(raw["exclusions"].values()) == rows


def test_same_inputs_and_seed_give_identical_results(evaluation, synthetic_data_dir, upload,
                                                     tmp_path):
    again = evaluate(upload["upload"], upload["programme"], synthetic_data_dir, tmp_path, seed=3)
    first = (evaluation.out_dir / "results.json").read_text()
    assert (Path(again.out_dir) / "results.json").read_text() == first


def test_released_files_hold_no_count_like_small_numbers(evaluation):
    """The disclosure stage's scan of every released file — JSON, HTML and the PDF's text —
    finds no small or unrounded count (the structural guarantee is that the report reads only
    released results; this reads what actually left the lab)."""
    from pypdf import PdfReader

    from jdl.disclosure import check_released_text, release

    raw = json.loads((evaluation.out_dir / "internal" / "raw_results.json").read_text())
    released = release(raw)
    pdf_text = " ".join(page.extract_text() or "" for page in
                        PdfReader(evaluation.out_dir / "report.pdf").pages)
    pdf_text = " ".join(pdf_text.split())  # PDF lines break where the HTML had spaces
    texts = {
        "results.json": (evaluation.out_dir / "results.json").read_text(),
        "report.html": (evaluation.out_dir / "report.html").read_text(),
        "report.pdf": pdf_text,
    }
    assert len(pdf_text) > 5000
    for name, text in texts.items():
        assert check_released_text(text, released) == [], name


def test_the_probability_of_benefit_is_released_from_the_released_headline(evaluation):
    """Issue 20: the results carry the probability of benefit, computed from the released
    headline difference and interval (banded), and the report says it beside the verdict."""
    from jdl.inference import band_probability, released_posterior

    results = evaluation.results
    head, benefit = results["measures"]["proven_reoffending_rate"], results["benefit"]
    assert benefit["prior"]["source"] == "weakly informative"  # no catalogue effects given
    if head["difference"] is None:
        assert benefit["probability"] is None
        return
    post = released_posterior(head["difference"], head["ci_low"], head["ci_high"],
                              benefit["prior"]["mean"], benefit["prior"]["sd"])
    assert benefit["probability"] == band_probability(post.cdf(0.0))
    html = evaluation.files["html"].read_text()
    assert "How likely is it that the programme reduced re-offending?" in html

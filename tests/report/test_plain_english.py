"""The summary page is plain English (issue 21): every glossary term it uses is explained on
the page, and its reading ease is measured with a readability library (textstat).

Flesch reading ease (Flesch 1948) is 206.835 - 1.015 x (words per sentence) - 84.6 x
(syllables per word): 60-70 is plain English, 50-60 "fairly difficult" (a reading age of
about 15-17), below 30 is for graduates. The lab's target for the page funders read is at least
50; the technical annex is not held to it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jdl.report import render_html, render_report
from jdl.report._glossary import GLOSSARY, terms_in

from ._factory import make_released, visible_text

#: The least Flesch reading ease the summary page may have (see the module docstring).
MIN_READING_EASE = 50.0


def _section(html: str, sid: str) -> str:
    start = html.index(f'id="{sid}"')
    return html[start:html.index("</section>", start)]


@pytest.fixture(scope="module")
def first_page(released, tmp_path_factory) -> str:
    """The text of the PDF's first page, as a reader gets it."""
    pypdf = pytest.importorskip("pypdf")
    files = render_report(released, tmp_path_factory.mktemp("plain"), formats=("pdf",))
    text = pypdf.PdfReader(str(files.pdf)).pages[0].extract_text()
    return re.sub(r"\s+", " ", text)


def _variant(raw: dict, verdict: str) -> dict:
    rel = make_released(raw)
    rate = rel["measures"]["proven_reoffending_rate"]
    if verdict == "inconclusive":
        rate.update(difference=-0.03, ci_low=-0.09, ci_high=0.03, significant=False)
        rel["power"]["required_n_for_observed"] = 4890
    elif verdict == "worse":
        rate.update(difference=0.08, ci_low=0.02, ci_high=0.14, significant=True)
    return rel


def _unexplained(text: str) -> list[str]:
    return [t.name for t in terms_in(text) if t.short not in text]


def test_first_page_explains_every_glossary_term_it_uses(first_page):
    used = terms_in(first_page)
    assert {t.key for t in used} >= {"participants", "comparison-group", "proven-reoffending",
                                     "confidence-interval", "significant", "data-cut-off"}
    assert _unexplained(first_page) == []


@pytest.mark.parametrize("verdict", ["better", "worse", "inconclusive"])
def test_summary_explains_its_terms_whatever_the_verdict(raw, verdict):
    summary = visible_text(_section(render_html(_variant(raw, verdict)), "summary"))
    assert _unexplained(summary) == []
    # and the terms it explains are linked to the glossary, which defines each once
    html = render_html(_variant(raw, verdict))
    for t in terms_in(summary):
        assert f'href="#{t.anchor}"' in _section(html, "summary")
        assert html.count(f'id="{t.anchor}"') == 1


def test_the_check_would_catch_an_unexplained_term():
    assert _unexplained("The standardised mean difference was small.") == [
        "standardised mean difference"]
    assert _unexplained("The SMD was small.") == ["standardised mean difference"]
    assert _unexplained("A small smd") == []  # abbreviations match in capitals only


def test_every_term_link_in_the_report_has_its_glossary_entry(html):
    targets = set(re.findall(r'href="#(glossary-[\w-]+)"', html))
    assert targets, "the report links no term to the glossary"
    for anchor in targets:
        assert html.count(f'id="{anchor}"') == 1, anchor
    assert len({t.key for t in GLOSSARY}) == len(GLOSSARY)


def _reading_ease(text: str) -> float:
    textstat = pytest.importorskip("textstat")  # pinned in requirements.lock (dev)
    textstat.set_lang("en_GB")
    return float(textstat.flesch_reading_ease(text))


def _prose(text: str) -> str:
    """The page's sentences without its running footer and page number."""
    return re.sub(r"Page \d+ of \d+", "", text).replace("•", "")


def test_first_page_reading_ease(first_page, raw, capsys):
    textstat = pytest.importorskip("textstat")
    scores = {"PDF page 1 (significant fall)": _reading_ease(_prose(first_page))}
    for verdict in ("worse", "inconclusive"):
        summary = visible_text(_section(render_html(_variant(raw, verdict)), "summary"))
        scores[f"summary ({verdict})"] = _reading_ease(summary)
    grade = textstat.flesch_kincaid_grade(_prose(first_page))
    with capsys.disabled():
        print("\nFlesch reading ease of the summary page: "
              + "; ".join(f"{k} {v:.1f}" for k, v in scores.items())
              + f"; Flesch-Kincaid grade (page 1) {grade:.1f}")
    for name, score in scores.items():
        assert score >= MIN_READING_EASE, (name, score)
    # the annex is harder, as expected: the measure tells the two apart
    annex = visible_text(_section(render_html(_variant(raw, "better")), "matching"))
    assert _reading_ease(annex) < min(scores.values())


def test_textstat_is_pinned():
    lock = Path(__file__).parents[2] / "requirements.lock"
    assert re.search(r"^textstat==\d", lock.read_text(), re.M)

"""render_report writes the files: a self-contained HTML, a multi-page PDF, the chart PNGs."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest

from jdl.report import ReportError, ReportFiles, render_report
from jdl.report._render import FONT_FAMILY

from ._factory import visible_text


@pytest.fixture(scope="module")
def written(released, tmp_path_factory) -> ReportFiles:
    """The one PDF rendering of the session (WeasyPrint takes a few seconds)."""
    return render_report(released, tmp_path_factory.mktemp("report"), write_charts=True)


def _pages(pdf: bytes) -> int:
    """Page objects in the PDF, looking inside compressed object streams too (no PDF library)."""
    chunks = [pdf]
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            chunks.append(zlib.decompress(stream))
        except zlib.error:
            continue
    return sum(len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", c)) for c in chunks)


def test_html_pdf_and_charts_are_written(written: ReportFiles, html):
    assert written.html is not None and written.html.name == "report.html"
    assert written.html.read_text(encoding="utf-8") == html
    assert written.pdf is not None and written.pdf.name == "report.pdf"
    assert {p.name for p in written.charts} >= {"attrition.png", "love-plot.png",
                                                 "sensitivity.png"}
    for path in written.charts:
        assert path.read_bytes()[:4] == b"\x89PNG"
    assert set(written.paths) == {written.html, written.pdf, *written.charts}


def _texts(pdf_path: Path) -> list[str]:
    pypdf = pytest.importorskip("pypdf")
    return [re.sub(r"\s+", " ", page.extract_text()) for page in pypdf.PdfReader(
        str(pdf_path)).pages]


def test_pdf_has_several_pages_with_page_numbers_and_findings(written: ReportFiles, released):
    pdf = written.pdf.read_bytes()
    assert pdf[:5] == b"%PDF-" and pdf.rstrip().endswith(b"%%EOF")
    pages = _pages(pdf)
    assert pages >= 6
    texts = _texts(written.pdf)
    assert len(texts) == pages
    assert f"Page 1 of {pages}" in texts[0] and f"Page {pages} of {pages}" in texts[-1]
    everything = " ".join(texts)
    assert "The three headline measures" in texts[1]  # the findings straight after the summary
    assert "For 100 typical participants, compared with 100 similar people" in everything
    assert "between 1 and 14 people in every 100" in everything
    assert released["config_hash"] in everything and released["data_version"] in everything
    assert "(-14.0 to -1.0)" in everything and "(-13 to +35)" in everything
    assert "[c]" in everything and "None" not in everything


def test_pdf_first_page_is_a_summary_a_funder_can_read(written: ReportFiles, released):
    """Issue 21: page 1 says what was compared, found, how sure, what next, who to contact and
    the data cut-off, and carries nothing for reproducing the analysis."""
    first = _texts(written.pdf)[0]
    for words in ("Summary of key findings", "What we compared", "What we found",
                  "How sure we are", "What to do next", "Who to contact",
                  "Data cut-off", "31 December 2024"):
        assert words in first, words
    for value in (released["config_hash"], str(released["seed"]), "Configuration hash",
                  "Random seed", "Results schema", "Technical annex"):
        assert value not in first, value


def test_pdf_technical_annex_follows_the_findings_and_ends_with_the_glossary(
        written: ReportFiles):
    texts = _texts(written.pdf)
    annex = next(i for i, t in enumerate(texts) if "Technical annex: how the lab" in t)
    findings = next(i for i, t in enumerate(texts) if "Who was analysed" in t)
    assert 1 < findings < annex
    # every annex page is marked as such in its header; no findings page is
    assert all("Technical annex" in t for t in texts[annex:])
    assert not any("Technical annex" in t for t in texts[:annex])
    assert "Glossary" in " ".join(texts[-2:])
    assert "Standardised mean difference" in " ".join(texts[annex:])


def test_pdf_is_tagged_pdf_ua_with_language_and_title(written: ReportFiles, released):
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(str(written.pdf))
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root
    assert bool(root["/MarkInfo"]["/Marked"])
    assert str(root["/Lang"]).lower().startswith("en")
    assert released["programme"]["programme_name"] in reader.metadata.title
    xmp = root["/Metadata"].get_object().get_data()
    assert b"pdfuaid:part" in xmp and b"1" in xmp.split(b"pdfuaid:part", 1)[1][:8]
    assert bool(root["/ViewerPreferences"]["/DisplayDocTitle"])


def _shipped_font_names() -> set[str]:
    from fontTools.ttLib import TTFont

    from jdl.report._render import font_paths

    return {TTFont(str(path))["name"].getDebugName(6) for path in font_paths().values()}


def _embedded_font_names(pdf_path: Path) -> set[str]:
    pypdf = pytest.importorskip("pypdf")
    names: set[str] = set()
    for page in pypdf.PdfReader(str(pdf_path)).pages:
        fonts = page["/Resources"].get_object().get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            names.add(str(font["/BaseFont"]).lstrip("/").split("+", 1)[-1])
    return names


def test_pdf_embeds_only_the_fonts_the_package_ships(written: ReportFiles):
    """Pagination must not depend on the machine's fonts (issue 21: 20 pages vs 18)."""
    shipped = _shipped_font_names()
    assert shipped == {"LiberationSans", "LiberationSans-Bold", "LiberationSans-Italic",
                       "LiberationSans-BoldItalic"}
    embedded = _embedded_font_names(written.pdf)
    # WeasyPrint names an embedded font by its PostScript name, or (subsetting with fontTools,
    # where HarfBuzz's subsetter is missing) by the @font-face family: the report's own family
    # name, which only the shipped files define.
    family = FONT_FAMILY.replace(" ", "-")
    normalised = {name.replace("Liberation-Sans", "LiberationSans").replace(family,
                                                                           "LiberationSans")
                  for name in embedded}
    assert embedded and normalised <= shipped, embedded
    licence = Path(str(next(iter(_font_paths().values())).parent / "LICENSE"))
    assert "SIL Open Font License" in licence.read_text()


def _font_paths() -> dict:
    from jdl.report._render import font_paths

    return font_paths()


def test_html_report_carries_no_path_of_the_machine(html):
    """The fonts are loaded for the PDF only: the HTML that is published names no local file."""
    assert "file:/" not in html and "@font-face" not in html


def test_pdf_keeps_each_table_on_one_page(written: ReportFiles):
    """A caption and its table's last row land on the same page (tables are not split)."""
    pypdf = pytest.importorskip("pypdf")
    texts = [re.sub(r"\s+", " ", p.extract_text()) for p in pypdf.PdfReader(
        str(written.pdf)).pages]
    pairs = [("Matching settings", "Largest standardised difference after matching"),
             ("How people were found in the national records",
              "People available for the comparison group"),
             ("Balance of characteristics before and after matching",
              "Assessed risk of re-offending")]
    for caption, last_row in pairs:
        page = next(i for i, t in enumerate(texts) if caption in t)
        assert last_row in texts[page], caption


def test_html_only(released, tmp_path: Path):
    files = render_report(released, tmp_path, formats=("html",))
    assert files.pdf is None and files.charts == ()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    assert "Summary of key findings" in visible_text(files.html.read_text())


@pytest.mark.parametrize("formats", [("docx",), ()])
def test_unknown_formats_are_refused(released, tmp_path: Path, formats):
    with pytest.raises(ReportError, match="format"):
        render_report(released, tmp_path, formats=formats)
    assert list(tmp_path.iterdir()) == []


def test_output_folder_that_cannot_be_made(released, tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ReportError, match="cannot create the report folder"):
        render_report(released, blocker / "out", formats=("html",))


def test_font_check_would_catch_a_system_font(tmp_path: Path, monkeypatch):
    """Without the shipped fonts' rules the PDF falls back to the machine's sans-serif, and the
    check above sees it (so the check can fail)."""
    from jdl.report import _render

    monkeypatch.setattr(_render, "font_css", lambda: "html { font-family: sans-serif; }")
    pdf = _render.html_to_pdf('<html lang="en"><head><title>t</title></head><body><p>Text'
                              "</p></body></html>", tmp_path / "t.pdf")
    names = {n.replace("Liberation-Sans", "LiberationSans")
             for n in _embedded_font_names(pdf)}
    assert names and not names <= _shipped_font_names()


def test_a_missing_font_file_is_a_clear_error(monkeypatch):
    from jdl.report import _render

    monkeypatch.setitem(_render.FONT_FILES, ("normal", "normal"), "NoSuchFont.ttf")
    with pytest.raises(ReportError, match=r"font file NoSuchFont\.ttf is missing"):
        _render.font_css()

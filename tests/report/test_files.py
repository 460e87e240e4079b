"""render_report writes the files: a self-contained HTML, a multi-page PDF, the chart PNGs."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest

from jdl.report import ReportError, ReportFiles, render_report

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


def test_pdf_has_several_pages_with_page_numbers_and_findings(written: ReportFiles, released):
    pdf = written.pdf.read_bytes()
    assert pdf[:5] == b"%PDF-" and pdf.rstrip().endswith(b"%%EOF")
    pages = _pages(pdf)
    assert pages >= 6
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(str(written.pdf))
    assert len(reader.pages) == pages
    texts = [re.sub(r"\s+", " ", page.extract_text()) for page in reader.pages]
    assert f"Page 1 of {pages}" in texts[0] and f"Page {pages} of {pages}" in texts[-1]
    everything = " ".join(texts)
    assert "Summary of key findings" in texts[1]  # findings straight after the title page
    assert "For 100 typical people who received support" in texts[1]
    assert "between 1 and 14 people in every 100" in texts[1]
    assert released["config_hash"] in texts[0] and released["data_version"] in texts[0]
    assert "(-14.0 to -1.0)" in everything and "(-13 to +35)" in everything
    assert "[c]" in everything and "None" not in everything


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

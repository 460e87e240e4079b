"""HTML accessibility basics (WCAG 2.2 as GOV.UK applies it): language, headings, alt, captions."""

from __future__ import annotations

import itertools
import re

from ._factory import outline


def test_language_is_declared(html):
    assert outline(html).lang == "en-GB"


def test_one_h1_and_headings_never_skip_a_level(html):
    levels = [level for level, _ in outline(html).headings]
    assert levels.count(1) == 1 and levels[0] == 1
    for before, after in itertools.pairwise(levels):
        assert after <= before + 1, (before, after)
    assert all(text.strip() for _, text in outline(html).headings)


def test_every_image_has_alt_text_with_its_numbers(html):
    images = outline(html).images
    assert images
    for img in images:
        alt = (img.get("alt") or "").strip()
        assert len(alt) > 30, alt
        assert re.search(r"\d", alt), alt  # alt text states the values, not just "chart"


def test_every_table_has_a_caption_and_scoped_headers(html):
    out = outline(html)
    assert out.tables >= 10
    assert len(out.captions) == out.tables
    assert all(c.strip() for c in out.captions)
    for th in re.findall(r"<th\b[^>]*>", html):
        assert 'scope="' in th, th


def test_text_colours_have_enough_contrast():
    """Every colour used for text in the stylesheet has at least 4.5:1 contrast on white."""
    from importlib import resources

    css = resources.files("jdl.report").joinpath("templates/report.css").read_text()
    variables = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", css))
    text_colours = set()
    for decl in re.findall(r"(?<![-\w])color:\s*([^;}]+)", css):
        decl = decl.strip()
        var = re.fullmatch(r"var\(--([\w-]+)\)", decl)
        text_colours.add(variables[var.group(1)] if var else decl)

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hexes = {c for c in text_colours if re.fullmatch(r"#[0-9a-fA-F]{6}", c)}
    assert len(hexes) >= 3
    for colour in hexes - {"#ffffff", "#fff"}:
        ratio = (1.05) / (luminance(colour) + 0.05)
        assert ratio >= 4.5, (colour, ratio)

"""The organisation "in its own words" (issue 20, part 4): length-limited, screened like the
other published text, escaped, and shown in the report as the organisation's words."""

from __future__ import annotations

import copy

import pytest

from jdl.intake import ProgrammeError, programme_from_dict, screen_programme_text
from jdl.intake._programme import EXAMPLE_PROGRAMME, OWN_WORDS_MAX_CHARS

from ._factory import make_released

WORDS = ("We are a small charity in Salford.\n\nOur mentors have lived experience "
         "<script>alert(1)</script> & we meet people at the gate.")


def test_own_words_are_optional_limited_and_screened():
    assert programme_from_dict(dict(EXAMPLE_PROGRAMME)).own_words is None
    assert programme_from_dict({**EXAMPLE_PROGRAMME, "own_words": "  "}).own_words is None
    ok = programme_from_dict({**EXAMPLE_PROGRAMME, "own_words": "x" * OWN_WORDS_MAX_CHARS})
    assert len(ok.own_words) == OWN_WORDS_MAX_CHARS
    with pytest.raises(ProgrammeError) as caught:
        programme_from_dict({**EXAMPLE_PROGRAMME, "own_words": "x" * (OWN_WORDS_MAX_CHARS + 1)})
    assert any(p.startswith("own_words: ") and "2000" in p for p in caught.value.problems)
    named = programme_from_dict({**EXAMPLE_PROGRAMME,
                                 "own_words": "We helped Jane Smith and 40 people into work."})
    problems = screen_programme_text(named, [{"forename": "Jane", "surname": "Smith"}])
    assert "own_words: contains the name of a person in the upload; please remove it." in problems
    assert any(p.startswith("own_words: contains a number of people") for p in problems)


def test_the_report_shows_them_escaped_as_the_organisations_words(raw):
    from jdl.report import render_html

    data = copy.deepcopy(raw)
    data["programme"]["own_words"] = WORDS
    html = render_html(make_released(data))
    start = html.index('id="own-words"')
    section = html[start:html.index("</blockquote>", start)]
    assert "In the organisation&#39;s own words" in section or \
        "In the organisation's own words" in section
    assert f"Written by {data['programme']['organisation']}" in section
    assert "the lab has not checked it" in section
    assert "<p>We are a small charity in Salford.</p>" in section  # paragraphs kept
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; we meet" in section


def test_no_section_without_them(html):
    assert 'id="own-words"' not in html

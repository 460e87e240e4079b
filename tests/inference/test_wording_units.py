"""Conclusions say "1 person", not "1 people"."""

from jdl.inference._effects import conclusion_text


def test_one_person_is_singular_and_other_numbers_plural():
    text = conclusion_text("rate", "proven re-offending rate", -2.0, -6.0, 1.2, False, None, [])
    assert "by up to 6 people" in text and "by up to 1 person." in text
    assert "1 people" not in text

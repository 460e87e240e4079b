"""Conclusions say "1 person", not "1 people"."""

from jdl.inference._effects import conclusion_text


def test_one_person_is_singular_and_other_numbers_plural():
    text = conclusion_text("rate", "proven re-offending rate", -2.0, -6.0, 1.2, False, None, [])
    assert "by up to 6 people" in text and "by up to 1 person." in text
    assert "1 people" not in text


def test_people_needed_is_written_as_the_report_writes_numbers():
    """One way to write a number across a report (issue 21: "About 4885 people" in a
    measure's conclusion beside "about 4,890 people" in the power section)."""
    from jdl.inference import conclusion_text

    text = conclusion_text("rate", "x", -1.0, -8.0, 5.0, False, 4890, [])
    assert "About 4,890 people in the treatment group" in text


def test_people_needed_is_not_quoted_for_an_observed_rise():
    """Issue 21: "would be needed to detect a difference of this size" read as a fall the
    programme could show with more people when the observed difference was a rise."""
    from jdl.inference import conclusion_text

    for diff in (1.0, 0.0):
        text = conclusion_text("rate", "x", diff, -5.0, 8.0, False, 4890, [])
        assert "would be needed" not in text and "4,890" not in text

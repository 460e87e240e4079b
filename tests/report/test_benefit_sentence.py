"""The probability of benefit in the report (issue 20): one wording, beside the verdict, from
the released (banded) figures, with the prior and the other priors; absent when hidden."""

from __future__ import annotations

from dataclasses import replace

from jdl.disclosure import check_released_text, release
from jdl.inference import predictive_prior, probability_of_benefit
from jdl.report import render_html
from jdl.report._wording import benefit_sentences
from tests.fixtures.example_results import example_results

from ._factory import GENERATED_AT, visible_text


def _released(prior=None, hide: bool = False):
    typed = example_results()
    rate = typed.measures["proven_reoffending_rate"]
    raw = replace(typed, benefit=probability_of_benefit(
        rate.difference, (rate.ci_high - rate.ci_low) / 3.92, prior)).to_dict()
    if hide:
        raw["measures"]["proven_reoffending_rate"]["treatment_events"] = 9
    return release(raw)


def test_the_sentence_from_released_figures():
    block = {"probability": 0.85, "probability_by": 0.6, "delta": 0.02,
             "prior": {"description": "a weakly informative prior centred on a difference of zero"},
             "sensitivity": [{"label": "Flat prior", "probability": 0.9},
                             {"label": "Sceptical prior", "probability": 0.99}]}
    text = benefit_sentences(block)
    assert text[0] == ("We estimate an 85% chance that the programme reduced re-offending, and "
                       "a 60% chance that it reduced it by at least 2 percentage points.")
    assert "a weakly informative prior centred on a difference of zero" in text[1]
    assert text[2] == ("With other starting assumptions the chance of a reduction would be "
                       "90% with a flat prior and more than 99% with a sceptical prior.")
    assert benefit_sentences({**block, "probability": None}) == []
    assert benefit_sentences(None) == []


def test_the_report_shows_it_beside_the_verdict_and_passes_the_text_check():
    released = _released()
    html = render_html({**released.results, "generated_at": GENERATED_AT})
    text = visible_text(html)
    assert "How likely is it that the programme reduced re-offending?" in text
    p = released.results["benefit"]["probability"]
    assert f"We estimate a{'n' if str(round(100 * p)).startswith('8') else ''} " \
           f"{round(100 * p)}% chance that the programme reduced re-offending" in text
    assert 'href="#glossary-benefit-prior"' in html
    # the sentence adds nothing the output checker flags (the example's own findings aside)
    plain = release(example_results().to_dict())
    before = check_released_text(render_html({**plain.results, "generated_at": GENERATED_AT}),
                                 plain)
    assert check_released_text(html, released) == before


def test_the_catalogue_prior_is_stated():
    released = _released(predictive_prior(-0.03, 0.01, 0.0004, 6, "employment"))
    text = visible_text(render_html({**released.results, "generated_at": GENERATED_AT}))
    assert "6 published reports of employment programmes" in text
    assert "with a weakly informative prior" in text


def test_not_shown_when_the_headline_is_hidden():
    released = _released(hide=True)
    text = visible_text(render_html({**released.results, "generated_at": GENERATED_AT}))
    assert "How likely is it that the programme reduced re-offending?" not in text
    assert "We estimate" not in text and "starting assumptions the chance" not in text

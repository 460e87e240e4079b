"""The probability of benefit in the catalogue (issue 20): the report page says it from the
released results, and the worker's catalogue prior reads the published effects of the type."""

from __future__ import annotations

import copy
from dataclasses import replace

from jdl.catalogue._register import catalogue_prior
from jdl.disclosure import release
from jdl.inference import probability_of_benefit
from jdl.service._catalogue import published_effects
from tests.catalogue._build import publish_one, released
from tests.fixtures.example_results import example_results


def _with_benefit() -> dict:
    typed = example_results()
    rate = typed.measures["proven_reoffending_rate"]
    raw = replace(typed, benefit=probability_of_benefit(
        rate.difference, (rate.ci_high - rate.ci_low) / 3.92)).to_dict()
    return release(copy.deepcopy(raw)).results


def test_report_page_shows_the_released_probability(client, db, settings):
    results = _with_benefit()
    pid = publish_one(db, settings.service.storage_dir, results, submission_id=21,
                      settings=settings)
    page = client.get(f"/catalogue/reports/{pid}")
    assert page.status_code == 200
    p = round(100 * results["benefit"]["probability"])
    assert "How likely is it that the programme reduced re-offending?" in page.text
    assert f"{p}% chance that the programme reduced re-offending" in page.text


def test_worker_prior_pools_the_published_effects_of_the_type(db, settings):
    storage = settings.service.storage_dir
    for i, diff in enumerate((-0.08, -0.02, 0.01)):
        publish_one(db, storage, released(n=400, diff=diff, p=0.3, organisation=f"Org {i}",
                                          programme_name=f"Work {i}",
                                          intervention_type="employment"),
                    submission_id=30 + i, settings=settings)
    publish_one(db, storage, released(n=400, diff=0.2, organisation="Other",
                                      programme_name="Homes", intervention_type="accommodation"),
                submission_id=40, settings=settings)
    effects = published_effects(db, settings, "employment")
    assert len(effects) == 3 and {e.intervention_type for e in effects} == {"employment"}
    prior = catalogue_prior(effects, "employment")
    assert prior is not None and prior.reports == 3
    assert -0.08 < prior.mean < 0.01
    assert published_effects(db, settings, "mentoring") == []

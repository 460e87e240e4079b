"""The summary of findings equals the published results: hand-built publications whose
significance is known, counted by hand."""

from __future__ import annotations

from jdl.catalogue._publish import compute_summary
from jdl.service._catalogue import current_summary
from jdl.service._catalogue_models import CatalogueSummary, Publication
from tests.catalogue._build import publish_one, released
from tests.catalogue._html import Tables

# (organisation, sector, intervention type, treatment n, released numbers) -> expected result
PLAN = [
    # (half width 0.06: the limits that p = 0.01 implies; the p-value released is theirs)
    ("Org 1", "voluntary_community", "employment", dict(n=400, diff=-0.08, half_width=0.06,
                                                         p=0.01), "decrease"),
    ("Org 2", "voluntary_community", "employment", dict(n=120, diff=-0.05, p=0.3),
     "inconclusive"),
    ("Org 3", "private", "employment", dict(n=900, diff=0.06, half_width=0.03, p=0.001),
     "increase"),
    ("Org 4", "public", "accommodation", dict(n=700, diff=-0.07, half_width=0.04, p=0.001),
     "decrease"),
    ("Org 5", "public", "accommodation", dict(n=200, diff=0.02, p=0.4), "inconclusive"),
    # the report's flag says significant, but only 25 treated re-offenders are released
    ("Org 6", "education", "education", dict(n=60, rate_t=0.4, p=0.01), "inconclusive"),
    ("Org 7", "private", "youth", dict(n=550, diff=-0.03, p=0.2), "inconclusive"),
]


def publish_plan(db, settings, plan=PLAN):
    ids = []
    for org, sector, kind, numbers, _ in plan:
        results = released(**numbers, sector=sector, intervention_type=kind, organisation=org,
                           programme_name=f"{org} programme")
        ids.append(publish_one(db, settings.service.storage_dir, results, settings=settings))
    return ids


def test_publications_carry_the_expected_findings(db, settings):
    ids = publish_plan(db, settings)
    for pub_id, (*_, expected) in zip(ids, PLAN, strict=True):
        assert db.get(Publication, pub_id).headline_result == expected


def test_summary_counts_equal_the_published_results(db, settings):
    publish_plan(db, settings)
    s = current_summary(db, settings).summary
    rows = {r["key"]: (r["decrease"], r["increase"], r["not_significant"], r["total"])
            for r in s["by_intervention"]}
    assert rows == {"employment": (1, 1, 1, 3), "accommodation": (1, 0, 1, 2),
                    "education": (0, 0, 1, 1), "youth": (0, 0, 1, 1)}
    assert [r["key"] for r in s["by_intervention"]] == ["employment", "accommodation",
                                                        "education", "youth"]
    sectors = {r["key"]: (r["decrease"], r["increase"], r["not_significant"])
               for r in s["by_sector"]}
    assert sectors == {"voluntary_community": (1, 0, 1), "public": (1, 0, 1),
                       "private": (0, 1, 1), "education": (0, 0, 1)}
    assert s["totals"] == {"decrease": 2, "increase": 1, "not_significant": 4}
    # more than 500 people: 900 (increase), 700 (decrease), 550 (no); 500 or fewer: 1 of 4
    assert s["by_size"]["large"] == {"reports": 3, "significant": 2, "share": round(2 / 3, 4)}
    assert s["by_size"]["small"] == {"reports": 4, "significant": 1, "share": 0.25}
    widths = sorted((p["treatment_n"], p["ci_width"]) for p in s["funnel"]["points"])
    # (Org 1's limits are 0.06 either side: the width that its p = 0.01 implies)
    assert widths == [(60, 10.0), (120, 10.0), (200, 10.0), (400, 12.0), (550, 10.0),
                      (700, 8.0), (900, 6.0)]
    assert s["publications"] == 7


def test_summary_is_recomputed_on_publish_and_when_settings_change(db, settings):
    publish_plan(db, settings, PLAN[:2])
    assert db.query(CatalogueSummary).count() == 2  # one per publication
    assert current_summary(db, settings).summary["publications"] == 2
    publish_plan(db, settings, PLAN[2:3])
    assert current_summary(db, settings).summary["totals"]["increase"] == 1
    # a new threshold: the stored summary no longer matches, so it is recomputed
    settings.catalogue = settings.catalogue.model_copy(update={"large_cohort": 100})
    s = current_summary(db, settings).summary
    assert s["by_size"]["threshold"] == 100 and s["by_size"]["large"]["reports"] == 3
    # stricter alpha: every finding is re-derived (p = 0.01 is no longer significant)
    settings.inference = settings.inference.model_copy(update={"alpha": 0.005})
    s = current_summary(db, settings).summary
    assert s["totals"] == {"decrease": 0, "increase": 1, "not_significant": 2}
    pubs = list(db.query(Publication).order_by(Publication.id))
    assert s == {**compute_summary(pubs, settings)}


def test_summary_page_tables_and_charts_show_the_stored_summary(db, settings, client):
    publish_plan(db, settings)
    page = client.get("/catalogue/summary")
    assert page.status_code == 200
    t = Tables(page.text)
    assert ["Employment", "1", "1", "1", "3"] in t.body("table-intervention")
    assert ["Private", "0", "1", "1", "2"] in t.body("table-sector")
    assert t.body("table-size") == [["More than 500 people", "3", "2", "67%"],
                                    ["500 people or fewer", "4", "1", "25%"]]
    assert len(t.body("table-funnel")) == 7
    for chart in ("chart-intervention", "chart-sector", "chart-funnel"):
        assert f'<svg id="{chart}" role="img" aria-label="' in page.text
        assert f'<desc id="{chart}-desc">' in page.text
    assert "Employment: 3 reports (1 significant decrease, 1 significant increase, 1 not " \
           "significant)" in page.text
    assert "must not be compared with one another" in page.text

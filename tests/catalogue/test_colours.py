"""One colour per result direction across the catalogue (issue 21): the summary's funnel used
to colour points by sector, so a significant decrease in the education sector was drawn in the
orange that means a significant increase in the bars and on the list's tags."""

from __future__ import annotations

from jdl.catalogue._charts import COLOURS, funnel


def _fills(category: str, sector: str = "education") -> str:
    point = {"id": 1, "sector": sector, "treatment_n": 300, "ci_width": 12.0,
             "significant": category != "not_significant", "category": category}
    return funnel([point], threshold=500, unit="percentage points", title="t", desc="d",
                  chart_id="c").lower()


def test_a_point_has_its_results_colour_whatever_its_sector():
    baseline = _fills("not_significant")  # the legend alone carries each colour once
    for sector in ("education", "voluntary_community", "public", "private"):
        decrease, increase = _fills("decrease", sector), _fills("increase", sector)
        blue, orange = COLOURS["decrease"].lower(), COLOURS["increase"].lower()
        assert decrease.count(orange) == baseline.count(orange), sector
        assert decrease.count(blue) > baseline.count(blue), sector
        assert increase.count(blue) == baseline.count(blue), sector
        assert increase.count(orange) > baseline.count(orange), sector


def test_the_pages_tags_take_the_charts_colours(client, db, settings):
    from tests.catalogue._build import publish_one, released

    publish_one(db, settings.service.storage_dir, released(), settings=settings,
                submission_id=1)
    for url in ("/catalogue", "/catalogue/reports/1", "/catalogue/summary"):
        page = client.get(url).text
        assert f".result-decrease {{ background: {COLOURS['decrease']}" in page, url
        assert f".result-increase {{ background: {COLOURS['increase']}" in page, url

"""Each programme once in the catalogue, and synthetic reports marked as such.

The cause of a programme listed twice (issue 21): ``jdl catalogue seed`` publishes a planted
programme under its seed key, and the same programme uploaded through the portal is published
again under its submission's key, so the two never met. The catalogue now knows a programme
(organisation, name, period of delivery) and lists it once — the reviewed submission's report
over the seeded demonstration — while the replaced report keeps its page, linked to the shown
one. A report evaluated on the synthetic records is marked synthetic however it was published.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from jdl.service._catalogue import current_summary
from jdl.service._catalogue_models import Publication
from tests.catalogue._build import publish_one, released
from tests.catalogue._html import Tables

SYNTHETIC = "synth-7a0f14231d73"


def listed(client) -> list[int]:
    page = client.get("/catalogue")
    assert page.status_code == 200
    return [int(r["data-id"]) for r in Tables(page.text).row_attrs.get("reports", [])
            if r.get("data-id")]


def test_a_seeded_programme_published_again_through_the_portal_is_listed_once(
        client, db, settings):
    storage = settings.service.storage_dir
    seeded = publish_one(db, storage, released(data_version=SYNTHETIC), settings=settings,
                         key=f"synthetic:{SYNTHETIC}:new-leaf-employment")
    # the same planted programme, uploaded through the portal, reviewed and published later
    portal = publish_one(db, storage, released(data_version=SYNTHETIC,
                                               organisation=" new leaf  trust",
                                               programme_name="New Leaf Employment "),
                         settings=settings, submission_id=7,
                         when=datetime(2026, 12, 1, tzinfo=UTC))
    assert seeded != portal  # both stored: the seed's page stays reachable
    assert listed(client) == [portal]
    assert "1 published report." in client.get("/catalogue").text
    assert [r["publication_id"] for r in client.get("/catalogue/export.json").json()["results"]
            ] == [portal]
    assert current_summary(db, settings).summary["publications"] == 1
    old = client.get(f"/catalogue/reports/{seeded}").text
    assert re.search(rf'id="replaced".*href="/catalogue/reports/{portal}"', old)
    assert 'id="replaced"' not in client.get(f"/catalogue/reports/{portal}").text
    # the portal's report ran on the synthetic records: tagged synthetic like the seed's
    assert db.get(Publication, portal).synthetic and db.get(Publication, seeded).synthetic
    assert 'class="tag">synthetic' in client.get("/catalogue").text


def test_the_seed_does_not_replace_a_reviewed_report_published_before_it(client, db, settings):
    storage = settings.service.storage_dir
    portal = publish_one(db, storage, released(data_version=SYNTHETIC), settings=settings,
                         submission_id=7, when=datetime(2026, 10, 1, tzinfo=UTC))
    publish_one(db, storage, released(data_version=SYNTHETIC), settings=settings,
                key="synthetic:v2:new-leaf-employment", when=datetime(2026, 12, 1, tzinfo=UTC))
    assert listed(client) == [portal]


def test_another_period_or_programme_is_another_report(client, db, settings):
    storage = settings.service.storage_dir
    first = publish_one(db, storage, released(), settings=settings, submission_id=1)
    later = publish_one(db, storage, released(delivery_start="2019-01-01",
                                              delivery_end="2020-12-31"),
                        settings=settings, submission_id=2)
    other = publish_one(db, storage, released(programme_name="Routes to Work"),
                        settings=settings, submission_id=3)
    assert sorted(listed(client)) == sorted([first, later, other])
    assert current_summary(db, settings).summary["publications"] == 3


def test_only_reports_on_synthetic_records_are_marked_synthetic(client, db, settings):
    storage = settings.service.storage_dir
    real = publish_one(db, storage, released(), settings=settings, submission_id=1)
    demo = publish_one(db, storage, released(data_version=SYNTHETIC, programme_name="Demo"),
                       settings=settings, submission_id=2)
    assert not db.get(Publication, real).synthetic
    assert db.get(Publication, demo).synthetic
    rows = {r["publication_id"]: r["synthetic"]
            for r in client.get("/catalogue/export.json").json()["results"]}
    assert rows == {real: False, demo: True}

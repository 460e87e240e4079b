"""`jdl catalogue seed` on the 30,000-person synthetic population: planted programmes
evaluated end to end and published as synthetic data; a second run publishes nothing new."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from jdl.core.errors import UsageError
from jdl.service._catalogue import current_summary
from jdl.service._catalogue_models import Publication
from jdl.service._catalogue_seed import choose, planted


def _seed_twice(args: list[str], capsys) -> str:
    """``jdl catalogue seed ARGS`` run twice (the second must find everything done); both
    exit 0; what they printed."""
    from jdl.cli import main
    from jdl.core.config import get_settings

    get_settings.cache_clear()
    for _ in range(2):
        with pytest.raises(SystemExit) as done:
            main(args)
        assert done.value.code == 0
    return capsys.readouterr().out


def test_choose_covers_sectors_and_types_first(synthetic_data_dir):
    programmes = planted(synthetic_data_dir)
    four = choose(programmes, 4)
    assert {p["sector"] for p in four} == {"voluntary_community", "public", "private",
                                          "education"}
    # every private programme planted is employment support: sectors come first
    assert {p["intervention_type"] for p in four} == {"employment", "education", "family"}
    every = choose(programmes, len(programmes))
    assert {p["intervention_type"] for p in every} == {p["intervention_type"]
                                                       for p in programmes}
    with pytest.raises(UsageError, match="planted programmes"):
        choose(programmes, len(programmes) + 1)
    with pytest.raises(UsageError):
        choose(programmes, 0)


def test_seed_publishes_real_evaluations(synthetic_data_dir, tmp_path, monkeypatch, capsys):
    from jdl.core.config import get_settings
    from jdl.service._db import open_database

    url = f"sqlite:///{tmp_path / 'service.db'}"
    args = ["catalogue", "seed", "--data", str(synthetic_data_dir), "--reports", "2",
            "--no-register", "--database-url", url, "--storage-dir", str(tmp_path / "files")]
    out = _seed_twice(args, capsys)
    assert out.count("already published") == 2  # the second run evaluated nothing
    with open_database(url)() as db:
        pubs = list(db.query(Publication))
        assert len(pubs) == 2 and all(p.synthetic for p in pubs)
        assert {p.sector for p in pubs} == {"voluntary_community", "education"}
        for p in pubs:
            assert p.results["disclosure"]["rules"]["min_count"] == 10  # released results
            assert (tmp_path / "files" / "catalogue" / p.pdf_file).read_bytes()[:5] == b"%PDF-"
            assert p.findings[0]["measure"] == "proven_reoffending_rate"
        summary = current_summary(db, get_settings()).summary
        assert summary["publications"] == 2 and summary["synthetic"] == 2
        assert sum(r["total"] for r in summary["by_sector"]) == 2


def test_seed_takes_the_register_through_the_service(synthetic_data_dir, tmp_path, capsys):
    """The register's demonstration (issue 20): one organisation's earlier cohort published,
    then replaced by the updated analysis with its response; a withdrawn request; one that
    could not be answered. Every step through the service's own code (upload and plan checked
    by intake, jobs run by the runner, approval through the API with the differencing guard,
    the catalogue entry's checks, publication's checks), the register counting every outcome."""
    from fastapi.testclient import TestClient

    from jdl.catalogue._register import clean_response
    from jdl.disclosure import assert_released
    from jdl.service import create_app
    from jdl.service._catalogue import register_counts, replaced_publications
    from jdl.service._db import open_database
    from jdl.service._models import AuditEntry, Submission
    from jdl.service._register_seed import RESPONSE
    from jdl.service._storage import submission_dir
    from tests.service.conftest import make_settings

    settings = make_settings(tmp_path, synthetic_data_dir)
    url, files = settings.service.database_url, settings.service.storage_dir
    args = ["catalogue", "seed", "--data", str(synthetic_data_dir), "--reports", "2",
            "--database-url", url, "--storage-dir", str(files)]
    out = _seed_twice(args, capsys)
    assert "already seeded" in out and "already published" in out
    with open_database(url)() as db:
        states = {s.id: s.state for s in db.query(Submission)}
        assert sorted(states.values()) == ["not_answerable", "published", "published",
                                           "withdrawn"]
        counts = register_counts(db)
        assert {k: counts[k] for k in ("published", "not_answerable", "withdrawn", "held",
                                       "requests")} == {
            "published": 3, "not_answerable": 1, "withdrawn": 1, "held": 0, "requests": 5}
        assert counts["published_since"] == 0  # dated into the last complete month
        pubs = {p.id: p for p in db.query(Publication)}
        assert len(pubs) == 3 and all(p.synthetic for p in pubs.values())
        new = next(p for p in pubs.values() if p.supersedes_id is not None)
        old = pubs[new.supersedes_id]
        assert replaced_publications(db) == {old.id: new.id}
        assert old.published_at < new.published_at
        assert old.submission_id and new.submission_id
        assert old.treatment_n < new.treatment_n  # the earlier, smaller cumulative cohort
        assert new.response == clean_response(RESPONSE, new.results)
        for p in pubs.values():
            assert_released(p.results)
        # the updated analysis carries the registered plan and its hash
        assert new.results["registration"]["sub_analyses"] == ["delivery_mode", "attendance"]
        # the service's checks ran: the guard at approval and publication, the entry form's
        actions = {(a.action, a.outcome) for a in db.query(AuditEntry)}
        assert {("submission.approve", "allowed"), ("submission.publish", "allowed"),
                ("submission.catalogue_entry", "allowed"),
                ("submission.withdraw", "allowed")} <= actions
        # no live account is left that nobody holds
        from jdl.service._models import User

        assert not [u.email for u in db.query(User) if u.active or u.token_hash]
        withdrawn = next(sid for sid, state in states.items() if state == "withdrawn")
        assert not list((submission_dir(files, withdrawn)).glob("upload*"))  # data deleted
    client = TestClient(create_app(settings))
    old_page = client.get(f"/catalogue/reports/{old.id}").text
    new_page = client.get(f"/catalogue/reports/{new.id}").text
    assert f'Replaced by <a href="/catalogue/reports/{new.id}"' in old_page
    assert f'This report replaces <a href="/catalogue/reports/{old.id}"' in new_page
    assert "We welcome the lab&#39;s analysis" in new_page
    summary = client.get("/catalogue/summary").text
    for outcome, n in (("published", 3), ("not_answerable", 1), ("withdrawn", 1)):
        assert f'data-outcome="{outcome}"><th scope="row">' in summary
        assert re.search(rf'data-outcome="{outcome}">.*?<td class="num">{n}</td>', summary)
    forest_ids = re.findall(r'<tr data-id="(\d+)" data-type=', summary)
    assert sorted(map(int, forest_ids)) == sorted(i for i in pubs if i != old.id)


def test_the_register_and_the_summary_say_what_each_counts(tmp_path):
    """Three published requests (one replaced by a newer analysis) are "Published 3" in the
    register and "the 2 current published reports" in the summary; each says which it counts."""
    from fastapi.testclient import TestClient

    from jdl.service import create_app
    from tests.catalogue._build import publish_one, released
    from tests.catalogue.conftest import catalogue_settings

    settings = catalogue_settings(tmp_path)
    app = create_app(settings)
    storage = settings.service.storage_dir
    when = datetime(2020, 1, 1, tzinfo=UTC)  # counted by the register (before its date)
    with app.state.sessions() as db:
        publish_one(db, storage, released(organisation="A", programme_name="One"),
                    settings=settings, submission_id=None, when=when)
        old = publish_one(db, storage, released(organisation="B", programme_name="Two"),
                          settings=settings, submission_id=None, when=when)
        publish_one(db, storage, released(n=500, organisation="B", programme_name="Two, again"),
                    settings=settings, submission_id=None, when=when, supersedes_id=old)
    page = TestClient(app).get("/catalogue/summary").text
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert re.search(r'data-outcome="published"><th scope="row">Published</th>'
                     r'<td class="num">3</td>', page)
    assert "This summary covers the 2 current published reports (one per programme" in text
    assert '"Published": requests whose report was published, each counted once, including ' \
           "reports since replaced by a newer analysis" in text


@pytest.mark.parametrize(("now", "dated"), [
    (datetime(2026, 12, 5, 10, tzinfo=UTC), datetime(2026, 11, 29, 10, tzinfo=UTC)),
    (datetime(2026, 3, 1, 0, 5, tzinfo=UTC), datetime(2026, 2, 27, 0, 5, tzinfo=UTC)),
    (datetime(2027, 1, 31, 23, 59, tzinfo=UTC), datetime(2026, 12, 30, 23, 59, tzinfo=UTC)),
])
def test_the_demonstration_is_dated_the_day_before_the_registers_date(now, dated):
    from jdl.catalogue._register import end_of, register_date
    from jdl.service._catalogue_seed import demo_shift

    assert now - demo_shift(now) == dated
    assert dated <= end_of(register_date(now.date()))  # so the register counts it


def test_a_register_demonstration_that_stops_is_said_not_hidden(synthetic_data_dir, tmp_path,
                                                                 monkeypatch, capsys):
    from jdl.cli import main
    from jdl.core.config import get_settings
    from jdl.core.errors import JDLError

    def stops(*_args, **_kwargs):
        raise JDLError("Submission 1 was not approved (awaiting_review).")

    monkeypatch.setattr("jdl.service._register_seed.seed_register", stops)
    get_settings.cache_clear()
    with pytest.raises(SystemExit) as done:
        main(["catalogue", "seed", "--data", str(synthetic_data_dir), "--reports", "1",
              "--database-url", f"sqlite:///{tmp_path / 'db.sqlite'}",
              "--storage-dir", str(tmp_path / "files")])
    assert done.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "The register's demonstration: skipped (it stopped: Submission 1 was not " \
           "approved (awaiting_review).)" in out

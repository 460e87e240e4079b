"""Publication: the reviewer's embargo date decides when an approved report enters the public
catalogue; before it nothing is public, after it the catalogue shows the released report."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from jdl.service._jobs import run_once
from jdl.service._models import AuditEntry, Submission, utcnow
from jdl.service._publication import default_embargo, publish_due
from tests.service.test_jobs import data_lab  # noqa: F401  (fixture)


def test_default_embargo_is_the_configured_days_after_today(lab):
    assert default_embargo(lab.settings, date(2026, 1, 30)) == date(2026, 2, 27)


def test_approved_report_is_published_on_its_embargo_date_only(data_lab, synthetic_upload):  # noqa: F811
    lab = data_lab
    programme = synthetic_upload["programme"]
    sid = lab.upload("submitter_a", synthetic_upload["upload"], programme).json()["id"]
    assert run_once(lab.sessions, lab.settings).value == "done"
    today = utcnow().date()
    past = lab.client.post(f"/api/submissions/{sid}/approve", headers=lab.auth("reviewer"),
                           json={"embargo_until": (today - timedelta(days=1)).isoformat()})
    assert past.status_code == 422
    embargo = today + timedelta(days=3)
    approved = lab.client.post(f"/api/submissions/{sid}/approve", headers=lab.auth("reviewer"),
                               json={"embargo_until": embargo.isoformat()})
    assert approved.status_code == 200 and approved.json()["embargo_until"] == embargo.isoformat()

    # before the embargo date: nothing public
    assert publish_due(lab.sessions, lab.settings, today=embargo - timedelta(days=1)) == []
    listing = lab.client.get("/catalogue")
    assert listing.status_code == 200 and programme["programme_name"] not in listing.text

    assert publish_due(lab.sessions, lab.settings, today=embargo) == [sid]
    assert publish_due(lab.sessions, lab.settings, today=embargo) == []  # once only
    body = lab.client.get(f"/api/submissions/{sid}", headers=lab.auth("submitter_a")).json()
    assert body["state"] == "published" and body["published_at"]
    assert [e["state"] for e in body["events"]][-2:] == ["approved", "published"]
    page = lab.client.get(f"/catalogue/reports/{body['publication_id']}")  # no sign-in
    assert page.status_code == 200 and programme["programme_name"] in page.text
    assert programme["programme_name"] in lab.client.get("/catalogue").text
    pdf = lab.client.get(f"/catalogue/reports/{body['publication_id']}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # the organisation keeps its own access to the report
    own = lab.client.get(f"/api/submissions/{sid}/report.pdf", headers=lab.auth("submitter_a"))
    assert own.status_code == 200
    with lab.sessions() as db:
        published = db.get(Submission, sid)
        assert published.publication_id == body["publication_id"]
        audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "submission.publish",
                                                    AuditEntry.submission_id == sid)).all()
    assert len(audit) == 1


def test_only_approved_reports_are_ever_published(lab, synthetic_upload):
    from jdl.service._jobs import set_state
    from jdl.service._models import SubmissionState

    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    for state in ("queued", "held", "awaiting_review", "failed"):
        with lab.sessions() as db:
            submission = db.get(Submission, sid)
            submission.embargo_until = utcnow().date() - timedelta(days=5)
            set_state(db, submission, SubmissionState(state))
            db.commit()
        assert publish_due(lab.sessions, lab.settings) == []
    body = lab.client.get(f"/api/submissions/{sid}", headers=lab.auth("analyst")).json()
    assert body["publication_id"] is None and body["published_at"] is None


def test_reviewer_or_admin_moves_the_publication_date_until_published(lab, synthetic_upload):
    from tests.service.test_web import csrf, put_in_state, signed_in

    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    url = f"/api/submissions/{sid}/publication-date"
    later = (utcnow().date() + timedelta(days=60)).isoformat()
    early = lab.client.post(url, headers=lab.auth("reviewer"), json={"embargo_until": later})
    assert early.status_code == 409  # not approved yet
    put_in_state(lab, sid, "approved", embargo_until=utcnow().date() + timedelta(days=28))
    for who in ("submitter_a", "analyst"):
        assert lab.client.post(url, headers=lab.auth(who),
                               json={"embargo_until": later}).status_code == 403
    past = (utcnow().date() - timedelta(days=1)).isoformat()
    assert lab.client.post(url, headers=lab.auth("admin"),
                           json={"embargo_until": past}).status_code == 422
    moved = lab.client.post(url, headers=lab.auth("admin"), json={"embargo_until": later})
    assert moved.status_code == 200 and moved.json()["embargo_until"] == later
    # on the page: a reviewer brings it forward to today, and it is published at the next run
    signed_in(lab, "reviewer")
    page = lab.client.get(f"/submissions/{sid}")
    assert "Change the publication date" in page.text
    today = utcnow().date().isoformat()
    lab.client.post(f"/submissions/{sid}/publication-date",
                    data={"csrf_token": csrf(page.text), "embargo_until": today})
    body = lab.client.get(f"/api/submissions/{sid}", headers=lab.auth("analyst")).json()
    assert body["embargo_until"] == today
    with lab.sessions() as db:
        details = db.scalars(select(AuditEntry.detail).where(
            AuditEntry.action == "submission.publication_date",
            AuditEntry.outcome == "allowed")).all()
    assert len(details) == 2 and details[0].endswith(f"-> {later}")
    put_in_state(lab, sid, "published")
    assert lab.client.post(url, headers=lab.auth("admin"),
                           json={"embargo_until": later}).status_code == 409


def test_a_report_the_catalogue_refuses_does_not_stop_the_others(lab, synthetic_upload,
                                                                 tmp_path):
    import json

    from jdl.service._jobs import set_state
    from jdl.service._models import Job, SubmissionState
    from jdl.service._storage import job_dir

    ids = [lab.upload("submitter_a", synthetic_upload["upload"],
                      synthetic_upload["programme"]).json()["id"] for _ in range(2)]
    with lab.sessions() as db:
        for sid in ids:
            submission = db.get(Submission, sid)
            job = db.scalar(select(Job).where(Job.submission_id == sid))
            job.state = "done"
            folder = job_dir(lab.settings.service.storage_dir, sid, job.id)
            folder.mkdir(parents=True)
            # results the disclosure stage never released: the catalogue must refuse them
            (folder / "results.json").write_text(json.dumps({"counts": {"linked": 3}}))
            (folder / "report.pdf").write_bytes(b"%PDF-1.4 not really")
            submission.embargo_until = utcnow().date()
            set_state(db, submission, SubmissionState.approved)
        db.commit()
    assert publish_due(lab.sessions, lab.settings) == []
    with lab.sessions() as db:
        for sid in ids:  # both were tried, both taken off the schedule, both audited
            submission = db.get(Submission, sid)
            assert submission.state == "approved" and submission.embargo_until is None
        denied = db.scalars(select(AuditEntry).where(
            AuditEntry.action == "submission.publish", AuditEntry.outcome == "denied")).all()
    assert sorted(a.submission_id for a in denied) == sorted(ids)
    assert publish_due(lab.sessions, lab.settings) == []  # not retried every minute

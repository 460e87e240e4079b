"""The JSON API: every endpoint and role, isolation between organisations, review rules and
the audit log. Jobs are not run here (see test_jobs.py); states are set directly where a test
needs a submission further along."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from jdl.service._jobs import set_state
from jdl.service._models import AuditEntry, Job, Submission, SubmissionState, User


def audit(lab, **where) -> list[AuditEntry]:
    with lab.sessions() as db:
        query = select(AuditEntry).order_by(AuditEntry.id)
        for key, value in where.items():
            query = query.where(getattr(AuditEntry, key) == value)
        return list(db.scalars(query))


def force_state(lab, submission_id: int, state: SubmissionState) -> None:
    with lab.sessions() as db:
        set_state(db, db.get(Submission, submission_id), state)
        db.commit()


@pytest.fixture
def uploaded(lab, synthetic_upload) -> int:
    response = lab.upload("submitter_a", synthetic_upload["upload"],
                          synthetic_upload["programme"])
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_upload_is_validated_stored_and_queued(lab, synthetic_upload):
    response = lab.upload("submitter_a", synthetic_upload["upload"],
                          synthetic_upload["programme"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "queued"
    assert body["validation"]["acceptable"] is True
    assert body["validation"]["counts"]["accepted"] >= 60
    assert [e["state"] for e in body["events"]] == ["queued"]
    assert body["jobs"][0]["state"] == "queued"
    # stored validation: rule code, row and column only, never the value or a message quoting it
    assert all(set(issue) <= {"row_number", "column", "field", "code", "severity"}
               for issue in body["validation"]["issues"])
    assert "password_hash" not in response.text and "token" not in response.text
    entry = audit(lab, action="submission.upload")[-1]
    assert (entry.outcome, entry.submission_id) == ("allowed", body["id"])


def test_refused_upload_returns_422_with_row_level_errors(lab, synthetic_upload, tmp_path):
    small = tmp_path / "small.csv"
    lines = synthetic_upload["upload"].read_text().splitlines()[:6]
    small.write_text("\n".join([*lines, "Smith,,not-a-date,Q"]) + "\n")
    response = lab.upload("submitter_a", small, synthetic_upload["programme"])
    assert response.status_code == 422
    body = response.json()
    assert body["validation"]["refusal"]["code"] == "too_small"
    assert any(i["row_number"] is not None for i in body["validation"]["issues"])
    assert lab.client.get("/api/submissions", headers=lab.auth("submitter_a")).json() == []
    assert audit(lab, action="submission.upload", outcome="denied")


def test_bad_programme_and_bad_file_type_are_clear_errors(lab, synthetic_upload):
    bad = {**synthetic_upload["programme"], "region": "Atlantis"}
    response = lab.upload("submitter_a", synthetic_upload["upload"], bad)
    assert response.status_code == 422
    assert any("region" in p for p in response.json()["problems"])
    response = lab.client.post("/api/submissions", headers=lab.auth("submitter_a"),
                               files={"file": ("x.exe", b"MZ", "application/octet-stream")},
                               data={"programme": json.dumps(synthetic_upload["programme"],
                                                             default=str)})
    assert response.status_code == 422
    response = lab.client.post("/api/submissions", headers=lab.auth("submitter_a"),
                               files={"file": ("x.csv", b"a,b\n", "text/csv")},
                               data={"programme": "{not json"})
    assert response.status_code == 422 and "JSON" in response.json()["detail"]


def test_upload_over_the_size_limit_is_refused(lab, synthetic_upload):
    lab.settings.intake.max_file_bytes = 100
    response = lab.upload("submitter_a", synthetic_upload["upload"],
                          synthetic_upload["programme"])
    assert response.status_code == 413


def test_only_submitters_upload(lab, synthetic_upload):
    for who in ("analyst", "reviewer", "admin"):
        response = lab.upload(who, synthetic_upload["upload"], synthetic_upload["programme"])
        assert response.status_code == 403
    assert len(audit(lab, action="submission.upload", outcome="denied")) == 3


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
def test_requests_without_a_valid_token_are_refused_and_audited(lab, header):
    headers = {} if header is None else {"Authorization": header}
    response = lab.client.get("/api/submissions", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert audit(lab, outcome="denied")[-1].detail == "missing or invalid API token"


def test_inactive_user_is_refused(lab):
    with lab.sessions() as db:
        db.get(User, lab.ids["submitter_a"]).active = False
        db.commit()
    assert lab.client.get("/api/submissions", headers=lab.auth("submitter_a")).status_code == 401


def test_organisations_see_only_their_own_submissions(lab, uploaded):
    own = lab.client.get("/api/submissions", headers=lab.auth("submitter_a2")).json()
    assert [s["id"] for s in own] == [uploaded]
    assert lab.client.get("/api/submissions", headers=lab.auth("submitter_b")).json() == []
    for who in ("analyst", "reviewer", "admin"):
        listed = lab.client.get("/api/submissions", headers=lab.auth(who)).json()
        assert [s["id"] for s in listed] == [uploaded]
        assert lab.client.get(f"/api/submissions/{uploaded}",
                              headers=lab.auth(who)).status_code == 200


@pytest.mark.parametrize("path", ["", "/results.json", "/report.pdf"])
def test_another_organisations_submission_is_404_and_audited(lab, uploaded, path):
    force_state(lab, uploaded, SubmissionState.approved)
    response = lab.client.get(f"/api/submissions/{uploaded}{path}",
                              headers=lab.auth("submitter_b"))
    assert response.status_code == 404
    missing = lab.client.get(f"/api/submissions/9999{path}", headers=lab.auth("submitter_b"))
    assert missing.status_code == 404 and missing.json() == response.json()
    denied = audit(lab, outcome="denied", user_id=lab.ids["submitter_b"])
    assert [d.submission_id for d in denied] == [uploaded, 9999]


def test_results_are_withheld_from_the_organisation_until_approved(lab, uploaded):
    for path in ("/results.json", "/report.pdf"):
        response = lab.client.get(f"/api/submissions/{uploaded}{path}",
                                  headers=lab.auth("submitter_a"))
        assert response.status_code == 409
        assert "review" in response.json()["detail"]
    # lab staff may look, but nothing has run yet
    response = lab.client.get(f"/api/submissions/{uploaded}/results.json",
                              headers=lab.auth("analyst"))
    assert response.status_code == 409 and "no results" in response.json()["detail"]


def test_approval_rules(lab, uploaded):
    url = f"/api/submissions/{uploaded}/approve"
    for who in ("submitter_a", "submitter_b", "analyst", "admin"):
        assert lab.client.post(url, headers=lab.auth(who)).status_code == 403
    # still queued: nothing to approve
    assert lab.client.post(url, headers=lab.auth("reviewer")).status_code == 409
    force_state(lab, uploaded, SubmissionState.awaiting_review)
    response = lab.client.post(url, headers=lab.auth("reviewer"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "approved" and body["approved_by"] == lab.ids["reviewer"]
    assert [e["state"] for e in body["events"]][-1] == "approved"
    assert audit(lab, action="submission.approve", outcome="allowed")


def test_reviewer_cannot_approve_work_they_ran(lab, uploaded):
    with lab.sessions() as db:
        db.get(User, lab.ids["reviewer"]).role = "analyst"
        db.commit()
    force_state(lab, uploaded, SubmissionState.failed)
    rerun = lab.client.post(f"/api/submissions/{uploaded}/rerun", headers=lab.auth("reviewer"),
                            json={})
    assert rerun.status_code == 200, rerun.text
    with lab.sessions() as db:
        db.get(User, lab.ids["reviewer"]).role = "reviewer"
        db.commit()
    force_state(lab, uploaded, SubmissionState.awaiting_review)
    url = f"/api/submissions/{uploaded}/approve"
    response = lab.client.post(url, headers=lab.auth("reviewer"))
    assert response.status_code == 403
    assert "cannot approve" in response.json()["detail"]
    entry = audit(lab, action="submission.approve", outcome="denied")[-1]
    assert entry.user_id == lab.ids["reviewer"]
    assert lab.client.post(url, headers=lab.auth("reviewer2")).status_code == 200


def test_rerun_is_for_analysts_and_checks_its_settings(lab, uploaded):
    url = f"/api/submissions/{uploaded}/rerun"
    assert lab.client.post(url, headers=lab.auth("analyst"), json={}).status_code == 409
    force_state(lab, uploaded, SubmissionState.awaiting_review)
    for who in ("submitter_a", "reviewer", "admin"):
        assert lab.client.post(url, headers=lab.auth(who), json={}).status_code == 403
    bad = lab.client.post(url, headers=lab.auth("analyst"),
                          json={"settings": {"matching": {"caliper": "wide"}}})
    assert bad.status_code == 422
    ok = lab.client.post(url, headers=lab.auth("analyst"),
                         json={"settings": {"matching": {"caliper": 0.1}}})
    assert ok.status_code == 200
    assert ok.json()["state"] == "queued"
    with lab.sessions() as db:
        job = db.scalars(select(Job).order_by(Job.id.desc())).first()
        assert job.settings_overrides == {"matching": {"caliper": 0.1}}
        assert job.requested_by == lab.ids["analyst"]


def test_rerun_refuses_protections_and_unknown_names_and_records_each_override(lab, uploaded):
    """Issue 16: an analyst may change only analysis settings; disclosure control, storage and
    security are refused, a misspelt name is refused by name (with the nearest real one), and
    an accepted change is on the job, in the audit log and in the evaluation's settings."""
    from jdl.service._jobs import job_settings

    url = f"/api/submissions/{uploaded}/rerun"
    force_state(lab, uploaded, SubmissionState.awaiting_review)
    for refused, says in (
            ({"disclosure": {"min_count": 1, "rounding_base": 1}}, "disclosure.min_count: may not"),
            ({"service": {"secure_cookies": False}}, "service.secure_cookies: may not"),
            ({"intake": {"max_rows": 10**9}}, "intake.max_rows: may not"),
            ({"matching": {"calipr": 0.1}}, "matching.calipr: not a setting (did you mean "
                                             "'caliper'?)"),
            ({"matchin": {"caliper": 0.1}}, "matchin: not a settings section")):
        response = lab.client.post(url, headers=lab.auth("analyst"), json={"settings": refused})
        assert response.status_code == 422 and says in response.json()["detail"], response.text
    assert len(audit(lab, action="submission.rerun", outcome="denied")) == 5
    ok = lab.client.post(url, headers=lab.auth("analyst"), json={"settings": {
        "matching": {"caliper": 0.1, "ratio": 2}, "linkage": {"match_threshold": 0.95}}})
    assert ok.status_code == 200, ok.text
    entry = audit(lab, action="submission.rerun", outcome="allowed")[-1]
    assert "matching.caliper=0.1 (lab 0.2)" in entry.detail
    assert "linkage.match_threshold=0.95 (lab 0.9)" in entry.detail
    with lab.sessions() as db:
        job = db.scalars(select(Job).order_by(Job.id.desc())).first()
        run = job_settings(lab.settings, job.settings_overrides)
    assert (run.matching.caliper, run.matching.ratio) == (0.1, 2)
    assert run.disclosure == lab.settings.disclosure
    assert [(o.setting, o.value, o.lab_value) for o in run.report.analysis_overrides] == [
        ("matching.caliper", 0.1, 0.2), ("matching.ratio", 2, 1),
        ("linkage.match_threshold", 0.95, 0.9)]
    # a job queued with a forbidden override (e.g. before an upgrade) fails, never runs with it
    with pytest.raises(Exception, match="cannot be used"):
        job_settings(lab.settings, {"disclosure": {"min_count": 1}})


def test_openapi_lists_the_endpoints(lab):
    paths = lab.client.get("/openapi.json").json()["paths"]
    for path in ("/api/submissions", "/api/submissions/{submission_id}",
                 "/api/submissions/{submission_id}/results.json",
                 "/api/submissions/{submission_id}/report.pdf",
                 "/api/submissions/{submission_id}/approve",
                 "/api/submissions/{submission_id}/rerun"):
        assert path in paths


def test_diagnostics_are_for_lab_staff_only(lab, uploaded):
    url = f"/api/submissions/{uploaded}/diagnostics"
    assert lab.client.get(url, headers=lab.auth("submitter_a")).status_code == 403
    assert lab.client.get(url, headers=lab.auth("analyst")).status_code == 409  # not run yet


@pytest.mark.parametrize("body, content_type", [
    (b"garbage", "multipart/form-data; boundary=xyz"),
    (b"--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc",
     "multipart/form-data; boundary=xyz"),
    (b"{}", "application/json"),
    (b"", "multipart/form-data"),
])
def test_malformed_multipart_bodies_are_clear_errors(lab, body, content_type):
    response = lab.client.post("/api/submissions", content=body,
                               headers={**lab.auth("submitter_a"),
                                        "Content-Type": content_type})
    assert 400 <= response.status_code < 500
    assert "detail" in response.json()


def test_release_hold_is_for_analysts_on_held_submissions(lab, uploaded):
    url = f"/api/submissions/{uploaded}/release-hold"
    assert lab.client.post(url, headers=lab.auth("analyst")).status_code == 409
    force_state(lab, uploaded, SubmissionState.held)
    for who in ("submitter_a", "reviewer", "admin"):
        assert lab.client.post(url, headers=lab.auth(who)).status_code == 403
    assert lab.client.post(url, headers=lab.auth("submitter_b")).status_code == 403
    response = lab.client.post(url, headers=lab.auth("analyst"))
    assert response.status_code == 200 and response.json()["state"] == "awaiting_review"
    assert audit(lab, action="submission.release_hold", outcome="allowed")


def test_requests_over_the_rate_limit_get_429(lab):
    limiter = lab.client.app.state.request_limiter
    limiter.per_minute, limiter.clock = 5, lambda: 6000.0  # one window throughout
    codes = [lab.client.get("/healthz").status_code for _ in range(8)]
    assert codes[:5] == [200] * 5 and set(codes[5:]) == {429}
    response = lab.client.get("/api/submissions", headers=lab.auth("submitter_a"))
    assert response.status_code == 429 and int(response.headers["retry-after"]) <= 60


def test_programme_text_naming_someone_in_the_upload_is_refused(lab, synthetic_upload):
    import csv

    with open(synthetic_upload["upload"], newline="") as f:
        person = next(csv.DictReader(f))
    programme = dict(synthetic_upload["programme"])
    name = f"{person['forename']} {person['surname']}"
    programme["description"] = f"Mentoring, for example for {name}, after release."
    response = lab.upload("submitter_a", synthetic_upload["upload"], programme)
    assert response.status_code in (400, 422), response.text
    assert "description" in response.text and "name of a person" in response.text
    assert person["surname"] not in response.text and person["forename"] not in response.text
    assert lab.client.get("/api/submissions", headers=lab.auth("submitter_a")).json() == []


def test_an_anonymous_web_upload_is_audited_and_slashes_do_not_redirect(lab):
    """Second independent check, session 6: an anonymous POST /upload was sent to sign in
    without an audit row; a trailing-slash redirect built its address from the Host header."""
    response = lab.client.post("/upload", files={"file": ("u.csv", b"a,b\n", "text/csv")},
                               follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    denied = audit(lab, action="submission.upload", outcome="denied")
    assert denied and denied[-1].user_id is None and "not signed in" in denied[-1].detail
    forged = lab.client.get("/catalogue/", headers={"Host": "evil.example"},
                            follow_redirects=False)
    assert "evil.example" not in forged.headers.get("location", "")
    assert forged.status_code == 404

"""The web UI: sign-in with CSRF and rate limiting, the one-time password, upload with
validation feedback on the page, status, isolation, approval and the report download."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from jdl.service._jobs import set_state
from jdl.service._models import AuditEntry, Submission, SubmissionState

NEW_PASSWORD = "plum orbit velvet lantern"


def csrf(page_html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_html).group(1)


def sign_in(lab, who: str, password: str | None = None):
    token = csrf(lab.client.get("/login").text)
    return lab.client.post("/login", follow_redirects=False, data={
        "csrf_token": token, "email": f"{who}@example.org",
        "password": password or lab.passwords[who]})


def signed_in(lab, who: str) -> str:
    """Sign in and replace the one-time password; returns the home page's CSRF token."""
    assert sign_in(lab, who).headers["location"] == "/password"
    token = csrf(lab.client.get("/password").text)
    response = lab.client.post("/password", follow_redirects=False, data={
        "csrf_token": token, "current": lab.passwords[who], "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD})
    assert response.headers["location"] == "/"
    return csrf(lab.client.get("/").text)


def form_data(programme: dict, token: str) -> dict:
    return {"csrf_token": token, **{k: str(v) for k, v in programme.items() if v is not None}}


def test_pages_need_sign_in(lab):
    for path in ("/", "/submissions/1", "/submissions/1/report.pdf"):
        response = lab.client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert "Sign in" in lab.client.get("/login").text


def test_session_cookie_is_httponly_and_strict(lab):
    response = sign_in(lab, "submitter_a")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_forms_without_the_csrf_token_are_refused(lab):
    lab.client.get("/login")
    response = lab.client.post("/login", data={"email": "submitter_a@example.org",
                                               "password": lab.passwords["submitter_a"]})
    assert response.status_code == 403
    assert any(e.detail == "missing or wrong CSRF token" for e in _audit(lab))


def _audit(lab) -> list[AuditEntry]:
    with lab.sessions() as db:
        return list(db.scalars(select(AuditEntry)))


def test_failed_sign_ins_are_audited_and_rate_limited(lab):
    for _ in range(5):
        assert sign_in(lab, "submitter_a", "wrong password!").status_code == 401
    blocked = sign_in(lab, "submitter_a")  # even the right password, for now
    assert blocked.status_code == 429 and "Too many" in blocked.text
    denied = [e for e in _audit(lab) if e.action == "web.login" and e.outcome == "denied"]
    assert len(denied) == 6
    assert sign_in(lab, "submitter_b").status_code == 303  # others are unaffected


def test_one_time_password_must_be_replaced(lab):
    sign_in(lab, "submitter_a")
    assert lab.client.get("/", follow_redirects=False).headers["location"] == "/password"
    token = csrf(lab.client.get("/password").text)
    one_time = lab.passwords["submitter_a"]
    short = lab.client.post("/password", data={"csrf_token": token, "current": one_time,
                                               "password": "short", "confirm": "short"})
    assert short.status_code == 422 and "at least 12" in short.text
    common = lab.client.post("/password", data={"csrf_token": token, "current": one_time,
                                                "password": "Password1234!",
                                                "confirm": "Password1234!"})
    assert common.status_code == 422 and "too common" in common.text
    no_current = lab.client.post("/password", data={"csrf_token": token, "current": "guess",
                                                    "password": NEW_PASSWORD,
                                                    "confirm": NEW_PASSWORD})
    assert no_current.status_code == 422 and "current password is not right" in no_current.text
    signed_in_again = lab.client.post("/password", follow_redirects=False, data={
        "csrf_token": token, "current": one_time, "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD})
    assert signed_in_again.headers["location"] == "/"
    lab.client.post("/logout", data={"csrf_token": csrf(lab.client.get("/").text)})
    assert sign_in(lab, "submitter_a", NEW_PASSWORD).headers["location"] == "/"


def test_upload_shows_row_level_errors_then_accepts_a_fixed_file(lab, synthetic_upload,
                                                                 tmp_path):
    token = signed_in(lab, "submitter_a")
    small = tmp_path / "small.csv"
    small.write_text("\n".join(synthetic_upload["upload"].read_text().splitlines()[:6]) + "\n")
    with open(small, "rb") as fh:
        refused = lab.client.post("/upload", data=form_data(synthetic_upload["programme"], token),
                                  files={"file": ("small.csv", fh, "text/csv")})
    assert refused.status_code == 422
    assert "The lab cannot use this file" in refused.text
    assert "New Leaf Employment" in refused.text  # the form keeps what was typed
    bad = {**synthetic_upload["programme"], "region": "Atlantis"}
    with open(synthetic_upload["upload"], "rb") as fh:
        invalid = lab.client.post("/upload", data=form_data(bad, token),
                                  files={"file": ("u.csv", fh, "text/csv")})
    assert invalid.status_code == 422 and "region" in invalid.text
    with open(synthetic_upload["upload"], "rb") as fh:
        accepted = lab.client.post("/upload", follow_redirects=False,
                                   data=form_data(synthetic_upload["programme"], token),
                                   files={"file": ("u.csv", fh, "text/csv")})
    assert accepted.status_code == 303
    page = lab.client.get(accepted.headers["location"])
    assert "queued" in page.text and "accepted" in page.text


def put_in_state(lab, submission_id: int, state: str, **fields) -> None:
    """Move a submission to ``state`` (and set ``fields``) as the service would, without a run."""
    with lab.sessions() as db:
        submission = db.get(Submission, submission_id)
        for name, value in fields.items():
            setattr(submission, name, value)
        set_state(db, submission, SubmissionState(state))
        db.commit()


HOLD = "Held for analyst review (differencing guard): test."


@pytest.fixture
def approved_flow(lab, synthetic_upload):
    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    put_in_state(lab, sid, "awaiting_review")
    return sid


def test_other_organisations_pages_are_not_found(lab, approved_flow):
    signed_in(lab, "submitter_b")
    page = lab.client.get(f"/submissions/{approved_flow}")
    assert page.status_code == 404 and "Page not found" in page.text


def test_reviewer_approves_on_the_page(lab, approved_flow):
    signed_in(lab, "reviewer")
    page = lab.client.get(f"/submissions/{approved_flow}")
    assert "Approve for release" in page.text
    response = lab.client.post(f"/submissions/{approved_flow}/approve", follow_redirects=False,
                               data={"csrf_token": csrf(page.text)})
    assert response.status_code == 303
    assert "Download the report" in lab.client.get(f"/submissions/{approved_flow}").text
    # no job has run in this test, so there is nothing to download yet
    assert lab.client.get(f"/submissions/{approved_flow}/report.pdf").status_code == 409


def test_submitter_sees_no_approve_button_and_cannot_post_one(lab, approved_flow):
    signed_in(lab, "submitter_a")
    page = lab.client.get(f"/submissions/{approved_flow}")
    assert "Approve for release" not in page.text
    response = lab.client.post(f"/submissions/{approved_flow}/approve",
                               data={"csrf_token": csrf(page.text)})
    assert response.status_code == 403


def test_analyst_releases_a_hold_and_reruns_on_the_page(lab, approved_flow):
    put_in_state(lab, approved_flow, "held", hold_reason=HOLD)
    signed_in(lab, "analyst")
    page = lab.client.get(f"/submissions/{approved_flow}")
    assert "differencing guard" in page.text and "send on to review" in page.text
    token = csrf(page.text)
    released = lab.client.post(f"/submissions/{approved_flow}/release-hold",
                               data={"csrf_token": token})
    assert released.status_code == 200 and "awaiting review" in released.text
    rerun = lab.client.post(f"/submissions/{approved_flow}/rerun", data={"csrf_token": token})
    assert rerun.status_code == 200 and "queued" in rerun.text


def test_submitter_cannot_see_the_hold_reason_or_use_lab_buttons(lab, approved_flow):
    put_in_state(lab, approved_flow, "held", hold_reason=HOLD)
    signed_in(lab, "submitter_a")
    page = lab.client.get(f"/submissions/{approved_flow}")
    assert "differencing guard" not in page.text and "send on to review" not in page.text
    response = lab.client.post(f"/submissions/{approved_flow}/release-hold",
                               data={"csrf_token": csrf(page.text)})
    assert response.status_code == 403


def test_rerun_form_sends_only_the_settings_the_analyst_changed(lab):
    from jdl.service._web import rerun_overrides

    settings = lab.settings
    unchanged = {"adjusted": "1", "matching.caliper": "0.2", "matching.ratio": "1",
                 "linkage.match_threshold": "0.9"}
    assert rerun_overrides(unchanged, settings) == {}
    changed = {**unchanged, "matching.caliper": "", "matching.ratio": "2",
               "matching.replace": "on"}
    assert rerun_overrides(changed, settings) == {
        "matching": {"caliper": None, "ratio": "2", "replace": True}}
    assert rerun_overrides({"csrf_token": "x"}, settings) == {}  # the plain button


def test_analyst_reruns_with_adjusted_settings_on_the_page(lab, approved_flow):
    put_in_state(lab, approved_flow, "awaiting_review")
    signed_in(lab, "analyst")
    page = lab.client.get(f"/submissions/{approved_flow}")
    assert "with adjusted settings" in page.text and 'name="matching.caliper"' in page.text
    response = lab.client.post(f"/submissions/{approved_flow}/rerun", data={
        "csrf_token": csrf(page.text), "adjusted": "1", "matching.caliper": "0.1",
        "matching.ratio": "1", "linkage.match_threshold": "0.9"})
    assert response.status_code == 200 and "queued" in response.text
    body = lab.client.get(f"/api/submissions/{approved_flow}", headers=lab.auth("analyst")).json()
    assert body["jobs"][-1]["state"] == "queued"
    with lab.sessions() as db:
        from jdl.service._models import Job

        job = db.get(Job, body["jobs"][-1]["id"])
        assert job.settings_overrides == {"matching": {"caliper": "0.1"}}
    bad = lab.client.post(f"/submissions/{approved_flow}/rerun", data={
        "csrf_token": csrf(page.text), "adjusted": "1", "matching.ratio": "many"})
    assert bad.status_code in (409, 422)  # already queued, or not a number: never a 500


def test_progress_fragment_shows_the_stage_while_a_job_runs(lab, approved_flow):
    from jdl.service._models import Job

    with lab.sessions() as db:
        submission = db.get(Submission, approved_flow)
        set_state(db, submission, SubmissionState.running)
        db.get(Job, submission.jobs[-1].id).stage = "cohort"
        db.commit()
    signed_in(lab, "submitter_a")
    page = lab.client.get(f"/submissions/{approved_flow}")
    assert "step 3 of 8" in page.text and 'aria-live="polite"' in page.text
    fragment = lab.client.get(f"/submissions/{approved_flow}/progress")
    assert "building the cohort" in fragment.text and "<progress" in fragment.text
    put_in_state(lab, approved_flow, "awaiting_review")
    assert "data-finished" in lab.client.get(f"/submissions/{approved_flow}/progress").text
    signed_in(lab, "submitter_b")
    assert lab.client.get(f"/submissions/{approved_flow}/progress").status_code == 404


def test_programme_choices_start_blank_so_a_skipped_one_is_an_error(lab, synthetic_upload):
    token = signed_in(lab, "submitter_a")
    home = lab.client.get("/").text
    assert home.count('<option value="">Choose…</option>') == 4  # all but "who is in the file"
    data = form_data(synthetic_upload["programme"], token)
    data["sector"] = ""  # left on "Choose…"
    with open(synthetic_upload["upload"], "rb") as fh:
        response = lab.client.post("/upload", data=data,
                                   files={"file": ("u.csv", fh, "text/csv")})
    assert response.status_code == 422 and "sector" in response.text.lower()


def test_the_reviewer_sees_every_published_free_text_field(lab, approved_flow,
                                                           synthetic_upload):
    signed_in(lab, "reviewer")
    page = lab.client.get(f"/submissions/{approved_flow}")
    assert 'id="published-text"' in page.text
    assert synthetic_upload["programme"]["description"] in page.text
    lab.client.cookies.clear()
    signed_in(lab, "submitter_a")
    assert 'id="published-text"' not in lab.client.get(f"/submissions/{approved_flow}").text

"""The review a statistician can sign, and withdrawal (issue 21): the draft report inline for the
lab (and not for the organisation before approval), flags in words (a sensitivity row that
reverses the headline is a warning; "No warnings." never beside one), send back and decline
with a reason the organisation reads (escaped, length-limited, audited), and the organisation's
withdrawal before publication (jobs cancelled, data deleted, the row kept). Every new route
keeps the role and organisation rules: the wrong role 403, another organisation 404 exactly
like a missing submission, a form without its CSRF token refused."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from jdl.service._jobs import claim_next, run_job, run_once, set_state
from jdl.service._models import (
    TRANSITIONS,
    AuditEntry,
    Job,
    JobState,
    Submission,
    SubmissionState,
    utcnow,
)
from jdl.service._storage import job_dir, submission_dir
from tests.service.test_jobs import _fake_run, data_lab  # noqa: F401  (fixture)
from tests.service.test_web import NEW_PASSWORD, csrf, put_in_state, sign_in, signed_in

REASON = 'Please check the start dates: 12 rows give 2031. <script>alert("x")</script>'


class Browser:
    """One TestClient browser that signs in as one user after another (each user's one-time
    password replaced on their first sign-in); returns the home page's CSRF token."""

    def __init__(self, lab) -> None:
        self.lab, self.seen = lab, set()

    def be(self, who: str) -> str:
        self.lab.client.cookies.clear()
        if who in self.seen:
            assert sign_in(self.lab, who, NEW_PASSWORD).status_code == 303
            return csrf(self.lab.client.get("/").text)
        self.seen.add(who)
        return signed_in(self.lab, who)


def _uploaded(lab, synthetic_upload, who: str = "submitter_a") -> int:
    answer = lab.upload(who, synthetic_upload["upload"], synthetic_upload["programme"])
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def _audit(lab, action: str, sid: int) -> list[AuditEntry]:
    with lab.sessions() as db:
        return list(db.scalars(select(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.submission_id == sid)
            .order_by(AuditEntry.id)))


# --- the review page on a real evaluation ----------------------------------------------------

def test_the_reviewer_reads_the_draft_inline_and_the_organisation_only_after_approval(
        data_lab, synthetic_upload):  # noqa: F811
    lab = data_lab
    sid = _uploaded(lab, synthetic_upload)
    assert run_once(lab.sessions, lab.settings).value == "done"
    web = Browser(lab)
    web.be("reviewer")
    page = lab.client.get(f"/submissions/{sid}")
    assert page.status_code == 200
    text = page.text
    assert 'id="organisation-name">Org A<' in text  # from the account, not the upload
    assert f'<iframe id="draft-report" src="/submissions/{sid}/report.html"' in text
    assert " sandbox " in text and 'title="Draft report for submission' in text
    assert f'href="/submissions/{sid}/report.pdf"' in text
    for heading in ("Things to check before signing", "Disclosure review", "Sensitivity",
                    "Balance", "Settings of this run", "Your decision"):
        assert heading in text, heading
    assert "Send back with this reason" in text and "Decline with this reason" in text
    assert "Approve for release" in text
    # the frame's document: the report itself, locked down
    framed = lab.client.get(f"/submissions/{sid}/report.html")
    assert framed.status_code == 200 and framed.headers["content-type"].startswith("text/html")
    assert "<html" in framed.text.lower() and "<script" not in framed.text.lower()
    csp = framed.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in csp and "sandbox" in csp and "default-src 'none'" in csp
    assert framed.headers["x-frame-options"] == "SAMEORIGIN"
    assert framed.headers["cache-control"] == "no-store"
    assert _audit(lab, "report.view", sid)
    # every other page still refuses framing
    assert lab.client.get(f"/submissions/{sid}").headers["x-frame-options"] == "DENY"

    # the organisation: no draft before approval (the PDF's rule), no lab review
    web.be("submitter_a")
    own = lab.client.get(f"/submissions/{sid}")
    assert "draft-report" not in own.text and "Things to check" not in own.text
    assert lab.client.get(f"/submissions/{sid}/report.html").status_code == 409
    web.be("submitter_b")
    assert lab.client.get(f"/submissions/{sid}/report.html").status_code == 404
    approved = lab.client.post(f"/api/submissions/{sid}/approve", headers=lab.auth("reviewer"))
    assert approved.status_code == 200
    web.be("submitter_a")
    assert lab.client.get(f"/submissions/{sid}/report.html").status_code == 200
    assert f'href="/submissions/{sid}/report.html"' in lab.client.get(f"/submissions/{sid}").text


def _with_diagnostics(lab, monkeypatch, sid: int, diagnostics: dict) -> None:
    """A finished run (no files) whose lab diagnostics are ``diagnostics``."""
    with lab.sessions() as db:
        job = db.scalar(select(Job).where(Job.submission_id == sid))
        job.state = JobState.done.value
        db.commit()
    put_in_state(lab, sid, "awaiting_review")
    monkeypatch.setattr("jdl.service._web.get_diagnostics",
                        lambda *args, **kwargs: {"counts": {"linked": 300}, **diagnostics})


def _spec(label: str, difference: float, low: float, high: float) -> dict:
    return {"label": label, "difference": difference, "ci_low": low, "ci_high": high,
            "treatment_n": 140, "comparison_n": 140}


HEADLINE = {"proven_reoffending_rate": {"unit": "proportion", "difference": -0.062,
                                        "ci_low": -0.11, "ci_high": -0.014}}


def test_a_sensitivity_row_that_reverses_the_headline_is_a_warning_in_words(
        lab, synthetic_upload, monkeypatch):
    sid = _uploaded(lab, synthetic_upload)
    _with_diagnostics(lab, monkeypatch, sid, {
        "measures": HEADLINE, "warnings": [], "balance": [],
        "sensitivity": {"specifications": [
            _spec("Main analysis", -0.062, -0.11, -0.014),
            _spec("With replacement", 0.031, -0.02, 0.08),
            _spec("Caliper 0.1", -0.03, -0.07, 0.01)]}})
    Browser(lab).be("reviewer")
    text = lab.client.get(f"/submissions/{sid}").text
    assert "No warnings." not in text
    assert ('<strong>Warning:</strong> the sensitivity analysis &#34;With replacement&#34; '
            "gives an estimate in the opposite direction to the headline (+3.1 against -6.2 "
            "per 100 people)") in text
    assert "Warning: opposite direction to the headline" in text  # in the row itself
    assert "Check: not significant where the headline is" in text  # Caliper 0.1
    assert text.count("Same direction") == 1  # the main analysis only


def test_flagged_characteristics_are_never_beside_no_warnings(lab, synthetic_upload,
                                                              monkeypatch):
    sid = _uploaded(lab, synthetic_upload)
    _with_diagnostics(lab, monkeypatch, sid, {
        "measures": HEADLINE, "warnings": [], "sensitivity": {},
        "balance": [{"covariate": "age_at_index", "smd_before": 0.4, "smd_after": 0.16,
                     "variance_ratio_after": 1.1},
                    {"covariate": "sexF", "smd_before": 0.1, "smd_after": 0.01,
                     "variance_ratio_after": None}]})
    Browser(lab).be("analyst")
    text = lab.client.get(f"/submissions/{sid}").text
    assert "(not well balanced)" in text and "No warnings." not in text
    assert "1 characteristic(s) not well balanced after matching" in text


def test_no_warnings_only_when_there_is_nothing_to_check(lab, synthetic_upload, monkeypatch):
    sid = _uploaded(lab, synthetic_upload)
    _with_diagnostics(lab, monkeypatch, sid, {
        "measures": HEADLINE, "warnings": [],
        "balance": [{"covariate": "sexF", "smd_before": 0.1, "smd_after": 0.01,
                     "variance_ratio_after": None}],
        "sensitivity": {"specifications": [_spec("Main analysis", -0.062, -0.11, -0.014),
                                           _spec("Caliper 0.1", -0.05, -0.1, -0.002)]}})
    Browser(lab).be("reviewer")
    text = lab.client.get(f"/submissions/{sid}").text
    assert "No warnings." in text and "(not well balanced)" not in text
    assert "Warning:" not in text


def test_a_headline_of_zero_has_no_direction_to_reverse():
    from jdl.service._web_review import sensitivity_rows

    rows = sensitivity_rows({"measures": {"proven_reoffending_rate": {
        "unit": "proportion", "difference": -5.5e-17, "ci_low": -0.1, "ci_high": 0.1}},
        "sensitivity": {"specifications": [_spec("Caliper 0.1", 0.03, -0.07, 0.13)]}})
    assert rows["headline_text"] == "0.0" and not rows["headline_has_direction"]
    assert not rows["rows"][0]["sign_changed"] and rows["rows"][0]["difference_text"] == "+3.0"


# --- send back and decline -------------------------------------------------------------------

def test_the_reviewer_sends_back_with_a_reason_the_organisation_reads(lab, synthetic_upload):
    sid = _uploaded(lab, synthetic_upload)
    put_in_state(lab, sid, "awaiting_review")
    web = Browser(lab)
    token = web.be("reviewer")
    sent = lab.client.post(f"/submissions/{sid}/send-back", follow_redirects=False,
                           data={"csrf_token": token, "reason": REASON + "\r\nThank you."})
    assert sent.status_code == 303
    web.be("submitter_a")
    page = lab.client.get(f"/submissions/{sid}").text
    assert "The lab has sent this request back to you" in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "Thank you." in page and 'id="withdraw-link"' in page
    body = lab.client.get(f"/api/submissions/{sid}", headers=lab.auth("submitter_a")).json()
    assert body["state"] == "sent_back"
    assert body["events"][-1]["reason"] == REASON + "\nThank you."
    assert body["events"][-1]["user_id"] is None  # the lab's staff stay anonymous
    entry = _audit(lab, "submission.send_back", sid)[-1]
    assert entry.outcome == "allowed" and "script" not in entry.detail  # length, not text
    # an analyst may re-run it (with the organisation's answers), which queues it again
    rerun = lab.client.post(f"/api/submissions/{sid}/rerun", headers=lab.auth("analyst"),
                            json={})
    assert rerun.status_code == 200 and rerun.json()["state"] == "queued"


@pytest.mark.parametrize("reason, message", [
    ("", "Enter the reason for declining."), ("   \n\t ", "Enter the reason for declining."),
    ("\u202e\u0000", "Enter the reason for declining."),
    ("x" * 2001, "Shorten the reason for declining to 2,000 characters or fewer (it has "
                 "2,001)")])
def test_a_missing_or_too_long_reason_is_answered_beside_the_field(lab, synthetic_upload,
                                                                   reason, message):
    sid = _uploaded(lab, synthetic_upload)
    put_in_state(lab, sid, "awaiting_review")
    token = Browser(lab).be("reviewer")
    page = lab.client.post(f"/submissions/{sid}/decline",
                           data={"csrf_token": token, "reason": reason})
    assert page.status_code == 422
    assert f'<a href="#decline_reason">{message}' in page.text
    assert 'id="decline_reason-error"' in page.text
    api = lab.client.post(f"/api/submissions/{sid}/decline", headers=lab.auth("reviewer"),
                          json={"reason": reason})
    assert api.status_code == 422 and api.json()["detail"].startswith(message)
    with lab.sessions() as db:
        assert db.get(Submission, sid).state == "awaiting_review"


def test_control_and_direction_characters_are_removed_from_a_reason():
    from jdl.service._review import clean_reason

    assert clean_reason("  Fix\u202e the dates\u0000\r\n\r\nrows 3-5  ") == \
        "Fix the dates\n\nrows 3-5"


def test_the_reviewer_declines_any_awaiting_answer_with_a_reason(lab, synthetic_upload):
    report, below_minimum = _uploaded(lab, synthetic_upload), _uploaded(lab, synthetic_upload)
    _fake_run(lab, below_minimum, list(range(80)), state="declined")
    for sid in (report, below_minimum):
        put_in_state(lab, sid, "awaiting_review")
        declined = lab.client.post(f"/api/submissions/{sid}/decline",
                                   headers=lab.auth("reviewer"),
                                   json={"reason": "Outside the lab's remit: not a programme "
                                                   "for people with convictions."})
        assert declined.status_code == 200, declined.text
        assert declined.json()["state"] == "declined"
    web = Browser(lab)
    web.be("submitter_a")
    page = lab.client.get(f"/submissions/{report}").text
    assert "The lab has declined this request" in page and "Outside the lab&#39;s remit" in page
    assert "withdraw-link" not in page  # a final answer: nothing to withdraw
    # declined is final: no approval, no second decline, no send back
    for action in ("approve", "decline", "send-back"):
        again = lab.client.post(f"/api/submissions/{report}/{action}",
                                headers=lab.auth("reviewer"), json={"reason": "again"}
                                if action != "approve" else {})
        assert again.status_code == 409, action
    assert _audit(lab, "submission.decline", report)[-1].outcome == "allowed"


# --- roles, organisations and CSRF on every new route ----------------------------------------

NEW_API = ("send-back", "decline", "withdraw")


def test_each_new_action_is_refused_to_the_wrong_role_and_audited(lab, synthetic_upload):
    sid = _uploaded(lab, synthetic_upload)
    put_in_state(lab, sid, "awaiting_review")
    refused = {"submitter_a": ("send-back", "decline"), "analyst": ("decline", "withdraw"),
               "reviewer": ("withdraw",), "admin": ("send-back", "decline", "withdraw")}
    for who, actions in refused.items():
        for action in actions:
            answer = lab.client.post(f"/api/submissions/{sid}/{action}", headers=lab.auth(who),
                                     json={"reason": "a reason"} if action != "withdraw"
                                     else None)
            assert answer.status_code == 403, (who, action, answer.text)
    denied = [e for e in _audit(lab, "submission.decline", sid) if e.outcome == "denied"]
    assert len(denied) == 3
    with lab.sessions() as db:
        assert db.get(Submission, sid).state == "awaiting_review"
    # the page forms: the same refusals, as pages
    web = Browser(lab)
    token = web.be("submitter_a")
    for action in ("send-back", "decline"):
        page = lab.client.post(f"/submissions/{sid}/{action}",
                               data={"csrf_token": token, "reason": "x"})
        assert page.status_code == 403 and "You cannot do this" in page.text
    token = web.be("reviewer")
    assert lab.client.get(f"/submissions/{sid}/withdraw").status_code == 403
    assert lab.client.post(f"/submissions/{sid}/withdraw",
                           data={"csrf_token": token}).status_code == 403


def test_another_organisation_gets_the_answer_for_a_missing_submission(lab, synthetic_upload):
    sid = _uploaded(lab, synthetic_upload)
    put_in_state(lab, sid, "awaiting_review")
    missing = sid + 1000
    for action in NEW_API:
        answers = [lab.client.post(f"/api/submissions/{n}/{action}",
                                   headers=lab.auth("submitter_b"), json={"reason": "r"})
                   for n in (sid, missing)]
        theirs, nobodys = ((a.status_code, a.content) for a in answers)
        assert theirs == nobodys, action
        assert answers[0].status_code in (403, 404)
    assert lab.client.post(f"/api/submissions/{sid}/withdraw",
                           headers=lab.auth("submitter_b")).status_code == 404
    token = Browser(lab).be("submitter_b")
    for method, path in (("GET", "/withdraw"), ("POST", "/withdraw"), ("GET", "/report.html"),
                         ("POST", "/send-back"), ("POST", "/decline")):
        answers = [lab.client.request(method, f"/submissions/{n}{path}",
                                      data={"csrf_token": token, "reason": "r"}
                                      if method == "POST" else None)
                   for n in (sid, missing)]
        assert answers[0].status_code == answers[1].status_code, path
        assert answers[0].status_code in (403, 404), path
    with lab.sessions() as db:
        assert db.get(Submission, sid).state == "awaiting_review"
    assert any(e.outcome == "denied" for e in _audit(lab, "submission.withdraw", sid))


def test_forms_without_the_csrf_token_change_nothing(lab, synthetic_upload):
    sid = _uploaded(lab, synthetic_upload)
    put_in_state(lab, sid, "awaiting_review")
    web = Browser(lab)
    web.be("reviewer")
    for action in ("send-back", "decline"):
        page = lab.client.post(f"/submissions/{sid}/{action}", data={"reason": "r"})
        assert page.status_code == 403 and "This form has expired" in page.text
        page = lab.client.post(f"/submissions/{sid}/{action}",
                               data={"reason": "r", "csrf_token": "forged"})
        assert page.status_code == 403
    web.be("submitter_a")
    assert lab.client.post(f"/submissions/{sid}/withdraw", data={}).status_code == 403
    with lab.sessions() as db:
        assert db.get(Submission, sid).state == "awaiting_review"


# --- withdrawal -------------------------------------------------------------------------------

def test_the_organisation_withdraws_after_a_confirmation_and_its_data_goes(
        lab, synthetic_upload):
    sid = _uploaded(lab, synthetic_upload)  # queued: its job has not started
    folder = submission_dir(Path(lab.settings.service.storage_dir), sid)
    assert (folder / "upload.csv").exists()
    web = Browser(lab)
    token = web.be("submitter_a")
    page = lab.client.get(f"/submissions/{sid}")
    assert f'href="/submissions/{sid}/withdraw"' in page.text
    confirm = lab.client.get(f"/submissions/{sid}/withdraw")
    assert confirm.status_code == 200 and "You cannot undo this" in confirm.text
    with lab.sessions() as db:  # the confirmation page changes nothing
        assert db.get(Submission, sid).state == "queued"
    done = lab.client.post(f"/submissions/{sid}/withdraw", data={"csrf_token": token},
                           follow_redirects=False)
    assert done.status_code == 303
    page = lab.client.get(f"/submissions/{sid}").text
    assert "This request was withdrawn by the organisation" in page
    assert "withdraw-link" not in page
    with lab.sessions() as db:
        row = db.get(Submission, sid)
        assert row.state == "withdrawn" and row.purged_at is not None
        assert [j.state for j in row.jobs] == ["cancelled"]
        # the register can count withdrawn requests: the row and its history stay
        assert [e.state for e in row.events][-1] == "withdrawn"
    assert not (folder / "upload.csv").exists() and not (folder / "programme.json").exists()
    assert claim_next(lab.sessions) is None  # the cancelled job never runs
    assert "1 job(s) cancelled" in _audit(lab, "submission.withdraw", sid)[-1].detail
    # once withdrawn, nothing more: not again, not re-run, not reviewed
    assert lab.client.post(f"/api/submissions/{sid}/withdraw",
                           headers=lab.auth("submitter_a")).status_code == 409
    assert lab.client.post(f"/api/submissions/{sid}/rerun", headers=lab.auth("analyst"),
                           json={}).status_code == 409
    assert lab.client.get(f"/submissions/{sid}/withdraw").status_code == 409


def test_a_published_report_cannot_be_withdrawn_and_a_withdrawn_one_is_never_published(
        lab, synthetic_upload):
    from jdl.service._publication import publish_due

    published, approved = _uploaded(lab, synthetic_upload), _uploaded(lab, synthetic_upload)
    put_in_state(lab, published, "published")
    assert lab.client.post(f"/api/submissions/{published}/withdraw",
                           headers=lab.auth("submitter_a")).status_code == 409
    put_in_state(lab, approved, "approved", embargo_until=utcnow().date() - timedelta(days=1))
    answer = lab.client.post(f"/api/submissions/{approved}/withdraw",
                             headers=lab.auth("submitter_a2"))  # any of the organisation
    assert answer.status_code == 200 and answer.json()["state"] == "withdrawn"
    assert answer.json()["embargo_until"] is None
    assert publish_due(lab.sessions, lab.settings) == []


def test_publication_does_not_publish_a_report_withdrawn_after_the_list_was_read(
        lab, synthetic_upload, monkeypatch):
    """The due list is read, then the organisation withdraws: publication re-reads the state
    under its lock and leaves the request alone."""
    from jdl.service import _publication

    sid = _uploaded(lab, synthetic_upload)
    put_in_state(lab, sid, "approved", embargo_until=utcnow().date())
    folder = _publication._released_folder
    monkeypatch.setattr(_publication, "_released_folder", lambda db, settings, submission: (
        lab.client.post(f"/api/submissions/{sid}/withdraw", headers=lab.auth("submitter_a")),
        Path("."))[1])
    assert _publication.publish_due(lab.sessions, lab.settings) == []
    monkeypatch.setattr(_publication, "_released_folder", folder)
    with lab.sessions() as db:
        assert db.get(Submission, sid).state == "withdrawn"


def test_a_running_job_stops_at_its_next_stage_when_withdrawn(lab, synthetic_upload,
                                                              monkeypatch):
    sid = _uploaded(lab, synthetic_upload)
    started, go_on = threading.Event(), threading.Event()
    reached: list[str] = []

    def evaluation(upload, programme, data_dir, out, *, progress, **_kw):
        progress("validate")
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "partial.txt").write_text("partial output")
        started.set()
        go_on.wait(30)
        progress("link")  # the withdrawal is seen here
        reached.append("link")

    monkeypatch.setattr("jdl.run.run_evaluation", evaluation)
    job_id = claim_next(lab.sessions)
    ran: list[JobState] = []
    worker = threading.Thread(target=lambda: ran.append(
        run_job(lab.sessions, lab.settings, job_id)))
    worker.start()
    assert started.wait(30)
    answer = lab.client.post(f"/api/submissions/{sid}/withdraw", headers=lab.auth("submitter_a"))
    assert answer.status_code == 200, answer.text
    go_on.set()
    worker.join(30)
    assert ran == [JobState.cancelled] and reached == []
    out = job_dir(Path(lab.settings.service.storage_dir), sid, job_id)
    assert not out.exists()
    with lab.sessions() as db:
        assert db.get(Submission, sid).state == "withdrawn"
        assert db.get(Job, job_id).state == "cancelled"


def test_a_job_finishing_after_the_withdrawal_discards_its_result(lab, synthetic_upload,
                                                                  monkeypatch):
    sid = _uploaded(lab, synthetic_upload)

    def evaluation(upload, programme, data_dir, out, *, progress, **_kw):
        progress("report")
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "report.pdf").write_bytes(b"%PDF-1.7 finished")
        (Path(out) / "internal").mkdir(parents=True, exist_ok=True)
        with lab.sessions() as db:  # the organisation withdraws as the run ends
            submission = db.get(Submission, sid)
            from jdl.service._review import withdraw

            withdraw(db, submission, submission.submitted_by)
            db.commit()

    monkeypatch.setattr("jdl.run.run_evaluation", evaluation)
    assert run_once(lab.sessions, lab.settings) == JobState.cancelled
    with lab.sessions() as db:
        row = db.get(Submission, sid)
        assert row.state == "withdrawn" and row.jobs[-1].state == "cancelled"
    assert not job_dir(Path(lab.settings.service.storage_dir), sid, row.jobs[-1].id).exists()


def test_a_request_withdrawn_after_its_results_were_released_stays_in_the_guard(
        lab, synthetic_upload):
    """The organisation had its results, withdrew, and asks again with one person more: the
    differencing guard still compares the two (the withdrawn run's register ids are kept,
    sealed; the rest is deleted)."""
    from jdl.service._guard import differencing_hold

    first, second = _uploaded(lab, synthetic_upload), _uploaded(lab, synthetic_upload)
    people = list(range(100))
    _fake_run(lab, first, people, analysed=people)
    out = job_dir(Path(lab.settings.service.storage_dir), first, 1)
    (out / "report.pdf").write_bytes(b"%PDF")
    put_in_state(lab, first, "approved", approved_by=lab.ids["reviewer"])
    assert lab.client.post(f"/api/submissions/{first}/withdraw",
                           headers=lab.auth("submitter_a")).status_code == 200
    kept = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert kept == ["links.csv.enc", "matched.csv.enc"]
    assert not (submission_dir(Path(lab.settings.service.storage_dir), first)
                / "upload.csv").exists()
    _fake_run(lab, second, [*people, 100], analysed=[*people, 100])
    with lab.sessions() as db:
        reason = differencing_hold(db, lab.settings, db.get(Submission, second),
                                   released_only=True)
    assert reason and f"submission {first}" in reason


def test_a_request_withdrawn_before_release_leaves_nothing_behind(lab, synthetic_upload):
    from jdl.service._guard import differencing_hold

    first, second = _uploaded(lab, synthetic_upload), _uploaded(lab, synthetic_upload)
    people = list(range(100))
    _fake_run(lab, first, people, analysed=people)
    put_in_state(lab, first, "awaiting_review")
    assert lab.client.post(f"/api/submissions/{first}/withdraw",
                           headers=lab.auth("submitter_a")).status_code == 200
    assert not (submission_dir(Path(lab.settings.service.storage_dir), first) / "jobs"
                / "1").exists()
    _fake_run(lab, second, [*people, 100], analysed=[*people, 100])
    with lab.sessions() as db:
        assert differencing_hold(db, lab.settings, db.get(Submission, second)) is None


# --- the state machine and the status --------------------------------------------------------

def test_every_state_has_its_allowed_changes_and_final_states_have_none():
    assert set(TRANSITIONS) == set(SubmissionState)
    for final in ("published", "not_answerable", "declined", "withdrawn"):
        assert TRANSITIONS[SubmissionState(final)] == frozenset()
    assert SubmissionState.withdrawn not in TRANSITIONS[SubmissionState.published]
    for state, allowed in TRANSITIONS.items():
        if state not in (SubmissionState.published, SubmissionState.not_answerable,
                         SubmissionState.declined, SubmissionState.withdrawn):
            assert SubmissionState.withdrawn in allowed, state  # before publication, always


def test_the_status_says_running_while_the_evaluation_runs(lab, synthetic_upload):
    sid = _uploaded(lab, synthetic_upload)
    Browser(lab).be("submitter_a")
    assert 'id="status-tag">queued<' in lab.client.get(f"/submissions/{sid}").text
    with lab.sessions() as db:
        set_state(db, db.get(Submission, sid), SubmissionState.running)
        db.commit()
    # the polled fragment carries the status, so an open page changes from queued to running
    fragment = lab.client.get(f"/submissions/{sid}/progress").text
    assert 'id="status-tag">running<' in fragment
    assert 'id="status-tag">running<' in lab.client.get(f"/submissions/{sid}").text


# --- PostgreSQL: the row locks between withdrawal and publication ------------------------------

@pytest.mark.xdist_group("postgres")
def test_withdrawal_and_publication_on_postgres(tmp_path, synthetic_upload):
    """On the deployment database the withdrawal locks the submission's row and publication
    re-reads it under its lock: a request withdrawn after the day's list was read is not
    published, the migrations' new column holds the reason, and an approved one withdrawn
    before its date never reaches the catalogue."""
    from jdl.service import _publication
    from tests.service.conftest import Lab, make_settings, start_lab
    from tests.service.postgres import postgres_server

    with postgres_server() as url:
        settings = make_settings(tmp_path)
        settings.service.database_url = url
        client, tokens, ids = start_lab(settings)
        with client:
            lab = Lab(client, tokens, ids)
            sent, approved = _uploaded(lab, synthetic_upload), _uploaded(lab, synthetic_upload)
            put_in_state(lab, sent, "awaiting_review")
            answer = lab.client.post(f"/api/submissions/{sent}/send-back",
                                     headers=lab.auth("analyst"), json={"reason": REASON})
            assert answer.status_code == 200 and answer.json()["events"][-1]["reason"] == REASON
            put_in_state(lab, approved, "approved", embargo_until=utcnow().date())
            real_folder = _publication._released_folder

            def withdrawn_meanwhile(db, settings, submission):
                answer = lab.client.post(f"/api/submissions/{approved}/withdraw",
                                         headers=lab.auth("submitter_a"))
                assert answer.status_code == 200, answer.text
                return Path(".")

            _publication._released_folder = withdrawn_meanwhile
            try:
                assert _publication.publish_due(lab.sessions, lab.settings) == []
            finally:
                _publication._released_folder = real_folder
            with lab.sessions() as db:
                assert db.get(Submission, approved).state == "withdrawn"
                assert db.get(Submission, approved).publication_id is None

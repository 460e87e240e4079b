"""The public register through the service (issue 20): replacing a published report goes through
the differencing guard as one published sequence (the one-person differencing attack stays
impossible; a re-analysis with enough new people is published and replaces the old one), the
organisation's response and replacement are set before publication, the lab withdraws a
published report, and every request is counted by outcome for the whole lab only, as at the
end of the last complete month."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from jdl.service._models import AuditEntry, Submission, SubmissionEvent, utcnow
from jdl.service._publication import EntryProblem, publish_due, save_catalogue_request
from jdl.service._storage import job_dir
from tests.catalogue._build import released
from tests.service.test_jobs import _fake_run
from tests.service.test_web import NEW_PASSWORD, csrf, put_in_state, sign_in, signed_in

PEOPLE = list(range(200))


def signed_in_again(lab, who: str) -> None:
    """Sign in with the password chosen at the first sign-in."""
    assert sign_in(lab, who, NEW_PASSWORD).status_code == 303


def _run(lab, synthetic_upload, analysed: list[int], who: str = "submitter_a") -> int:
    """An upload whose finished run analysed ``analysed`` and released a report on them."""
    sid = lab.upload(who, synthetic_upload["upload"], synthetic_upload["programme"]).json()["id"]
    _fake_run(lab, sid, analysed, analysed=analysed)
    with lab.sessions() as db:
        job = db.get(Submission, sid).jobs[-1]
    folder = job_dir(Path(lab.settings.service.storage_dir), sid, job.id)
    results = released(n=len(analysed) // 5 * 5, programme_name="Growing cohort")
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "report.pdf").write_bytes(b"%PDF-1.4\n% stand-in\n%%EOF\n")
    put_in_state(lab, sid, "awaiting_review")
    return sid


def _approve(lab, sid: int):
    return lab.client.post(f"/api/submissions/{sid}/approve", headers=lab.auth("reviewer"),
                           json={"embargo_until": utcnow().date().isoformat()})


def _publish(lab, sid: int) -> int | None:
    assert _approve(lab, sid).status_code == 200
    publish_due(lab.sessions, lab.settings)
    with lab.sessions() as db:
        return db.get(Submission, sid).publication_id


def _replace(lab, sid: int, publication_id: int) -> None:
    with lab.sessions() as db:
        submission = db.get(Submission, sid)
        save_catalogue_request(db, lab.settings, submission, lab.ids["submitter_a"],
                               response=None, supersedes=str(publication_id))
        db.commit()


def test_a_replacement_one_person_larger_is_never_published(lab, synthetic_upload):
    """The differencing attack through a replacement: a report on 200 people is published;
    the organisation asks for a "re-analysis of the growing cohort" with the same upload
    plus one person. Publishing both would give that person's outcome by subtraction, so the
    guard stops it at approval and again at publication, and the old report stands."""
    first = _run(lab, synthetic_upload, PEOPLE)
    old = _publish(lab, first)
    assert old is not None
    attack = _run(lab, synthetic_upload, [*PEOPLE, 999])
    _replace(lab, attack, old)  # the same upload: the row-count rule alone cannot tell
    refused = _approve(lab, attack)
    assert refused.status_code == 409 and "ifferencing" in refused.text
    # even if it were approved (say, before the first was published), publication re-checks
    put_in_state(lab, attack, "approved", approved_by=lab.ids["reviewer"],
                 embargo_until=utcnow().date())
    assert publish_due(lab.sessions, lab.settings) == []
    with lab.sessions() as db:
        row = db.get(Submission, attack)
        assert row.publication_id is None and "differs from this one by 1 people" in (
            row.hold_reason or "")
        denied = db.scalars(select(AuditEntry).where(
            AuditEntry.action == "submission.publish", AuditEntry.submission_id == attack)).all()
        assert [a.outcome for a in denied] == ["denied"]
    page = lab.client.get(f"/catalogue/reports/{old}").text
    assert 'id="replaced"' not in page  # the old report still stands


def test_a_cumulative_reanalysis_with_enough_new_people_replaces_the_old_report(
        lab, synthetic_upload):
    """The growing cohort published as one sequence: 200 people, then the same 200 and 30
    more, then 30 more again; each replacement passes the guard and is linked both ways, and
    a one-person step on top of the latest is still refused."""
    first = _run(lab, synthetic_upload, PEOPLE)
    pub1 = _publish(lab, first)
    second = _run(lab, synthetic_upload, [*PEOPLE, *range(1000, 1030)])
    _replace(lab, second, pub1)
    pub2 = _publish(lab, second)
    assert pub2 is not None and pub2 != pub1
    third = _run(lab, synthetic_upload, [*PEOPLE, *range(1000, 1060)])
    _replace(lab, third, pub2)
    pub3 = _publish(lab, third)
    assert pub3 is not None
    pages = {p: lab.client.get(f"/catalogue/reports/{p}").text for p in (pub1, pub2, pub3)}
    assert f'Replaced by <a href="/catalogue/reports/{pub2}"' in pages[pub1]
    assert f'Replaced by <a href="/catalogue/reports/{pub3}"' in pages[pub2]
    assert f'This report replaces <a href="/catalogue/reports/{pub2}"' in pages[pub3]
    listing = lab.client.get("/catalogue").text
    assert [f'data-id="{p}"' in listing for p in (pub1, pub2, pub3)] == [False, False, True]
    # the sequence continues only by enough people: one more on top of the latest is refused
    step = _run(lab, synthetic_upload, [*PEOPLE, *range(1000, 1061)])
    assert _approve(lab, step).status_code == 409


def test_a_replacement_must_add_none_or_enough_uploaded_rows(lab, synthetic_upload):
    """Decided on the rows the organisation itself sent (so refusing reveals nothing it does
    not know), before any analysis: the same number, or at least ``differencing_min`` more or
    fewer; and only of its own standing report."""
    first = _run(lab, synthetic_upload, PEOPLE)
    old = _publish(lab, first)
    other = _run(lab, synthetic_upload, PEOPLE, who="submitter_b")
    with lab.sessions() as db:
        before = db.get(Submission, first).validation["counts"]["accepted"]
        for added, allowed in ((3, False), (-9, False), (10, True), (0, True), (-10, True)):
            submission = db.get(Submission, other)
            submission.organisation_id = db.get(Submission, first).organisation_id
            submission.validation = {**submission.validation, "counts": {
                **submission.validation["counts"], "accepted": before + added}}
            db.flush()
            if allowed:
                save_catalogue_request(db, lab.settings, submission, 1, response=None,
                                       supersedes=old)
            else:
                with pytest.raises(EntryProblem, match="at least 10 more or fewer"):
                    save_catalogue_request(db, lab.settings, submission, 1, response=None,
                                           supersedes=old)
        db.rollback()
        # an organisation whose name differs only in case is another organisation
        from jdl.service._models import Organisation

        twin = Organisation(name="ORG A")
        db.add(twin)
        db.flush()
        submission = db.get(Submission, other)
        submission.organisation_id = twin.id
        db.flush()
        with pytest.raises(EntryProblem, match="not published from one of your uploads"):
            save_catalogue_request(db, lab.settings, submission, 1, response=None,
                                   supersedes=old)
        db.rollback()
        theirs = _run(lab, synthetic_upload, PEOPLE, who="submitter_b")
        with pytest.raises(EntryProblem, match="no published report"):
            save_catalogue_request(db, lab.settings, db.get(Submission, theirs), 1,
                                   response=None, supersedes=old)


def test_the_organisation_adds_its_response_before_publication(lab, synthetic_upload):
    sid = _run(lab, synthetic_upload, PEOPLE)
    token = signed_in(lab, "submitter_a")
    form = lab.client.get(f"/submissions/{sid}/catalogue-entry")
    assert form.status_code == 200 and "once the lab has approved the report" in form.text
    early = lab.client.post(f"/submissions/{sid}/catalogue-entry", data={
        "csrf_token": token, "response": "Too early.", "supersedes": ""})
    assert early.status_code == 422 and "once the lab has approved" in early.text
    assert _approve(lab, sid).status_code == 200
    leaky = lab.client.post(f"/submissions/{sid}/catalogue-entry", data={
        "csrf_token": token, "response": "Only 4 people dropped out.", "supersedes": ""})
    assert leaky.status_code == 422 and "number of people (4)" in leaky.text
    assert "Only 4 people dropped out." in leaky.text  # kept in the box to correct
    long = lab.client.post(f"/submissions/{sid}/catalogue-entry", data={
        "csrf_token": token, "response": "x" * 3001, "supersedes": ""})
    assert long.status_code == 422 and "3,000 characters" in long.text
    no_token = lab.client.post(f"/submissions/{sid}/catalogue-entry", data={
        "response": "Forged.", "supersedes": ""})
    assert no_token.status_code == 403
    saved = lab.client.post(f"/submissions/{sid}/catalogue-entry", follow_redirects=False,
                            data={"csrf_token": token, "supersedes": "",
                                  "response": "We thank the lab.\nWe will act on this."})
    assert saved.status_code == 303
    assert "your response will be published beside it" in lab.client.get(
        f"/submissions/{sid}").text
    lab.client.cookies.clear()
    signed_in(lab, "reviewer")  # the lab reads it among the text published as written
    lab_page = lab.client.get(f"/submissions/{sid}").text
    assert 'id="pending-response"' in lab_page and "We will act on this." in lab_page
    lab.client.cookies.clear()
    signed_in_again(lab, "submitter_a")
    publish_due(lab.sessions, lab.settings)
    with lab.sessions() as db:
        pid = db.get(Submission, sid).publication_id
    page = lab.client.get(f"/catalogue/reports/{pid}").text
    assert "We thank the lab.\nWe will act on this." in page
    # after publication the entry is fixed
    assert lab.client.get(f"/submissions/{sid}/catalogue-entry").status_code == 409


def test_another_organisation_or_the_lab_cannot_set_the_response(lab, synthetic_upload):
    sid = _run(lab, synthetic_upload, PEOPLE)
    signed_in(lab, "submitter_b")
    assert lab.client.get(f"/submissions/{sid}/catalogue-entry").status_code == 404
    lab.client.cookies.clear()
    signed_in(lab, "analyst")
    assert lab.client.get(f"/submissions/{sid}/catalogue-entry").status_code == 403


def test_only_a_reviewer_or_admin_withdraws_a_published_report(lab, synthetic_upload):
    sid = _run(lab, synthetic_upload, PEOPLE)
    pid = _publish(lab, sid)
    signed_in(lab, "submitter_a")
    assert lab.client.get(f"/catalogue/reports/{pid}/withdraw").status_code == 403
    lab.client.cookies.clear()
    token = signed_in(lab, "reviewer")
    assert "withdraw-publication-link" in lab.client.get(f"/submissions/{sid}").text
    page = lab.client.get(f"/catalogue/reports/{pid}/withdraw")
    assert page.status_code == 200
    token = csrf(page.text)
    empty = lab.client.post(f"/catalogue/reports/{pid}/withdraw",
                            data={"csrf_token": token, "reason": " "})
    assert empty.status_code == 422 and "Enter the reason" in empty.text
    done = lab.client.post(f"/catalogue/reports/{pid}/withdraw", follow_redirects=False,
                           data={"csrf_token": token, "reason": "A linkage error was found."})
    assert done.status_code == 303 and done.headers["location"] == f"/catalogue/reports/{pid}"
    public = lab.client.get(f"/catalogue/reports/{pid}").text
    assert 'id="withdrawn"' in public and "A linkage error was found." in public
    assert lab.client.get(f"/catalogue/reports/{pid}/withdraw").status_code == 409
    with lab.sessions() as db:
        outcomes = db.scalars(select(AuditEntry.outcome).where(
            AuditEntry.action == "publication.withdraw").order_by(AuditEntry.id)).all()
    assert outcomes == ["denied", "allowed"]  # the submitter's attempt, then the reviewer's


# --- the register's counts -------------------------------------------------------------------

def _dated(lab, sid: int, state: str, at: datetime) -> None:
    """Move ``sid`` to ``state`` with its event (and, for a first event, its creation) at
    ``at``."""
    put_in_state(lab, sid, state)
    with lab.sessions() as db:
        event = db.scalars(select(SubmissionEvent).where(SubmissionEvent.submission_id == sid)
                           .order_by(SubmissionEvent.id.desc())).first()
        event.at = at
        submission = db.get(Submission, sid)
        if submission.created_at.replace(tzinfo=UTC) > at:
            submission.created_at = at
            for e in db.scalars(select(SubmissionEvent).where(
                    SubmissionEvent.submission_id == sid)):
                e.at = min(e.at.replace(tzinfo=UTC), at)
        db.commit()


def test_every_request_is_counted_by_outcome_as_at_the_month_end(lab, synthetic_upload):
    from jdl.service._catalogue import register_counts

    october = datetime(2026, 10, 15, tzinfo=UTC)
    ids = [lab.upload("submitter_a" if i % 2 else "submitter_b", synthetic_upload["upload"],
                      synthetic_upload["programme"]).json()["id"] for i in range(6)]
    for sid, state in zip(ids, ("not_answerable", "declined", "withdrawn", "awaiting_review",
                                "approved", "queued"), strict=True):
        _dated(lab, sid, state, october)
    with lab.sessions() as db:
        counts = register_counts(db, today=date(2026, 11, 5))
    assert counts["as_at"] == "2026-10-31"
    assert {k: counts[k] for k in ("published", "not_answerable", "withdrawn", "held",
                                   "requests")} == {"published": 0, "not_answerable": 2,
                                                    "withdrawn": 1, "held": 3, "requests": 6}
    # a request declined in November moves the counts only at the end of November: a total
    # that changed the day after an organisation said it had sent its data would date its
    # outcome
    _dated(lab, ids[3], "declined", datetime(2026, 11, 3, tzinfo=UTC))
    with lab.sessions() as db:
        assert register_counts(db, today=date(2026, 11, 29))["not_answerable"] == 2
        assert register_counts(db, today=date(2026, 12, 1))["not_answerable"] == 3


def test_the_register_is_for_the_whole_lab_only(lab, synthetic_upload):
    """No breakdown by organisation, programme or intervention type anywhere the register is
    published: a cell holding one organisation's declined or withdrawn request would say so."""
    sid = lab.upload("submitter_b", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    _dated(lab, sid, "not_answerable", utcnow() - timedelta(days=70))
    export = lab.client.get("/catalogue/export.json").json()["register"]
    assert set(export) == {"as_at", "as_at_text", "published", "not_answerable", "withdrawn",
                           "held", "requests", "synthetic_seeded", "published_since",
                           "outcomes", "note"}
    assert export["not_answerable"] == 1 and export["requests"] == 1
    page = lab.client.get("/catalogue/summary").text
    register = page[page.index('id="register"'):page.index("</table>",
                                                             page.index('id="table-register"'))]
    assert register.count("<tr data-outcome=") == 5
    programme = synthetic_upload["programme"]["programme_name"]
    assert programme not in register and "Org B" not in register
    assert lab.client.get("/catalogue/register.csv").text.splitlines()[:3] == [
        "outcome,requests", "published,0", "not_answerable,1"]


def test_the_reviewer_is_told_a_held_replacement_is_one_sequence(lab, synthetic_upload):
    first = _run(lab, synthetic_upload, PEOPLE)
    old = _publish(lab, first)
    attack = _run(lab, synthetic_upload, [*PEOPLE, 999])
    _replace(lab, attack, old)
    with lab.sessions() as db:
        from jdl.service._guard import differencing_hold

        submission = db.get(Submission, attack)
        submission.hold_reason = differencing_hold(db, lab.settings, submission)
        db.commit()
    signed_in(lab, "reviewer")
    page = lab.client.get(f"/submissions/{attack}").text
    assert f"replace report {old}. The two are one published sequence" in page
    lab.client.cookies.clear()
    signed_in(lab, "submitter_a")  # the organisation sees nothing of it
    own = lab.client.get(f"/submissions/{attack}").text
    assert "one published sequence" not in own and "ifferencing" not in own

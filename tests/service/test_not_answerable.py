"""A request below the lab's minimum criteria is recorded as "could not be answered" (issue 18,
build 4): the job is declined, not failed, and the submission shows the plain explanation once
a reviewer has confirmed it. Whether a request is answered can turn on one person, so a decline
is reviewed, and guarded against near-duplicate requests, like a report."""

from __future__ import annotations

import pytest

from jdl.evaluation import CouldNotBeAnswered
from jdl.service._jobs import run_once
from jdl.service._models import SubmissionState
from tests.service.test_api import force_state
from tests.service.test_jobs import _fake_run
from tests.service.test_web import signed_in

MESSAGE = ("This request could not be answered: fewer than 60 of the people submitted could "
           "be matched to similar people in the national records.")


def test_a_request_below_the_minimum_is_recorded_as_could_not_be_answered(
        lab, synthetic_upload, monkeypatch):
    def below_minimum(*_args, **_kwargs):
        raise CouldNotBeAnswered(MESSAGE, n=42, minimum=60, stage="matched")

    monkeypatch.setattr("jdl.run.run_evaluation", below_minimum)
    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    assert run_once(lab.sessions, lab.settings).value == "declined"
    # until a reviewer confirms it, the organisation sees what any finished run shows
    body = lab.client.get(f"/api/submissions/{sid}", headers=lab.auth("submitter_a")).json()
    assert body["state"] == "awaiting_review"
    assert (body["jobs"][0]["state"], body["jobs"][0]["error"]) == ("done", None)
    lab_view = lab.client.get(f"/api/submissions/{sid}", headers=lab.auth("analyst")).json()
    assert (lab_view["jobs"][0]["state"], lab_view["jobs"][0]["error"]) == ("declined", MESSAGE)
    confirmed = lab.client.post(f"/api/submissions/{sid}/approve", headers=lab.auth("reviewer"))
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["embargo_until"] is None  # no report, nothing to publish
    body = lab.client.get(f"/api/submissions/{sid}", headers=lab.auth("submitter_a")).json()
    assert body["state"] == "not_answerable"
    assert body["jobs"][0]["state"] == "declined"
    assert body["jobs"][0]["error"] == MESSAGE  # the plain reason; the exact count is not in it
    assert "42" not in body["jobs"][0]["error"]
    signed_in(lab, "submitter_a")
    page = lab.client.get(f"/submissions/{sid}")
    assert "not answerable" in page.text
    assert "This request could not be answered: fewer than 60" in page.text


@pytest.mark.parametrize("first_state, second_state", [
    ("done", "declined"), ("declined", "done"), ("declined", "declined")])
def test_a_decline_that_differs_by_one_person_is_held_by_the_guard(
        lab, synthetic_upload, first_state, second_state):
    """Answered with a person, declined without them (or the other way round): together they
    say whether that person was counted. The guard compares the linked people whenever one
    side is a decline (a declined run has no analysed group)."""
    first, near, far = (lab.upload("submitter_a", synthetic_upload["upload"],
                                   synthetic_upload["programme"]).json()["id"]
                        for _ in range(3))
    analysed = list(range(70)) if first_state == "done" else None
    assert _fake_run(lab, first, list(range(100)), analysed, first_state) is None
    near_analysed = list(range(69)) if second_state == "done" else None
    reason = _fake_run(lab, near, list(range(99)), near_analysed, second_state)
    assert reason is not None and f"submission {first}" in reason
    assert _fake_run(lab, far, list(range(500, 600)), None, second_state) is None


def test_confirming_a_decline_is_not_blocked_by_an_answered_near_duplicate(lab,
                                                                           synthetic_upload):
    """An answered request and a declined one that differ by one linked person: the guard
    notes it for the reviewer but does not block the confirmation (nor the approval of the
    answered one beside a confirmed decline). A block would be seen by the organisation as a
    refusal exactly when the person it removed has a record, so the block itself would tell
    it what the decision no longer does (the answer band, jdl.disclosure._decision)."""
    answered, declined, other = (lab.upload("submitter_a", synthetic_upload["upload"],
                                            synthetic_upload["programme"]).json()["id"]
                                 for _ in range(3))
    _fake_run(lab, answered, list(range(100)), list(range(70)))
    note = _fake_run(lab, declined, list(range(99)), None, "declined")
    assert note is not None and f"submission {answered}" in note  # the reviewer is told
    # a third request, answered, one person away from the first answer
    _fake_run(lab, other, list(range(101)), list(range(71)))
    for sid in (answered, declined, other):
        force_state(lab, sid, SubmissionState.awaiting_review)
    assert lab.client.post(f"/api/submissions/{answered}/approve",
                           headers=lab.auth("reviewer")).status_code == 200
    confirmed = lab.client.post(f"/api/submissions/{declined}/approve",
                                headers=lab.auth("reviewer"))
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "not_answerable"
    # two answers one person apart are still refused: their numbers could be subtracted
    refused = lab.client.post(f"/api/submissions/{other}/approve", headers=lab.auth("reviewer"))
    assert refused.status_code == 409 and "Differencing guard" in refused.json()["detail"]
    assert f"submission {declined}" not in refused.json()["detail"]


def test_a_service_job_draws_with_a_secret_derived_from_the_encryption_key(lab):
    """Without a secret the draw would be reproducible from the code: an attacker could pick
    the variant of an upload whose threshold sits exactly on its count."""
    from jdl.service._crypto import decision_key
    from jdl.service._jobs import _with_decision_key

    keyed = _with_decision_key(lab.settings)
    assert keyed.disclosure.decision_key == decision_key(lab.settings.service)
    assert len(keyed.disclosure.decision_key) == 64
    assert lab.settings.service.encryption_key is None or \
        lab.settings.service.encryption_key not in keyed.disclosure.decision_key
    chosen = lab.settings.model_copy(update={"disclosure": lab.settings.disclosure.model_copy(
        update={"decision_key": "the lab's own"})})
    assert _with_decision_key(chosen).disclosure.decision_key == "the lab's own"
    assert "decision_key" not in keyed.analysis()["disclosure"]  # not in the config hash

"""A request below the lab's minimum criteria is recorded as "could not be answered" (issue 18,
build 4): the job is declined, not failed, and the submission shows the plain explanation."""

from __future__ import annotations

from jdl.evaluation import CouldNotBeAnswered
from jdl.service._jobs import run_once
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
    body = lab.client.get(f"/api/submissions/{sid}", headers=lab.auth("submitter_a")).json()
    assert body["state"] == "not_answerable"
    assert body["jobs"][0]["state"] == "declined"
    assert body["jobs"][0]["error"] == MESSAGE  # the plain reason; the exact count is not in it
    assert "42" not in body["jobs"][0]["error"]
    signed_in(lab, "submitter_a")
    page = lab.client.get(f"/submissions/{sid}")
    assert "not answerable" in page.text
    assert "This request could not be answered: fewer than 60" in page.text

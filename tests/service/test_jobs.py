"""Jobs: a queued job runs to done on synthetic records, the organisation gets its report only
after approval, failures are recorded, and a job left running by a dead process is re-queued."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from jdl.service._jobs import Worker, claim_next, recover, run_once
from jdl.service._models import AuditEntry, Job, Submission, SubmissionState
from jdl.service._storage import job_dir
from tests.service.conftest import Lab, make_settings, start_lab
from tests.service.test_web import signed_in


@pytest.fixture
def data_lab(tmp_path, synthetic_data_dir):
    passwords: dict[str, str] = {}
    client, tokens, ids = start_lab(make_settings(tmp_path, synthetic_data_dir), passwords)
    with client:
        yield Lab(client, tokens, ids, passwords)


def test_queued_job_runs_to_done_and_report_is_released_after_approval(
        data_lab, synthetic_upload):
    lab = data_lab
    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    assert run_once(lab.sessions, lab.settings).value == "done"
    body = lab.client.get(f"/api/submissions/{sid}", headers=lab.auth("submitter_a")).json()
    assert body["state"] == "awaiting_review"
    assert [e["state"] for e in body["events"]] == ["queued", "running", "awaiting_review"]
    job = body["jobs"][0]
    assert job["state"] == "done" and job["stage"] == "report" and job["attempts"] == 1
    assert job["started_at"] <= job["finished_at"]
    assert job["finished_at"].endswith("Z") or job["finished_at"].endswith("+00:00")
    # the analyst and reviewer look before release; the organisation waits
    results = lab.client.get(f"/api/submissions/{sid}/results.json", headers=lab.auth("analyst"))
    assert results.status_code == 200 and "headline_measures" in results.json()
    pdf_url = f"/api/submissions/{sid}/report.pdf"
    assert lab.client.get(pdf_url, headers=lab.auth("submitter_a")).status_code == 409
    approve = lab.client.post(f"/api/submissions/{sid}/approve", headers=lab.auth("reviewer"))
    assert approve.status_code == 200
    pdf = lab.client.get(pdf_url, headers=lab.auth("submitter_a"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    released = lab.client.get(f"/api/submissions/{sid}/results.json",
                              headers=lab.auth("submitter_a2"))
    assert released.json() == results.json()
    diagnostics = lab.client.get(f"/api/submissions/{sid}/diagnostics",
                                 headers=lab.auth("reviewer"))
    assert diagnostics.status_code == 200
    assert diagnostics.json()["counts"]["linked"] > 0 and "balance" in diagnostics.json()
    own = lab.client.get(f"/api/submissions/{sid}/diagnostics", headers=lab.auth("submitter_a"))
    assert own.status_code == 403
    with lab.sessions() as db:
        actions = set(db.scalars(select(AuditEntry.action)
                                 .where(AuditEntry.submission_id == sid)))
    assert {"submission.upload", "job.run", "results.download", "report.download",
            "submission.approve", "diagnostics.view"} <= actions
    signed_in(lab, "analyst")  # the lab's page shows the diagnostics
    page = lab.client.get(f"/submissions/{sid}")
    assert "Diagnostics (lab only)" in page.text and "linked by id" in page.text
    assert run_once(lab.sessions, lab.settings) is None  # queue empty
    # the lab-internal outputs are kept encrypted; the released ones are not
    job_folder = lab.settings.service.storage_dir / f"submission-{sid}" / "jobs" / str(job["id"])
    internal = sorted(p.name for p in (job_folder / "internal").iterdir())
    assert internal and all(name.endswith(".enc") for name in internal)
    assert "links.csv.enc" in internal and "raw_results.json.enc" in internal
    assert (job_folder / "results.json").is_file()


def test_failed_job_is_recorded_without_a_traceback(lab, synthetic_upload):
    # `lab` points at a data directory that does not exist: the evaluation must fail cleanly
    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    assert run_once(lab.sessions, lab.settings).value == "failed"
    body = lab.client.get(f"/api/submissions/{sid}", headers=lab.auth("analyst")).json()
    assert body["state"] == "failed"
    assert body["jobs"][0]["error"] and "Traceback" not in body["jobs"][0]["error"]


def test_job_left_running_is_requeued_on_restart(lab, synthetic_upload):
    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    job_id = claim_next(lab.sessions)  # a worker claims it ... and the process dies
    assert claim_next(lab.sessions) is None
    assert recover(lab.sessions, stale_seconds=60) == 0  # its heartbeat is fresh: alive
    assert recover(lab.sessions, stale_seconds=0) == 1
    with lab.sessions() as db:
        job = db.get(Job, job_id)
        assert job.state == "queued" and job.attempts == 1
        assert db.get(Submission, sid).state == "queued"
    assert claim_next(lab.sessions) == job_id  # picked up again, nothing lost


def test_two_claims_never_take_the_same_job(lab, synthetic_upload):
    for _ in range(2):
        lab.upload("submitter_a", synthetic_upload["upload"], synthetic_upload["programme"])
    first, second = claim_next(lab.sessions), claim_next(lab.sessions)
    assert first != second and None not in (first, second)
    assert claim_next(lab.sessions) is None


def test_worker_thread_runs_queued_jobs(lab, synthetic_upload):
    lab.upload("submitter_a", synthetic_upload["upload"], synthetic_upload["programme"])
    lab.settings.service.worker_poll_seconds = 0.05
    worker = Worker(lab.sessions, lab.settings)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with lab.sessions() as db:
                states = set(db.scalars(select(Job.state)))
            if states <= {"done", "failed"}:
                break
            time.sleep(0.05)
    finally:
        worker.stop(timeout=30)
    assert states == {"failed"}  # no data directory here: it ran and failed cleanly


@pytest.mark.slow
def test_near_duplicate_cohort_is_flagged_to_the_lab_only(data_lab, synthetic_upload, tmp_path):
    lab = data_lab
    first = lab.upload("submitter_a", synthetic_upload["upload"],
                       synthetic_upload["programme"]).json()["id"]
    assert run_once(lab.sessions, lab.settings).value == "done"
    lines = synthetic_upload["upload"].read_text().splitlines()
    analysed = _analysed_rows(lab, first)
    fewer = tmp_path / "fewer.csv"  # the same people but three the first report analysed
    fewer.write_text("\n".join(line for number, line in enumerate(lines, start=1)
                               if number not in analysed[:3]) + "\n")
    second = lab.upload("submitter_a", fewer, synthetic_upload["programme"]).json()["id"]
    assert run_once(lab.sessions, lab.settings).value == "done"
    url = f"/api/submissions/{second}"
    body = lab.client.get(url, headers=lab.auth("submitter_a")).json()
    assert body["state"] == "awaiting_review" and "hold_reason" not in body
    diagnostics = lab.client.get(f"{url}/diagnostics", headers=lab.auth("analyst")).json()
    assert lab.client.get(f"{url}/diagnostics",
                          headers=lab.auth("submitter_a")).status_code == 403
    # removing three analysed people re-fits the propensity model, so the matched groups may
    # churn by more than the guard's minimum; the property is: a pair of releases whose
    # analysed groups differ by 1 to 9 people is always flagged, and never both approved
    groups = [_analysed_people(lab, sid) for sid in (first, second)]
    differ = len(groups[0] ^ groups[1])
    assert differ > 0
    if differ >= lab.settings.disclosure.differencing_min:
        assert diagnostics["differencing"] is None
        return
    assert f"submission {first}" in diagnostics["differencing"]
    assert lab.client.post(f"/api/submissions/{first}/approve",
                           headers=lab.auth("reviewer")).status_code == 200
    assert lab.client.post(f"{url}/approve", headers=lab.auth("reviewer")).status_code == 409


def _analysed_people(lab, submission_id: int) -> set[str]:
    from jdl.service._guard import analysed_person_ids

    with lab.sessions() as db:
        job_id = db.get(Submission, submission_id).latest_done_job.id
    service = lab.settings.service
    return analysed_person_ids(service, job_dir(service.storage_dir, submission_id, job_id))


def _analysed_rows(lab, submission_id: int) -> list[int]:
    """The file's row numbers (the header is row 1) of the people the submission's run
    analysed: removing rows that were never linked or matched would not change the report."""
    import csv
    import io

    from jdl.service._crypto import read_sealed
    from jdl.service._guard import analysed_person_ids

    with lab.sessions() as db:
        job_id = db.get(Submission, submission_id).latest_done_job.id
    out = job_dir(lab.settings.service.storage_dir, submission_id, job_id)
    analysed = analysed_person_ids(lab.settings.service, out)
    links = read_sealed(lab.settings.service, out / "internal" / "links.csv").decode()
    return sorted(int(row["row_number"]) for row in csv.DictReader(io.StringIO(links))
                  if row.get("person_id") in analysed)


def _fake_run(lab, submission_id: int, person_ids: list[int],
              analysed: list[int] | None = None, state: str = "done") -> str | None:
    """A finished job (``state`` done or declined) whose links.csv holds ``person_ids`` and,
    with ``analysed``, whose matched.csv holds those as the treatment group (no evaluation
    needed)."""
    from jdl.service._crypto import seal_folder
    from jdl.service._guard import differencing_hold, linked_person_ids
    from jdl.service._storage import job_dir

    with lab.sessions() as db:
        job = db.scalar(select(Job).where(Job.submission_id == submission_id))
        job.state = state
        folder = job_dir(lab.settings.service.storage_dir, submission_id, job.id) / "internal"
        folder.mkdir(parents=True)
        rows = [f"{i + 2},{pid},1.0,id" for i, pid in enumerate(person_ids)]
        (folder / "links.csv").write_text("\n".join(
            ["row_number,person_id,match_probability,method", *rows, "99,,0.1,none"]) + "\n")
        if analysed is not None:
            matched = [f"{pid},{i},1,1.0,{i}" for i, pid in enumerate(analysed)]
            matched += [f"C{pid},{i},0,1.0,{i}" for i, pid in enumerate(analysed)]
            (folder / "matched.csv").write_text("\n".join(
                ["person_id,event_id,treated,weights,subclass", *matched]) + "\n")
        seal_folder(lab.settings.service, folder)  # as a finished job leaves it
        assert not (folder / "links.csv").exists()
        assert linked_person_ids(lab.settings.service, folder.parent) == {
            str(p) for p in person_ids}
        reason = differencing_hold(db, lab.settings, db.get(Submission, submission_id), job)
        db.commit()
    return reason


@pytest.mark.parametrize("second, held", [
    (range(100), False),        # identical: nothing new to learn
    (range(97), True),          # three people fewer
    (range(100, 200), False),   # a different cohort
    (range(85), False),         # fifteen fewer: at or above the threshold (10)
])
def test_differencing_guard(lab, synthetic_upload, second, held):
    ids = [lab.upload("submitter_a", synthetic_upload["upload"],
                      synthetic_upload["programme"]).json()["id"] for _ in range(2)]
    assert _fake_run(lab, ids[0], list(range(100))) is None
    reason = _fake_run(lab, ids[1], list(second))
    assert (reason is not None) == held
    if held:
        assert f"submission {ids[0]}" in reason


def test_differencing_guard_compares_every_organisation(lab, synthetic_upload):
    a = lab.upload("submitter_a", synthetic_upload["upload"],
                   synthetic_upload["programme"]).json()["id"]
    b = lab.upload("submitter_b", synthetic_upload["upload"],
                   synthetic_upload["programme"]).json()["id"]
    assert _fake_run(lab, a, list(range(100))) is None
    reason = _fake_run(lab, b, list(range(99)))
    assert reason is not None and f"submission {a}" in reason


def test_differencing_guard_compares_analysed_groups_not_linked_people(lab, synthetic_upload):
    """Padding: nine linkable but ineligible people make the linked sets differ by 10 while
    the analysed groups differ by one."""
    a = lab.upload("submitter_a", synthetic_upload["upload"],
                   synthetic_upload["programme"]).json()["id"]
    b = lab.upload("submitter_b", synthetic_upload["upload"],
                   synthetic_upload["programme"]).json()["id"]
    assert _fake_run(lab, a, list(range(100)), analysed=list(range(80))) is None
    padded = [*range(100), *range(1000, 1010)]
    reason = _fake_run(lab, b, padded, analysed=[*range(80), 1000])
    assert reason is not None and "1 people" in reason


def test_the_organisation_sees_the_same_whatever_the_guard_decides(lab, synthetic_upload):
    """Issue 15, attack 2: the guard's decision and reason are lab-internal. A near-duplicate
    and an unrelated cohort look the same to their organisation; approval is refused (to the
    lab reviewer) only while the other is released."""
    from jdl.service._jobs import set_state

    first = lab.upload("submitter_a", synthetic_upload["upload"],
                       synthetic_upload["programme"]).json()["id"]
    near = lab.upload("submitter_b", synthetic_upload["upload"],
                      synthetic_upload["programme"]).json()["id"]
    far = lab.upload("submitter_b", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    _fake_run(lab, first, list(range(100)))
    assert _fake_run(lab, near, list(range(101))) is not None
    assert _fake_run(lab, far, list(range(500, 600))) is None
    with lab.sessions() as db:
        for sid in (first, near, far):
            set_state(db, db.get(Submission, sid), SubmissionState.awaiting_review)
        db.commit()
    seen = [lab.client.get(f"/api/submissions/{sid}", headers=lab.auth("submitter_b")).json()
            for sid in (near, far)]
    assert [s["state"] for s in seen] == ["awaiting_review", "awaiting_review"]
    assert all("hold_reason" not in s and "ifferencing" not in json.dumps(s) for s in seen)
    signed_in(lab, "submitter_b")
    pages = [lab.client.get(f"/submissions/{sid}").text for sid in (near, far)]
    assert all("ifferencing" not in page for page in pages)
    lab.client.cookies.clear()
    # the first is approved; the near one can then not be (serialised check at approval)
    assert lab.client.post(f"/api/submissions/{first}/approve",
                           headers=lab.auth("reviewer")).status_code == 200
    refused = lab.client.post(f"/api/submissions/{near}/approve", headers=lab.auth("reviewer"))
    assert refused.status_code == 409 and "ifferencing" in refused.text
    assert lab.client.post(f"/api/submissions/{far}/approve",
                           headers=lab.auth("reviewer")).status_code == 200
    after = lab.client.get(f"/api/submissions/{near}", headers=lab.auth("submitter_b")).json()
    assert after["state"] == "awaiting_review"


class _Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so the worker cannot record an ending."""


def test_killed_job_resumes_from_its_last_completed_stage(data_lab, synthetic_upload,
                                                         monkeypatch):
    lab = data_lab
    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]

    def killed_while_matching(*_args, **_kwargs):
        raise _Killed

    monkeypatch.setattr("jdl.evaluation._evaluate._design", killed_while_matching)
    with pytest.raises(_Killed):
        run_once(lab.sessions, lab.settings)
    with lab.sessions() as db:
        job = db.scalars(select(Job).where(Job.submission_id == sid)).one()
        assert (job.state, job.stage) == ("running", "match")
        folder = lab.settings.service.storage_dir / f"submission-{sid}" / "jobs" / str(job.id)
    saved = sorted(p.name for p in (folder / "checkpoints").iterdir())
    assert saved == ["cohort.bin", "link.bin"]
    # encrypted: nothing of the upload's names is readable in the checkpoint
    surname = synthetic_upload["upload"].read_text().splitlines()[1].split(",")[1]
    assert surname.encode() not in (folder / "checkpoints" / "link.bin").read_bytes()
    monkeypatch.undo()

    def no_second_linkage(*_args, **_kwargs):
        raise AssertionError("linkage ran again although its output was saved")

    monkeypatch.setattr("jdl.linkage.link_submission", no_second_linkage)
    monkeypatch.setattr("jdl.evaluation._evaluate._cohort_and_pool", no_second_linkage)
    # the linkage-threshold sensitivity rows build cohorts for *other* thresholds by design;
    # here only the main analysis's resumption is under test
    monkeypatch.setattr("jdl.evaluation._evaluate._with_linkage_thresholds",
                        lambda sensitivity, *_args, **_kwargs: sensitivity)
    assert recover(lab.sessions, stale_seconds=0) == 1
    assert run_once(lab.sessions, lab.settings).value == "done"
    body = lab.client.get(f"/api/submissions/{sid}", headers=lab.auth("analyst")).json()
    job = body["jobs"][0]
    assert (job["state"], job["attempts"], job["resumed_from"]) == ("done", 2, "cohort")
    assert body["state"] == "awaiting_review"
    assert not (folder / "checkpoints").exists()  # personal data gone with the job
    results = lab.client.get(f"/api/submissions/{sid}/results.json", headers=lab.auth("analyst"))
    assert results.status_code == 200 and "headline_measures" in results.json()


def test_organisation_reads_the_labs_wording_not_the_error_or_lab_staff(lab, synthetic_upload):
    """An error message is written for the lab's analyst (it may name a setting, a column or a
    count); the organisation reads the lab's fixed sentence, and lab staff appear as null."""
    from jdl.service._schemas import ORGANISATION_JOB_ERROR

    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    assert run_once(lab.sessions, lab.settings).value == "failed"
    rerun = lab.client.post(f"/api/submissions/{sid}/rerun", headers=lab.auth("analyst"),
                            json={"settings": {}})
    assert rerun.status_code == 200, rerun.text
    assert run_once(lab.sessions, lab.settings).value == "failed"
    lab_view = lab.client.get(f"/api/submissions/{sid}", headers=lab.auth("analyst")).json()
    org_view = lab.client.get(f"/api/submissions/{sid}", headers=lab.auth("submitter_a")).json()
    assert lab_view["jobs"][0]["error"] != ORGANISATION_JOB_ERROR
    assert [job["error"] for job in org_view["jobs"]] == [ORGANISATION_JOB_ERROR] * 2
    assert [job["requested_by"] for job in lab_view["jobs"]] == [lab.ids["submitter_a"],
                                                                 lab.ids["analyst"]]
    assert [job["requested_by"] for job in org_view["jobs"]] == [lab.ids["submitter_a"], None]
    assert lab.ids["analyst"] not in {e["user_id"] for e in org_view["events"]}
    assert lab.ids["analyst"] in {e["user_id"] for e in lab_view["events"]}
    signed_in(lab, "submitter_a")
    page = lab.client.get(f"/submissions/{sid}")
    assert page.status_code == 200 and "could not be completed" in page.text
    assert lab_view["jobs"][0]["error"] not in page.text

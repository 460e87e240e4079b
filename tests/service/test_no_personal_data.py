"""No personal data in logs, job errors or the audit log: a job that dies on an exception whose
message quotes the upload's names and dates, and a job that succeeds, leave no trace of them."""

from __future__ import annotations

import csv
import logging

from sqlalchemy import select

from jdl.service._jobs import run_once
from jdl.service._models import AuditEntry, Job
from tests.service.test_jobs import data_lab  # noqa: F401  (fixture)


def _identifiers(upload) -> set[str]:
    """Names (of five letters or more, so that no ordinary word matches by chance) and dates of
    birth as typed in the upload."""
    with open(upload, newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = {row[col].strip() for row in rows for col in ("forename", "surname")}
    dobs = {row["date_of_birth"].strip() for row in rows}
    return {n for n in names if len(n) >= 5} | {d for d in dobs if d}


def _everything_written(lab, caplog) -> str:
    with lab.sessions() as db:
        errors = [job.error or "" for job in db.scalars(select(Job))]
        audit = [f"{a.action} {a.detail or ''} {a.client or ''}"
                 for a in db.scalars(select(AuditEntry))]
    return "\n".join([caplog.text, *errors, *audit])


def test_a_crash_quoting_personal_data_leaves_none_in_logs_errors_or_audit(
        data_lab, synthetic_upload, monkeypatch, caplog):  # noqa: F811
    lab = data_lab
    identifiers = _identifiers(synthetic_upload["upload"])
    with open(synthetic_upload["upload"], newline="") as fh:
        first = next(csv.DictReader(fh))

    def crash(rows, *_args, **_kwargs):
        raise ValueError(f"cannot link {first['forename']} {first['surname']} "
                         f"born {first['date_of_birth']} ({len(rows)} rows)")

    monkeypatch.setattr("jdl.linkage.link_submission", crash)
    caplog.set_level(logging.DEBUG)
    lab.upload("submitter_a", synthetic_upload["upload"], synthetic_upload["programme"])
    assert run_once(lab.sessions, lab.settings).value == "failed"
    written = _everything_written(lab, caplog)
    assert "internal error ValueError at test_no_personal_data.py" in caplog.text
    leaked = sorted(i for i in identifiers if i in written)
    assert leaked == []


def test_a_successful_job_logs_no_personal_data(data_lab, synthetic_upload, caplog):  # noqa: F811
    lab = data_lab
    identifiers = _identifiers(synthetic_upload["upload"])
    caplog.set_level(logging.DEBUG)
    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    assert run_once(lab.sessions, lab.settings).value == "done"
    lab.client.get(f"/api/submissions/{sid}/diagnostics", headers=lab.auth("analyst"))
    written = _everything_written(lab, caplog)
    assert caplog.records  # the run did log (Splink, the worker): the check is not vacuous
    assert sorted(i for i in identifiers if i in written) == []

"""Retention: uploads are deleted once their retention period after the last completed run has
passed; reports and link tables stay, re-runs are refused, the purge is audited."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from jdl.service._models import AuditEntry, Job, Submission, utcnow
from jdl.service._retention import purge_expired
from jdl.service._storage import submission_dir


def _finished(lab, submission_id: int, days_ago: float, state: str = "awaiting_review") -> None:
    with lab.sessions() as db:
        job = db.scalar(select(Job).where(Job.submission_id == submission_id))
        job.state, job.finished_at = "done", utcnow() - timedelta(days=days_ago)
        db.get(Submission, submission_id).state = state
        db.commit()


def test_uploads_are_purged_after_the_retention_period(lab, synthetic_upload):
    ids = [lab.upload("submitter_a", synthetic_upload["upload"],
                      synthetic_upload["programme"]).json()["id"] for _ in range(3)]
    lab.settings.service.upload_retention_days = 30
    _finished(lab, ids[0], days_ago=31)
    _finished(lab, ids[1], days_ago=29)  # still within the period; ids[2] never ran
    files = [submission_dir(lab.settings.service.storage_dir, i) / "upload.csv" for i in ids]
    assert all(f.exists() for f in files)
    assert purge_expired(lab.sessions, lab.settings) == 1
    assert [f.exists() for f in files] == [False, True, True]
    assert purge_expired(lab.sessions, lab.settings) == 0  # once only
    body = lab.client.get(f"/api/submissions/{ids[0]}", headers=lab.auth("submitter_a")).json()
    assert body["purged_at"] is not None
    rerun = lab.client.post(f"/api/submissions/{ids[0]}/rerun", headers=lab.auth("analyst"),
                            json={})
    assert rerun.status_code == 409 and "retention" in rerun.json()["detail"]
    with lab.sessions() as db:
        entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "upload.purged"))
        assert [e.submission_id for e in entries] == [ids[0]]


def test_admin_purge_command(lab, synthetic_upload, monkeypatch, capsys):
    import pytest

    from jdl.cli import main
    from jdl.core.config import get_settings

    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    _finished(lab, sid, days_ago=1)
    service = lab.settings.service
    monkeypatch.setenv("JDL_SERVICE__DATABASE_URL", service.database_url)
    monkeypatch.setenv("JDL_SERVICE__STORAGE_DIR", str(service.storage_dir))
    monkeypatch.setenv("JDL_SERVICE__UPLOAD_RETENTION_DAYS", "0")
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exit_:
            main(["admin", "purge"])
        assert exit_.value.code == 0
    finally:
        get_settings.cache_clear()
    assert "Deleted 1 upload(s)" in capsys.readouterr().out

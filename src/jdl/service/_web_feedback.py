"""The organisation's list of problem rows, as a CSV it downloads from the upload's feedback.

The list holds the organisation's own identifiers (row numbers, and each problem cell as it
was sent), so it is never stored in clear:

- a **refused** upload's file is deleted at once; its problem rows are kept encrypted (the
  uploads' stream encryption) in ``<storage>/incoming/`` for :data:`KEEP_SECONDS`, under a
  random name the uploader's signed session cookie carries, for that user only; they are
  decrypted in memory when downloaded, and deleted when they expire (and at start-up, if the
  process that wrote them has stopped);
- an **accepted** upload is kept encrypted until the retention period ends, so its list is
  built on request: the upload decrypted into a private working folder, validated again as on
  the day it was received, the CSV made in memory, the folder deleted. After the upload is
  purged the list is no longer available.

Only the uploading organisation's users can download either (the lab has its own views).
"""

from __future__ import annotations

import secrets
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from jdl.core.config import Settings
from jdl.service._audit import record
from jdl.service._crypto import EncryptingWriter, decrypt_stream
from jdl.service._deps import PageRefused, PageUserDep, SessionDep, SettingsDep
from jdl.service._models import Submission, User
from jdl.service._storage import owned, private_dir, submission_dir

router = APIRouter(include_in_schema=False)

#: How long a refused upload's problem rows can be downloaded.
KEEP_SECONDS = 3600
SESSION_KEY = "problems"
_PREFIX = "problems-"


def _path(storage: Path, user_id: int, token: str) -> Path:
    return owned(storage, "incoming", f"{_PREFIX}{user_id}-{token}.enc")


def _expire(storage: Path, now: float | None = None) -> None:
    """Delete every kept problem list past :data:`KEEP_SECONDS` (whoever wrote it)."""
    now = time.time() if now is None else now
    for path in (private_dir(Path(storage) / "incoming")).glob(f"*+{_PREFIX}*.enc"):
        try:
            if now - path.stat().st_mtime > KEEP_SECONDS:
                path.unlink(missing_ok=True)
        except OSError:
            continue


def keep_refused_problems(settings: Settings, user: User, checked: Any) -> str | None:
    """Encrypt a refused upload's problem rows into ``incoming/``; returns the token for the
    session (``None`` when there are no row problems to list)."""
    from jdl.intake._feedback import problem_rows_csv

    if checked.issues["row_number"].notna().sum() == 0:
        return None
    storage = Path(settings.service.storage_dir)
    _expire(storage)
    token = secrets.token_urlsafe(16)
    writer = EncryptingWriter(settings.service, _path(storage, user.id, token))
    try:
        writer.write(problem_rows_csv(checked))
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return token


def _csv(data: bytes, name: str) -> Response:
    return Response(data, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.get("/upload/problems.csv")
def refused_problems(request: Request, db: SessionDep, settings: SettingsDep,
                     user: PageUserDep) -> Response:
    """The problem rows of this user's last refused upload (this browser's session only)."""
    token = request.session.get(SESSION_KEY)
    storage = Path(settings.service.storage_dir)
    _expire(storage)
    found = None
    if isinstance(token, str) and token.replace("-", "").replace("_", "").isalnum():
        found = next(iter((storage / "incoming").glob(f"*+{_PREFIX}{user.id}-{token}.enc")),
                     None)
    if found is None:
        raise PageRefused(404, "The list of problems is no longer available (it is kept for "
                               "an hour after the upload). Upload the file again to see it.",
                          user)
    data = b"".join(decrypt_stream(settings.service, found))
    record(db, request, "upload.problems_download", user_id=user.id, detail="refused upload")
    return _csv(data, "jdl-problem-rows.csv")


@router.get("/submissions/{submission_id}/problems.csv")
def submission_problems(submission_id: int, request: Request, db: SessionDep,
                        settings: SettingsDep, user: PageUserDep) -> Response:
    """Every problem row of an accepted upload, rebuilt from the kept (encrypted) upload."""
    from jdl.service._api_submissions import _visible

    try:
        submission = _visible(db, request, user, submission_id, "submission.problems")
    except HTTPException as exc:
        raise PageRefused(exc.status_code, exc.detail, user) from None
    if submission.organisation_id != user.organisation_id:
        raise PageRefused(404, "Only the organisation that sent the file can download its "
                               "problem rows.", user)
    data = rebuild_problems(settings, submission)
    if data is None:
        raise PageRefused(409, "The uploaded file has been deleted (the lab keeps uploads "
                               "only until the evaluation has used them), so the list of "
                               "problem rows is no longer available.", user)
    record(db, request, "submission.problems_download", user_id=user.id,
           submission_id=submission.id)
    return _csv(data, f"jdl-problem-rows-{submission.id}.csv")


def rebuild_problems(settings: Settings, submission: Submission) -> bytes | None:
    """Validate the kept upload again (in a private working folder, deleted afterwards) and
    return its problem rows as CSV bytes; ``None`` once the upload is purged."""
    from jdl.intake import check_submission, programme_from_dict, registration_from_dict
    from jdl.intake._feedback import problem_rows_csv
    from jdl.service._crypto import decrypted

    storage = Path(settings.service.storage_dir)
    stored = submission_dir(storage, submission.id) / submission.file_name
    if submission.purged_at is not None or not stored.is_file():
        return None
    programme = programme_from_dict(dict(submission.programme))
    folder = owned(storage, "work", f"problems-{uuid.uuid4().hex}")
    with decrypted(settings.service, stored, folder) as plain:
        plan = registration_from_dict(submission.registration) \
            if submission.registration else None
        checked = check_submission(plain, programme, settings.intake,
                                   today=submission.created_at.date(),
                                   variables=plan.variables if plan is not None else ())
    return problem_rows_csv(checked)

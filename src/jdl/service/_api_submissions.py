"""``/api/submissions``: upload with immediate validation, status, results, report, review.

Isolation rule: an organisation's users see only their organisation's submissions; anything
else answers 404 (not 403, which would confirm the submission exists) and is audited.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from sqlalchemy import select

from jdl.core.config import ServiceSettings
from jdl.core.errors import JDLError
from jdl.service._audit import deny, record
from jdl.service._crypto import read_sealed, store_encrypted
from jdl.service._deps import SessionDep, SettingsDep, UserDep
from jdl.service._jobs import enqueue, job_settings, set_state
from jdl.service._models import (
    Role,
    Submission,
    SubmissionState,
    User,
    utcnow,
)
from jdl.service._schemas import (
    ApproveIn,
    ErrorOut,
    PublicationDateIn,
    RequestErrorOut,
    RerunIn,
    SubmissionOut,
    SubmissionSummary,
)
from jdl.service._storage import incoming_dir, job_dir, safe_suffix, submission_dir

ERRORS = {400: "The request body could not be read.",
          401: "No valid API token.",
          403: "This role may not do this.",
          404: "No such submission, or another organisation's (the same answer for both).",
          409: "Not possible in the submission's current state.",
          413: "The file is larger than the upload limit.",
          422: "The request is not valid; `detail` says why.",
          429: "Too many requests; see Retry-After."}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers an endpoint can give (all have ErrorOut's shape,
    except FastAPI's own 422 for a malformed request, whose ``detail`` is a list)."""
    return {code: {"description": ERRORS[code],
                   "model": ErrorOut | RequestErrorOut if code == 422 else ErrorOut}
            for code in codes}


# A row number the database can hold (SQLite's and PostgreSQL's BIGINT): anything else is a
# malformed request (422), never a database overflow (500).
MAX_ROW_ID = 2**63 - 1
SubmissionId = Annotated[int, PathParam(ge=1, le=MAX_ROW_ID, description="Submission number")]

router = APIRouter(prefix="/api/submissions", tags=["submissions"],
                   responses=_errors(401, 429))
CHUNK = 1024 * 1024
RELEASED = (SubmissionState.approved.value, SubmissionState.published.value)
MAX_STORED_ISSUES = 200


def _visible(db: SessionDep, request: Request, user: User, submission_id: int,
             action: str) -> Submission:
    """The submission if ``user`` may see it; otherwise 404, audited."""
    submission = db.get(Submission, submission_id)
    if submission is None or not (user.is_lab
                                  or submission.organisation_id == user.organisation_id):
        deny(db, request, action, user_id=user.id, submission_id=submission_id,
             detail="not found or another organisation's submission")
        raise HTTPException(404, "No such submission.")
    return submission


def _require_role(db: SessionDep, request: Request, user: User, roles: set[Role],
                  action: str, submission_id: int | None = None) -> None:
    if user.role not in roles:
        deny(db, request, action, user_id=user.id, submission_id=submission_id,
             detail=f"role {user.role} may not do this")
        raise HTTPException(403, f"Only {' or '.join(sorted(roles))} users may do this.")


def _save_upload(file: UploadFile, target: Path, limit: int) -> None:
    """Copy the upload in chunks, refusing it (413) as soon as it passes the size limit."""
    written = 0
    with target.open("wb") as out:
        while chunk := file.file.read(CHUNK):
            written += len(chunk)
            if written > limit:
                out.close()
                target.unlink(missing_ok=True)
                raise HTTPException(413, f"The file is larger than the limit of "
                                         f"{limit // (1024 * 1024)} MB.")
            out.write(chunk)


def _parse_programme(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise HTTPException(422, f"The programme is not valid JSON: {exc.msg}.") from None


#: What is kept of each validation problem: the rule, where (row, column), how serious. Never the
#: value or the message (messages quote the offending value: a name, a PNC ID, a date of birth).
STORED_ISSUE_KEYS = ("row_number", "column", "field", "code", "severity")


def _stored_validation(report: dict[str, Any]) -> dict[str, Any]:
    """What is kept of the validation: counts and problems as rule code, row and column, without
    the offending values or messages quoting them (they are personal data; the uploader saw
    them in the upload's response). Migration 0007 purged what was stored before."""
    issues = [{k: issue.get(k) for k in STORED_ISSUE_KEYS}
              for issue in report["issues"][:MAX_STORED_ISSUES]]
    refusal = report.get("refusal")
    return {**report, "issues": issues,
            "refusal": None if refusal is None else {"code": refusal.get("code")}}


def accept_upload(db: SessionDep, request: Request, settings: SettingsDep, user: User,
                  file: UploadFile, programme: Any) -> tuple[Submission | None, dict[str, Any]]:
    """Validate an upload at once: (stored and queued submission, report), or (None, report)
    when intake refuses it. Raises for a bad file type, an oversized file or an invalid
    programme (:class:`ProgrammeError`, with one problem per field). The API and the web UI
    both come through here."""
    from jdl.intake import check_programme_text, check_submission, programme_from_dict

    _require_role(db, request, user, {Role.submitter}, "submission.upload")
    suffix = safe_suffix(file.filename)
    if suffix is None:
        raise HTTPException(422, "Upload a .csv, .xlsx or .parquet file.")
    info = programme_from_dict(programme, source="programme information")
    storage = Path(settings.service.storage_dir)
    staged = incoming_dir(storage) / f"{uuid.uuid4().hex}{suffix}"
    _save_upload(file, staged, settings.intake.max_file_bytes)
    try:
        checked = check_submission(staged, info, settings.intake)
        # the programme text is published as written: no names, dates of birth, IDs from the
        # upload, no numbers of people (ProgrammeError, naming the field, never the value)
        check_programme_text(info, checked.rows)
        report = json.loads(json.dumps(checked.to_dict(max_issues=1000), default=str))
        if not checked.acceptable:
            record(db, request, "submission.refused", user_id=user.id,
                   detail=f"refused: {checked.refusal.code}")
            return None, report
        submission = _store(db, user, staged, suffix, info, report, settings.service)
    finally:
        staged.unlink(missing_ok=True)
    record(db, request, "submission.upload", user_id=user.id, submission_id=submission.id)
    return submission, report


@router.post("", status_code=201, response_model=SubmissionOut,
             responses={**_errors(400, 403, 413, 422), 422: {
                 "description": "Refused: the validation report (or an invalid programme)",
                 "model": ErrorOut | RequestErrorOut}})
def create_submission(request: Request, db: SessionDep, settings: SettingsDep, user: UserDep,
                      file: Annotated[UploadFile, File(description="CSV, XLSX or Parquet")],
                      programme: Annotated[str, Form(description="Programme information, JSON")],
                      ) -> Any:
    """Upload a file and its programme: validated at once, queued if the lab can use it."""
    submission, report = accept_upload(db, request, settings, user, file,
                                       _parse_programme(programme))
    return _refused(report) if submission is None else submission


def _refused(report: dict[str, Any]) -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse(status_code=422, content={
        "detail": report["refusal"]["message"], "hint": report["refusal"]["hint"],
        "validation": report})


def _store(db: SessionDep, user: User, staged: Path, suffix: str, info: Any,
           report: dict[str, Any], settings_service: ServiceSettings) -> Submission:
    """Record the accepted submission, store its file encrypted and queue its job."""
    storage = Path(settings_service.storage_dir)
    submission = Submission(organisation_id=user.organisation_id, submitted_by=user.id,
                            state=SubmissionState.queued.value, file_name=f"upload{suffix}",
                            programme=info.model_dump(mode="json"),
                            validation=json.loads(json.dumps(_stored_validation(report),
                                                             default=str)))
    db.add(submission)
    db.flush()
    folder = submission_dir(storage, submission.id)
    folder.mkdir(parents=True, exist_ok=True)
    store_encrypted(settings_service, staged, folder / submission.file_name)
    (folder / "programme.json").write_text(json.dumps(submission.programme, indent=2))
    enqueue(db, submission, user.id)
    db.commit()
    db.refresh(submission)
    return submission


@router.get("", response_model=list[SubmissionSummary])
def list_submissions(db: SessionDep, user: UserDep) -> Any:
    """Lab staff see every submission; organisations see their own."""
    query = select(Submission).order_by(Submission.id)
    if not user.is_lab:
        query = query.where(Submission.organisation_id == user.organisation_id)
    return db.scalars(query).all()


@router.get("/{submission_id}", response_model=SubmissionOut,
            responses=_errors(404))
def get_submission(submission_id: SubmissionId, request: Request, db: SessionDep,
                   user: UserDep) -> Any:
    """State, every timestamped state change, validation summary and jobs."""
    return _visible(db, request, user, submission_id, "submission.view")


def _released_file(request: Request, db: SessionDep, settings: SettingsDep, user: User,
                   submission_id: int, name: str, action: str) -> Path:
    """A released output: organisations only after approval, lab staff once a job is done."""
    submission = _visible(db, request, user, submission_id, action)
    if not user.is_lab and submission.state not in RELEASED:
        deny(db, request, action, user_id=user.id, submission_id=submission_id,
             detail=f"not approved (state {submission.state})")
        raise HTTPException(409, "The results are released after the lab's review; "
                                 f"this submission is {submission.state.replace('_', ' ')}.")
    job = submission.latest_done_job
    path = None if job is None else job_dir(Path(settings.service.storage_dir),
                                            submission.id, job.id) / name
    if path is None or not path.is_file():
        raise HTTPException(409, "There are no results for this submission yet.")
    record(db, request, action, user_id=user.id, submission_id=submission_id)
    return path


@router.get("/{submission_id}/results.json",
            responses=_errors(404, 409))
def get_results(submission_id: SubmissionId, request: Request, db: SessionDep,
                settings: SettingsDep, user: UserDep) -> Any:
    """The disclosure-controlled results (the released aggregates)."""
    path = _released_file(request, db, settings, user, submission_id, "results.json",
                          "results.download")
    return json.loads(path.read_text())


@router.get("/{submission_id}/report.pdf", response_class=FileResponse,
            responses=_errors(404, 409))
def get_report(submission_id: SubmissionId, request: Request, db: SessionDep, settings: SettingsDep,
               user: UserDep) -> Any:
    """The report (organisations: only after a reviewer approved it)."""
    path = _released_file(request, db, settings, user, submission_id, "report.pdf",
                          "report.download")
    return FileResponse(path, media_type="application/pdf",
                        filename=f"jdl-report-{submission_id}.pdf")


DIAGNOSTIC_KEYS = ("counts", "exclusions", "attrition", "balance", "matching",
                   "selective_sample", "warnings")


@router.get("/{submission_id}/diagnostics",
            responses=_errors(403, 404, 409))
def get_diagnostics(submission_id: SubmissionId, request: Request, db: SessionDep,
                    settings: SettingsDep, user: UserDep) -> Any:
    """Lab staff only: the latest run's unrounded linkage counts, attrition, balance, matching
    and warnings, and the disclosure review — what an analyst checks before review."""
    _require_role(db, request, user, {Role.analyst, Role.reviewer, Role.admin},
                  "diagnostics.view", submission_id)
    submission = _visible(db, request, user, submission_id, "diagnostics.view")
    job = submission.latest_done_job
    internal = None if job is None else job_dir(Path(settings.service.storage_dir),
                                                submission.id, job.id) / "internal"
    raw = None if internal is None else read_sealed(settings.service,
                                                    internal / "raw_results.json")
    if raw is None:
        raise HTTPException(409, "There are no results for this submission yet.")
    results = json.loads(raw)
    review = read_sealed(settings.service, internal / "disclosure-review.txt")
    record(db, request, "diagnostics.view", user_id=user.id, submission_id=submission_id)
    return {"job_id": job.id, **{k: results.get(k) for k in DIAGNOSTIC_KEYS},
            "disclosure_review": None if review is None else review.decode(),
            # lab-internal: the differencing guard's finding (never shown to the organisation)
            "differencing": submission.hold_reason}


@router.post("/{submission_id}/rerun", response_model=SubmissionOut,
             responses=_errors(400, 403, 404, 409, 422))
def rerun(submission_id: SubmissionId, body: RerunIn, request: Request, db: SessionDep,
          settings: SettingsDep, user: UserDep) -> Any:
    """An analyst runs the evaluation again, optionally with adjusted settings."""
    _require_role(db, request, user, {Role.analyst}, "submission.rerun", submission_id)
    submission = _visible(db, request, user, submission_id, "submission.rerun")
    if submission.state not in (SubmissionState.awaiting_review, SubmissionState.failed,
                                SubmissionState.held):
        raise HTTPException(409, f"A {submission.state.replace('_', ' ')} submission cannot "
                                 "be re-run.")
    if submission.purged_at is not None:
        raise HTTPException(409, "The uploaded file has been deleted under the retention "
                                 "policy; ask the organisation to upload it again.")
    try:
        job_settings(settings, body.settings)
    except (ValueError, JDLError) as exc:
        raise HTTPException(422, f"The settings overrides are not valid: {exc}") from None
    enqueue(db, submission, user.id, body.settings)
    db.commit()
    record(db, request, "submission.rerun", user_id=user.id, submission_id=submission_id)
    db.refresh(submission)
    return submission


@router.post("/{submission_id}/release-hold", response_model=SubmissionOut,
             responses=_errors(403, 404, 409))
def release_hold(submission_id: SubmissionId, request: Request, db: SessionDep,
                 user: UserDep) -> Any:
    """An analyst, having read the differencing guard's reason, sends a held submission on to
    review (the reason stays on record)."""
    _require_role(db, request, user, {Role.analyst}, "submission.release_hold", submission_id)
    submission = _visible(db, request, user, submission_id, "submission.release_hold")
    if submission.state != SubmissionState.held.value:
        raise HTTPException(409, "This submission is not held.")
    set_state(db, submission, SubmissionState.awaiting_review, user.id)
    db.commit()
    record(db, request, "submission.release_hold", user_id=user.id,
           submission_id=submission_id)
    db.refresh(submission)
    return submission


@router.post("/{submission_id}/approve", response_model=SubmissionOut,
             responses=_errors(400, 403, 404, 409, 422))
def approve(submission_id: SubmissionId, request: Request, db: SessionDep, settings: SettingsDep,
            user: UserDep, body: ApproveIn | None = None) -> Any:
    """A reviewer releases the results to the organisation — a second pair of eyes, never on
    their own work — and sets the day the report enters the public catalogue."""
    _require_role(db, request, user, {Role.reviewer}, "submission.approve", submission_id)
    submission = _visible(db, request, user, submission_id, "submission.approve")
    if submission.state != SubmissionState.awaiting_review.value:
        raise HTTPException(409, f"Only a submission awaiting review can be approved; this "
                                 f"one is {submission.state.replace('_', ' ')}.")
    involved = {submission.submitted_by, *(job.requested_by for job in submission.jobs)}
    if user.id in involved:
        deny(db, request, "submission.approve", user_id=user.id, submission_id=submission_id,
             detail="reviewer ran or submitted this work")
        raise HTTPException(403, "You cannot approve work you submitted or ran; another "
                                 "reviewer must approve it.")
    from jdl.service._jobs import GUARD_LOCK, differencing_hold, lock_guard
    from jdl.service._publication import default_embargo

    embargo = (body.embargo_until if body and body.embargo_until
               else default_embargo(settings))
    if embargo < utcnow().date():
        raise HTTPException(422, "The publication date cannot be in the past.")
    with GUARD_LOCK:  # the guard and the approval it allows, one at a time
        lock_guard(db)
        reason = differencing_hold(db, settings, submission, released_only=True)
        if reason:
            submission.hold_reason = reason
            db.commit()
            deny(db, request, "submission.approve", user_id=user.id,
                 submission_id=submission_id, detail="differencing guard")
            # only lab reviewers reach this line; the organisation still sees "awaiting review"
            raise HTTPException(409, f"Not approved: {reason} Ask the organisation to combine "
                                     "its submissions, or refuse this one.")
        submission.approved_by, submission.embargo_until = user.id, embargo
        set_state(db, submission, SubmissionState.approved, user.id)
        db.commit()
    record(db, request, "submission.approve", user_id=user.id, submission_id=submission_id)
    db.refresh(submission)
    return submission


@router.post("/{submission_id}/publication-date", response_model=SubmissionOut,
             responses=_errors(400, 403, 404, 409, 422))
def change_publication_date(submission_id: SubmissionId, body: PublicationDateIn,
                            request: Request, db: SessionDep, user: UserDep) -> Any:
    """A reviewer or admin moves an approved report's publication date (for example at the
    organisation's request), until it is published."""
    _require_role(db, request, user, {Role.reviewer, Role.admin}, "submission.publication_date",
                  submission_id)
    submission = _visible(db, request, user, submission_id, "submission.publication_date")
    if submission.state != SubmissionState.approved.value:
        raise HTTPException(409, "Only an approved report that is not yet published can have "
                                 "its publication date changed.")
    if body.embargo_until < utcnow().date():
        raise HTTPException(422, "The publication date cannot be in the past.")
    previous, submission.embargo_until = submission.embargo_until, body.embargo_until
    submission.updated_at = utcnow()
    db.commit()
    record(db, request, "submission.publication_date", user_id=user.id,
           submission_id=submission_id, detail=f"{previous} -> {body.embargo_until}")
    db.refresh(submission)
    return submission

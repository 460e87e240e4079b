"""``/api/submissions``: upload with immediate validation, status, results, report, review.

Isolation rule: an organisation's users see only their organisation's submissions; anything
else answers 404 (not 403, which would confirm the submission exists) and is audited.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from sqlalchemy import func, select

from jdl.core.config import ServiceSettings, Settings
from jdl.core.errors import JDLError
from jdl.service._accounts import with_account_organisation
from jdl.service._audit import deny, record, refused_upload
from jdl.service._crypto import read_sealed
from jdl.service._deps import SessionDep, SettingsDep, UserDep, current_user
from jdl.service._jobs import enqueue, set_state
from jdl.service._mail import MailEvent, notify
from jdl.service._models import (
    Job,
    JobState,
    Organisation,
    Role,
    Submission,
    SubmissionState,
    User,
    utcnow,
)
from jdl.service._overrides import check_overrides, describe
from jdl.service._schemas import (
    ApproveIn,
    ErrorOut,
    PublicationDateIn,
    ReasonIn,
    RequestErrorOut,
    RerunIn,
    SubmissionOut,
    SubmissionSummary,
    submission_for,
)
from jdl.service._storage import job_dir, private_dir, submission_dir
from jdl.service._uploads import ReceivedUpload, receive_upload, validation_copy

ERRORS = {400: "The request body could not be read.",
          401: "No valid API token.",
          403: "This role may not do this.",
          404: "No such submission, or another organisation's (the same answer for both).",
          409: "Not possible in the submission's current state.",
          413: "The request or its file is larger than the limit.",
          422: "The request is not valid; `detail` says why.",
          429: "Too many requests, or the organisation's queue quota is full; see "
               "Retry-After."}


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
    if user.effective_role not in roles:
        deny(db, request, action, user_id=user.id, submission_id=submission_id,
             detail=f"role {user.effective_role} may not do this")
        raise HTTPException(403, f"Only {' or '.join(sorted(roles))} users may do this.")


def _parse_programme(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise HTTPException(422, f"The programme is not valid JSON: {exc.msg}.") from None


#: The longest analysis plan accepted (characters): a plan names a measure, a few columns and
#: their categories; anything longer is not a plan.
MAX_PLAN_CHARS = 4_000


def parse_plan(text: str) -> Any:
    """An analysis plan's text (JSON, or YAML in the web form) as a mapping; 422 when it
    cannot be read (the lab's own errors for its fields come from the intake)."""
    import yaml

    if len(text) > MAX_PLAN_CHARS:
        raise HTTPException(422, f"The analysis plan is longer than {MAX_PLAN_CHARS:,} "
                                 "characters.")
    try:
        return yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError:
        raise HTTPException(422, "The analysis plan could not be read: write it as in the "
                                 "example (one 'field: value' a line).") from None


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


def check_upload_allowed(db: SessionDep, request: Request, settings: Settings,
                         user: User) -> None:
    """What is checked before any of an upload's body is read: the role, and the
    organisation's quota of queued jobs (429 past it; checked again, under the database's
    write lock, when the upload is stored)."""
    _require_role(db, request, user, {Role.submitter}, "submission.upload")
    _check_quota(db, request, settings.service, user)
    # give the connection back while the body streams in (a slow upload must not hold one of
    # the pool's few connections: 50 at once would exhaust it)
    db.commit()


def _check_quota(db: SessionDep, request: Request, service: ServiceSettings,
                 user: User, submission: Submission | None = None,
                 new_job: Job | None = None) -> None:
    """429 when the organisation (the uploader's, or a re-run submission's) already has
    ``max_queued_jobs_per_org`` jobs queued or running: uploads and re-runs count alike
    (``new_job``, the re-run's own job just written, is not counted)."""
    limit = service.max_queued_jobs_per_org
    organisation_id = (user.organisation_id if submission is None
                       else submission.organisation_id)
    query = select(func.count()).select_from(Job).join(Submission).where(
        Submission.organisation_id == organisation_id,
        Job.state.in_((JobState.queued.value, JobState.running.value)))
    if new_job is not None:
        query = query.where(Job.id != new_job.id)
    waiting = db.scalar(query) or 0
    if waiting < limit:
        return
    organisation = db.get(Organisation, organisation_id)
    name = organisation.name if organisation is not None else "The organisation"
    db.rollback()
    if submission is None:
        deny(db, request, "submission.upload", user_id=user.id,
             detail=f"queue quota: {waiting} job(s) waiting")
        raise HTTPException(429, f"Your organisation already has {waiting} evaluation(s) "
                                 f"waiting or running, the most the lab queues for one "
                                 f"organisation ({limit}). Upload again when one has finished.",
                            headers={"Retry-After": "600"})
    deny(db, request, "submission.rerun", user_id=user.id, submission_id=submission.id,
         detail=f"queue quota: {waiting} job(s) waiting")
    raise HTTPException(429, f"{name} already has {waiting} "
                             f"evaluation(s) waiting or running, the most the lab queues for "
                             f"one organisation ({limit}); re-runs count too. Re-run this "
                             f"submission when one of them has finished.",
                        headers={"Retry-After": "600"})


def accept_upload(db: SessionDep, request: Request, settings: SettingsDep, user: User,
                  upload: ReceivedUpload, programme: Any,
                  on_checked: Callable[[Any], None] | None = None,
                  plan: Any = None,
                  ) -> tuple[Submission | None, dict[str, Any]]:
    """Validate a received upload at once: (stored and queued submission, report), or (None,
    report) when intake refuses it. Raises for an invalid programme (:class:`ProgrammeError`,
    with one problem per field). The staged file is gone afterwards either way (moved into the
    submission's folder, or deleted). The API and the web UI both come through here, after
    :func:`check_upload_allowed` and :func:`~jdl.service._uploads.receive_upload`.
    ``on_checked`` (the web page's) receives the validated submission before it is stored,
    to keep the organisation's list of problem rows (encrypted). ``plan``: the organisation's
    analysis plan (a mapping; :class:`~jdl.intake.RegistrationError` when invalid), registered
    with the submission: its declared columns are validated with the file."""
    from jdl.intake import (
        check_programme_text,
        check_submission,
        programme_from_dict,
        registration_from_dict,
    )

    try:  # whatever is refused, the staged file goes (finally)
        programme = with_account_organisation(programme, user)  # issue 16: never a form field
        info = programme_from_dict(programme, source="programme information")
        registration = (registration_from_dict(plan, source="analysis plan")
                        if plan is not None else None)
        if registration is not None:
            from jdl.outcomes import reported_outcomes

            registration.check_measure(
                tuple(m.result_key for m in reported_outcomes()),
                tuple(m.result_key for m in reported_outcomes() if m.unit == "proportion"))
        with validation_copy(settings, upload) as plain:
            checked = check_submission(
                plain, info, settings.intake,
                variables=registration.variables if registration is not None else ())
        # the programme text is published as written: no names, dates of birth, IDs from the
        # upload, no numbers of people (ProgrammeError, naming the field, never the value)
        check_programme_text(info, checked.rows)
        if on_checked is not None:
            on_checked(checked)
        report = json.loads(json.dumps(checked.to_dict(max_issues=1000), default=str))
        if not checked.acceptable:
            # a denied upload like every other refusal, so a review of denied uploads sees
            # it (second independent check, session 6: it was recorded as "allowed")
            record(db, request, "submission.upload", outcome="denied", user_id=user.id,
                   detail=f"refused by intake: {checked.refusal.code}")
            return None, report
        submission = _store(db, request, user, upload, info, report, settings.service,
                            registration)
    finally:
        upload.discard()
    notify(db, settings, MailEvent.received, submission)  # committed with the audit entry
    record(db, request, "submission.upload", user_id=user.id, submission_id=submission.id)
    return submission, report


UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "programme"],
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": "CSV, XLSX or Parquet"},
                   "programme": {"type": "string",
                                 "description": "Programme information, JSON"},
                   "plan": {"type": "string",
                            "description": "Optional analysis plan, JSON: primary_measure, "
                                           "variables, sub_analyses, dose_bands "
                                           "(docs/submission-template.md)"}}}}}}}


@router.post("", status_code=201, response_model=SubmissionOut, openapi_extra=UPLOAD_BODY,
             responses={**_errors(400, 403, 413, 422, 429), 422: {
                 "description": "Refused: the validation report (or an invalid programme)",
                 "model": ErrorOut | RequestErrorOut}})
async def create_submission(request: Request, db: SessionDep, settings: SettingsDep) -> Any:
    """Upload a file and its programme (multipart: ``file`` and ``programme``, JSON):
    validated at once, queued if the lab can use it.

    The token, role and queue quota are checked before the body is read; the file is
    encrypted as it arrives (no plaintext copy on disk outside the private working folder
    validation reads). Every database step runs in the thread pool and gives its connection
    back before the next await, so slow uploads never hold the pool's connections."""
    from starlette.concurrency import run_in_threadpool

    user = await run_in_threadpool(_authorised_uploader, db, request, settings)
    with refused_upload(db, request, user.id):  # every refusal audited (issue 16)
        upload = await receive_upload(request, settings, max_fields=5,
                                      organisation_id=user.organisation_id)
        try:
            if "programme" not in upload.fields:
                raise HTTPException(422, "The form has no 'programme' field (the programme "
                                         "information, JSON).")
            programme = _parse_programme(upload.fields["programme"])
            plan = (parse_plan(upload.fields["plan"]) if upload.fields.get("plan", "").strip()
                    else None)
        except BaseException:
            upload.discard()
            raise
        return await run_in_threadpool(_accept_and_answer, db, request, settings, user, upload,
                                       programme, plan)


def _authorised_uploader(db: SessionDep, request: Request, settings: Settings) -> User:
    user = current_user(request, db)
    check_upload_allowed(db, request, settings, user)
    return user


def _accept_and_answer(db: SessionDep, request: Request, settings: Settings, user: User,
                       upload: ReceivedUpload, programme: Any, plan: Any = None) -> Any:
    submission, report = accept_upload(db, request, settings, user, upload, programme,
                                       plan=plan)
    if submission is None:
        return _refused(report)
    return seen_by(db, user, submission)  # built here, not on the event loop


def _refused(report: dict[str, Any]) -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse(status_code=422, content={
        "detail": report["refusal"]["message"], "hint": report["refusal"]["hint"],
        "validation": report})


def _store(db: SessionDep, request: Request, user: User, upload: ReceivedUpload, info: Any,
           report: dict[str, Any], settings_service: ServiceSettings,
           registration: Any = None) -> Submission:
    """Record the accepted submission, move its (already encrypted) file into the
    submission's folder and queue its job. The queue quota is checked again once this
    transaction holds the write lock (SQLite: the first write; PostgreSQL: the organisation's
    row, locked), so simultaneous uploads cannot all slip under it."""
    storage = Path(settings_service.storage_dir)
    db.execute(select(Organisation.id).where(Organisation.id == user.organisation_id)
               .with_for_update())
    submission = Submission(organisation_id=user.organisation_id, submitted_by=user.id,
                            state=SubmissionState.queued.value,
                            file_name=f"upload{upload.suffix}",
                            programme=info.model_dump(mode="json"),
                            validation=json.loads(json.dumps(_stored_validation(report),
                                                             default=str)),
                            registration=(registration.as_dict()
                                          if registration is not None else None),
                            registration_sha256=(registration.sha256
                                                 if registration is not None else None))
    db.add(submission)
    db.flush()
    _check_quota(db, request, settings_service, user)
    folder = private_dir(submission_dir(storage, submission.id))
    upload.staged.replace(folder / submission.file_name)
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
    return seen_by(db, user, _visible(db, request, user, submission_id, "submission.view"))


def seen_by(db: SessionDep, user: User, submission: Submission) -> SubmissionOut:
    """``submission`` as ``user`` may read it: whole for the lab; for an organisation without
    the lab staff's ids or analysts' error messages (:func:`submission_for`)."""
    own = set(db.scalars(select(User.id).where(
        User.organisation_id == submission.organisation_id)))
    return submission_for(submission, lab_view=user.is_lab, own_user_ids=own)


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
                   "selective_sample", "warnings", "measures", "sensitivity")


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
             responses=_errors(400, 403, 404, 409, 422, 429))
def rerun(submission_id: SubmissionId, body: RerunIn, request: Request, db: SessionDep,
          settings: SettingsDep, user: UserDep) -> Any:
    """An analyst runs the evaluation again, optionally with adjusted settings. The re-run
    counts toward the organisation's queue quota (429 past it)."""
    _require_role(db, request, user, {Role.analyst}, "submission.rerun", submission_id)
    submission = _visible(db, request, user, submission_id, "submission.rerun")
    if submission.state not in (SubmissionState.awaiting_review, SubmissionState.failed,
                                SubmissionState.held, SubmissionState.sent_back):
        raise HTTPException(409, f"A {submission.state.replace('_', ' ')} submission cannot "
                                 "be re-run.")
    if submission.purged_at is not None:
        raise HTTPException(409, "The uploaded file has been deleted under the retention "
                                 "policy; ask the organisation to upload it again.")
    try:
        changes = check_overrides(settings, body.settings)
    except JDLError as exc:
        deny(db, request, "submission.rerun", user_id=user.id, submission_id=submission_id,
             detail=("refused settings: " + "; ".join(exc.problems))[:1000])
        raise HTTPException(422, " ".join([exc.message, *exc.problems])) from None
    # the organisation's queue quota, under its row lock (PostgreSQL) or the write lock
    # (SQLite: this transaction's first write comes first), as for uploads
    db.execute(select(Organisation.id).where(Organisation.id == submission.organisation_id)
               .with_for_update())
    job = enqueue(db, submission, user.id, body.settings)
    db.flush()
    _check_quota(db, request, settings.service, user, submission, job)
    db.commit()
    record(db, request, "submission.rerun", user_id=user.id, submission_id=submission_id,
           detail=f"settings: {describe(changes)}"[:1000])
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
    their own work — and sets the day the report enters the public catalogue; or, when the
    run declined the request under the lab's minimum, confirms the decline ("could not be
    answered"), which the organisation learns only then."""
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
    from jdl.service._guard import GUARD_LOCK, differencing_hold, lock_guard
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
                                     "its submissions, or decline this one.")
        submission.approved_by = user.id
        if submission.awaits_decline:  # the answer is "could not be answered": no report
            set_state(db, submission, SubmissionState.not_answerable, user.id)
        else:
            submission.embargo_until = embargo
            set_state(db, submission, SubmissionState.approved, user.id)
        notify(db, settings, MailEvent.review_complete, submission)  # same words for both
        db.commit()
    record(db, request, "submission.approve", user_id=user.id, submission_id=submission_id)
    db.refresh(submission)
    return submission


def _review_answer(submission_id: int, body: ReasonIn | None, request: Request,
                   db: SessionDep, user: User, roles: set[Role], action: str,
                   change: Callable[[Any, Submission, int, str], None],
                   event: MailEvent) -> Any:
    """Send back or decline: role, then visibility (another organisation's: 404), then the
    state and the reason; the reason goes on the submission's history, the audit log says
    only how long it was."""
    from jdl.service._review import ReasonProblem, ReviewConflict

    _require_role(db, request, user, roles, action, submission_id)
    submission = _visible(db, request, user, submission_id, action)
    try:
        change(db, submission, user.id, body.reason if body is not None else "")
    except ReviewConflict as exc:
        db.rollback()
        raise HTTPException(409, exc.message) from None
    except ReasonProblem as exc:
        db.rollback()
        raise HTTPException(422, exc.message) from None
    notify(db, request.app.state.settings, event, submission)  # committed with the change
    db.commit()
    db.refresh(submission)
    record(db, request, action, user_id=user.id, submission_id=submission_id,
           detail=f"reason of {len(submission.review_reason or '')} characters, shown to the "
                  "organisation")
    return submission


@router.post("/{submission_id}/send-back", response_model=SubmissionOut,
             responses=_errors(400, 403, 404, 409, 422))
def send_back(submission_id: SubmissionId, request: Request, db: SessionDep, user: UserDep,
              body: ReasonIn | None = None) -> Any:
    """An analyst or reviewer sends the request back to its organisation with a reason
    (something to correct); the organisation reads the reason, and uploads again or waits
    for an analyst's re-run. Possible while held, awaiting review or failed."""
    from jdl.service import _review

    return _review_answer(submission_id, body, request, db, user,
                          {Role.analyst, Role.reviewer}, "submission.send_back",
                          _review.send_back, MailEvent.sent_back)


@router.post("/{submission_id}/decline", response_model=SubmissionOut,
             responses=_errors(400, 403, 404, 409, 422))
def decline(submission_id: SubmissionId, request: Request, db: SessionDep, user: UserDep,
            body: ReasonIn | None = None) -> Any:
    """A reviewer declines the request with a reason: no report is released. Possible for
    any answer awaiting review (a report, or a run below the lab's minimum), and while held,
    failed or sent back."""
    from jdl.service import _review

    return _review_answer(submission_id, body, request, db, user, {Role.reviewer},
                          "submission.decline", _review.decline,
                          MailEvent.review_complete)  # the words approval and decline share


@router.post("/{submission_id}/withdraw", response_model=SubmissionOut,
             responses=_errors(403, 404, 409))
def withdraw(submission_id: SubmissionId, request: Request, db: SessionDep,
             settings: SettingsDep, user: UserDep) -> Any:
    """The organisation withdraws its request, any time before publication: a queued or
    running evaluation is cancelled and the request's data deleted now (see
    :func:`jdl.service._review.delete_withdrawn_data`); the row and its history remain."""
    from jdl.service._review import ReviewConflict, delete_withdrawn_data
    from jdl.service._review import withdraw as withdraw_request

    _require_role(db, request, user, {Role.submitter}, "submission.withdraw", submission_id)
    submission = _visible(db, request, user, submission_id, "submission.withdraw")
    # the row locked (PostgreSQL) so publication at the same moment goes first or not at all
    db.refresh(submission, with_for_update=True if db.get_bind().dialect.name == "postgresql"
               else None)
    try:
        cancelled = withdraw_request(db, submission, user.id)
    except ReviewConflict as exc:
        db.rollback()
        raise HTTPException(409, exc.message) from None
    notify(db, settings, MailEvent.withdrawn, submission)
    db.commit()
    deleted = delete_withdrawn_data(settings, submission)
    db.commit()
    record(db, request, "submission.withdraw", user_id=user.id, submission_id=submission_id,
           detail=(f"{cancelled} job(s) cancelled; deleted: {', '.join(deleted) or 'nothing'}"
                   )[:1000])
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

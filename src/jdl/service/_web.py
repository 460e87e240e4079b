"""The server-rendered web UI: sign in, choose a password, upload with immediate feedback,
follow a submission, approve (reviewers), download the approved report.

Sessions are signed cookies (Starlette's SessionMiddleware; key from a file outside the
database), HttpOnly, SameSite=Strict and Secure unless configured off; every form carries a
per-session CSRF token. Sign-in failures are rate limited per client and email, and audited.
The pages reuse the API's checks, so the isolation and review rules are the same.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any, get_args

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy import select

from jdl.core.config import Settings
from jdl.core.errors import JDLError
from jdl.service._api_submissions import (
    SubmissionId,
    _released_file,
    _visible,
    accept_upload,
    approve,
    change_publication_date,
    check_upload_allowed,
    get_diagnostics,
    release_hold,
    rerun,
)
from jdl.service._audit import deny, record
from jdl.service._deps import SessionDep, SettingsDep
from jdl.service._models import Role, Submission, User, utcnow
from jdl.service._publication import default_embargo
from jdl.service._schemas import ApproveIn, PublicationDateIn, RerunIn
from jdl.service._security import hash_password, verify_password
from jdl.service._uploads import receive_upload

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _covariate(code: object) -> str:
    """Balance rows name covariates as the report does (``ethnicityAsian`` -> ``Ethnicity:
    Asian``)."""
    from jdl.report import covariate_name

    return covariate_name(code)


templates.env.filters["covariate"] = _covariate
MIN_PASSWORD = 12


class LoginLimiter:
    """Failed sign-ins per (client, email) in a sliding window; in memory, per process."""

    def __init__(self, max_failures: int, window: float) -> None:
        self.max_failures, self.window = max_failures, window
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, key: tuple[str, str]) -> bool:
        with self._lock:
            times = self._failures[key]
            while times and times[0] < time.monotonic() - self.window:
                times.popleft()
            return len(times) >= self.max_failures

    def fail(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures[key].append(time.monotonic())

    def clear(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)


def secret_key(path: Path) -> str:
    """The session-signing key, created (readable by the owner only) on first start."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        import os

        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text().strip()


def _csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


class FormExpired(HTTPException):
    """A form sent without its CSRF token; :func:`form_expired` answers it with a page."""


def form_expired(request: Request, exc: Exception) -> Response:
    """The page a browser shows for a refused form (a browser user should not get JSON)."""
    return _page(request, "error.html", None, 403, heading="This form has expired",
                 message=getattr(exc, "detail", ""))


def _check_csrf(request: Request, db: SessionDep, sent: str | None) -> None:
    expected = request.session.get("csrf")
    if not (expected and sent and secrets.compare_digest(expected, sent)):
        deny(db, request, f"web {request.url.path}", user_id=request.session.get("uid"),
             detail="missing or wrong CSRF token")
        raise FormExpired(403, "Go back, refresh the page and try again.")


def _session_user(request: Request, db: SessionDep) -> User | None:
    uid = request.session.get("uid")
    user = db.get(User, uid) if uid is not None else None
    return user if user is not None and user.active else None


def _page(request: Request, name: str, user: User | None, status: int = 200,
          **context: Any) -> Response:
    return templates.TemplateResponse(request, name, {
        "user": user, "csrf_token": _csrf_token(request), **context}, status_code=status)


def _error_page(request: Request, user: User | None, exc: HTTPException) -> Response:
    headings = {403: "You cannot do this", 404: "Page not found", 409: "Not available yet",
                413: "File too large", 429: "Too many attempts"}
    return _page(request, "error.html", user, exc.status_code,
                 heading=headings.get(exc.status_code, "There is a problem"),
                 message=exc.detail)


def _signed_in(request: Request, db: SessionDep) -> User | Response:
    """The signed-in user, or a redirect to sign in (or to choose a password first)."""
    user = _session_user(request, db)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    if user.must_change_password:
        return RedirectResponse("/password", status_code=303)
    return user


@router.get("/login")
def login_page(request: Request) -> Response:
    return _page(request, "login.html", None)


@router.post("/login")
async def login(request: Request, db: SessionDep) -> Response:
    form = await request.form()
    _check_csrf(request, db, form.get("csrf_token"))
    email = str(form.get("email", "")).strip().lower()
    limiter: LoginLimiter = request.app.state.login_limiter
    key = (request.client.host if request.client else "", email)
    if limiter.blocked(key):
        deny(db, request, "web.login", user_id=None, detail="rate limited")
        return _page(request, "login.html", None, 429, email=email,
                     errors=["Too many failed attempts. Wait 15 minutes and try again."])
    user = db.scalar(select(User).where(User.email == email))
    if user is None or not user.active or not verify_password(
            user.password_hash, str(form.get("password", ""))):
        limiter.fail(key)
        deny(db, request, "web.login", user_id=user.id if user else None,
             detail="wrong email or password")
        return _page(request, "login.html", None, 401, email=email,
                     errors=["The email address or password is not right."])
    limiter.clear(key)
    request.session.clear()  # a new session on sign-in: no fixation
    request.session["uid"] = user.id
    record(db, request, "web.login", user_id=user.id)
    return RedirectResponse("/password" if user.must_change_password else "/", status_code=303)


@router.post("/logout")
async def logout(request: Request, db: SessionDep) -> Response:
    form = await request.form()
    _check_csrf(request, db, form.get("csrf_token"))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/password")
def password_page(request: Request, db: SessionDep) -> Response:
    user = _session_user(request, db)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return _page(request, "password.html", user)


@router.post("/password")
async def change_password(request: Request, db: SessionDep) -> Response:
    user = _session_user(request, db)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    form = await request.form()
    _check_csrf(request, db, form.get("csrf_token"))
    new, confirm = str(form.get("password", "")), str(form.get("confirm", ""))
    problems = []
    if len(new) < MIN_PASSWORD:
        problems.append(f"The password must have at least {MIN_PASSWORD} characters.")
    if new != confirm:
        problems.append("The two passwords are not the same.")
    if verify_password(user.password_hash, new):
        problems.append("Choose a password different from the one-time password.")
    if problems:
        return _page(request, "password.html", user, 422, errors=problems)
    user.password_hash, user.must_change_password = hash_password(new), False
    db.commit()
    record(db, request, "web.password_changed", user_id=user.id)
    return RedirectResponse("/", status_code=303)


def _programme_fields() -> list[dict[str, Any]]:
    """The programme form, from the intake's Programme model (one source of truth)."""
    from jdl.intake import Programme
    from jdl.intake._programme import REGION_CHOICES

    def choices(name: str) -> tuple[str, ...]:
        return get_args(Programme.model_fields[name].annotation)

    return [
        {"name": "organisation", "label": "Organisation", "kind": "text"},
        {"name": "programme_name", "label": "Programme name", "kind": "text"},
        {"name": "sector", "label": "Sector", "choices": choices("sector")},
        {"name": "intervention_type", "label": "Type of intervention",
         "choices": choices("intervention_type")},
        {"name": "setting", "label": "Where it is delivered", "choices": choices("setting")},
        {"name": "referral_route", "label": "How people are referred", "kind": "text"},
        {"name": "region", "label": "Region", "choices": REGION_CHOICES},
        {"name": "delivery_start", "label": "Delivery start date", "kind": "date"},
        {"name": "delivery_end", "label": "Delivery end date", "kind": "date"},
        {"name": "description", "label": "What the programme does", "kind": "textarea"},
        {"name": "declared_participants", "label": "Number of participants (optional)",
         "kind": "number", "hint": "Everyone who took part, including people not in the file."},
        {"name": "selection_basis", "label": "Who is in the file",
         "choices": choices("selection_basis"), "default": "all_participants"},
        {"name": "selection_notes", "label": "How people were chosen (if not everyone)",
         "kind": "textarea"},
    ]


def _home(request: Request, db: SessionDep, user: User, status: int = 200,
          **context: Any) -> Response:
    query = select(Submission).order_by(Submission.id.desc())
    if not user.is_lab:
        query = query.where(Submission.organisation_id == user.organisation_id)
    context.setdefault("form", {"organisation": user.organisation.name})
    return _page(request, "home.html", user, status, submissions=db.scalars(query).all(),
                 fields=_programme_fields(), **context)


@router.get("/")
def home(request: Request, db: SessionDep) -> Response:
    user = _signed_in(request, db)
    return user if isinstance(user, Response) else _home(request, db, user)


@router.post("/upload")
async def upload(request: Request, db: SessionDep, settings: SettingsDep) -> Response:
    """Signed-in user, role and queue quota are checked before the body is read; the file is
    then streamed into encrypted storage (:func:`receive_upload`)."""
    from starlette.concurrency import run_in_threadpool

    user = await run_in_threadpool(_signed_in, request, db)
    if isinstance(user, Response):
        return user
    try:
        await run_in_threadpool(check_upload_allowed, db, request, settings, user)
        received = await receive_upload(request, settings)
    except HTTPException as exc:
        if exc.status_code == 403:
            return _error_page(request, user, exc)
        return _home(request, db, user, exc.status_code, errors=[exc.detail])
    try:
        _check_csrf(request, db, received.fields.get("csrf_token"))
    except FormExpired:
        received.discard()
        raise
    names = {f["name"] for f in _programme_fields()}
    values = {k: v.strip() for k, v in received.fields.items() if k in names}
    programme = {k: v for k, v in values.items() if v != ""}
    try:
        submission, report = await run_in_threadpool(accept_upload, db, request, settings, user,
                                                     received, programme)
    except JDLError as exc:
        return _home(request, db, user, 422, form=values,
                     errors=[exc.message, *exc.problems])
    if submission is None:
        return _home(request, db, user, 422, form=values, validation=report,
                     errors=["The lab cannot use this file. The problems are listed below."])
    return RedirectResponse(f"/submissions/{submission.id}", status_code=303)


def _viewed(request: Request, db: SessionDep,
            submission_id: int) -> tuple[User, Submission] | Response:
    """The signed-in user and the submission they may see, or the page to show instead (sign
    in, or the API's 404 for another organisation's submission)."""
    user = _signed_in(request, db)
    if isinstance(user, Response):
        return user
    try:
        return user, _visible(db, request, user, submission_id, "submission.view")
    except HTTPException as exc:
        return _error_page(request, user, exc)


@router.get("/submissions/{submission_id}")
def submission_page(submission_id: SubmissionId, request: Request, db: SessionDep,
                    settings: SettingsDep) -> Response:
    viewed = _viewed(request, db, submission_id)
    if isinstance(viewed, Response):
        return viewed
    user, submission = viewed
    involved = {submission.submitted_by, *(job.requested_by for job in submission.jobs)}
    can_approve = (user.role == Role.reviewer and submission.state == "awaiting_review"
                   and user.id not in involved)
    diagnostics = None
    if user.is_lab and submission.state in ("held", "awaiting_review", "approved", "published"):
        try:
            diagnostics = get_diagnostics(submission_id, request, db, settings, user)
        except HTTPException:
            diagnostics = None
    return _page(request, "submission.html", user, s=submission,
                 job=submission.jobs[-1] if submission.jobs else None, can_approve=can_approve,
                 diagnostics=diagnostics,
                 can_rerun=user.role == Role.analyst and submission.purged_at is None
                 and submission.state in ("held", "awaiting_review", "failed"),
                 can_release=user.role == Role.analyst and submission.state == "held",
                 can_move_date=user.role in (Role.reviewer, Role.admin)
                 and submission.state == "approved",
                 rerun_fields=[(f"{sec}.{name}", label, kind,
                                getattr(getattr(settings, sec), name))
                               for sec, name, label, kind in RERUN_FIELDS],
                 default_embargo=default_embargo(settings).isoformat(),
                 smd_good=settings.matching.smd_good,
                 today=utcnow().date().isoformat(),
                 progress=_progress(submission))


@router.get("/submissions/{submission_id}/progress")
def progress_fragment(submission_id: SubmissionId, request: Request, db: SessionDep) -> Response:
    """The progress box alone, which the submission page polls while a job runs."""
    viewed = _viewed(request, db, submission_id)
    if isinstance(viewed, Response):
        return viewed
    return templates.TemplateResponse(request, "_progress.html",
                                      {"progress": _progress(viewed[1])})


def _progress(submission: Submission) -> dict[str, Any] | None:
    """Where a queued or running evaluation is, as a step count the page can show."""
    from jdl.pipeline import STAGES

    if submission.state not in ("queued", "running") or not submission.jobs:
        return None
    stage = submission.jobs[-1].stage
    done = STAGES.index(stage) if stage in STAGES else 0
    return {"stage": stage, "step": done + 1 if stage else 0, "of": len(STAGES),
            "label": STAGE_LABELS.get(stage or "", "waiting for a worker")}


STAGE_LABELS = {
    "validate": "checking the file",
    "link": "finding the people in the national records",
    "cohort": "building the cohort and the comparison pool",
    "match": "matching a comparison group",
    "estimate": "estimating the effects",
    "sensitivity": "checking how robust the results are",
    "disclose": "applying disclosure control",
    "report": "writing the report",
}


async def _lab_action(request: Request, db: SessionDep, submission_id: int,
                      action: Any) -> Response:
    """A form button that calls one of the API's actions, then shows the submission again."""
    user = _signed_in(request, db)
    if isinstance(user, Response):
        return user
    form = await request.form()
    _check_csrf(request, db, form.get("csrf_token"))
    try:
        action(user, form)
    except HTTPException as exc:
        return _error_page(request, user, exc)
    except ValidationError as exc:
        return _error_page(request, user, HTTPException(422, _plain_errors(exc)))
    return RedirectResponse(f"/submissions/{submission_id}", status_code=303)


def _plain_errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


RERUN_FIELDS = (  # (section, setting, label, kind): what an analyst adjusts most often
    ("matching", "caliper", "Caliper (standard deviations of the propensity score; "
     "blank for none)", "number"),
    ("matching", "ratio", "Comparison people per participant", "number"),
    ("matching", "replace", "Match with replacement", "checkbox"),
    ("linkage", "match_threshold", "Linkage threshold (match probability)", "number"),
)


def rerun_overrides(form: Any, settings: Settings) -> dict[str, dict[str, Any]]:
    """The settings an analyst changed on the re-run form (unchanged ones are not overrides;
    a form without the settings fields re-runs with the lab's settings)."""
    overrides: dict[str, dict[str, Any]] = {}
    if form.get("adjusted") != "1":
        return overrides
    for section, name, _label, kind in RERUN_FIELDS:
        current = getattr(getattr(settings, section), name)
        if kind == "checkbox":
            value: Any = form.get(f"{section}.{name}") == "on"
        else:
            raw = str(form.get(f"{section}.{name}", "")).strip()
            value = None if raw == "" else raw
        if value != current and str(value) != str(current):
            overrides.setdefault(section, {})[name] = value
    return overrides


@router.post("/submissions/{submission_id}/rerun")
async def rerun_page(submission_id: SubmissionId, request: Request, db: SessionDep,
                     settings: SettingsDep) -> Response:
    return await _lab_action(request, db, submission_id, lambda user, form: rerun(
        submission_id, RerunIn(settings=rerun_overrides(form, settings)), request, db,
        settings, user))


@router.post("/submissions/{submission_id}/release-hold")
async def release_hold_page(submission_id: SubmissionId, request: Request,
                            db: SessionDep) -> Response:
    return await _lab_action(request, db, submission_id, lambda user, _form: release_hold(
        submission_id, request, db, user))


@router.post("/submissions/{submission_id}/approve")
async def approve_page(submission_id: SubmissionId, request: Request, db: SessionDep,
                       settings: SettingsDep) -> Response:
    return await _lab_action(request, db, submission_id, lambda user, form: approve(
        submission_id, request, db, settings, user,
        ApproveIn(embargo_until=form.get("embargo_until") or None)))


@router.post("/submissions/{submission_id}/publication-date")
async def publication_date_page(submission_id: SubmissionId, request: Request,
                                db: SessionDep) -> Response:
    return await _lab_action(request, db, submission_id, lambda user, form: (
        change_publication_date(submission_id, PublicationDateIn(
            embargo_until=form.get("embargo_until") or None), request, db, user)))


@router.get("/submissions/{submission_id}/report.pdf")
def report_page(submission_id: SubmissionId, request: Request, db: SessionDep,
                settings: SettingsDep) -> Response:
    from fastapi.responses import FileResponse

    user = _signed_in(request, db)
    if isinstance(user, Response):
        return user
    try:
        path = _released_file(request, db, settings, user, submission_id, "report.pdf",
                              "report.download")
    except HTTPException as exc:
        return _error_page(request, user, exc)
    return FileResponse(path, media_type="application/pdf",
                        filename=f"jdl-report-{submission_id}.pdf")

"""The server-rendered web UI: sign in, choose a password, upload with immediate feedback,
follow a submission, approve (reviewers), download the approved report.

Sessions are server-side records (``user_sessions``) whose random key travels in a signed
cookie (Starlette's SessionMiddleware; key from a file outside the database), HttpOnly,
SameSite=Strict and Secure unless configured off; sign-out, a password change, an admin's
reset and deactivation end every session of the user. Every form carries a per-session CSRF
token. Sign-in failures are rate limited per account and per client address, and audited; an
unknown email costs as long as a wrong password. The signed-in user comes from the shared page
dependencies in ``_deps.py``, which raise (redirect or error page) instead of each handler
checking. The pages reuse the API's checks, so the isolation and review rules are the same.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, get_args

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy import select

from jdl.core.config import Settings
from jdl.core.errors import JDLError
from jdl.service._accounts import end_sessions, start_session
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
from jdl.service._audit import deny, record, refused_upload
from jdl.service._deps import (
    PageRedirect,
    PageRefused,
    PageUserDep,
    SessionDep,
    SettingsDep,
    SignedInDep,
)
from jdl.service._models import Role, Submission, User, utcnow
from jdl.service._passwords import MIN_LENGTH, password_problems
from jdl.service._publication import default_embargo
from jdl.service._ratelimit import LoginLimiter
from jdl.service._schemas import ApproveIn, PublicationDateIn, RerunIn
from jdl.service._security import (
    hash_password_off_loop,
    new_token,
    token_digest,
    verify_password_off_loop,
)
from jdl.service._uploads import receive_upload

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _covariate(code: object) -> str:
    """Balance rows name covariates as the report does (``ethnicityAsian`` -> ``Ethnicity:
    Asian``)."""
    from jdl.report import covariate_name

    return covariate_name(code)


templates.env.filters["covariate"] = _covariate
MIN_PASSWORD = MIN_LENGTH


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
        user = getattr(request.state, "page_user", None)
        deny(db, request, f"web {request.url.path}", user_id=user.id if user else None,
             detail="missing or wrong CSRF token")
        raise FormExpired(403, "Go back, refresh the page and try again.")


def page_redirect(_request: Request, exc: Exception) -> Response:
    """A page dependency found no (fit) signed-in user: send the browser on."""
    return RedirectResponse(getattr(exc, "location", "/login"), status_code=303)


def page_refused(request: Request, exc: Exception) -> Response:
    """A page dependency or check refused: the error page, the user still shown signed in."""
    assert isinstance(exc, PageRefused)
    return _error_page(request, exc.user, exc)


def add_page_handlers(app: Any) -> None:
    """Register the pages' exception handlers (redirects, error pages, expired forms)."""
    app.add_exception_handler(FormExpired, form_expired)
    app.add_exception_handler(PageRedirect, page_redirect)
    app.add_exception_handler(PageRefused, page_refused)


def _refused(user: User, exc: HTTPException) -> PageRefused:
    """The API's refusal (403/404/409...) as the page's error page."""
    return PageRefused(exc.status_code, exc.detail, user)


def _page(request: Request, name: str, user: User | None, status: int = 200,
          **context: Any) -> Response:
    return templates.TemplateResponse(request, name, {
        "user": user, "csrf_token": _csrf_token(request), **context}, status_code=status)


def _error_page(request: Request, user: User | None, exc: HTTPException) -> Response:
    headings = {403: "You cannot do this", 404: "Page not found", 409: "Not available yet",
                413: "File too large", 429: "Try again later"}
    return _page(request, "error.html", user, exc.status_code,
                 heading=headings.get(exc.status_code, "There is a problem"),
                 message=exc.detail)


@router.get("/login")
def login_page(request: Request) -> Response:
    return _page(request, "login.html", None)


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _sign_in(request: Request, db: SessionDep, settings: Settings, user: User) -> None:
    """A new server-side session for this browser (a new cookie key: no fixation)."""
    request.session.clear()
    request.session["sid"] = start_session(db, user, settings.service.session_max_age_seconds)


@router.post("/login")
async def login(request: Request, db: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    _check_csrf(request, db, form.get("csrf_token"))
    email = str(form.get("email", "")).strip().lower()[:320]
    limiter: LoginLimiter = request.app.state.login_limiter
    if limiter.blocked(_client(request), email):
        deny(db, request, "web.login", user_id=None, detail="rate limited")
        return _page(request, "login.html", None, 429, email=email,
                     errors=["Too many failed attempts. Wait 15 minutes and try again."])
    user = db.scalar(select(User).where(User.email == email))
    # the hash is checked whether or not the account exists: the answer takes as long either way
    # (in a worker thread, a few at a time: Argon2id on the event loop would stall every request)
    right = await verify_password_off_loop(user.password_hash if user is not None else None,
                                           str(form.get("password", "")))
    if user is None or not user.active or not right:
        limiter.fail(_client(request), email)
        deny(db, request, "web.login", user_id=user.id if user else None,
             detail="wrong email or password")
        return _page(request, "login.html", None, 401, email=email,
                     errors=["The email address or password is not right."])
    limiter.clear(email)
    _sign_in(request, db, settings, user)
    record(db, request, "web.login", user_id=user.id)
    return RedirectResponse("/password" if user.must_change_password else "/", status_code=303)


@router.post("/logout")
async def logout(request: Request, db: SessionDep) -> Response:
    """Sign out: every session of this user ends (all browsers), not only this cookie."""
    from jdl.service._accounts import session_user

    form = await request.form()
    _check_csrf(request, db, form.get("csrf_token"))
    found = session_user(db, request.session.get("sid"))
    if found is not None:
        ended = end_sessions(db, found[0].id, "signed out")
        db.commit()
        record(db, request, "web.logout", user_id=found[0].id, detail=f"{ended} session(s)")
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/password")
def password_page(request: Request, user: SignedInDep) -> Response:
    return _page(request, "password.html", user, min_length=MIN_PASSWORD)


@router.post("/password")
async def change_password(request: Request, db: SessionDep, settings: SettingsDep,
                          user: SignedInDep) -> Response:
    """A new password, given the current one (the one-time one, when forced). Every session
    of the user ends and this browser gets a new one. A voluntary change also ends the API
    token and shows its replacement once; a forced change keeps the token that was issued
    with the one-time password."""
    form = await request.form()
    _check_csrf(request, db, form.get("csrf_token"))
    current = str(form.get("current", ""))
    new, confirm = str(form.get("password", "")), str(form.get("confirm", ""))
    limiter: LoginLimiter = request.app.state.login_limiter
    if limiter.blocked(_client(request), user.email):
        deny(db, request, "web.password_change", user_id=user.id, detail="rate limited")
        return _page(request, "password.html", user, 429, min_length=MIN_PASSWORD,
                     errors=["Too many failed attempts. Wait 15 minutes and try again."])
    if not await verify_password_off_loop(user.password_hash, current):
        limiter.fail(_client(request), user.email)
        deny(db, request, "web.password_change", user_id=user.id,
             detail="wrong current password")
        return _page(request, "password.html", user, 422, min_length=MIN_PASSWORD,
                     errors=["Your current password is not right."])
    problems = password_problems(new, email=user.email, context=(
        user.organisation.name, settings.service.lab_organisation, settings.report.lab_name))
    if new != confirm:
        problems.append("The two passwords are not the same.")
    if not problems and new == current:
        problems.append("Choose a password different from your current one.")
    if problems:
        return _page(request, "password.html", user, 422, min_length=MIN_PASSWORD,
                     errors=problems)
    forced = user.must_change_password
    user.password_hash, user.must_change_password = await hash_password_off_loop(new), False
    token = None if forced else new_token()
    if token is not None:
        user.token_hash = token_digest(token)
    ended = end_sessions(db, user.id, "password changed")
    db.commit()
    _sign_in(request, db, settings, user)
    record(db, request, "web.password_changed", user_id=user.id,
           detail=f"{ended} session(s) ended" + ("" if forced else "; new API token"))
    if forced:
        return RedirectResponse("/", status_code=303)
    return _page(request, "password.html", user, min_length=MIN_PASSWORD, new_token=token,
                 done="Your password is changed. Every other session has been signed out.")


def _programme_fields() -> list[dict[str, Any]]:
    """The programme form, from the intake's Programme model (one source of truth)."""
    from jdl.intake import Programme
    from jdl.intake._programme import REGION_CHOICES

    def choices(name: str) -> tuple[str, ...]:
        return get_args(Programme.model_fields[name].annotation)

    return [
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
    context.setdefault("form", {})
    return _page(request, "home.html", user, status, submissions=db.scalars(query).all(),
                 fields=_programme_fields(), **context)


@router.get("/")
def home(request: Request, db: SessionDep, user: PageUserDep) -> Response:
    return _home(request, db, user)


@router.post("/upload")
async def upload(request: Request, db: SessionDep, settings: SettingsDep,
                 user: PageUserDep) -> Response:
    """Signed-in user, role and queue quota are checked before the body is read; the file is
    then streamed into encrypted storage (:func:`receive_upload`). Every refusal is audited."""
    from starlette.concurrency import run_in_threadpool

    try:
        await run_in_threadpool(check_upload_allowed, db, request, settings, user)  # audits
        with refused_upload(db, request, user.id):
            received = await receive_upload(request, settings,
                                            organisation_id=user.organisation_id)
    except HTTPException as exc:
        if exc.status_code == 403:
            raise _refused(user, exc) from None
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
        with refused_upload(db, request, user.id):
            submission, report = await run_in_threadpool(accept_upload, db, request, settings,
                                                         user, received, programme)
    except JDLError as exc:
        return _home(request, db, user, 422, form=values,
                     errors=[exc.message, *exc.problems])
    except HTTPException as exc:
        if exc.status_code == 403:
            raise _refused(user, exc) from None
        return _home(request, db, user, exc.status_code, form=values, errors=[exc.detail])
    if submission is None:
        return _home(request, db, user, 422, form=values, validation=report,
                     errors=["The lab cannot use this file. The problems are listed below."])
    return RedirectResponse(f"/submissions/{submission.id}", status_code=303)


def _viewed(request: Request, db: SessionDep, user: User, submission_id: int) -> Submission:
    """The submission the user may see (otherwise the API's 404, as a page)."""
    try:
        return _visible(db, request, user, submission_id, "submission.view")
    except HTTPException as exc:
        raise _refused(user, exc) from None


@router.get("/submissions/{submission_id}")
def submission_page(submission_id: SubmissionId, request: Request, db: SessionDep,
                    settings: SettingsDep, user: PageUserDep) -> Response:
    submission = _viewed(request, db, user, submission_id)
    involved = {submission.submitted_by, *(job.requested_by for job in submission.jobs)}
    can_approve = (user.effective_role == Role.reviewer and submission.state == "awaiting_review"
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
                 can_rerun=user.effective_role == Role.analyst and submission.purged_at is None
                 and submission.state in ("held", "awaiting_review", "failed"),
                 can_release=user.effective_role == Role.analyst and submission.state == "held",
                 can_move_date=user.effective_role in (Role.reviewer, Role.admin)
                 and submission.state == "approved",
                 rerun_fields=[(f"{sec}.{name}", label, kind,
                                getattr(getattr(settings, sec), name))
                               for sec, name, label, kind in RERUN_FIELDS],
                 default_embargo=default_embargo(settings).isoformat(),
                 **_run_settings(db, settings, submission),
                 smd_good=settings.matching.smd_good,
                 today=utcnow().date().isoformat(),
                 progress=_progress(submission))


@router.get("/submissions/{submission_id}/progress")
def progress_fragment(submission_id: SubmissionId, request: Request, db: SessionDep,
                      user: PageUserDep) -> Response:
    """The progress box alone, which the submission page polls while a job runs."""
    submission = _viewed(request, db, user, submission_id)
    return templates.TemplateResponse(request, "_progress.html",
                                      {"progress": _progress(submission)})


def _run_settings(db: SessionDep, settings: Settings, submission: Submission) -> dict[str, Any]:
    """The settings an analyst changed for the run whose results are shown (the newest done
    run, else the newest): each with the lab's own value, for the reviewer to see beside the
    results."""
    from jdl.service._overrides import check_overrides

    job = submission.latest_done_job or (submission.jobs[-1] if submission.jobs else None)
    if job is None:
        return {"run_settings": None, "run_settings_by": None}
    overrides = dict(job.settings_overrides or {})
    try:
        changes: list[Any] = check_overrides(settings, overrides) if overrides else []
    except JDLError:  # a run queued under an older allow-list: show what was asked for
        changes = [{"setting": f"{s}.{n}", "value": v, "lab_value": None}
                   for s, values in overrides.items() for n, v in dict(values).items()]
    by = db.get(User, job.requested_by) if changes else None
    return {"run_settings": changes, "run_settings_by": by.email if by else None}


def _progress(submission: Submission) -> dict[str, Any] | None:
    """Where a queued or running evaluation is, as a step count the page can show."""
    from jdl.evaluation import STAGES

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


async def _lab_action(request: Request, db: SessionDep, user: User, submission_id: int,
                      action: Any) -> Response:
    """A form button that calls one of the API's actions, then shows the submission again."""
    form = await request.form()
    _check_csrf(request, db, form.get("csrf_token"))
    try:
        action(user, form)
    except HTTPException as exc:
        raise _refused(user, exc) from None
    except ValidationError as exc:
        raise PageRefused(422, _plain_errors(exc), user) from None
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
                     settings: SettingsDep, user: PageUserDep) -> Response:
    return await _lab_action(request, db, user, submission_id, lambda user, form: rerun(
        submission_id, RerunIn(settings=rerun_overrides(form, settings)), request, db,
        settings, user))


@router.post("/submissions/{submission_id}/release-hold")
async def release_hold_page(submission_id: SubmissionId, request: Request,
                            db: SessionDep, user: PageUserDep) -> Response:
    return await _lab_action(request, db, user, submission_id, lambda user, _form: release_hold(
        submission_id, request, db, user))


@router.post("/submissions/{submission_id}/approve")
async def approve_page(submission_id: SubmissionId, request: Request, db: SessionDep,
                       settings: SettingsDep, user: PageUserDep) -> Response:
    return await _lab_action(request, db, user, submission_id, lambda user, form: approve(
        submission_id, request, db, settings, user,
        ApproveIn(embargo_until=form.get("embargo_until") or None)))


@router.post("/submissions/{submission_id}/publication-date")
async def publication_date_page(submission_id: SubmissionId, request: Request,
                                db: SessionDep, user: PageUserDep) -> Response:
    return await _lab_action(request, db, user, submission_id, lambda user, form: (
        change_publication_date(submission_id, PublicationDateIn(
            embargo_until=form.get("embargo_until") or None), request, db, user)))


@router.get("/submissions/{submission_id}/report.pdf")
def report_page(submission_id: SubmissionId, request: Request, db: SessionDep,
                settings: SettingsDep, user: PageUserDep) -> Response:
    from fastapi.responses import FileResponse

    try:
        path = _released_file(request, db, settings, user, submission_id, "report.pdf",
                              "report.download")
    except HTTPException as exc:
        raise _refused(user, exc) from None
    return FileResponse(path, media_type="application/pdf",
                        filename=f"jdl-report-{submission_id}.pdf")

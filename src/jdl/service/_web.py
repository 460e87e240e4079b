"""The server-rendered web UI: sign in, choose a password, upload with immediate feedback,
follow a submission, review it (lab: ``_web_review.py`` — approve, send back, decline),
withdraw it (the organisation), download the approved report.

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
    decline,
    get_diagnostics,
    release_hold,
    rerun,
    send_back,
    withdraw,
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
from jdl.service._schemas import ApproveIn, PublicationDateIn, ReasonIn, RerunIn
from jdl.service._security import (
    hash_password_off_loop,
    new_token,
    token_digest,
    verify_password_off_loop,
)
from jdl.service._uploads import receive_upload

router = APIRouter(include_in_schema=False)
# templates and the page helpers live in _web_render, shared with the error and help pages
from jdl.service._web_render import _csrf_token, _page, _page_user, templates  # noqa: E402,F401

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
    """Register the pages' exception handlers (redirects, error pages, expired forms), and the
    styled error pages every browser request gets instead of JSON (``_web_errors.py``)."""
    from jdl.service._web_errors import add_error_pages

    add_error_pages(app)
    app.add_exception_handler(FormExpired, form_expired)
    app.add_exception_handler(PageRedirect, page_redirect)
    app.add_exception_handler(PageRefused, page_refused)


def _refused(user: User, exc: HTTPException) -> PageRefused:
    """The API's refusal (403/404/409...) as the page's error page."""
    return PageRefused(exc.status_code, exc.detail, user)


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
                     errors=[{"text": "Too many failed attempts. Wait 15 minutes and try again.",
                              "href": "#email"}])
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
                     errors=[{"text": "The email address or password is not right.",
                              "href": "#email"}])
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
                     errors=[{"text": "Too many failed attempts. Wait 15 minutes and try again.",
                              "href": "#current"}])
    if not await verify_password_off_loop(user.password_hash, current):
        limiter.fail(_client(request), user.email)
        deny(db, request, "web.password_change", user_id=user.id,
             detail="wrong current password")
        return _page(request, "password.html", user, 422, min_length=MIN_PASSWORD,
                     errors=[{"text": "Your current password is not right.",
                              "href": "#current"}])
    problems = [{"text": text, "href": "#password"} for text in password_problems(
        new, email=user.email, context=(user.organisation.name,
                                        settings.service.lab_organisation,
                                        settings.report.lab_name))]
    if new != confirm:
        problems.append({"text": "The two passwords are not the same.", "href": "#confirm"})
    if not problems and new == current:
        problems.append({"text": "Choose a password different from your current one.",
                         "href": "#password"})
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
        {"name": "own_words", "label": "Your organisation in your own words (optional)",
         "kind": "textarea",
         "hint": "Up to 2,000 characters about your organisation and the programme, printed in "
                 "the report as your words. Do not name anyone or give numbers of people."},
        {"name": PLAN_FIELD, "label": "Analysis plan (optional)", "kind": "textarea",
         "hint": "Register, before any result exists, the measure you will judge the programme "
                 "by, your own extra columns and the sub-groups to analyse. It is fixed once "
                 "you upload and printed in the report with its fingerprint. Example: "
                 "primary_measure: proven_reoffending_rate / variables: {delivery_mode: "
                 "{kind: category, categories: [In person, Online]}, attendance: count} / "
                 "sub_analyses: [delivery_mode, attendance, sex] (one field a line; see the "
                 "guidance on your own columns)."},
    ]


#: The form field holding the organisation's analysis plan (not a programme field).
PLAN_FIELD = "analysis_plan"


def _home(request: Request, db: SessionDep, user: User, status: int = 200,
          **context: Any) -> Response:
    query = select(Submission).order_by(Submission.id.desc())
    if not user.is_lab:
        query = query.where(Submission.organisation_id == user.organisation_id)
    context.setdefault("form", {})
    context.setdefault("field_errors", {})
    max_mb = request.app.state.settings.intake.max_file_bytes // (1024 * 1024)
    return _page(request, "home.html", user, status, submissions=db.scalars(query).all(),
                 max_mb=max_mb,
                 fields=_programme_fields(), **context)


@router.get("/")
def home(request: Request, db: SessionDep, user: PageUserDep) -> Response:
    return _home(request, db, user)


#: The intake's refusal hint for the command line, and what the portal says instead.
_CLI_HINTS = {
    "Download the template with `jdl template` and fill in one row per person.":
        "Download the lab's template from the upload page and fill in one row per person.",
    "`jdl template --format yaml` writes an example programme file to copy.": "",
}


def _portal_text(text: str | None) -> str | None:
    """Intake's words for the portal: never send a charity to the command line."""
    if not text:
        return text
    for cli, portal in _CLI_HINTS.items():
        text = text.replace(cli, portal)
    return text.strip() or None


def _programme_errors(problems: Any, fields: list[dict[str, Any]]
                      ) -> tuple[list[dict[str, str]], dict[str, str]]:
    """The programme's problems (``"field: text"``) as GOV.UK error messages, each linked to its
    field: "Enter ...", "Choose ..." for a missing one, the label and the problem otherwise."""
    labels = {f["name"]: f for f in fields}
    summary: list[dict[str, str]] = []
    by_field: dict[str, str] = {}
    for problem in problems:
        name, _, text = str(problem).partition(": ")
        field = labels.get(name)
        if field is None:
            summary.append({"text": str(problem), "href": ""})
            continue
        label = field["label"].removesuffix(" (optional)")
        if text.startswith("missing"):
            verb = "Choose" if field.get("choices") else "Enter"
            message = f"{verb} {label[:1].lower()}{label[1:]}."
        elif " is not allowed; use one of" in text:
            message = f"Choose {label[:1].lower()}{label[1:]} from the list."
        else:
            message = f"{label}: {text}"
        by_field.setdefault(name, message)
        summary.append({"text": message, "href": f"#{name}"})
    return summary, by_field


def _form_values(fields: dict[str, str]) -> dict[str, str]:
    names = {f["name"] for f in _programme_fields()}
    return {k: v.strip() for k, v in fields.items() if k in names}


@router.post("/upload")
async def upload(request: Request, db: SessionDep, settings: SettingsDep,
                 user: PageUserDep) -> Response:
    """Signed-in user, role and queue quota are checked before the body is read; the file is
    then streamed into encrypted storage (:func:`receive_upload`). Every refusal is audited.
    A problem goes back to the same form, the user's other input kept and each error linked
    to its field; a refused file's problems are grouped by column and kind, with every problem
    row downloadable (encrypted meanwhile, ``_web_feedback.py``)."""
    from starlette.concurrency import run_in_threadpool

    from jdl.service._uploads import UploadFieldError
    from jdl.service._web_feedback import SESSION_KEY, keep_refused_problems

    try:
        await run_in_threadpool(check_upload_allowed, db, request, settings, user)  # audits
        with refused_upload(db, request, user.id):
            received = await receive_upload(request, settings,
                                            organisation_id=user.organisation_id)
    except UploadFieldError as exc:
        message = (exc.detail if not exc.detail.startswith("The form has no file")
                   else "Choose a file to upload.")
        return _home(request, db, user, exc.status_code, form=_form_values(exc.fields),
                     errors=[{"text": message, "href": "#file"}],
                     field_errors={"file": message})
    except HTTPException as exc:
        if exc.status_code == 403:
            raise _refused(user, exc) from None
        linked = exc.status_code in (400, 413, 422)
        return _home(request, db, user, exc.status_code,
                     errors=[{"text": exc.detail, "href": "#file" if linked else ""}],
                     field_errors={"file": exc.detail} if linked else {})
    try:
        _check_csrf(request, db, received.fields.get("csrf_token"))
    except FormExpired:
        received.discard()
        raise
    values = _form_values(received.fields)
    programme = {k: v for k, v in values.items() if v != "" and k != PLAN_FIELD}
    kept: dict[str, Any] = {}
    try:
        from jdl.service._api_submissions import parse_plan

        plan = parse_plan(values[PLAN_FIELD]) if values.get(PLAN_FIELD) else None
    except HTTPException as exc:
        received.discard()
        return _home(request, db, user, 422, form=values,
                     errors=[{"text": exc.detail, "href": f"#{PLAN_FIELD}"}],
                     field_errors={PLAN_FIELD: exc.detail})

    def keep_problems(checked: Any) -> None:
        if not checked.acceptable:
            kept["token"] = keep_refused_problems(settings, user, checked)

    try:
        with refused_upload(db, request, user.id):
            submission, report = await run_in_threadpool(accept_upload, db, request, settings,
                                                         user, received, programme,
                                                         keep_problems, plan)
    except JDLError as exc:
        from jdl.intake import RegistrationError

        problems = exc.problems
        if isinstance(exc, RegistrationError):  # every plan problem belongs to the plan field
            problems = [f"{PLAN_FIELD}: {p}" for p in (exc.problems or [exc.message])]
        summary, by_field = _programme_errors(problems, _programme_fields())
        return _home(request, db, user, 422, form=values, field_errors=by_field,
                     errors=summary or [{"text": exc.message, "href": ""}])
    except HTTPException as exc:
        if exc.status_code == 403:
            raise _refused(user, exc) from None
        return _home(request, db, user, exc.status_code, form=values, errors=[exc.detail])
    if submission is None:
        if kept.get("token"):
            request.session[SESSION_KEY] = kept["token"]
        refusal = report.get("refusal") or {}
        refusal["hint"] = _portal_text(refusal.get("hint"))
        return _home(request, db, user, 422, form=values, validation=report,
                     problems_download=bool(kept.get("token")),
                     errors=[{"text": "The lab cannot use this file. The problems are listed "
                              "below.", "href": "#file-problems"}])
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
    return _submission_view(request, db, settings, user, submission_id)


def _submission_view(request: Request, db: SessionDep, settings: Settings, user: User,
                     submission_id: int, status: int = 200, **context: Any) -> Response:
    """The submission page; a form posted with a mistake comes back here with ``errors``,
    ``field_errors`` and the values it was sent with (``form``)."""
    submission = _viewed(request, db, user, submission_id)
    involved = {submission.submitted_by, *(job.requested_by for job in submission.jobs)}
    can_approve = (user.effective_role == Role.reviewer and submission.state == "awaiting_review"
                   and user.id not in involved)
    diagnostics = None
    if user.is_lab and submission.latest_done_job is not None and submission.state in (
            "held", "awaiting_review", "approved", "published", "sent_back", "declined",
            "failed"):
        try:
            diagnostics = get_diagnostics(submission_id, request, db, settings, user)
        except HTTPException:
            diagnostics = None
    context.setdefault("form", {})
    context.setdefault("field_errors", {})
    from jdl.service._web_review import page_context, state_words

    review = page_context(db, settings, user, submission, diagnostics, involved)
    return _page(request, "submission.html", user, status, s=submission,
                 state_text=state_words(submission.state, user.is_lab), **review,
                 job=submission.jobs[-1] if submission.jobs else None, can_approve=can_approve,
                 diagnostics=diagnostics,
                 can_rerun=user.effective_role == Role.analyst and submission.purged_at is None
                 and submission.state in ("held", "awaiting_review", "failed", "sent_back"),
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
                 progress=_progress(submission),
                 problems=_problem_groups(submission.validation),
                 **context)


def _problem_groups(validation: Any) -> list[dict[str, Any]]:
    """The stored summary of the upload's problems (by column and kind); for submissions
    stored before it was kept, grouped from the stored issues (at most 200)."""
    validation = validation or {}
    if validation.get("summary") is not None:
        return list(validation["summary"])
    from jdl.intake._feedback import kind_text
    from jdl.intake._rules import RULES

    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for issue in validation.get("issues") or []:
        code = issue.get("code")
        if code not in RULES or issue.get("row_number") is None:
            continue
        key = (str(issue.get("column") or ""), code)
        group = groups.setdefault(key, {
            "column": key[0], "code": code, "severity": RULES[code].severity,
            "problem": kind_text(code, key[0]), "fix": RULES[code].fix.format(
                column=key[0] or "this value"), "rows": 0, "rejected_rows": None,
            "examples": []})
        group["rows"] += 1
        if len(group["examples"]) < 5:
            group["examples"].append(issue["row_number"])
    return sorted(groups.values(), key=lambda g: (g["severity"] != "error", -g["rows"]))


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
            "label": STAGE_LABELS.get(stage or "", "waiting for a worker"),
            "state": submission.state}


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


class FormProblem(Exception):
    """A form field the page checks itself (``field``: its id), answered on the same page."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


async def _lab_action(request: Request, db: SessionDep, settings: Settings, user: User,
                      submission_id: int, action: Any, field: str = "") -> Response:
    """A form button that calls one of the API's actions, then shows the submission again.
    A mistake in what was typed (422) goes back to the same page, with the error summary
    linked to ``field`` (or the field a :class:`FormProblem` names) and the values kept."""
    form = await request.form()
    _check_csrf(request, db, form.get("csrf_token"))
    values = {k: str(v) for k, v in form.items() if k != "csrf_token" and isinstance(v, str)}
    try:
        action(user, form)
    except FormProblem as exc:
        return _form_again(request, db, settings, user, submission_id, values,
                           {exc.field: exc.message})
    except HTTPException as exc:
        if exc.status_code != 422:
            raise _refused(user, exc) from None
        return _form_again(request, db, settings, user, submission_id, values,
                           {field: str(exc.detail)})
    except (ValidationError, JDLError) as exc:
        problems = (_plain_errors(exc) if isinstance(exc, ValidationError)
                    else [*exc.problems] or [exc.message])
        return _form_again(request, db, settings, user, submission_id, values,
                           {field: " ".join(problems)})
    return RedirectResponse(f"/submissions/{submission_id}", status_code=303)


def _form_again(request: Request, db: SessionDep, settings: Settings, user: User,
                submission_id: int, values: dict[str, str],
                field_errors: dict[str, str]) -> Response:
    db.rollback()
    return _submission_view(request, db, settings, user, submission_id, 422, form=values,
                            field_errors=field_errors,
                            errors=[{"text": m, "href": f"#{f}" if f else ""}
                                    for f, m in field_errors.items()])


def _plain_errors(exc: ValidationError) -> list[str]:
    """pydantic's errors in words (never its ``[type=...]`` text or links)."""
    out = []
    for e in exc.errors():
        if e.get("type", "").startswith("date"):
            out.append("Enter a real date, for example 21/03/2027.")
        else:
            out.append(str(e.get("msg", "This value is not valid.")).removeprefix(
                "Value error, ") + ".")
    return out


RERUN_FIELDS = (  # (section, setting, label, kind): what an analyst adjusts most often
    ("matching", "caliper", "Caliper (standard deviations of the propensity score; "
     "blank for none)", "number"),
    ("matching", "ratio", "Comparison people per participant", "number"),
    ("matching", "replace", "Match with replacement", "checkbox"),
    ("linkage", "match_threshold", "Linkage threshold (match probability)", "number"),
)


#: What each numeric re-run field accepts, checked on the page so a mistake is answered in
#: words beside the field: (blank allowed, whole number, lowest, highest, message).
RERUN_CHECKS = {
    "matching.caliper": (True, False, 0.0, None, "Enter the caliper as a number greater than "
                         "0, like 0.2, or leave it blank for no caliper."),
    "matching.ratio": (False, True, 1, None, "Enter the number of comparison people per "
                       "participant as a whole number, 1 or more."),
    "linkage.match_threshold": (False, False, 0.0, 1.0, "Enter the linkage threshold as a "
                                "number between 0 and 1, like 0.9."),
}


def _checked_number(key: str, raw: str) -> None:
    """Raise :class:`FormProblem` when ``raw`` is not what field ``key`` accepts."""
    rule = RERUN_CHECKS.get(key)
    if rule is None:
        return
    blank_ok, whole, low, high, message = rule
    if raw == "":
        if blank_ok:
            return
        raise FormProblem(key, message)
    try:
        number = float(raw)
    except ValueError:
        raise FormProblem(key, message) from None
    import math

    bad = not math.isfinite(number) or (whole and not number.is_integer())
    bad = bad or (number <= low if key == "matching.caliper" else number < low)
    if bad or (high is not None and number > high):
        raise FormProblem(key, message)


def rerun_overrides(form: Any, settings: Settings) -> dict[str, dict[str, Any]]:
    """The settings an analyst changed on the re-run form (unchanged ones are not overrides;
    a form without the settings fields re-runs with the lab's settings). A value the setting
    cannot take raises :class:`FormProblem` naming the field."""
    overrides: dict[str, dict[str, Any]] = {}
    if form.get("adjusted") != "1":
        return overrides
    for section, name, _label, kind in RERUN_FIELDS:
        current = getattr(getattr(settings, section), name)
        if kind == "checkbox":
            value: Any = form.get(f"{section}.{name}") == "on"
        else:
            raw = str(form.get(f"{section}.{name}", "")).strip()
            _checked_number(f"{section}.{name}", raw)
            value = None if raw == "" else raw
        if value != current and str(value) != str(current):
            overrides.setdefault(section, {})[name] = value
    return overrides


@router.post("/submissions/{submission_id}/rerun")
async def rerun_page(submission_id: SubmissionId, request: Request, db: SessionDep,
                     settings: SettingsDep, user: PageUserDep) -> Response:
    return await _lab_action(request, db, settings, user, submission_id,
                             lambda user, form: rerun(
                                 submission_id, RerunIn(settings=rerun_overrides(form, settings)),
                                 request, db, settings, user), field="matching.caliper")


@router.post("/submissions/{submission_id}/release-hold")
async def release_hold_page(submission_id: SubmissionId, request: Request,
                            db: SessionDep, settings: SettingsDep,
                            user: PageUserDep) -> Response:
    return await _lab_action(request, db, settings, user, submission_id,
                             lambda user, _form: release_hold(submission_id, request, db, user))


@router.post("/submissions/{submission_id}/approve")
async def approve_page(submission_id: SubmissionId, request: Request, db: SessionDep,
                       settings: SettingsDep, user: PageUserDep) -> Response:
    return await _lab_action(request, db, settings, user, submission_id,
                             lambda user, form: approve(
                                 submission_id, request, db, settings, user,
                                 ApproveIn(embargo_until=form.get("embargo_until") or None)),
                             field="embargo_until")


@router.post("/submissions/{submission_id}/publication-date")
async def publication_date_page(submission_id: SubmissionId, request: Request,
                                db: SessionDep, settings: SettingsDep,
                                user: PageUserDep) -> Response:
    return await _lab_action(request, db, settings, user, submission_id, lambda user, form: (
        change_publication_date(submission_id, PublicationDateIn(
            embargo_until=form.get("embargo_until") or None), request, db, user)),
        field="new_embargo")


@router.post("/submissions/{submission_id}/send-back")
async def send_back_page(submission_id: SubmissionId, request: Request, db: SessionDep,
                         settings: SettingsDep, user: PageUserDep) -> Response:
    """Send back with a reason (``_web_review.py`` draws the form)."""
    return await _lab_action(request, db, settings, user, submission_id, lambda user, form: (
        send_back(submission_id, request, db, user,
                  ReasonIn(reason=str(form.get("reason", ""))[:20_000]))),
        field="send_back_reason")


@router.post("/submissions/{submission_id}/decline")
async def decline_page(submission_id: SubmissionId, request: Request, db: SessionDep,
                       settings: SettingsDep, user: PageUserDep) -> Response:
    """Decline with a reason (``_web_review.py`` draws the form)."""
    return await _lab_action(request, db, settings, user, submission_id, lambda user, form: (
        decline(submission_id, request, db, user,
                ReasonIn(reason=str(form.get("reason", ""))[:20_000]))),
        field="decline_reason")


@router.post("/submissions/{submission_id}/withdraw")
async def withdraw_page(submission_id: SubmissionId, request: Request, db: SessionDep,
                        settings: SettingsDep, user: PageUserDep) -> Response:
    """The organisation confirms its withdrawal (the confirmation page is ``GET``, in
    ``_web_review.py``)."""
    return await _lab_action(request, db, settings, user, submission_id,
                             lambda user, _form: withdraw(submission_id, request, db,
                                                          settings, user))


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


def _include_portal_pages() -> None:
    """The portal's help (template, guidance) and problem-row downloads, on this router."""
    from jdl.service._web_feedback import router as feedback
    from jdl.service._web_help import router as help_pages
    from jdl.service._web_review import router as review_pages

    router.include_router(help_pages)
    router.include_router(feedback)
    router.include_router(review_pages)


_include_portal_pages()

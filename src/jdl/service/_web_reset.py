"""The "Forgotten your password?" pages (issue 21; the rules are in ``_password_reset.py``):
ask for a link by email, then choose a new password from the link, under the same password
policy as ``/password``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from jdl.service._audit import deny, record
from jdl.service._deps import SessionDep, SettingsDep
from jdl.service._mail import queue_reset_email
from jdl.service._password_reset import (
    RESET_PATH,
    ResetLimiter,
    complete_reset,
    request_reset,
    reset_key,
    valid_reset,
)
from jdl.service._passwords import MIN_LENGTH, password_problems
from jdl.service._security import hash_password_off_loop
from jdl.service._web_render import _page

router = APIRouter(include_in_schema=False)

EMAIL_FORMAT = "Enter an email address in the correct format, like name@example.org."


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _check_csrf(request: Request, db: SessionDep, sent: object) -> None:
    from jdl.service._web import _check_csrf as check

    check(request, db, sent if isinstance(sent, str) else None)


@router.get("/forgot-password")
def forgot_page(request: Request, settings: SettingsDep) -> Response:
    return _page(request, "forgot_password.html", None, mail_on=settings.mail.enabled,
                 minutes=settings.mail.reset_minutes, form={}, field_errors={})


@router.post("/forgot-password")
async def forgot(request: Request, db: SessionDep, settings: SettingsDep) -> Response:
    """Queue a reset link if the account exists; the same answer either way."""
    form = await request.form()
    _check_csrf(request, db, form.get("csrf_token"))
    email = str(form.get("email", "")).strip().lower()[:320]

    def again(status: int, message: str) -> Response:
        return _page(request, "forgot_password.html", None, status, mail_on=True,
                     minutes=settings.mail.reset_minutes, form={"email": email},
                     field_errors={"email": message},
                     errors=[{"text": message, "href": "#email"}])

    if not settings.mail.enabled:
        return _page(request, "forgot_password.html", None, 404, mail_on=False,
                     minutes=settings.mail.reset_minutes, form={}, field_errors={})
    local, at, domain = email.partition("@")
    if not email:
        return again(422, "Enter your email address.")
    if not (local and at and "." in domain and " " not in email):
        return again(422, EMAIL_FORMAT)
    limiter: ResetLimiter = request.app.state.reset_limiter
    if limiter.address_blocked(_client(request)):
        deny(db, request, "web.password_reset_request", user_id=None, detail="rate limited")
        return again(429, "There have been too many requests from this connection. Wait "
                          "15 minutes and try again.")
    limited = limiter.email_blocked(email)
    limiter.fail(_client(request), email)  # every request counts, whatever the answer
    issued = None if limited else request_reset(db, settings, request.app.state.reset_key,
                                                email)
    if issued is not None:
        queue_reset_email(db, issued)
    # the audit entry is written either way, in the same commit as any link: both answers
    # cost the same (the detail is lab-internal and never the address typed)
    record(db, request, "web.password_reset_request",
           outcome="allowed" if issued else "denied",
           user_id=issued.user_id if issued else None,
           detail="link emailed" if issued else
           ("rate limited for this email" if limited else "no active account"))
    return _page(request, "forgot_password.html", None, mail_on=True, sent_to=email,
                 minutes=settings.mail.reset_minutes, form={}, field_errors={})


def _invalid(request: Request) -> Response:
    return _page(request, "reset_password.html", None, 410, invalid=True, form={},
                 field_errors={})


@router.get(RESET_PATH)
def reset_page(request: Request, db: SessionDep, settings: SettingsDep,
               token: str = "") -> Response:
    """The link's page: the new-password form while the link works. Opening it uses
    nothing up (mail scanners open links before people do)."""
    if valid_reset(db, token) is None:
        return _invalid(request)
    return _page(request, "reset_password.html", None, token=token, min_length=MIN_LENGTH,
                 form={}, field_errors={})


@router.post(RESET_PATH)
async def reset(request: Request, db: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    _check_csrf(request, db, form.get("csrf_token"))
    token = str(form.get("token", ""))
    found = valid_reset(db, token)
    if found is None:
        deny(db, request, "web.password_reset", user_id=None, detail="link not valid")
        return _invalid(request)
    reset_row, user = found
    new, confirm = str(form.get("password", "")), str(form.get("confirm", ""))
    problems = password_problems(new, email=user.email, context=(
        user.organisation.name, settings.service.lab_organisation, settings.report.lab_name))
    field_errors: dict[str, str] = {}
    if problems:
        field_errors["password"] = " ".join(problems)
    elif new != confirm:
        field_errors["confirm"] = "The two passwords are not the same."
    if field_errors:
        return _page(request, "reset_password.html", None, 422, token=token,
                     min_length=MIN_LENGTH, form={}, field_errors=field_errors,
                     errors=[{"text": m, "href": f"#{f}"} for f, m in field_errors.items()])
    ended = complete_reset(db, reset_row, user, await hash_password_off_loop(new))
    db.commit()
    request.app.state.login_limiter.clear(user.email)
    request.session.clear()
    record(db, request, "web.password_reset", user_id=user.id,
           detail=f"by emailed link; {ended} session(s) ended")
    return RedirectResponse("/login?reset=done", status_code=303)


def install(app: object) -> None:
    """Add the pages, their limiter and the reset-token key to the app (``create_app``)."""
    from jdl.service._password_reset import hide_tokens_in_access_log
    from jdl.service._web import secret_key

    state = app.state  # type: ignore[attr-defined]
    settings = state.settings
    service = settings.service
    state.reset_key = reset_key(secret_key(service.secret_key_file))
    state.reset_limiter = ResetLimiter(state.sessions, state.login_limiter.secret,
                                       settings.mail.reset_max_per_email,
                                       service.login_window_seconds,
                                       settings.mail.reset_max_per_address)
    hide_tokens_in_access_log()
    app.include_router(router)  # type: ignore[attr-defined]

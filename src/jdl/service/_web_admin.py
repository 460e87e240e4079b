"""The lab admin's pages: organisations and users (the same operations as ``jdl admin``).

Only the ``admin`` role reaches them (the shared :data:`~jdl.service._deps.AdminPageDep`);
anyone else gets a 403 page and an audit entry. New passwords and tokens are shown once on the
page that made them and never stored in clear. Lab roles can be given only in the lab's own
organisation (``_accounts.check_role``), as on the command line.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from jdl.core.errors import JDLError
from jdl.service._accounts import create_org, create_user, new_credentials, set_active
from jdl.service._api_submissions import MAX_ROW_ID
from jdl.service._audit import record
from jdl.service._deps import AdminPageDep, PageRefused, SessionDep, SettingsDep
from jdl.service._models import Organisation, Role, User
from jdl.service._web import _check_csrf, _page

router = APIRouter(prefix="/admin", include_in_schema=False)
UserId = Annotated[int, PathParam(ge=1, le=MAX_ROW_ID, description="User number")]


async def _admin_form(request: Request, db: SessionDep) -> Any:
    """The form an admin sent, its CSRF token checked (403 otherwise)."""
    form = await request.form()
    _check_csrf(request, db, form.get("csrf_token"))
    return form


def _admin_page(request: Request, db: SessionDep, user: User, status: int = 200,
                **context: Any) -> Response:
    organisations = db.scalars(select(Organisation).order_by(Organisation.name)).all()
    users = db.scalars(select(User).order_by(User.organisation_id, User.email)).all()
    settings = request.app.state.settings
    return _page(request, "admin.html", user, status, organisations=organisations,
                 users=users, roles=[r.value for r in Role],
                 lab_organisation=settings.service.lab_organisation, **context)


def _refused(request: Request, db: SessionDep, user: User, field: str, message: str,
             form: Any = None) -> Response:
    """The admin page again (422) with the error summary linked to the field at fault, the
    message beside that field and what was typed kept."""
    kept = {k: str(v) for k, v in (form or {}).items() if k != "csrf_token"}
    return _admin_page(request, db, user, 422, errors=[{"text": message, "href": f"#{field}"}],
                       field_errors={field: message}, form=kept)


def _user_field(message: str) -> str:
    """Which field of the add-user form a refusal from ``create_user`` is about."""
    if "organisation called" in message:
        return "new-org"
    if "role" in message.lower() or "lab's own organisation" in message:
        return "new-role"
    return "new-email"


@router.get("")
def admin_home(request: Request, db: SessionDep, user: AdminPageDep) -> Response:
    return _admin_page(request, db, user)


@router.post("/organisations")
async def add_organisation(request: Request, db: SessionDep, user: AdminPageDep) -> Response:
    form = await _admin_form(request, db)
    try:
        org = create_org(db, str(form.get("name", "")))
    except JDLError as exc:
        return _refused(request, db, user, "org-name", exc.message, form)
    record(db, request, "admin.create_org", user_id=user.id, detail=f"organisation {org.id}")
    return _admin_page(request, db, user, done=f"Created the organisation {org.name}.")


@router.post("/users")
async def add_user(request: Request, db: SessionDep, settings: SettingsDep,
                   user: AdminPageDep) -> Response:
    form = await _admin_form(request, db)
    try:
        made = create_user(db, str(form.get("organisation", "")), str(form.get("role", "")),
                           str(form.get("email", "")),
                           lab_organisation=settings.service.lab_organisation)
    except JDLError as exc:
        return _refused(request, db, user, _user_field(exc.message), exc.message, form)
    record(db, request, "admin.create_user", user_id=user.id, detail=f"user {made.user_id}")
    return _admin_page(request, db, user, secrets={
        "email": made.email, "password": made.password, "token": made.token})


@router.post("/users/{user_id}")
async def change_user(user_id: UserId, request: Request, db: SessionDep,
                      settings: SettingsDep, admin: AdminPageDep) -> Response:
    """Deactivate or reactivate, or issue a new one-time password (with a new API token: the
    reset ends every session and token) or API token."""
    form = await _admin_form(request, db)
    target = db.get(User, user_id)
    action = str(form.get("action", ""))
    if target is None or action not in ("deactivate", "activate", "password", "token"):
        raise PageRefused(404, "No such user or action.", admin)
    if target.id == admin.id and action == "deactivate":
        return _refused(request, db, admin, f"action-{target.id}",
                        "You cannot deactivate your own account.")
    secrets = None
    if action in ("deactivate", "activate"):
        try:
            set_active(db, target, action == "activate",
                       lab_organisation=settings.service.lab_organisation)
        except JDLError as exc:
            return _refused(request, db, admin, f"action-{target.id}", exc.message)
    else:
        password, token = new_credentials(db, target, password=action == "password",
                                          token=action == "token")
        secrets = {"email": target.email, "password": password, "token": token}
    record(db, request, f"admin.{action}", user_id=admin.id, detail=f"user {target.id}")
    if secrets is None:
        return RedirectResponse("/admin", status_code=303)
    return _admin_page(request, db, admin, secrets=secrets)

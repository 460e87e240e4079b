"""The portal's templates and the helpers that draw a page, shared by the page modules
(``_web``, ``_web_errors``, ``_web_help``, ``_web_admin``) so none of them imports another's
routes."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates

from jdl.service._models import User

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _covariate(code: object) -> str:
    """Balance rows name covariates as the report does (``ethnicityAsian`` -> ``Ethnicity:
    Asian``)."""
    from jdl.report import covariate_name

    return covariate_name(code)


templates.env.filters["covariate"] = _covariate


def _count(value: object) -> str:
    """A count with thousands separators; anything else (a missing count) as it is, or empty."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None or not str(value) else str(value)


templates.env.filters["count"] = _count


def _csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def _page_user(request: Request) -> Any:
    """The signed-in user for a public page's header (or ``None``), read without refusing."""
    from types import SimpleNamespace

    from jdl.service._accounts import session_user
    from jdl.service._deps import apply_lab_rule

    sid = request.session.get("sid")
    if not sid:
        return None
    with request.app.state.sessions() as db:
        found = session_user(db, sid)
        if found is None or found[0].must_change_password:
            return None
        user = apply_lab_rule(request, found[0])
        return SimpleNamespace(id=user.id, email=user.email, role=user.role,
                               effective_role=user.effective_role,
                               organisation_id=user.organisation_id)


def _page(request: Request, name: str, user: User | None, status: int = 200,
          **context: Any) -> Response:
    return templates.TemplateResponse(request, name, {
        "user": user, "csrf_token": _csrf_token(request), **context}, status_code=status)

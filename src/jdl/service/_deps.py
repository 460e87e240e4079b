"""Typed FastAPI dependencies, shared by the API and the pages: settings, database session,
the API's token user and the pages' signed-in user.

The API authenticates by token (``Authorization: Bearer <token>``): a request without a valid
token is refused with 401 and audited. The pages authenticate by a server-side session (the
signed cookie carries a random key; :func:`jdl.service._accounts.session_user` finds its open
row). As in the FastAPI full-stack template, a page dependency *raises* when there is no such
user — :class:`PageRedirect` to the sign-in or password page, :class:`PageRefused` for a role
that may not — and the app turns these into a redirect or an error page, so no page handler
checks for itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from jdl.core.config import Settings
from jdl.service._audit import deny
from jdl.service._models import LAB_ROLES, Role, User, UserSession
from jdl.service._security import token_digest


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_db)]


def apply_lab_rule(request: Request, user: User) -> User:
    """Honour a lab role only in the lab's organisation (the one place roles meet the setting):
    the start-up check refuses such rows, but one written while the server runs (a ``jdl admin``
    run with another ``lab_organisation``, a database edit) must not see other organisations'
    work until the next restart."""
    lab = request.app.state.settings.service.lab_organisation
    user.outside_lab = user.role in LAB_ROLES and user.organisation.name != lab
    return user


def current_user(request: Request, db: SessionDep) -> User:
    """The user whose API token came with the request."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    user = None
    if scheme.lower() == "bearer" and token.strip():
        user = db.scalar(select(User).where(User.token_hash == token_digest(token.strip())))
    if user is None or not user.active:
        deny(db, request, f"{request.method} {request.url.path}", user_id=None,
             detail="missing or invalid API token")
        raise HTTPException(401, "A valid API token is required (Authorization: Bearer ...).",
                            headers={"WWW-Authenticate": "Bearer"})
    return apply_lab_rule(request, user)


UserDep = Annotated[User, Depends(current_user)]


class PageRedirect(Exception):
    """Send the browser elsewhere (303): to sign in, or to choose a password first."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class PageRefused(HTTPException):
    """A page the signed-in user may not see: shown as an error page (the user still signed
    in), with the status code."""

    def __init__(self, status_code: int, detail: str, user: User | None = None) -> None:
        super().__init__(status_code, detail)
        # what the page header shows, read now: the page is drawn after the request's database
        # session has closed (and an audited denial has rolled it back)
        self.user = None if user is None else SimpleNamespace(
            id=user.id, email=user.email, role=user.role, effective_role=user.effective_role,
            organisation_id=user.organisation_id)


def signed_in_session(request: Request, db: SessionDep) -> tuple[User, UserSession]:
    """The signed-in user and their open session, or a redirect to sign in."""
    from jdl.service._accounts import session_user

    found = session_user(db, request.session.get("sid"))
    if found is None:
        request.session.pop("sid", None)
        if request.method == "POST" and request.url.path == "/upload":
            # audited like the API's anonymous upload (second independent check, session 6)
            deny(db, request, "submission.upload", user_id=None, detail="not signed in")
        raise PageRedirect("/login")
    request.state.page_user = apply_lab_rule(request, found[0])
    return found


def signed_in(request: Request, db: SessionDep) -> User:
    """The signed-in user, even one who must still choose a password (the password page)."""
    return signed_in_session(request, db)[0]


def page_user(request: Request, db: SessionDep) -> User:
    """The signed-in user who may use the pages: a user who must choose a password first is
    sent to do so."""
    user = signed_in(request, db)
    if user.must_change_password:
        raise PageRedirect("/password")
    return user


SignedInDep = Annotated[User, Depends(signed_in)]
PageUserDep = Annotated[User, Depends(page_user)]


def admin_page_user(request: Request, db: SessionDep, user: PageUserDep) -> User:
    """A lab admin (anyone else: a 403 page, audited)."""
    if user.effective_role != Role.admin:
        deny(db, request, "admin.view", user_id=user.id, detail=f"role {user.effective_role}")
        raise PageRefused(403, "Only lab admins manage accounts.", user)
    return user


AdminPageDep = Annotated[User, Depends(admin_page_user)]

"""Typed FastAPI dependencies: settings, database session, the authenticated user.

Authentication is by API token (``Authorization: Bearer <token>``). A request without a valid
token is refused with 401 and audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from jdl.core.config import Settings
from jdl.service._audit import deny
from jdl.service._models import User
from jdl.service._security import token_digest


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_db)]


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
    return user


UserDep = Annotated[User, Depends(current_user)]

"""Creating organisations and users (the ``jdl admin`` commands use these)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from jdl.core.errors import UsageError
from jdl.service._models import Organisation, Role, User
from jdl.service._security import hash_password, new_password, new_token, token_digest


@dataclass(frozen=True)
class NewUser:
    """A created user with the secrets shown once and never stored in clear."""

    user_id: int
    email: str
    role: str
    organisation: str
    password: str
    token: str


def create_org(db: Session, name: str) -> Organisation:
    name = name.strip()
    if not name:
        raise UsageError("An organisation needs a name.")
    if db.scalar(select(Organisation).where(Organisation.name == name)) is not None:
        raise UsageError(f"There is already an organisation called {name!r}.")
    org = Organisation(name=name)
    db.add(org)
    db.commit()
    return org


def create_user(db: Session, org_name: str, role: str, email: str) -> NewUser:
    """A user with a one-time password (must be changed) and an API token."""
    org = db.scalar(select(Organisation).where(Organisation.name == org_name.strip()))
    if org is None:
        raise UsageError(f"There is no organisation called {org_name!r}.",
                         hint="Create it first: jdl admin create-org NAME")
    if role not in set(Role):
        raise UsageError(f"Unknown role {role!r}; use one of: {', '.join(Role)}.")
    email = email.strip().lower()
    if "@" not in email:
        raise UsageError(f"{email!r} is not an email address.")
    if db.scalar(select(User).where(User.email == email)) is not None:
        raise UsageError(f"There is already a user with email {email}.")
    password, token = new_password(), new_token()
    user = User(organisation_id=org.id, email=email, role=role,
                password_hash=hash_password(password), must_change_password=True,
                token_hash=token_digest(token), active=True)
    db.add(user)
    db.commit()
    return NewUser(user.id, email, role, org.name, password, token)

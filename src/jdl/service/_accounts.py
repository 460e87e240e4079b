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


def find_user(db: Session, email: str) -> User:
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise UsageError(f"There is no user with email {email.strip().lower()}.")
    return user


def set_active(db: Session, user: User, active: bool) -> None:
    """Deactivate (or reactivate) a user: sign-in, sessions and the API token stop working at
    once, and their history stays attributable."""
    user.active = active
    db.commit()


def new_credentials(db: Session, user: User, *, password: bool = False,
                    token: bool = False) -> tuple[str | None, str | None]:
    """Replace a user's password (a one-time one, to be changed at sign-in) and/or API token;
    the old ones stop working. Returns the new secrets, shown once."""
    new_pw = new_password() if password else None
    new_tok = new_token() if token else None
    if new_pw is not None:
        user.password_hash, user.must_change_password = hash_password(new_pw), True
    if new_tok is not None:
        user.token_hash = token_digest(new_tok)
    db.commit()
    return new_pw, new_tok

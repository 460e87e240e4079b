"""Organisations, users and their sessions (the ``jdl admin`` commands and the pages use these).

Two rules hold here for every caller (CLI, admin pages, start-up):

* **Lab roles belong to the lab.** Analyst, reviewer and admin accounts exist only in the lab's
  own organisation (``service.lab_organisation``); any other organisation's accounts are
  submitters, who see only their organisation's work. :func:`misplaced_lab_roles` finds rows
  that break this, and the app refuses to start until they are fixed.
* **Ending credentials ends sessions.** A new password, a reset or deactivation ends every
  browser session of the user at once (:func:`end_sessions`) and the API token with it.
"""


from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from jdl.core.errors import UsageError
from jdl.service._models import LAB_ROLES, Organisation, Role, User, UserSession, utcnow
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


def check_role(role: str, org_name: str, lab_organisation: str) -> None:
    """Refuse an unknown role, or a lab role outside the lab's own organisation."""
    if role not in set(Role):
        raise UsageError(f"Unknown role {role!r}; use one of: {', '.join(Role)}.")
    if role in LAB_ROLES and org_name.strip() != lab_organisation.strip():
        raise UsageError(
            f"Only the lab's own organisation ({lab_organisation!r}) can have {role} accounts; "
            f"{org_name.strip()!r} is not the lab.",
            hint="Accounts of other organisations are submitters: they see only their own "
                 "organisation's work. The lab is named by JDL_SERVICE__LAB_ORGANISATION.")


def create_user(db: Session, org_name: str, role: str, email: str, *,
                lab_organisation: str) -> NewUser:
    """A user with a one-time password (must be changed) and an API token."""
    org = db.scalar(select(Organisation).where(Organisation.name == org_name.strip()))
    if org is None:
        raise UsageError(f"There is no organisation called {org_name!r}.",
                         hint="Create it first: jdl admin create-org NAME")
    check_role(role, org.name, lab_organisation)
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


def set_active(db: Session, user: User, active: bool, *, lab_organisation: str) -> None:
    """Deactivate (or reactivate) a user: sign-in stops, every session and the API token end at
    once (a reactivated user gets a new token from an admin), and their history stays
    attributable. A lab role outside the lab cannot be reactivated."""
    if active:
        check_role(user.role, user.organisation.name, lab_organisation)
    user.active = active
    if not active:
        user.token_hash = None
        end_sessions(db, user.id, "deactivated")
    db.commit()


def set_role(db: Session, user: User, role: str, *, lab_organisation: str) -> None:
    """Change a user's role (the way to fix a lab role outside the lab: make it a submitter)."""
    check_role(role, user.organisation.name, lab_organisation)
    user.role = role
    end_sessions(db, user.id, "role changed")
    db.commit()


def new_credentials(db: Session, user: User, *, password: bool = False,
                    token: bool = False) -> tuple[str | None, str | None]:
    """Replace a user's password (a one-time one, to be changed at sign-in) and/or API token;
    the old ones stop working. An admin's password reset ends every session and the API token
    too (a new token is issued with the password), so whoever held the account loses it.
    Returns the new secrets, shown once."""
    token = token or password
    new_pw = new_password() if password else None
    new_tok = new_token() if token else None
    if new_pw is not None:
        user.password_hash, user.must_change_password = hash_password(new_pw), True
        end_sessions(db, user.id, "password reset")
    if new_tok is not None:
        user.token_hash = token_digest(new_tok)
    db.commit()
    return new_pw, new_tok


def misplaced_lab_roles(db: Session, lab_organisation: str) -> list[User]:
    """Active analyst, reviewer or admin accounts outside the lab's own organisation."""
    users = db.scalars(select(User).join(Organisation).where(
        User.role.in_([r.value for r in LAB_ROLES]), User.active.is_(True),
        Organisation.name != lab_organisation.strip())).all()
    return list(users)


def refuse_misplaced_lab_roles(db: Session, lab_organisation: str) -> None:
    """Refuse to start while any lab role sits outside the lab (listing each and the fix)."""
    bad = misplaced_lab_roles(db, lab_organisation)
    if bad:
        raise UsageError(
            f"{len(bad)} account(s) have a lab role outside the lab's organisation "
            f"({lab_organisation!r}); the service will not start until they are fixed.",
            problems=[f"{u.email}: {u.role} in {u.organisation.name!r}" for u in bad],
            hint="Make each a submitter (jdl admin set-role --email EMAIL --role submitter) or "
                 "deactivate it (jdl admin deactivate-user --email EMAIL); if the lab's "
                 "organisation has another name, set JDL_SERVICE__LAB_ORGANISATION.")


def with_account_organisation(programme: Any, user: User) -> Any:
    """The programme information with the organisation taken from the uploader's account: the
    report heading and the catalogue name the account's organisation, never a form field. A
    different name in the upload is refused rather than silently replaced."""
    if not isinstance(programme, dict):
        return programme
    name = user.organisation.name
    sent = programme.get("organisation")
    if sent not in (None, "") and str(sent).strip().casefold() != name.strip().casefold():
        raise UsageError(
            f"The organisation comes from your account ({name!r}); this upload names "
            f"{str(sent)[:200]!r}.",
            hint="Leave the organisation out of the programme information (or give your own); "
                 "the lab fills it in from your account.")
    return {**programme, "organisation": name}


# --- browser sessions ----------------------------------------------------------------------

def start_session(db: Session, user: User, max_age_seconds: int) -> str:
    """A new session for ``user``; the key for the (signed) cookie. Only its hash is stored."""
    key = secrets.token_urlsafe(32)
    # rows long past their end say nothing the audit log does not: drop the user's old ones
    db.execute(delete(UserSession).where(UserSession.user_id == user.id,
                                         UserSession.expires_at < utcnow() - timedelta(days=30)))
    db.add(UserSession(user_id=user.id, key_hash=token_digest(key),
                       expires_at=utcnow() + timedelta(seconds=max_age_seconds)))
    db.commit()
    return key


def session_user(db: Session, key: str | None) -> tuple[User, UserSession] | None:
    """The user and session of a cookie's key, while the session is open and unexpired and the
    user active."""
    if not key:
        return None
    row = db.scalar(select(UserSession).where(UserSession.key_hash == token_digest(key)))
    if row is None or row.ended_at is not None or _aware(row.expires_at) <= utcnow():
        return None
    user = db.get(User, row.user_id)
    return (user, row) if user is not None and user.active else None


def end_sessions(db: Session, user_id: int, reason: str) -> int:
    """End every open session of a user (caller commits); how many."""
    done = db.execute(update(UserSession).where(
        UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason))
    return getattr(done, "rowcount", 0) or 0  # a CursorResult for an UPDATE


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)

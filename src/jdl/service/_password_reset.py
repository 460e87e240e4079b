"""Self-service password reset by an emailed link (issue 21).

* **No enumeration.** Asking for a link answers the same page whether or not the account
  exists (or is active), and both answers cost one database commit; the per-email limit
  is counted for every address typed, existing or not.
* **A link that works once, briefly.** The token is an HMAC of a random ``nonce`` under a key
  derived from the service's secret key file (outside the database); the database holds only
  the token's SHA-256. A link works for ``mail.reset_minutes``, once, while the account's
  password is the one it was issued under (any change — by the user, an admin or another link —
  ends it), while the account is active, and until a newer link is issued.
* **The reset ends every session** of the account; failed sign-ins counted against it are
  cleared (it may have been locked out). The API token is kept: the holder of the email is not
  necessarily the holder of the token, and an admin can replace it.
* The token appears in no audit entry, log line or outbox row; uvicorn's access log line for
  the link is redacted (:class:`HideResetTokens`). A reverse proxy's log must do the same
  (docs/deployment.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from jdl.core.config import Settings
from jdl.service._models import PasswordReset, User, utcnow
from jdl.service._ratelimit import LoginLimiter, key_hash
from jdl.service._security import token_digest

RESET_PATH = "/reset-password"


def reset_key(secret: str) -> bytes:
    """The key reset tokens are derived with, from the service's session secret."""
    return hashlib.sha256(b"jdl password reset\0" + secret.encode()).digest()


def _token(key: bytes, nonce: str) -> str:
    digest = hmac.new(key, nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def password_stamp(password_hash: str) -> str:
    """Which password a link was issued under (a digest: the hash itself is not copied)."""
    return hashlib.sha256(b"jdl reset stamp\0" + password_hash.encode()).hexdigest()


def request_reset(db: Session, settings: Settings, key: bytes,
                  email: str) -> PasswordReset | None:
    """Issue a reset link for the account with ``email`` if there is an active one (caller
    queues its email and commits); the link's row if one was issued — never shown to the
    requester."""
    user = db.scalar(select(User).where(User.email == email))
    if user is None or not user.active:
        return None
    now = utcnow()
    end_resets(db, user.id, "superseded", now)
    nonce = secrets.token_hex(16)
    reset = PasswordReset(user_id=user.id, nonce=nonce,
                          token_hash=token_digest(_token(key, nonce)),
                          password_stamp=password_stamp(user.password_hash), created_at=now,
                          expires_at=now + timedelta(minutes=settings.mail.reset_minutes))
    db.add(reset)
    db.flush()
    return reset


def end_resets(db: Session, user_id: int, reason: str, now: datetime | None = None) -> None:
    """End every open reset link of the account (caller commits)."""
    db.execute(update(PasswordReset).where(PasswordReset.user_id == user_id,
                                           PasswordReset.ended_at.is_(None))
               .values(ended_at=now or utcnow(), end_reason=reason))


def usable(db: Session, reset: PasswordReset | None,
            now: datetime) -> tuple[PasswordReset, User] | None:
    if reset is None or reset.ended_at is not None or _aware(reset.expires_at) <= now:
        return None
    user = db.get(User, reset.user_id)
    if user is None or not user.active:
        return None
    if not hmac.compare_digest(reset.password_stamp, password_stamp(user.password_hash)):
        return None
    return reset, user


def valid_reset(db: Session, token: str,
                now: datetime | None = None) -> tuple[PasswordReset, User] | None:
    """The reset and account of a link's token while the link works; None otherwise."""
    if not token or len(token) > 100 or not re.fullmatch(r"[A-Za-z0-9_-]+", token):
        return None
    reset = db.scalar(select(PasswordReset).where(
        PasswordReset.token_hash == token_digest(token)))
    return usable(db, reset, now or utcnow())


def link_token(db: Session, reset_id: int | None, key: bytes | None,
               now: datetime | None = None) -> str | None:
    """The token for the worker's email, while the link still works (None otherwise)."""
    if reset_id is None or key is None:
        return None
    found = usable(db, db.get(PasswordReset, reset_id), now or utcnow())
    if found is None:
        return None
    token = _token(key, found[0].nonce)
    if not hmac.compare_digest(token_digest(token), found[0].token_hash):
        return None  # issued under another key (the secret key file was replaced)
    return token


def read_reset_key(secret_key_file: Path) -> bytes | None:
    """The key, from the secret key file the web app created (None before it exists: no link
    can have been issued yet)."""
    path = Path(secret_key_file)
    return reset_key(path.read_text().strip()) if path.is_file() else None


def complete_reset(db: Session, reset: PasswordReset, user: User, new_hash: str) -> int:
    """Set the new password, end this and every other link and every session of the
    account (caller commits); how many sessions ended."""
    from jdl.service._accounts import end_sessions

    now = utcnow()
    user.password_hash, user.must_change_password = new_hash, False
    reset.ended_at, reset.end_reason = now, "used"
    end_resets(db, user.id, "password reset", now)
    return end_sessions(db, user.id, "password reset by email")


class ResetLimiter(LoginLimiter):
    """Reset requests per email typed (any address) and per client address (any email), in
    the sign-in limiter's table and window under their own keys."""

    def _keys(self, client: str, email: str) -> tuple[str, str]:
        return (key_hash(self.secret, "reset-account", email),
                key_hash(self.secret, "reset-address", client))

    def address_blocked(self, client: str) -> bool:
        return self._blocked_key(key_hash(self.secret, "reset-address", client),
                                 self.max_per_address)

    def email_blocked(self, email: str) -> bool:
        return self._blocked_key(key_hash(self.secret, "reset-account", email),
                                 self.max_failures)

    def _blocked_key(self, key: str, limit: int) -> bool:
        from sqlalchemy import func

        from jdl.service._models import LoginFailure

        with self.sessions() as db:
            count = db.scalar(select(func.count()).select_from(LoginFailure).where(
                LoginFailure.key_hash == key, LoginFailure.at >= self.clock() - self.window))
        return (count or 0) >= limit


class HideResetTokens(logging.Filter):
    """Redacts reset tokens from log records (uvicorn's access log quotes the path)."""

    _TOKEN = re.compile(r"(token=)[A-Za-z0-9_-]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
                isinstance(a, str) and "token=" in a for a in record.args):
            record.args = tuple(self._TOKEN.sub(r"\1[hidden]", a) if isinstance(a, str) else a
                                for a in record.args)
        return True


def hide_tokens_in_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, HideResetTokens) for f in access.filters):
        access.addFilter(HideResetTokens())


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)

"""Rate limits shared by every server process, through the service database (issue 16: with
two ``jdl serve`` processes an attacker had twice the guesses).

- :class:`RequestLimiter`: requests per client address in fixed one-minute windows (table
  ``rate_counts``), enforced by :class:`RateLimit`, the outermost middleware but the security
  headers, so every request counts, a refused one (413, 408) included.
- :class:`LoginLimiter`: failed sign-ins (and current-password checks) in a sliding window, per
  account from any address (guessing one account from many addresses) and per address for any
  account (trying many accounts); one row per failure in ``login_failures``, exact across
  processes (a failure already costs an Argon2id hash, so a write more is nothing).

Accounts and addresses are stored as HMAC-SHA256 under the session key, never in clear (the
"email" typed may be a password typed in the wrong box); rows past their window are deleted.

A write per request would cost the request limiter ~10 ms of SQLite ``fsync`` (measured here),
so each process counts locally and adds its count to the shared row when it last did so a
second ago or more, or on every request once the address's count passes a quarter of the limit:
from there every decision is the database's and exact. The most N processes can let through in
a minute is the limit plus a quarter of it for each process beyond the first (what the others
let through locally and had not yet added); one process is exact. Once the shared count is past
the limit the window's remaining requests are refused without a write (counts only grow).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from jdl.service._body_limits import Refused, _answer
from jdl.service._models import LoginFailure, RateCount


def key_hash(secret: bytes, kind: str, value: str) -> str:
    """The stored form of an account or address: keyed, so the table alone reveals neither."""
    return hmac.new(secret, f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()


@dataclass
class _Local:
    pending: int = 0  # requests this process counted and has not yet added to the shared row
    shared: int = 0  # the shared row's count when this process last added to it
    synced_at: float = float("-inf")


class RequestLimiter:
    """Requests per client address per minute, shared through ``rate_counts`` (see the
    module for when this process writes)."""

    def __init__(self, per_minute: int, sessions: sessionmaker[Session], secret: bytes,
                 clock: Callable[[], float] = time.time, sync_seconds: float = 1.0) -> None:
        self.per_minute, self.clock, self.sync_seconds = per_minute, clock, sync_seconds
        self.sessions, self.secret = sessions, secret
        self._window: int | None = None
        self._local: dict[str, _Local] = {}
        self._lock = threading.Lock()

    def decide_locally(self, client: str) -> tuple[bool, int] | None:
        """Count one request; (allowed, seconds until the window resets) when this process can
        decide alone, None when the shared count must be asked (:meth:`decide_shared`)."""
        now = self.clock()
        window = int(now // 60)
        retry = 60 - int(now % 60)
        with self._lock:
            if window != self._window:
                self._window, self._local = window, {}
            local = self._local.setdefault(client, _Local())
            local.pending += 1
            estimate = local.shared + local.pending  # at most the true count
            if estimate > self.per_minute:  # past it for certain: no write needed
                if now - local.synced_at < self.sync_seconds:
                    return False, retry
                return None  # (once a second, tell the others)
            if (now - local.synced_at < self.sync_seconds
                    and estimate * 4 < self.per_minute):
                return True, retry
        return None

    def decide_shared(self, client: str) -> tuple[bool, int]:
        """Add this process's count to the shared row and decide from the total (blocking:
        call it from a worker thread)."""
        now = self.clock()
        window = int(now // 60)
        with self._lock:
            local = self._local.setdefault(client, _Local())
            pending, local.pending, local.synced_at = local.pending, 0, now
        total = self._add(client, window, pending)
        with self._lock:
            if self._window == window:
                local.shared = max(local.shared, total)
                total = local.shared + local.pending
        return total <= self.per_minute, 60 - int(now % 60)

    def _add(self, client: str, window: int, count: int) -> int:
        key = key_hash(self.secret, "request-address", client)
        with self.sessions() as db:
            total = add_count(db, key, window, count)
            if total == count:  # this address's first count this window: tidy the old ones
                db.execute(delete(RateCount).where(RateCount.minute < window - 1))
            db.commit()
        return total


def add_count(db: Session, key: str, window: int, count: int) -> int:
    """Add ``count`` to a shared row in one statement (insert or update); the new total."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(RateCount).values(key_hash=key, minute=window, count=count)
    upsert = statement.on_conflict_do_update(
        index_elements=["key_hash", "minute"],
        set_={"count": RateCount.count + count}).returning(RateCount.count)
    return int(db.execute(upsert).scalar_one())


class RateLimit:
    """The request limit as a pure ASGI middleware: 429 (with ``Retry-After``) once an address
    passes ``per_minute``; ``refused`` audits each refusal (``_refusals.py``)."""

    def __init__(self, app: ASGIApp, *, limiter: RequestLimiter,
                 refused: Refused | None = None) -> None:
        self.app, self.limiter, self.refused = app, limiter, refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else "unknown"
        decision = self.limiter.decide_locally(client)
        if decision is None:
            from anyio import to_thread

            decision = await to_thread.run_sync(self.limiter.decide_shared, client)
        allowed, retry = decision
        if allowed:
            await self.app(scope, receive, send)
            return
        if self.refused is not None:
            await self.refused(scope, 429, "over the request limit")
        await _answer(scope, send, 429, "Too many requests; try again shortly.",
                      headers=[(b"retry-after", str(retry).encode())])


class LoginLimiter:
    """Failed sign-ins in a sliding window of ``window`` seconds, per account (any address)
    and per address (any account), in ``login_failures``: every process sees every failure."""

    def __init__(self, sessions: sessionmaker[Session], secret: bytes, max_failures: int,
                 window: float, max_per_address: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.sessions, self.secret, self.clock = sessions, secret, clock
        self.max_failures, self.window = max_failures, window
        self.max_per_address = max_per_address or 4 * max_failures

    def _keys(self, client: str, email: str) -> tuple[str, str]:
        return (key_hash(self.secret, "login-account", email),
                key_hash(self.secret, "login-address", client))

    def blocked(self, client: str, email: str) -> bool:
        account, address = self._keys(client, email)
        since = self.clock() - self.window
        with self.sessions() as db:
            counts = dict(db.execute(
                select(LoginFailure.key_hash, func.count()).where(
                    LoginFailure.key_hash.in_((account, address)), LoginFailure.at >= since)
                .group_by(LoginFailure.key_hash)).tuples().all())
        return (counts.get(account, 0) >= self.max_failures
                or counts.get(address, 0) >= self.max_per_address)

    def fail(self, client: str, email: str) -> None:
        now = self.clock()
        with self.sessions() as db:
            db.add_all([LoginFailure(key_hash=key, at=now) for key in self._keys(client, email)])
            # the window's past goes (nothing grows with the emails tried)
            db.execute(delete(LoginFailure).where(LoginFailure.at < now - self.window))
            db.commit()

    def clear(self, email: str) -> None:
        """A successful sign-in clears the account's count (not the address's)."""
        with self.sessions() as db:
            db.execute(delete(LoginFailure).where(
                LoginFailure.key_hash == key_hash(self.secret, "login-account", email)))
            db.commit()


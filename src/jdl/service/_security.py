"""Passwords (Argon2id, via argon2-cffi) and API tokens.

Tokens are random 256-bit strings shown once; the database keeps only their SHA-256, which is
enough for a lookup (tokens have full entropy, so a slow hash adds nothing) and useless to anyone
who reads the database.
"""

from __future__ import annotations

import hashlib
import secrets

import anyio
import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2-cffi's default type is Argon2id (RFC 9106 parameters)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def dummy_hash() -> str:
    """A hash of a random password, made with the current hasher: checked against when the
    email is unknown, so an unknown email costs as long to refuse as a wrong password."""
    global _dummy
    if _dummy is None or _dummy[0] is not _hasher:
        _dummy = (_hasher, _hasher.hash(secrets.token_urlsafe(16)))
    return _dummy[1]


_dummy: tuple[PasswordHasher, str] | None = None

#: Argon2id costs ~0.1 s of CPU and tens of MB by design; at most this many run at once per
#: process, in worker threads, so sign-ins never block the event loop (every other request)
#: and a burst of them cannot exhaust memory or the thread pool.
HASHES_AT_ONCE = 2
_limiter: anyio.CapacityLimiter | None = None


def _hash_limiter() -> anyio.CapacityLimiter:
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(HASHES_AT_ONCE)
    return _limiter


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    """``verify_password`` in a worker thread; ``None`` (unknown email) is checked against the
    dummy hash so an unknown email takes as long to refuse as a wrong password."""
    def check() -> bool:
        return verify_password(password_hash if password_hash is not None else dummy_hash(),
                               password)
    return await anyio.to_thread.run_sync(check, limiter=_hash_limiter())


async def hash_password_off_loop(password: str) -> str:
    """``hash_password`` in a worker thread, under the same limit as verification."""
    return await anyio.to_thread.run_sync(hash_password, password, limiter=_hash_limiter())


def new_password() -> str:
    """A one-time password for a new user (about 96 bits, easy to type)."""
    return secrets.token_urlsafe(12)


def new_token() -> str:
    return "jdl_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

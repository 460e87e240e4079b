"""Passwords (Argon2id, via argon2-cffi) and API tokens.

Tokens are random 256-bit strings shown once; the database keeps only their SHA-256, which is
enough for a lookup (tokens have full entropy, so a slow hash adds nothing) and useless to anyone
who reads the database.
"""

from __future__ import annotations

import hashlib
import secrets

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


def new_password() -> str:
    """A one-time password for a new user (about 96 bits, easy to type)."""
    return secrets.token_urlsafe(12)


def new_token() -> str:
    return "jdl_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

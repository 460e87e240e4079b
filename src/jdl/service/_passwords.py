"""The password policy, as the NCSC and NIST SP 800-63B (5.1.1.2) advise: long enough, not on a
list of common or breached-style passwords, not made of the account's own context — and no
composition rules (no "one digit, one symbol"), no forced periodic change.

The list (``data/common_passwords.txt``) holds common passwords and the base words people
decorate ("Password1234!", "Summer2024", "P@ssw0rd123"): a password is refused when it, or its
letters without leading and trailing digits and symbols and with the usual digit-for-letter
swaps undone, is on it.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache
from pathlib import Path

MIN_LENGTH = 12  # NCSC: length over complexity; NIST: at least 8, 15 for single-factor
MAX_LENGTH = 256  # long passphrases welcome; a cap keeps hashing cost bounded
LIST_FILE = Path(__file__).parent / "data" / "common_passwords.txt"
_LEET = str.maketrans("0134578@$!|", "oieastbasil")
_SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiopasdfghjklzxcvbnm",
              "qwertzuiop", "azertyuiop", "1qaz2wsx3edc4rfv5tgb")


# a UK/US keyboard's rows and how far each is shifted right (in keys), for adjacency
_KEY_ROWS = (("1234567890-=", 0.0), ("qwertyuiop[]", 0.5), ("asdfghjkl;'", 0.75),
             ("zxcvbnm,./", 1.25))
_WALK_SHARE = 0.7  # a password this much keyboard walk or alphabet/digit run is refused


@lru_cache(maxsize=1)
def _key_positions() -> dict[str, tuple[int, float]]:
    return {key: (row, shift + col) for row, (keys, shift) in enumerate(_KEY_ROWS)
            for col, key in enumerate(keys)}


def _walk_step(a: str, b: str) -> bool:
    """``b`` is next to ``a`` on the keyboard (a row, column or diagonal walk), or the next or
    previous letter or digit (``ab``, ``98``)."""
    if a.isalnum() and b.isalnum() and a.isdigit() == b.isdigit() and abs(ord(a) - ord(b)) == 1:
        return True
    keys = _key_positions()
    if a not in keys or b not in keys or a == b:
        return False
    (row_a, x_a), (row_b, x_b) = keys[a], keys[b]
    return (row_a == row_b and abs(x_a - x_b) == 1) or (abs(row_a - row_b) == 1
                                                        and abs(x_a - x_b) < 1)


def is_keyboard_walk(password: str) -> bool:
    """Mostly a walk over neighbouring keys or a letter/digit run: ``poiuytrewq12``,
    ``zaq12wsxcde3``, ``1q2w3e4r5t6y7u``, ``0987654321ab`` (the patterns cracking tools try
    right after word lists; zxcvbn's "spatial" and "sequence" matches)."""
    low = password.lower()
    steps = [_walk_step(a, b) for a, b in itertools.pairwise(low)]
    return bool(steps) and sum(steps) >= _WALK_SHARE * len(steps)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = LIST_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip().lower() for w in lines if w.strip() and not w.startswith("#"))


def _stems(password: str) -> set[str]:
    """The password as typed (lower case), without decoration, and with swaps undone."""
    low = password.lower()
    bare = re.sub(r"^[\W\d_]+|[\W\d_]+$", "", low)
    squashed = re.sub(r"[\s\W_]+", "", low)
    return {low, bare, squashed, low.translate(_LEET), bare.translate(_LEET),
            re.sub(r"[\W\d_]+$", "", low.translate(_LEET))}


def _repeats_or_runs(password: str) -> bool:
    """Few distinct characters, a short unit repeated, or a keyboard or alphabet run."""
    low = password.lower()
    if len(set(low)) < 5:
        return True
    unit = re.fullmatch(r"(.{1,6}?)\1+", low)
    if unit is not None:
        return True
    return any(low in seq * 3 or low in seq[::-1] * 3 for seq in _SEQUENCES)


def password_problems(password: str, *, email: str = "",
                      context: tuple[str, ...] = ()) -> list[str]:
    """Why ``password`` is refused (empty when it is acceptable). ``context``: words specific
    to this service and account (organisation name, the lab's name) it must not be built on."""
    if len(password) < MIN_LENGTH:
        return [f"The password must have at least {MIN_LENGTH} characters; a few unrelated "
                "words make a long password that is easy to remember."]
    if len(password) > MAX_LENGTH:
        return [f"The password must have at most {MAX_LENGTH} characters."]
    stems = _stems(password)
    common = common_passwords()
    unit = {m.group(1) for s in stems if (m := re.fullmatch(r"(.+?)\1+", s))}
    if stems & common or unit & common:
        return ["This password is too common: it (or the word it is built on) is on the list "
                "of passwords attackers try first. Choose another."]
    if _repeats_or_runs(password) or is_keyboard_walk(password):
        return ["This password is a repeated, sequential or keyboard pattern; choose another."]
    if _built_on(password, _context_words(email, context)):
        return ["The password must not be built on your email address or organisation name."]
    return []


def _context_words(email: str, context: tuple[str, ...]) -> list[str]:
    """The account's own words: the email's name and domain, the organisation and lab names
    (whole, squashed, and each word of four letters or more)."""
    local, _, domain = email.lower().partition("@")
    words = {re.sub(r"[\W\d_]+", "", local), domain.split(".")[0]}
    for name in context:
        low = name.lower()
        words.add(re.sub(r"[\W\d_]+", "", low))
        words.update(re.findall(r"[a-z]{4,}", low))
    return sorted((w for w in words if len(w) >= 3), key=len, reverse=True)


def _built_on(password: str, words: list[str]) -> bool:
    """Little is left (under 6 letters) once the account's own words are taken out."""
    squashed = re.sub(r"[\W\d_]+", "", password.lower().translate(_LEET))
    rest = squashed
    for word in words:
        rest = rest.replace(word, "")
    return rest != squashed and len(rest) < 6

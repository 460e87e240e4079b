"""The harder mistakes real uploads carry, one function per kind (each returns the new value, or
``None`` when the mistake cannot be made for this person, e.g. no variant spelling exists).

Where each kind comes from and how often it happens is documented on :class:`ErrorRates`
(``_submission.py``) and in docs/linkage.md ("How realistic the synthetic uploads are").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Romanisations of the same Arabic names. "Muhammad" alone has at least 14 common Latin
# spellings ("Tools and libraries for matching Arabic names written in English", ODU Web
# Science and Digital Libraries blog, 2020); a register keyed from one document and an upload
# typed from another routinely disagree.
TRANSLITERATIONS: tuple[tuple[str, ...], ...] = (
    ("Mohammed", "Muhammad", "Mohammad", "Mohamed", "Muhammed", "Mohamad", "Mohammod"),
    ("Ahmed", "Ahmad", "Ahmet"),
    ("Abdul", "Abdool", "Abdel"),
    ("Hussain", "Hussein", "Husain", "Hossain"),
    ("Yusuf", "Yousef", "Yousuf", "Yusef"),
    ("Usman", "Osman", "Othman"),
    ("Mustafa", "Mostafa", "Moustafa"),
    ("Ibrahim", "Ebrahim"),
    ("Hassan", "Hasan"),
    ("Khalid", "Khaled"),
)
_VARIANTS = {name: group for group in TRANSLITERATIONS for name in group}
# Names the register holds without the accent their owner writes (the register, like the
# PNC, is keyed in plain ASCII).
ACCENTED = {"Zoe": "Zoë", "Chloe": "Chloë", "Renee": "Renée", "Noel": "Noël", "Rene": "René",
            "Andre": "André", "Jose": "José", "Desiree": "Désirée", "Beyonce": "Beyoncé",
            "Muller": "Müller", "Nunez": "Núñez", "Lopez": "López", "Garcia": "García",
            "Perez": "Pérez", "Gomez": "Gómez", "Bronte": "Brontë"}
# Polish letters whose plain-ASCII form is what an English register keeps (Ł→L, ó→o, ...).
POLISH_DIACRITICS = {"l": "ł", "o": "ó", "s": "ś", "z": "ż", "c": "ć", "n": "ń", "e": "ę",
                     "a": "ą", "L": "Ł", "S": "Ś", "Z": "Ż"}


def has_variant(name: str, polish: frozenset[str]) -> bool:
    """Whether :func:`transliterate` can spell ``name`` another way."""
    return name in _VARIANTS or name in ACCENTED or (
        name in polish and any(ch in POLISH_DIACRITICS for ch in name))


def transliterate(rng: np.random.Generator, name: str, polish: frozenset[str]) -> str | None:
    """The same name as its owner (or another clerk) spells it: another romanisation of an
    Arabic name, the accented original of a name the register holds in ASCII, or — for Polish
    names — one letter with its diacritic (``Goral`` → ``Góral``). ``None``: no such variant."""
    if name in _VARIANTS:
        others = [v for v in _VARIANTS[name] if v != name]
        return others[int(rng.integers(len(others)))]
    if name in ACCENTED:
        return ACCENTED[name]
    if name in polish:
        spots = [i for i, ch in enumerate(name) if ch in POLISH_DIACRITICS]
        if not spots:
            return None
        i = spots[int(rng.integers(len(spots)))]
        return name[:i] + POLISH_DIACRITICS[name[i]] + name[i + 1:]
    return None


def compound_surname(rng: np.random.Generator, surname: str, other: str) -> str:
    """A double-barrelled or married name of which the register holds one part: joined by a
    hyphen (60%) or a space, the registered part first or second (evenly)."""
    parts = [surname, other] if rng.random() < 0.5 else [other, surname]
    return ("-" if rng.random() < 0.6 else " ").join(parts)


def middle_name(rng: np.random.Generator, forename: str, middle: str) -> str:
    """A middle name (the person's recorded one, or one the register does not hold): either
    written after the forename in the forename box (``Mark Anthony``) or used instead of it
    (``Anthony``: known by it), evenly."""
    return f"{forename} {middle}" if rng.random() < 0.5 else middle


def placeholder_date(rng: np.random.Generator, dob: pd.Timestamp) -> pd.Timestamp:
    """Date of birth unknown, entered as 1 January: of the right year (80%), or of a year
    estimated from the person's stated age (20%: one or two years out)."""
    year = dob.year
    if rng.random() < 0.2:
        year += int(rng.choice([-2, -1, 1, 2]))
    return pd.Timestamp(year=year, month=1, day=1)


def several_digits_wrong(rng: np.random.Generator, dob: pd.Timestamp) -> pd.Timestamp | None:
    """A date with two or more digits wrong that is still a valid date: the last two digits
    of the year transposed (``1986`` → ``1968``, 40%) or two of the day, month and decade/year
    digits mistyped (60%)."""
    if rng.random() < 0.4:
        text = f"{dob.year:04d}"
        if text[2] != text[3]:
            shifted = _valid(int(text[:2] + text[3] + text[2]), dob.month, dob.day)
            if shifted is not None:
                return shifted
    digits = list(f"{dob.day:02d}{dob.month:02d}{dob.year:04d}")
    positions = [0, 1, 2, 3, 6, 7]  # day, month and the last two year digits
    for _ in range(30):
        new = digits.copy()
        for p in rng.choice(positions, size=2, replace=False):
            new[p] = str((int(new[p]) + int(rng.integers(1, 10))) % 10)
        text = "".join(new)
        candidate = _valid(int(text[4:]), int(text[2:4]), int(text[:2]))
        if candidate is not None and candidate != dob:
            return candidate
    return None


def _valid(year: int, month: int, day: int) -> pd.Timestamp | None:
    try:
        return pd.Timestamp(year=year, month=month, day=day)
    except ValueError:
        return None

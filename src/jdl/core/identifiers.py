"""Formats of the national identifiers people are recorded under.

PNC ID: ``YYYY/NNNNNNNC`` — the year the record was created, a 7-digit serial number and a
check letter. The check letter is the remainder of the number formed by the last two digits of
the year followed by the serial, divided by 23, used as an index into :data:`PNC_CHECK_LETTERS`
(the letters I, O and S are never used). This is the published rule for PNC and CRO check
characters (e.g. as implemented in police and MoJ record-matching tools).

Prison number: ``A1234BC`` — one letter, four digits, two letters.
"""

from __future__ import annotations

import re

import numpy as np

PNC_CHECK_LETTERS = "ZABCDEFGHJKLMNPQRTUVWXY"
PNC_PATTERN = re.compile(r"^(\d{2}|\d{4})/(\d{1,7})([A-Z])$")
PRISON_NUMBER_PATTERN = re.compile(r"^[A-Z]\d{4}[A-Z]{2}$")


def pnc_check_letter(year: int, serial: int) -> str:
    """The check letter for a PNC ID created in ``year`` with ``serial``."""
    return PNC_CHECK_LETTERS[int(f"{year % 100:02d}{serial:07d}") % 23]


def format_pnc_id(year: int, serial: int) -> str:
    """``YYYY/NNNNNNNC`` with the correct check letter."""
    return f"{year:04d}/{serial:07d}{pnc_check_letter(year, serial)}"


def format_pnc_ids(years: np.ndarray, serials: np.ndarray) -> np.ndarray:
    """Vectorised :func:`format_pnc_id` for arrays of years and serials."""
    years = np.asarray(years, dtype=np.int64)
    serials = np.asarray(serials, dtype=np.int64)
    check = ((years % 100) * 10_000_000 + serials) % 23
    letters = np.frombuffer(PNC_CHECK_LETTERS.encode(), dtype="S1")[check].astype(str)
    y = np.char.zfill(years.astype(str), 4)
    s = np.char.zfill(serials.astype(str), 7)
    return np.char.add(np.char.add(np.char.add(y, "/"), s), letters)


def normalise_pnc_id(value: str) -> str | None:
    """Canonical ``YYYY/NNNNNNNC`` form of a PNC ID typed in a common variant, or None.

    Accepts spaces, lower case, 2-digit years (``01/123456X`` is read as 2001, ``95/...`` as 1995)
    and serials without leading zeros; the check letter is *not* verified here.
    """
    text = re.sub(r"\s+", "", str(value)).upper()
    match = PNC_PATTERN.match(text)
    if not match:
        return None
    year_text, serial_text, letter = match.groups()
    year = int(year_text)
    if len(year_text) == 2:
        year += 1900 if year > 30 else 2000
    return f"{year:04d}/{int(serial_text):07d}{letter}"


def pnc_id_is_valid(value: str) -> bool:
    """True when ``value`` is a well-formed PNC ID whose check letter is right."""
    canonical = normalise_pnc_id(value)
    if canonical is None:
        return False
    year, rest = canonical.split("/")
    return pnc_check_letter(int(year), int(rest[:7])) == rest[7]


def prison_number_is_valid(value: str) -> bool:
    """True when ``value`` has the prison-number shape ``A1234BC``."""
    return bool(PRISON_NUMBER_PATTERN.match(re.sub(r"\s+", "", str(value)).upper()))

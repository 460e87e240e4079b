"""Showing users' values back to them safely: on screen, in JSON and in CSV error reports."""

from __future__ import annotations

import re

import pandas as pd

MAX_SHOWN = 60
# Characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection), incl. the
# full-width forms Excel also honours.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape_value(value: object) -> str:
    """A cell as printable text: control and bidi-override characters shown as ``\\xNN``/
    ``\\uNNNN``, long values cut to :data:`MAX_SHOWN` characters."""
    text = "" if value is None else str(value)
    text = _CONTROL.sub(_escape_char, text)
    if len(text) > MAX_SHOWN:
        text = text[: MAX_SHOWN - 1] + "…"
    return text


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def looks_like_formula(text: pd.Series) -> pd.Series:
    """True where a cell's text would be run as a formula by a spreadsheet."""
    return text.str.startswith(FORMULA_START).fillna(False).astype(bool)


def csv_safe(value: object) -> object:
    """Neutralise a value for a CSV that people will open in Excel: prefix formula-like text
    with an apostrophe so it is shown, never run."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`csv_safe` on every text cell of a table."""
    return frame.map(csv_safe)

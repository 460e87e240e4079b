"""Name cleaning, name parts and the forename nickname/variant table.

Typed lists spell the same person many ways: "Bill" for William, "Steve" for Stephen, "O'Brien"
for OBRIEN, "Łukasz" for LUKASZ, "Zoë" for ZOE. Cleaning *transliterates* letters to A–Z
(Unicode decomposition drops the accents; :data:`TRANSLITERATION` covers letters that do not
decompose, such as Ł, Ø, Æ, ß) instead of deleting them, then joins the parts of a name. The
parts themselves are kept too (:func:`name_parts`): a double-barrelled or married surname
("Williams-Dohworth") and a second forename ("John Paul") are compared part by part.

The lab's own variant table (``data/nicknames.csv``) groups forenames that are used
for one another; two forenames "share a group" when one is a known variant of the other or both
are variants of one formal name (Mohammed, Muhammad, Mohamed ... are one group). The table is
written from common English/UK usage, not derived from any test data: a real lab never knows
every nickname, so linkage must also cope without it.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from functools import lru_cache
from importlib import resources

import pandas as pd

# Letters Unicode decomposition leaves alone, with their usual Latin transliteration (the
# UK passport / ICAO 9303 machine-readable-zone conventions for these letters).
TRANSLITERATION: dict[str, str] = {
    "Ł": "L", "ł": "L", "Ø": "O", "ø": "O", "Đ": "D", "đ": "D", "Ð": "D", "ð": "D",
    "Æ": "AE", "æ": "AE", "Œ": "OE", "œ": "OE", "ß": "SS", "ẞ": "SS", "Þ": "TH", "þ": "TH",
    "ı": "I", "Ħ": "H", "ħ": "H", "Ŀ": "L", "ŀ": "L", "Ŧ": "T", "ŧ": "T",
    "ﬁ": "FI", "ﬂ": "FL",
}
# Characters that separate the parts of a name; every other non-letter (apostrophes, dots)
# is dropped inside a part ("O'Brien" is one part, OBRIEN).
_SEPARATORS = re.compile(r"[\s\-‐‑–—_/,]+")
_NON_LETTERS = re.compile(r"[^A-Z]")
_SQL_SEPARATORS = r"[\s\-‐‑–—_/,]+"
_TRANSLATE = str.maketrans(TRANSLITERATION)


def _latin(text: str) -> str:
    """Upper-case Latin letters: the table above, then decomposition without the accents."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLATE))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


def name_parts(value: object) -> list[str]:
    """The parts of a name, cleaned: "Williams-Dohworth" → [WILLIAMS, DOHWORTH]."""
    if _missing(value):
        return []
    parts = (_NON_LETTERS.sub("", p) for p in _SEPARATORS.split(_latin(str(value))))
    return [p for p in parts if p]


def clean_name(value: object) -> str | None:
    """Upper-case letters A–Z only, parts joined (accents transliterated; spaces, hyphens and
    apostrophes dropped); None when nothing is left."""
    return "".join(name_parts(value)) or None


def _latin_sql(column: str) -> str:
    """DuckDB: the column upper-cased with letters transliterated as :func:`_latin` does."""
    text = f"CAST({column} AS VARCHAR)"
    for letter, latin in TRANSLITERATION.items():
        text = f"replace({text}, '{letter}', '{latin}')"
    return f"upper(strip_accents({text}))"


def clean_name_sql(column: str) -> str:
    """DuckDB expression equal to :func:`clean_name` applied to ``column``."""
    return f"nullif(regexp_replace({_latin_sql(column)}, '[^A-Z]', '', 'g'), '')"


def name_parts_sql(column: str) -> str:
    """DuckDB expression equal to :func:`name_parts` (an empty list for a missing name)."""
    split = f"regexp_split_to_array({_latin_sql(column)}, '{_SQL_SEPARATORS}')"
    cleaned = f"list_transform({split}, lambda p: regexp_replace(p, '[^A-Z]', '', 'g'))"
    return f"coalesce(list_filter({cleaned}, lambda p: p <> ''), [])"


@lru_cache(maxsize=1)
def nickname_groups() -> pd.DataFrame:
    """The variant table as ``(name, name_group)`` rows, one per membership.

    Every formal name is a member of its own group; a name may belong to several groups
    (ALEX: ALEXANDER and ALEXANDRA).
    """
    rows: set[tuple[str, str]] = set()
    text = resources.files("jdl.linkage").joinpath("data/nicknames.csv").read_text()
    for record in csv.DictReader(text.splitlines()):
        group = clean_name(record["group"])
        if group is None:
            continue
        rows.add((group, group))
        for variant in record["variants"].split():
            name = clean_name(variant)
            if name:
                rows.add((name, group))
    return pd.DataFrame(sorted(rows), columns=["name", "name_group"])


def forename_groups(name: str | None) -> list[str]:
    """The name itself plus every group it belongs to (used for the nickname level)."""
    cleaned = clean_name(name)
    if cleaned is None:
        return []
    table = nickname_groups()
    groups = table.loc[table["name"] == cleaned, "name_group"].tolist()
    return sorted({cleaned, *groups})


# American Soundex (Russell & Odell, US patent 1,261,167, 1918; the rules as in Knuth, TAOCP
# vol. 3, §6): the first letter, then the codes of the following consonants, equal adjacent
# codes once (also across H and W), vowels dropped, padded or cut to three digits. Used by the
# sibling guard to tell a respelling (Aisha/Ayesha, Toby/Tobie, Dafydd/Daphydd) from another
# name: a twin's forename sounds like the other twin's far less often.
_SOUNDEX_FROM = "AEIOUYBFPVCGJKQSXZDTLMNR"
_SOUNDEX_TO = "000000111122222222334556"
_SOUNDEX_TABLE = str.maketrans(_SOUNDEX_FROM, _SOUNDEX_TO)


def soundex(name: str | None) -> str | None:
    """The Soundex code of a cleaned name (A–Z only): ``AYESHA`` → ``A200``."""
    if not name:
        return None
    digits = (name[0] + name[1:].replace("H", "").replace("W", "")).translate(_SOUNDEX_TABLE)
    digits = digits.replace("H", "0").replace("W", "0")  # a leading H or W codes as a vowel
    collapsed = re.sub(r"(\d)\1+", r"\1", digits)
    return (name[0] + collapsed[1:].replace("0", "") + "000")[:4]


def soundex_sql(column: str) -> str:
    """DuckDB expression equal to :func:`soundex` on a cleaned name column (RE2 has no
    back-references, so equal adjacent codes are collapsed digit by digit)."""
    rest = f"regexp_replace(substr({column}, 2), '[HW]', '', 'g')"
    digits = f"translate(substr({column}, 1, 1) || {rest}, '{_SOUNDEX_FROM}HW', '{_SOUNDEX_TO}00')"
    for digit in "0123456":
        digits = f"regexp_replace({digits}, '{digit}{digit}+', '{digit}', 'g')"
    return (f"CASE WHEN {column} IS NULL OR {column} = '' THEN NULL ELSE "
            f"substr(substr({column}, 1, 1) || replace(substr({digits}, 2), '0', '') || '000', "
            f"1, 4) END")

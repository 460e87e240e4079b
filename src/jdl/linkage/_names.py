"""Name cleaning and the forename nickname/variant table.

Typed lists spell the same person many ways: "Bill" for William, "Steve" for Stephen, "O'Brien"
for OBRIEN. The lab's own variant table (``data/nicknames.csv``) groups forenames that are used
for one another; two forenames "share a group" when one is a known variant of the other or both
are variants of one formal name. The table is written from common English/UK usage, not derived
from any test data: a real lab never knows every nickname, so linkage must also cope without it.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from importlib import resources

import pandas as pd

_NON_LETTERS = re.compile(r"[^A-Z]")


def clean_name(value: object) -> str | None:
    """Upper-case letters only (drops spaces, hyphens, apostrophes); None when nothing is left."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = _NON_LETTERS.sub("", str(value).upper())
    return text or None


def clean_name_sql(column: str) -> str:
    """DuckDB expression equal to :func:`clean_name` applied to ``column``."""
    return f"nullif(regexp_replace(upper({column}), '[^A-Z]', '', 'g'), '')"


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

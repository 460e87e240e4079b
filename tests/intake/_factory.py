"""Builders for submission files: good people, written as CSV or XLSX."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from jdl.core.identifiers import format_pnc_id
from jdl.intake import CANONICAL_COLUMNS

FORENAMES = ["Jane", "John", "Aisha", "Mohammed", "Chloé", "Seán", "Mary-Ann", "Liam", "Zofia"]
SURNAMES = ["Smith", "Jones", "O'Brien", "Patel", "Nowak", "Williams", "Brown", "Ní Bhriain"]
TODAY = dt.date(2026, 11, 24)


def person(i: int, rng: random.Random | None = None) -> dict[str, str]:
    """A valid row (dates as dd/mm/yyyy text), unique per ``i``."""
    rng = rng or random.Random(i)
    dob = dt.date(1965, 1, 1) + dt.timedelta(days=rng.randint(0, 12000))
    start = dt.date(2019, 1, 1) + dt.timedelta(days=rng.randint(0, 600))
    suffix = "".join(chr(97 + (i // 26**k) % 26) for k in range(3))
    return {
        "forename": FORENAMES[i % len(FORENAMES)],
        "surname": SURNAMES[i % len(SURNAMES)] + suffix,
        "date_of_birth": f"{dob:%d/%m/%Y}",
        "sex": "MF"[i % 2],
        "pnc_id": format_pnc_id(2000 + i % 20, 1000 + i),
        "prison_number": f"A{i % 10000:04d}{chr(65 + (i // 10000) % 26)}B",
        "conviction_date": f"{start - dt.timedelta(days=40):%d/%m/%Y}",
        "intervention_start": f"{start:%d/%m/%Y}",
        "intervention_end": f"{start + dt.timedelta(days=120):%Y-%m-%d}",
        "index_date": f"{start - dt.timedelta(days=10):%d/%m/%Y}",
    }


def people(n: int, start: int = 0) -> list[dict[str, str]]:
    return [person(i) for i in range(start, start + n)]


def write_csv(path: Path, rows: list[dict[str, object]] | list[list[object]],
              header: list[str] | None = None, *, delimiter: str = ",",
              encoding: str = "utf-8", preamble: list[str] = ()) -> Path:
    """Rows as CSV; values containing the delimiter or quotes are quoted."""
    header = header or list(CANONICAL_COLUMNS)

    def cell(v: object) -> str:
        text = "" if v is None else str(v)
        if any(ch in text for ch in (delimiter, '"', "\n")):
            text = '"' + text.replace('"', '""') + '"'
        return text

    lines = [*preamble, delimiter.join(header)]
    for row in rows:
        values = [row.get(h, "") for h in header] if isinstance(row, dict) else row
        lines.append(delimiter.join(cell(v) for v in values))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[dict[str, object]], header: list[str] | None = None,
               *, typed_dates: bool = True) -> Path:
    """Rows as an Excel workbook; dd/mm/yyyy text becomes real date cells when ``typed_dates``."""
    from openpyxl import Workbook

    header = header or list(CANONICAL_COLUMNS)
    book = Workbook()
    sheet = book.active
    sheet.title = "Submission"
    sheet.append(header)
    for row in rows:
        sheet.append([_typed(row.get(h)) if typed_dates else row.get(h) for h in header])
    book.save(path)
    return path


def _typed(value: object) -> object:
    if isinstance(value, str):
        for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
            try:
                return dt.datetime.strptime(value, fmt)
            except ValueError:
                pass
    return value


EXAMPLE = {
    "organisation": "Example Futures Trust", "sector": "voluntary_community",
    "programme_name": "Routes to Work", "intervention_type": "employment", "setting": "both",
    "referral_route": "Probation", "region": "North West",
    "delivery_start": dt.date(2018, 1, 1), "delivery_end": dt.date(2021, 12, 31),
    "description": "Mentoring.",
}

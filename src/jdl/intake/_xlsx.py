"""Reading Excel workbooks safely, and fast.

Safety first: the zip structure is checked (macros refused, declared sizes and compression ratios
bounded), then every part is decompressed once as a stream through Python's ``zipfile``, which
never yields more than an entry's declared size and fails a lying header on its CRC, so no part
can expand beyond the checked bounds whichever library reads it next. Nothing is ever run,
calculated or followed (no macros, no external links).

Then speed: values are read with ``python-calamine`` (Rust; about ten times faster than
openpyxl on 100,000 rows). Calamine only returns a formula's cached result, so when the streaming
pass saw formulas, the chosen sheet's XML is scanned for its formula cells and each is replaced by
its ``=...`` text, for validation to report. Sheets with cells beyond the column or row limit, or
formula cells without a cell reference, are read with openpyxl in read-only mode instead (the
reference implementation, which a test compares with the fast path).
"""

from __future__ import annotations

import html
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jdl.core.config import IntakeSettings
from jdl.core.errors import SubmissionRefused
from jdl.intake._dates import EXCEL_EPOCH_1900, EXCEL_EPOCH_1904
from jdl.intake._limits import SUPPORTED, TEMPLATE_HINT, too_many_rows
from jdl.intake._spec import normalise_header

_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_DATE1904 = re.compile(rb"date1904=\"(?:1|true)\"")
_PREFERRED_SHEETS = {"submission", "people", "data"}
_CHUNK = 1 << 20


@dataclass(frozen=True)
class WorkbookRows:
    """The rows of the sheet that holds the submission, as cell values."""

    rows: list[list[Any]]
    sheet: str
    epoch: np.datetime64
    notes: tuple[str, ...]


@dataclass(frozen=True)
class _Inspection:
    notes: tuple[str, ...]
    has_formulas: bool
    epoch: np.datetime64


def read_workbook(path: Path, settings: IntakeSettings) -> WorkbookRows:
    """Check ``path`` and read its submission sheet (calamine, or openpyxl when needed)."""
    inspection = inspect_zip(path, settings)
    book = _read_calamine(path, settings, inspection)
    if book is not None and inspection.has_formulas:
        book = _with_formulas(path, book, settings)
    return book or _read_openpyxl(path, settings, inspection)


def _with_formulas(path: Path, book: WorkbookRows,
                   settings: IntakeSettings) -> WorkbookRows | None:
    """``book`` with each formula cell of its sheet shown as ``=...`` text; None if a formula
    cell has no reference (openpyxl then reads the sheet)."""
    try:
        with zipfile.ZipFile(path) as archive:
            part = _sheet_part(archive, book.sheet)
            formulas = _formula_cells(archive.read(part)) if part else None
    except (KeyError, SyntaxError, ValueError, zipfile.BadZipFile, zlib.error, OSError):
        return None
    if formulas is None:
        return None
    rows = book.rows
    width = max((len(r) for r in rows), default=0)
    limit = settings.max_rows + settings.header_search_rows + 1
    for (row, column), text in formulas.items():
        if column >= settings.max_columns:
            continue  # beyond the columns read at all
        if row >= limit:
            raise too_many_rows(settings)
        while len(rows) <= row:
            rows.append([None] * width)
        if len(rows[row]) <= column:
            rows[row] = rows[row] + [None] * (column + 1 - len(rows[row]))
        rows[row][column] = text
    return book


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_FORMULA_CELL = re.compile(
    rb"<(?:\w+:)?c\b([^>]*)(?<!/)>\s*<(?:\w+:)?f\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?f>)", re.S)
_CELL_REF = re.compile(rb'\br="([A-Z]{1,3})([0-9]{1,7})"')


def _sheet_part(archive: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip part holding the worksheet called ``sheet`` (via workbook.xml and its rels)."""
    from defusedxml.ElementTree import fromstring

    workbook = fromstring(archive.read("xl/workbook.xml"))
    rel_id = next((s.get(_REL_ID) for s in workbook.iter(f"{_MAIN}sheet")
                   if s.get("name") == sheet), None)
    rels = fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    target = next((r.get("Target") for r in rels.iter(f"{_RELS}Relationship")
                   if r.get("Id") == rel_id), None)
    if not target:
        return None
    part = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
    return posixpath.normpath(part)


def _formula_cells(xml: bytes) -> dict[tuple[int, int], str] | None:
    """``{(row, column): "=formula"}`` (0-based) for every formula cell of a sheet's XML."""
    cells: dict[tuple[int, int], str] = {}
    for match in _FORMULA_CELL.finditer(xml):
        ref = _CELL_REF.search(match.group(1))
        if ref is None:
            return None
        column = 0
        for letter in ref.group(1):
            column = column * 26 + letter - 64
        text = html.unescape(match.group(2).decode("utf-8", "replace")) if match.group(2) \
            else "(shared formula)"
        cells[(int(ref.group(2)) - 1, column - 1)] = "=" + text
    return cells


def inspect_zip(path: Path, settings: IntakeSettings) -> _Inspection:
    """Refuse workbooks that are not safe to open; stream every part once to prove its size and
    to notice formulas and the 1904 date system."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            _check_structure(infos, settings)
            has_formulas, date1904 = False, False
            for info in infos:
                name = info.filename
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    has_formulas |= _stream_contains(archive, info, _FORMULA)
                elif name == "xl/workbook.xml":
                    date1904 = _stream_contains(archive, info, _DATE1904)
                else:
                    _stream_contains(archive, info, None)
    except SubmissionRefused:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, RuntimeError,
            NotImplementedError) as exc:  # RuntimeError: an encrypted part
        raise SubmissionRefused("The file looks like a zip archive or Excel workbook but is "
                                "damaged.", hint="Save it again from Excel as .xlsx.") from exc
    notes = []
    if any(info.filename.startswith("xl/externalLinks/") for info in infos):
        notes.append("The workbook links to other workbooks. Links are never followed: cells "
                     "that use them are reported as formulas.")
    return _Inspection(tuple(notes), has_formulas,
                       EXCEL_EPOCH_1904 if date1904 else EXCEL_EPOCH_1900)


def _check_structure(infos: list[zipfile.ZipInfo], settings: IntakeSettings) -> None:
    names = {info.filename for info in infos}
    if "xl/workbook.xml" not in names:
        what = "an OpenDocument spreadsheet (.ods)" if "content.xml" in names else (
            "a Word document" if "word/document.xml" in names else "a zip archive")
        raise SubmissionRefused(f"This is {what}, not an Excel workbook. Please send {SUPPORTED}.",
                                hint=TEMPLATE_HINT)
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise SubmissionRefused(
            "The workbook contains macros, which the lab does not accept.",
            hint="Use File > Save As and choose 'Excel Workbook (.xlsx)' (not macro-enabled).")
    total = sum(info.file_size for info in infos)
    worst = max((info.file_size / max(info.compress_size, 1) for info in infos), default=0.0)
    if (len(infos) > settings.max_xlsx_entries or total > settings.max_xlsx_uncompressed_bytes
            or worst > settings.max_xlsx_compression_ratio):
        raise SubmissionRefused(
            "The workbook expands to far more data than a submission should hold, so the lab will "
            "not open it.", hint="Copy just the people's rows into a new workbook, or save as CSV.")


def _stream_contains(archive: zipfile.ZipFile, info: zipfile.ZipInfo,
                     pattern: re.Pattern[bytes] | None) -> bool:
    """Decompress one part in chunks (CRC checked at the end); whether ``pattern`` occurs."""
    found = False
    tail = b""
    with archive.open(info) as stream:
        while chunk := stream.read(_CHUNK):
            if pattern is not None and not found:
                found = pattern.search(tail + chunk) is not None
                tail = chunk[-64:]
    return found


def _choose(names: list[str]) -> tuple[str, list[str]]:
    for name in names:
        if normalise_header(name) in _PREFERRED_SHEETS:
            return name, []
    notes = [f"The workbook has {len(names)} sheets; only the first, '{names[0]}', was read."] if \
        len(names) > 1 else []
    return names[0], notes


def _read_calamine(path: Path, settings: IntakeSettings,
                   inspection: _Inspection) -> WorkbookRows | None:
    """The fast path; None when the sheet is too wide or tall for it (openpyxl decides then)."""
    from python_calamine import CalamineWorkbook, SheetTypeEnum

    try:
        book = CalamineWorkbook.from_path(str(path))
        names = [m.name for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
        if not names:
            raise SubmissionRefused("The workbook has no worksheet.", hint=TEMPLATE_HINT)
        name, notes = _choose(names)
        sheet = book.get_sheet_by_name(name)
        limit = settings.max_rows + settings.header_search_rows + 1
        start_row, start_col = sheet.start or (0, 0)
        if start_col + sheet.width > settings.max_columns or start_row + sheet.height > limit:
            return None
        values = sheet.to_python(skip_empty_area=False)
    except SubmissionRefused:
        raise
    except Exception as exc:  # calamine raises its own error types for damaged parts
        raise SubmissionRefused("The Excel workbook could not be read; it may be damaged.",
                                hint="Open it in Excel and save it again, or save as CSV.") from exc
    rows = [[None if v == "" else v for v in row] for row in values]
    return WorkbookRows(rows, name, inspection.epoch, inspection.notes + tuple(notes))


def _read_openpyxl(path: Path, settings: IntakeSettings, inspection: _Inspection) -> WorkbookRows:
    """The exact path: formulas come back as ``=...`` text; at most ``max_columns`` columns."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=False,
                                          keep_vba=False, keep_links=False)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise SubmissionRefused("The Excel workbook could not be opened; it may be damaged.",
                                hint="Open it in Excel and save it again as .xlsx, or save "
                                "as CSV.") from exc
    try:
        name, notes = _choose(workbook.sheetnames)
        sheet = workbook[name]
        width = min(sheet.max_column or settings.max_columns, settings.max_columns)
        sheet.reset_dimensions()  # a wrong <dimension> must not cut rows off
        rows = _openpyxl_rows(sheet, width, settings)
    except SubmissionRefused:
        raise
    except Exception as exc:
        raise SubmissionRefused("The Excel workbook could not be read; it may be damaged.",
                                hint="Open it in Excel and save it again, or save as CSV.") from exc
    finally:
        workbook.close()
    return WorkbookRows(rows, name, inspection.epoch, inspection.notes + tuple(notes))


def _openpyxl_rows(sheet: Any, width: int, settings: IntakeSettings) -> list[list[Any]]:
    """All rows up to the last non-blank one; runs of blank rows are held back until data follows
    them, so formatting that reaches row 1,048,576 costs nothing and triggers no row limit."""
    rows: list[list[Any]] = []
    pending_blank = 0
    limit = settings.max_rows + settings.header_search_rows + 1
    for values in sheet.iter_rows(max_col=width, values_only=True):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            pending_blank += 1
            continue
        if pending_blank:
            rows.extend([[None] * width] * pending_blank)
            pending_blank = 0
        rows.append(list(values))
        if len(rows) > limit:
            raise too_many_rows(settings)
    return rows

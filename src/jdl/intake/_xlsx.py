"""Reading Excel workbooks safely, and fast.

Safety first: the zip structure is checked (macros refused, declared sizes and compression ratios
bounded), then every part is decompressed once as a stream through Python's ``zipfile``, which
never yields more than an entry's declared size and fails a lying header on its CRC, so no part
can expand beyond the checked bounds whichever library reads it next. Nothing is ever run,
calculated or followed (no macros, no external links).

That same pass counts, in each worksheet's XML, the rows holding a value and the value cells,
and in the shared-strings table its strings, stopping at the first past a limit: a workbook
with too many rows or cells is refused from this count, before any library builds its cells
(a 5 MB workbook of a million rows used to cost seconds of CPU before its refusal, and a large
one minutes and gigabytes). The sheet's ``<dimension>`` is not trusted (a file may say
anything), and rows that only carry formatting do not count.

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
class _SheetCount:
    """A worksheet part's rows that hold a value, and its value cells (counting stops once
    past the limits, so both are "at least" past them)."""

    rows: int
    cells: int
    extent_rows: int = 0  # the furthest value cell's row and column: the reader's rectangle
    extent_columns: int = 0


@dataclass(frozen=True)
class _Inspection:
    notes: tuple[str, ...]
    has_formulas: bool
    epoch: np.datetime64
    sheets: dict[str, _SheetCount]


def read_workbook(path: Path, settings: IntakeSettings) -> WorkbookRows:
    """Check ``path`` and read its submission sheet (calamine, or openpyxl when needed)."""
    inspection = inspect_zip(path, settings)
    _check_counts(path, inspection, settings)
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
    """Refuse workbooks that are not safe to open; stream every part once to prove its size,
    to notice formulas and the 1904 date system, and to count each worksheet's rows and cells
    and the shared strings."""
    sheets: dict[str, _SheetCount] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            _check_structure(infos, settings)
            _check_data_part_names(archive)
            has_formulas, date1904 = False, False
            for info in infos:
                # readers find parts whatever their case (calamine): classify by the name in
                # lower case (re-verification, session 6: "xl/sharedStrings.XML" was only
                # size-checked, and calamine read its 200 MB string)
                name = info.filename.lower()
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    counter = _CellCounter(_row_limit(settings), settings.max_xlsx_cells,
                                           settings.max_xlsx_string_bytes)
                    has_formulas |= _stream_contains(archive, info, _FORMULA, counter)
                    sheets[name] = counter.result()
                elif name == "xl/workbook.xml":
                    date1904 = _stream_contains(archive, info, _DATE1904)
                elif name == "xl/sharedstrings.xml":
                    strings = _StringCounter(settings.max_xlsx_string_bytes)
                    _stream_contains(archive, info, None, strings)
                    if strings.count > settings.max_xlsx_cells:
                        raise _too_many_cells(settings)
                elif name.endswith((".xml", ".rels")):
                    # a reader finds parts through the workbook's relationships, not their
                    # names: a worksheet or shared-strings table stored under another name is
                    # counted and length-checked like the standard ones (second independent
                    # check, session 6: a sheet at xl/data/ cost 25 CPU-s uncounted)
                    either = _AnyPartCounter(_row_limit(settings), settings.max_xlsx_cells,
                                             settings.max_xlsx_string_bytes)
                    has_formulas |= (_stream_contains(archive, info, _FORMULA, either)
                                     and name.endswith(".xml") and either.cells.cells > 0)
                    if either.strings.count > settings.max_xlsx_cells:
                        raise _too_many_cells(settings)
                    if either.cells.rows or either.cells.cells:
                        sheets[name] = either.cells.result()
                else:
                    _stream_contains(archive, info, None)
    except SubmissionRefused:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, RuntimeError,
            NotImplementedError, SyntaxError) as exc:  # RuntimeError: an encrypted part;
        # SyntaxError: an index part (relationships, content types) that is not XML
        raise SubmissionRefused("The file looks like a zip archive or Excel workbook but is "
                                "damaged.", hint="Save it again from Excel as .xlsx.") from exc
    notes = []
    if any(info.filename.startswith("xl/externalLinks/") for info in infos):
        notes.append("The workbook links to other workbooks. Links are never followed: cells "
                     "that use them are reported as formulas.")
    return _Inspection(tuple(notes), has_formulas,
                       EXCEL_EPOCH_1904 if date1904 else EXCEL_EPOCH_1900, sheets)


def _row_limit(settings: IntakeSettings) -> int:
    """Rows a sheet may have: the data rows, the title rows above the headings, the headings."""
    return settings.max_rows + settings.header_search_rows + 1


def _too_many_cells(settings: IntakeSettings) -> SubmissionRefused:
    return SubmissionRefused(
        f"The workbook holds more than {settings.max_xlsx_cells:,} filled cells, more than a "
        "submission needs, so the lab will not open it.",
        hint="Copy just the template's columns and the people's rows into a new workbook, "
             "or save as CSV.")


_ROW_START = re.compile(rb"<(?:\w+:)?row[\s>/]")
_VALUE = re.compile(rb"<(?:\w+:)?(?:v|is|f)[\s>/]")
_STRING_ITEM = re.compile(rb"<(?:\w+:)?si[\s>/]")
#: An item's opening or closing tag in the shared-strings table (group 1 "/" for a closing tag,
#: group 2 "/" for an empty ``<si/>``).
_STRING_EDGE = re.compile(rb"<(/?)(?:\w+:)?si([\s>/])")
#: The same for a worksheet's inline strings (``<c t="inlineStr"><is>...</is></c>``).
_INLINE_EDGE = re.compile(rb"<(/?)(?:\w+:)?is([\s>/])")


# The fast path: bytes.find/count (C, fast) for the tags as Excel and most writers spell them;
# a chunk with namespace-prefixed tags or whitespace straight after a tag's name goes through
# the regular expressions instead (the same counts, several times slower).
_PLAIN_VALUE_TAGS = (b"<v", b"<is", b"<f")
_ODD_TAGS = tuple(t + e for t in (b"<v", b"<is", b"<f", b"<row")
                  for e in (b"\t", b"\n", b"\r"))
_PREFIXED = re.compile(rb":(?:v|is|f|row)[\s>/]")
_ROW_DELIMITERS = frozenset(b" >/\t\n\r")


def _plain(data: bytes, end: int) -> bool:
    """Whether the fast path counts ``data[:end]`` as the regular expressions would."""
    if data.find(b":", 0, end) != -1 and _PREFIXED.search(data, 0, end):
        return False
    if any(data.find(space, 0, end) != -1 for space in (b"\t", b"\n", b"\r")):
        return not any(data.find(tag, 0, end) != -1 for tag in _ODD_TAGS)
    return True


def _has_plain_value(data: bytes, begin: int, end: int) -> bool:
    return any(data.find(tag, begin, end) != -1 for tag in _PLAIN_VALUE_TAGS)


def _has_any_value(data: bytes, begin: int, end: int) -> bool:
    return _VALUE.search(data, begin, end) is not None


def _plain_row_starts(data: bytes, end: int):
    """Where each ``<row`` tag starts (not ``<rowBreaks``), up to ``end``."""
    at = data.find(b"<row", 0, end)
    while at != -1:
        if at + 4 < len(data) and data[at + 4] in _ROW_DELIMITERS:
            yield at
        at = data.find(b"<row", at + 4, end)


#: A value cell's reference (``<c r="BR12" ...>`` not self-closed): its column and row.
_VALUE_CELL_REF = re.compile(rb'<(?:\w+:)?c\s[^>]*?\br="([A-Za-z]{1,3})([0-9]{1,7})"[^>]*?(?<!/)>')


def _column_index(letters: bytes) -> int:
    """``b"A"`` -> 1, ``b"Z"`` -> 26, ``b"AA"`` -> 27 (spreadsheet column letters)."""
    index = 0
    for letter in letters.upper():
        index = index * 26 + letter - 64
    return index


def _too_wide() -> SubmissionRefused:
    return SubmissionRefused(
        "The sheet has a value far to the right of or below the people's rows, so the lab "
        "will not open it.",
        hint="Delete any content outside the template's columns and the people's rows (press "
             "Ctrl+End in Excel to find it), or save as CSV.")


class _Stop(Exception):
    """Counting is past a limit: the rest of the part need not be read."""


class _CellCounter:
    """Counts a worksheet's rows holding a value (a ``<v>``, inline string or formula) and
    its value cells, chunk by chunk; stops (raises :class:`_Stop`) once past either limit.

    Each chunk is scanned up to its last incomplete tag, which is carried into the next one
    (cut short if it is long: only a tag's first bytes are matched), so no tag is split and
    nothing grows with the file. One inline string (``<is>``) longer than ``max_item_bytes`` is
    refused as soon as it is seen, as a shared string is (:class:`_StringCounter`)."""

    def __init__(self, max_rows: int, max_cells: int,
                 max_item_bytes: int | None = None) -> None:
        self.max_rows, self.max_cells = max_rows, max_cells
        self.rows = self.cells = 0
        self.extent_rows = self.extent_columns = 0
        self._in_row = self._row_has_value = False
        self._carry = b""
        self._inline = _ItemLength(_INLINE_EDGE, max_item_bytes, (b"<is>", b"</is>"))
        self._text = 0  # bytes since the last "<" seen

    def feed(self, chunk: bytes) -> None:
        data = self._carry + chunk
        cut = data.rfind(b"<")
        if cut == -1 or data.find(b">", cut) != -1:
            cut = len(data)
        self._scan(data, cut)
        # inline strings (<c t="inlineStr"><is>...</is>): measured only where there are any,
        # and one by one only where the quick check cannot clear the chunk
        if ((self._inline.open or data.find(b"is", 0, cut) != -1)
                and not self._inline.measure_plain(data, cut)):
            self._inline.measure(data, cut)
        self._measure_text(data, cut)
        self._carry = self._inline.carry(data, cut)
        self._check()

    def _measure_text(self, data: bytes, cut: int) -> None:
        """Any other text between two tags (a ``<v>`` or ``<f>`` of megabytes) is bounded by
        the same limit once it runs past a chunk's end: the run since the last ``<`` is
        carried from chunk to chunk (a run inside one chunk is under the chunk's 1 MB)."""
        last = data.rfind(b"<", 0, cut)
        if last == -1:
            self._text += cut
            run = self._text
        else:
            run = self._text + data.find(b"<", 0, cut)
            self._text = cut - last
        limit = self._inline.max_bytes
        if limit is not None and run > limit:
            raise _too_much_text()

    def _scan(self, data: bytes, end: int) -> None:
        self._measure_extent(data, end)
        plain = _plain(data, end)
        has_value = _has_plain_value if plain else _has_any_value
        self.cells += (sum(data.count(tag, 0, end) for tag in _PLAIN_VALUE_TAGS) if plain
                       else len(_VALUE.findall(data, 0, end)))
        begin = 0
        for start in (_plain_row_starts(data, end) if plain else
                      (m.start() for m in _ROW_START.finditer(data, 0, end))):
            if self._in_row and (self._row_has_value or has_value(data, begin, start)):
                self.rows += 1
            self._in_row, self._row_has_value = True, False
            begin = start
        if self._in_row and not self._row_has_value:
            self._row_has_value = has_value(data, begin, end)

    def _measure_extent(self, data: bytes, end: int) -> None:
        """The rectangle a reader builds: calamine allocates every cell from A1 to the furthest
        cell with content, so one value at XFD200000 in a 1.5 KB file cost over 1 GB, or
        aborted the process (re-verification, session 6). :func:`_check_counts` refuses a sheet
        whose rectangle passes the limits (value cells only: a cell that only carries
        formatting is self-closed)."""
        refs = _VALUE_CELL_REF.findall(data, 0, end)
        if not refs:
            return
        letters = {ref[0] for ref in refs}
        widest = max(_column_index(col) for col in letters)
        deepest = max(int(ref[1]) for ref in refs)
        self.extent_columns = max(self.extent_columns, widest)
        self.extent_rows = max(self.extent_rows, deepest)

    def finish(self) -> None:
        self._scan(self._carry, len(self._carry))
        if self._in_row and self._row_has_value:
            self.rows += 1
        self._in_row, self._carry = False, b""
        self._check()

    def _check(self) -> None:
        if self.rows > self.max_rows or self.cells > self.max_cells:
            raise _Stop

    def result(self) -> _SheetCount:
        return _SheetCount(self.rows, self.cells, self.extent_rows, self.extent_columns)


class _ItemLength:
    """The length of the item being read (between an opening and a closing tag matched by
    ``edge``), chunk by chunk; refuses the workbook as soon as one item passes ``max_bytes``. A
    single string of hundreds of megabytes compresses to a few and passes every size check, but
    would be built whole in memory by any reader (issue 16's penetration test: a 4 MB file
    holding one shared string, 3.5 GB peak; a 300 MB inline string, 8.8 CPU-s)."""

    def __init__(self, edge: re.Pattern[bytes], max_bytes: int | None,
                 plain: tuple[bytes, bytes] | None = None) -> None:
        self.edge, self.max_bytes = edge, max_bytes
        # for measure_plain: the opening and closing tags as plainly spelt ("<is>", "</is>")
        self.opening: bytes | None = plain[0] if plain is not None else None
        self.closing: bytes | None = plain[1] if plain is not None else None
        self.prefixed = b":" + (self.opening or b"<")[1:-1]  # ":is"
        self._open: int | None = None  # bytes so far of the item being read
        self._tag = 0  # bytes so far of an unfinished tag too long to carry whole

    def carry(self, data: bytes, cut: int) -> bytes:
        """What a counter carries into its next chunk: the unfinished tag from ``cut``, cut
        short if long (only a tag's first bytes are matched). A "tag" that never ends (no
        ``>`` for megabytes: no parser would build it cheaply) is refused past ``max_bytes``
        like an item, since the bytes cut off here are never measured."""
        carry = data[cut:]
        if len(carry) <= 1024:
            self._tag = 0
            return carry
        self._tag += len(carry) - 64
        if self.max_bytes is not None and self._tag > self.max_bytes:
            raise _too_much_text()
        return carry[:64]

    @property
    def open(self) -> bool:
        return self._open is not None

    def measure_plain(self, data: bytes, end: int) -> bool:
        """:meth:`measure` with a few C-speed byte searches when every tag in ``data[:end]``
        is spelt plainly (``<is>``, ``</is>``): a worksheet of a million short inline strings
        costs a fraction of a CPU-second more instead of seconds item by item. Between the
        first and the last closing tag, every stretch of half the limit holds a closing tag, so
        no item there (each lies between two closing tags) can pass the limit; the item open
        coming in and the one still open at the end are measured exactly (from the last
        opening tag before their end, as :meth:`measure` counts). False, having counted
        nothing, when a tag is spelt otherwise (prefixed, spaced, an empty ``<is/>``) or a
        stretch holds no closing tag: then :meth:`measure`."""
        if self.max_bytes is None or self.opening is None or self.closing is None:
            return False
        opening, closing = self.opening, self.closing
        if (data.find(self.prefixed, 0, end) != -1  # a prefix, a space, an empty <is/>...
                or data.count(opening[:-1], 0, end) != data.count(opening, 0, end)
                or data.count(closing[:-1], 0, end) != data.count(closing, 0, end)):
            return False
        first, last = data.find(closing, 0, end), data.rfind(closing, 0, end)
        half = max(1, self.max_bytes // 2)
        for start in range(first, last, half) if first != -1 else ():
            if data.find(closing, start + 1, min(last, start + half) + len(closing)) == -1:
                return False
        head_end = first if first != -1 else end  # the item ending at the first closing tag
        at = data.rfind(opening, 0, head_end)
        if at != -1:  # opened here (after anything open coming in, as measure counts)
            self._open = 0
            self._grow(head_end - at - len(opening))
        elif self._open is not None:  # open coming in
            self._grow(head_end)
        if first == -1:
            return True
        self._open = None
        at = data.rfind(opening, last + len(closing) if last != -1 else 0, end)
        if at != -1:  # an item still open at the chunk's end
            self._open = 0
            self._grow(end - at - len(opening))
        return True

    def measure(self, data: bytes, end: int) -> None:
        """Count ``data[:end]`` (everything before ``end`` is seen once, in order)."""
        if self.max_bytes is None:
            return
        pos = 0
        for m in self.edge.finditer(data, 0, end):
            if m.group(1) == b"/":
                if self._open is not None:
                    self._grow(m.start() - pos)
                    self._open = None
            elif m.group(2) != b"/":  # an opening tag (not an empty <si/>)
                self._open = 0
            pos = m.end()
        if self._open is not None:
            self._grow(end - pos)

    def _grow(self, n: int) -> None:
        assert self._open is not None and self.max_bytes is not None
        self._open += n
        if self._open > self.max_bytes:
            raise _too_much_text()


def _too_much_text() -> SubmissionRefused:
    return SubmissionRefused(
        "A cell in the workbook holds far more text than any submission needs (Excel itself "
        "allows 32,767 characters in a cell), so the lab will not open it.",
        hint="Check the workbook for a cell pasted by mistake, or save the rows as CSV.")


class _StringCounter:
    """Counts the shared-strings table's items (scanned like :class:`_CellCounter`) and refuses,
    as soon as it is seen, one item longer than ``max_item_bytes`` (:class:`_ItemLength`)."""

    def __init__(self, max_item_bytes: int | None = None) -> None:
        self.count, self._carry = 0, b""
        self._item = _ItemLength(_STRING_EDGE, max_item_bytes)

    def feed(self, chunk: bytes) -> None:
        data = self._carry + chunk
        cut = data.rfind(b"<")
        if cut == -1 or data.find(b">", cut) != -1:
            cut = len(data)
        self.count += len(_STRING_ITEM.findall(data, 0, cut))
        self._item.measure(data, cut)
        self._carry = self._item.carry(data, cut)

    def finish(self) -> None:
        self.count += len(_STRING_ITEM.findall(self._carry))
        self._carry = b""


class _AnyPartCounter:
    """A part that is neither a standard worksheet nor the standard shared-strings table, read
    as if it could be either: its rows and cells counted (:class:`_CellCounter`) and its string
    items counted and length-checked (:class:`_StringCounter`)."""

    def __init__(self, max_rows: int, max_cells: int, max_item_bytes: int | None) -> None:
        self.cells = _CellCounter(max_rows, max_cells, max_item_bytes)
        self.strings = _StringCounter(max_item_bytes)

    def feed(self, chunk: bytes) -> None:
        self.strings.feed(chunk)
        self.cells.feed(chunk)

    def finish(self) -> None:
        self.strings.finish()
        self.cells.finish()


def _check_counts(path: Path, inspection: _Inspection, settings: IntakeSettings) -> None:
    """Refuse, from the counts, a submission sheet with too many rows or cells. The sheet is the
    one the readers will choose; if the workbook's sheet list cannot be read, every worksheet
    must be within the limits."""
    counts = list(inspection.sheets.values())
    try:
        with zipfile.ZipFile(path) as archive:
            parts = _worksheet_parts(archive)
        if parts:
            name, _notes = _choose(list(parts))
            chosen = inspection.sheets.get(parts[name].lower())
            counts = [chosen] if chosen is not None else counts
    except (KeyError, SyntaxError, ValueError, zipfile.BadZipFile, zlib.error, OSError):
        pass  # every sheet counts then
    if any(count.rows > _row_limit(settings) for count in counts):
        raise too_many_rows(settings)
    if any(count.cells > settings.max_xlsx_cells for count in counts):
        raise _too_many_cells(settings)
    if any(count.extent_rows > _row_limit(settings)
           or count.extent_rows * count.extent_columns > settings.max_xlsx_cells
           for count in counts):
        raise _too_wide()


def _worksheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """``{sheet name: zip part}`` for the workbook's worksheets (not chart sheets), in order."""
    from defusedxml.ElementTree import fromstring

    workbook = fromstring(archive.read("xl/workbook.xml"))
    rels = fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target") or "" for r in rels.iter(f"{_RELS}Relationship")}
    parts = {}
    for sheet in workbook.iter(f"{_MAIN}sheet"):
        target = targets.get(sheet.get(_REL_ID), "")
        part = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        part = posixpath.normpath(part)
        parts[sheet.get("name")] = part  # wherever it is stored: every part was counted
    return parts


#: Where every spreadsheet writer we know of stores a workbook's sheets and shared strings.
_STANDARD_DATA_PART = re.compile(r"xl/(?:worksheets/[^/]+\.xml|sharedStrings\.xml)")
#: Relationship and content types of the parts that hold cells or cell text.
_DATA_PART_TYPE = re.compile(r"(?:worksheet|sharedStrings|chartsheet|dialogsheet|macrosheet)",
                             re.IGNORECASE)
_CONTENT_TYPES = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_MAX_INDEX_PART_BYTES = 1 << 20


def _check_data_part_names(archive: zipfile.ZipFile) -> None:
    """Refuse a workbook whose sheets or shared strings are declared (in the workbook's
    relationships or ``[Content_Types].xml``) at a part name other than the standard ones.

    The size limits are proven by counting the standard parts as they stream; readers find
    parts through the relationships, so a sheet stored as ``xl/data/sheet1.xml`` would be read
    uncounted (second independent check, session 6: 25 CPU-s for a 10 MB file). Excel,
    LibreOffice, Google Sheets, Numbers and the Python writers all use the standard names."""
    from defusedxml.ElementTree import fromstring

    declared: list[str] = []
    for index, tag, part_of in (
            ("xl/_rels/workbook.xml.rels", f"{_RELS}Relationship", _relationship_part),
            ("[Content_Types].xml", f"{_CONTENT_TYPES}Override", _override_part),
            ("[Content_Types].xml", f"{_CONTENT_TYPES}Default", _default_part)):
        try:
            info = archive.getinfo(index)
        except KeyError:
            continue
        if info.file_size > _MAX_INDEX_PART_BYTES:
            raise _unusual_parts()
        root = fromstring(archive.read(info))
        declared += [part for element in root.iter(tag) if (part := part_of(element))]
    if any(not _STANDARD_DATA_PART.fullmatch(part) for part in declared):
        raise _unusual_parts()


def _relationship_part(element: Any) -> str | None:
    if not _DATA_PART_TYPE.search(element.get("Type") or ""):
        return None
    target = element.get("Target") or ""
    part = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
    return posixpath.normpath(part)


def _override_part(element: Any) -> str | None:
    if not _DATA_PART_TYPE.search(element.get("ContentType") or ""):
        return None
    return posixpath.normpath((element.get("PartName") or "").lstrip("/"))


def _default_part(element: Any) -> str | None:
    """A default content type that makes every part with an extension a sheet: never standard."""
    if _DATA_PART_TYPE.search(element.get("ContentType") or ""):
        return f"*.{element.get('Extension') or ''}"
    return None


def _unusual_parts() -> SubmissionRefused:
    return SubmissionRefused(
        "The workbook stores its sheets in an unusual way, so the lab will not open it.",
        hint="Open it in Excel (or LibreOffice) and save it again as .xlsx, or save as CSV.")


def _check_structure(infos: list[zipfile.ZipInfo], settings: IntakeSettings) -> None:
    names = {info.filename for info in infos}
    if len({name.lower() for name in names}) < len(names):  # two parts one reader confuses
        raise _unusual_parts()
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
                     pattern: re.Pattern[bytes] | None,
                     counter: _CellCounter | _StringCounter | _AnyPartCounter | None = None
                     ) -> bool:
    """Decompress one part in chunks (CRC checked at the end); whether ``pattern`` occurs.
    ``counter`` sees every chunk; if it stops (a limit passed), so does the reading: the
    caller refuses the workbook from the counts."""
    found = False
    tail = b""
    with archive.open(info) as stream:
        try:
            while chunk := stream.read(_CHUNK):
                if pattern is not None and not found:
                    found = pattern.search(tail + chunk) is not None
                    tail = chunk[-64:]
                if counter is not None:
                    counter.feed(chunk)
            if counter is not None:
                counter.finish()
        except _Stop:
            pass
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

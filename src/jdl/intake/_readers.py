"""Reading an uploaded file into a table of raw cells, whatever its format.

The file's type is decided by its content, not its name (people rename files). CSV text may be in
any common encoding and use ``,``, ``;``, tab or ``|`` between values; XLSX is read without
running or following anything (no macros, no external links, formulas kept as text so they can be
reported) and only after its zip structure is checked against zip bombs; Parquet is read after its
metadata is checked. Every problem that stops us reading the file is a :class:`SubmissionRefused`
with one plain-English message.

Row numbers are kept as the user sees them: in CSV and XLSX the header is row 1 (or wherever it
is) and the first person is row 2; Parquet has no visible rows, so its records count from 1.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from jdl.core.config import IntakeSettings
from jdl.core.errors import SubmissionRefused, UsageError
from jdl.intake._dates import EXCEL_EPOCH_1900
from jdl.intake._limits import SUPPORTED, TEMPLATE_HINT, too_many_rows
from jdl.intake._spec import canonical_for
from jdl.intake._xlsx import read_workbook

Format = Literal["csv", "xlsx", "parquet"]
DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass(frozen=True)
class SourceInfo:
    """Where the rows came from and how the file was read (shown back to the user)."""

    file_name: str
    format: Format
    size_bytes: int
    header_row: int  # 1-based row of the headings; 0 for Parquet (no header row)
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None

    def describe(self) -> str:
        """One line for the summary: ``CSV (UTF-8, comma-separated)``."""
        if self.format == "csv":
            delimiter = _DELIMITER_NAMES.get(self.delimiter or ",", self.delimiter)
            return (f"CSV ({self.encoding}, {delimiter}-separated), "
                    f"headings on row {self.header_row}")
        if self.format == "xlsx":
            return f"Excel workbook, sheet '{self.sheet}', headings on row {self.header_row}"
        return "Parquet"


@dataclass(frozen=True)
class RawTable:
    """The data rows of a file as raw cells, before any interpretation.

    ``cells`` has one column per heading (object dtype, values as read: text, numbers, dates,
    None) and one row per data row between the header and the last non-blank row.
    """

    headers: tuple[str, ...]
    cells: pd.DataFrame
    row_numbers: np.ndarray
    overflow: np.ndarray  # True where a row had values beyond the last heading
    blank: np.ndarray  # True where a row is empty (and does not overflow)
    source: SourceInfo
    notes: tuple[str, ...] = field(default=())
    excel_epoch: np.datetime64 = EXCEL_EPOCH_1900  # day 0 of serial dates (1904 on old Macs)


def read_table(path: str | Path, settings: IntakeSettings) -> RawTable:
    """Read ``path`` (CSV, XLSX or Parquet, detected from its content) into a :class:`RawTable`."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"There is no file at {path}.")
    if not path.is_file():
        raise UsageError(f"{path} is a folder, not a file.")
    size = path.stat().st_size
    if size == 0:
        raise SubmissionRefused("The file is empty.", hint=TEMPLATE_HINT)
    if size > settings.max_file_bytes:
        raise SubmissionRefused(
            f"The file is {_mb(size)}, larger than the {_mb(settings.max_file_bytes)} the lab "
            "accepts.", hint="Remove columns the template does not ask for, or split the people "
            "into two submissions and tell the lab they belong together.")
    with path.open("rb") as handle:
        head = handle.read(8)
    kind = sniff_format(head)
    if kind == "xlsx":
        return _read_xlsx(path, size, settings)
    if kind == "parquet":
        return _read_parquet(path, size, settings)
    return _read_csv(path, size, settings)


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def sniff_format(head: bytes) -> Format:
    """The format of a file from its first bytes; refuses formats we know we cannot read."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"  # any zip; _read_xlsx checks it really is a workbook
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise SubmissionRefused(
            "This is an old-style Excel file (.xls) or a password-protected workbook, which the "
            "lab cannot read.", hint="Remove any password, then use File > Save As and choose "
            "'Excel Workbook (.xlsx)' or 'CSV UTF-8'.")
    if head.startswith(b"%PDF"):
        raise SubmissionRefused(f"This is a PDF document. Please send {SUPPORTED}.",
                                hint=TEMPLATE_HINT)
    return "csv"


# --------------------------------------------------------------------------------------- CSV


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode CSV bytes: BOM-marked UTF-8/UTF-16, else UTF-8, else Windows-1252 (Excel's
    'CSV' on UK Windows), else Latin-1 (never fails). Returns (text, encoding name)."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8"), "UTF-8 with BOM"
        except UnicodeDecodeError:
            pass
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            try:
                return data[2:].decode(codec), "UTF-16"
            except UnicodeDecodeError as exc:
                raise SubmissionRefused(
                    "The file says it is UTF-16 text but cannot be read as such.",
                    hint="Save it again as 'CSV UTF-8'.") from exc
    sample = data[:65536]
    if sample.count(b"\x00") > len(sample) // 10:  # binary, not a stray NUL in a cell
        raise SubmissionRefused(f"This does not look like a text (CSV) file. Please send "
                                f"{SUPPORTED}.", hint=TEMPLATE_HINT)
    for codec, label in (("utf-8", "UTF-8"), ("cp1252", "Windows-1252")):
        try:
            return data.decode(codec), label
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "Latin-1"


def _parse_csv(text: str, delimiter: str, limit: int | None = None,
               settings: IntakeSettings | None = None) -> list[list[str]]:
    """The rows of ``text`` (at most ``limit``). With ``settings``, the file's shape is bounded
    while it is parsed, before any row is kept beyond what a submission may hold: more lines
    than ``max_rows`` people need (empty lines included) or a line with far more separators
    than ``max_columns`` refuse the file at once (second independent check, session 6: 45 MB
    of empty lines cost 3.6 GB and 42 CPU-s before the row count was checked)."""
    # Python's csv module refuses a field over 128 KB as an error for the whole file; the file
    # itself is already within max_file_bytes, so a field may be as long as the text, and an
    # oversized cell rejects its own row in validation (cell_too_long)
    if csv.field_size_limit() < len(text):
        csv.field_size_limit(len(text) + 1)
    lines: Any = io.StringIO(text, newline="")
    if settings is not None:
        lines = _bounded_lines(lines, delimiter, settings)
    reader = csv.reader(lines, delimiter=delimiter, strict=False)
    rows: list[list[str]] = []
    most_filled = (None if settings is None
                   else settings.max_rows + settings.header_search_rows + 1)
    filled = 0
    try:
        for row in reader:
            rows.append(row)
            if limit is not None and len(rows) >= limit:
                break
            if settings is not None and most_filled is not None and any(row):
                filled += 1
                if filled > most_filled:
                    raise too_many_rows(settings)
    except csv.Error as exc:
        raise SubmissionRefused(
            f"The CSV file is malformed near row {reader.line_num}: {exc}.",
            hint="Open it in Excel, check that row, and save it again as 'CSV UTF-8'.") from exc
    return rows


def _bounded_lines(lines: Any, delimiter: str, settings: IntakeSettings) -> Any:
    """``lines``, refusing the file at the first line past what a submission can hold."""
    most_lines = 2 * (settings.max_rows + settings.header_search_rows + 1)
    most_separators = 10 * settings.max_columns  # room for separators inside quoted text
    for number, line in enumerate(lines, start=1):
        if number > most_lines:
            raise SubmissionRefused(
                f"The file has more than {most_lines:,} lines (empty lines included), far more "
                f"than the {settings.max_rows:,} people a submission may hold.",
                hint="Check for empty lines or stray content far below your data, or save the "
                     "sheet again as 'CSV UTF-8'.")
        if line.count(delimiter) > most_separators:
            raise SubmissionRefused(
                f"Line {number} of the file has more than {most_separators:,} separators, far "
                f"more than the {settings.max_columns} columns the lab reads.",
                hint="Save just the template's columns as 'CSV UTF-8'.")
        yield line


def choose_delimiter(text: str, search_rows: int) -> str:
    """The delimiter under which the most headings are recognised (then: most columns)."""
    sample = text[:65536]
    best, best_score = ",", (-1, -1)
    for delimiter in DELIMITERS:
        rows = _parse_csv(sample, delimiter, limit=search_rows)
        recognised = max((_recognised(r) for r in rows), default=0)
        width = max((len(r) for r in rows), default=0)
        score = (recognised, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _read_csv(path: Path, size: int, settings: IntakeSettings) -> RawTable:
    text, encoding = decode_text(path.read_bytes())
    delimiter = choose_delimiter(text, settings.header_search_rows)
    rows = _parse_csv(text, delimiter, settings=settings)
    header_index = find_header(rows[: settings.header_search_rows])
    source = SourceInfo(path.name, "csv", size, header_index + 1, encoding, delimiter)
    return _build(rows[header_index], rows[header_index + 1 :], header_index + 2, source,
                  settings)


# -------------------------------------------------------------------------------------- XLSX


def _read_xlsx(path: Path, size: int, settings: IntakeSettings) -> RawTable:
    book = read_workbook(path, settings)
    header_index = find_header(book.rows[: settings.header_search_rows])
    source = SourceInfo(path.name, "xlsx", size, header_index + 1, sheet=book.sheet)
    return _build(book.rows[header_index], book.rows[header_index + 1 :], header_index + 2,
                  source, settings, list(book.notes), book.epoch)


# ----------------------------------------------------------------------------------- Parquet


def _read_parquet(path: Path, size: int, settings: IntakeSettings) -> RawTable:
    """Parquet, decoded in a child process whose address space is capped.

    A Parquet file's sizes are the writer's word: pyarrow sizes each page from its own header,
    so a 19 KB file whose footer claims 1 KB decoded a 600 MB string, and 55 KB of one
    repeated timestamp became 1.9 GB of Python objects (re-verification, session 6). The
    footer is checked first (rows, columns, cells); what it cannot prove, the child's cap
    bounds: past it the child fails and the file is refused."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
        if meta.num_rows > settings.max_rows:
            raise too_many_rows(settings)
        if meta.num_columns > settings.max_columns:
            raise SubmissionRefused(f"The Parquet file has {meta.num_columns} columns; the lab "
                                    f"reads at most {settings.max_columns}.")
        expanded = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if (expanded > settings.max_xlsx_uncompressed_bytes
                or meta.num_rows * meta.num_columns > settings.max_xlsx_cells):
            raise SubmissionRefused("The Parquet file expands to far more data than a submission "
                                    "should hold, so the lab will not read it.")
    except SubmissionRefused:
        raise
    except Exception as exc:  # pyarrow raises many types for damaged files
        raise SubmissionRefused("The Parquet file could not be read; it may be damaged.",
                                hint="Export it again, or send a CSV file.") from exc
    headers, rows = _in_capped_child(_parquet_rows, str(path), settings)
    source = SourceInfo(path.name, "parquet", size, 0)
    return _build(headers, rows, 1, source, settings)


def parquet_memory_cap(settings: IntakeSettings) -> int:
    """The address space the child decoding a Parquet file may use: room for pyarrow and pandas
    and for a file at the size limit decoded to Python objects, and no more."""
    return max(1 << 30, 20 * settings.max_file_bytes)


def _cap_address_space(limit: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _in_capped_child(function: Any, path: str, settings: IntakeSettings) -> Any:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("spawn")  # never fork a threaded server
    try:
        with ProcessPoolExecutor(1, mp_context=context, initializer=_cap_address_space,
                                 initargs=(parquet_memory_cap(settings),)) as pool:
            return pool.submit(function, path, settings).result()
    except SubmissionRefused:
        raise
    except (MemoryError, BrokenProcessPool) as exc:
        raise _parquet_too_large() from exc
    except Exception as exc:  # pyarrow's errors, ArrowMemoryError among them
        if "memory" in type(exc).__name__.lower() or "malloc" in str(exc):
            raise _parquet_too_large() from exc
        raise SubmissionRefused("The Parquet file could not be read; it may be damaged.",
                                hint="Export it again, or send a CSV file.") from exc


def _parquet_too_large() -> SubmissionRefused:
    return SubmissionRefused("The Parquet file expands to far more data than a submission "
                             "should hold, so the lab will not read it.",
                             hint="Export just the template's columns, or send a CSV file.")


def _parquet_rows(path: str, settings: IntakeSettings) -> tuple[list[str], list[list[Any]]]:
    """In the capped child: the headers and rows (plain Python values)."""
    frame = _bounded_parquet_frame(Path(path), settings)
    frame = frame.where(frame.notna(), None)
    return [str(c) for c in frame.columns], frame.to_numpy().tolist()


def _bounded_parquet_frame(path: Path, settings: IntakeSettings) -> pd.DataFrame:
    """The table, with the size of its text proven before it is expanded.

    Text columns are read dictionary-encoded (each distinct value once), their decoded length
    computed from the dictionary and the indices, and the file refused when one value is longer
    than a workbook cell may be or the text would expand past what a CSV at the size limit
    could: the footer's sizes are the writer's word, and a 1 KB file referencing one 10 MB value
    30 times cost the server 886 MB (second independent check, session 6)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    if any(pa.types.is_nested(field.type) or pa.types.is_fixed_size_binary(field.type)
           or pa.types.is_dictionary(field.type) or isinstance(field.type, pa.ExtensionType)
           for field in schema):
        # a fixed-size binary column is read dense whatever its encoding (re-verification,
        # session 6: 960 bytes of file, 1 GB in memory)
        raise SubmissionRefused("The Parquet file has columns of lists, records or raw bytes; "
                                "the lab reads one plain value per cell.",
                                hint="Export it again with plain columns, or send a CSV file.")
    # the decoded size of every page, dictionaries included, before anything is decoded: at
    # most what a CSV at the size limit holds (re-verification, session 6: a 21 KB file of
    # distinct 199 KB values reached 1.6 GB while its dictionaries were read)
    meta = pq.ParquetFile(path).metadata
    decoded = sum(meta.row_group(g).column(c).total_uncompressed_size
                  for g in range(meta.num_row_groups) for c in range(meta.num_columns))
    if decoded > settings.max_file_bytes:
        raise SubmissionRefused("The Parquet file holds far more text than a submission "
                                "should, so the lab will not read it.",
                                hint="Export just the template's columns, or send a CSV file.")
    text = [field.name for field in schema
            if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
            or pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type)]
    table = pq.ParquetFile(path, read_dictionary=text).read()
    longest, total = 0, 0
    for name in text:
        for chunk in table.column(name).chunks:
            if not pa.types.is_dictionary(chunk.type):
                chunk = chunk.dictionary_encode()
            lengths = pc.binary_length(chunk.dictionary)
            if len(lengths) == 0:
                continue
            longest = max(longest, pc.max(lengths).as_py() or 0)
            total += pc.sum(pc.take(lengths, chunk.indices)).as_py() or 0
    if longest > settings.max_xlsx_string_bytes or total > 4 * settings.max_file_bytes:
        raise SubmissionRefused("The Parquet file holds far more text than a submission "
                                "should, so the lab will not read it.",
                                hint="Export just the template's columns, or send a CSV file.")
    return table.to_pandas().astype(object)


# ---------------------------------------------------------------------------------- Shared


def _recognised(row: list[Any]) -> int:
    return len({canonical_for(c) for c in row if c is not None} - {None})


def find_header(rows: list[list[Any]]) -> int:
    """Index of the heading row: the first of the top rows naming at least two template
    columns (some people put a title above the headings)."""
    for index, row in enumerate(rows):
        if _recognised(row) >= 2:
            return index
    raise SubmissionRefused(
        "No column headings were found. The first row should name the columns, e.g. forename, "
        "surname, date_of_birth, sex.", hint=TEMPLATE_HINT)


def is_blank(frame: pd.DataFrame) -> np.ndarray:
    """Rows in which every cell is empty or whitespace."""
    blank = np.ones(len(frame), dtype=bool)
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        text = pd.Series(column.to_numpy(dtype=object), dtype="str")
        blank &= (text.isna() | (text.str.strip() == "")).to_numpy()
    return blank


def _row_is_blank(row: list[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def _build(header: list[Any], body: list[list[Any]], first_row_number: int, source: SourceInfo,
           settings: IntakeSettings, notes: list[str] | None = None,
           excel_epoch: np.datetime64 = EXCEL_EPOCH_1900) -> RawTable:
    """Trim trailing blank rows, square the rows up to the headings, note overflowing rows."""
    headers = ["" if h is None else str(h).strip() for h in header]
    while headers and not headers[-1]:
        headers.pop()  # trailing empty heading cells
    width = len(headers)
    last = len(body)
    while last and _row_is_blank(body[last - 1]):
        last -= 1
    if last > settings.max_rows:
        raise too_many_rows(settings)
    body = body[:last]
    overflow = np.array([len(r) > width and not _row_is_blank(r[width:]) for r in body],
                        dtype=bool)
    square = [r if len(r) == width else (list(r[:width]) + [None] * (width - len(r)))
              for r in body]
    columns = list(zip(*square, strict=True)) if square else [()] * width
    cells = pd.DataFrame({i: np.array(col, dtype=object) for i, col in enumerate(columns)},
                         index=range(last), columns=range(width), dtype=object)
    blank = np.array([_row_is_blank(r) for r in square], dtype=bool) & ~overflow
    row_numbers = np.arange(first_row_number, first_row_number + last, dtype=np.int64)
    return RawTable(tuple(headers), cells, row_numbers, overflow, blank, source,
                    tuple(notes or ()), excel_epoch)

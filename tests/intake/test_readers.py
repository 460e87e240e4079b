"""Reading files: encodings, delimiters, headings, formats, and refusing what cannot be read."""

from __future__ import annotations

import datetime as dt
import zipfile

import pandas as pd
import pytest

from jdl.core.config import IntakeSettings
from jdl.core.errors import UsageError
from jdl.intake import CANONICAL_COLUMNS, check_submission, read_table, write_template

from ._factory import TODAY, people, write_csv, write_xlsx


def check(path, settings=None):
    return check_submission(path, settings=settings, today=TODAY)


@pytest.mark.parametrize(("encoding", "label"), [
    ("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 with BOM"), ("cp1252", "Windows-1252"),
    ("utf-16", "UTF-16"),
])
def test_csv_encodings(tmp_path, encoding, label):
    rows = people(70)
    rows[0]["forename"] = "Zoë"
    sub = check(write_csv(tmp_path / "s.csv", rows, encoding=encoding))
    assert sub.source.encoding == label
    assert sub.counts.accepted == 70
    assert sub.accepted_rows().loc[0, "forename"] == "Zoë"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiters(tmp_path, delimiter):
    rows = people(65)
    rows[0]["surname"] = "Smith, Jones; Tab"  # quoted where needed
    sub = check(write_csv(tmp_path / "s.csv", rows, delimiter=delimiter))
    assert sub.source.delimiter == delimiter
    assert sub.counts.accepted == 65 and sub.errors.empty


def test_headings_matched_by_synonyms_case_and_spacing(tmp_path):
    header = ["First Name", " SURNAME ", "D.O.B.", "Gender", "PNC Number", "NOMS no",
              "Date of conviction", "Programme start date", "End date", "Index_Date"]
    rows = [[r[c] for c in CANONICAL_COLUMNS] for r in people(70)]
    sub = check(write_csv(tmp_path / "s.csv", rows, header))
    assert sub.acceptable
    assert sub.column_map["date_of_birth"] == "D.O.B."
    assert sub.column_map["prison_number"] == "NOMS no"
    assert sub.counts.accepted == 70


def test_title_rows_above_the_headings_shift_row_numbers(tmp_path):
    path = write_csv(tmp_path / "s.csv", people(70), preamble=["Referrals 2019,,", ""])
    sub = check(path)
    assert sub.source.header_row == 3
    assert sub.rows["row_number"].iloc[0] == 4


def test_xlsx_with_real_date_cells_and_serial_numbers(tmp_path):
    rows = people(70)
    rows[0]["date_of_birth"] = 31000  # a date cell that lost its format
    sub = check(write_xlsx(tmp_path / "s.xlsx", rows))
    assert sub.source.format == "xlsx" and sub.counts.accepted == 70
    assert sub.accepted_rows().loc[0, "date_of_birth"] == pd.Timestamp("1984-11-14")
    expected = dt.datetime.strptime(rows[1]["date_of_birth"], "%d/%m/%Y")
    assert sub.accepted_rows().loc[1, "date_of_birth"] == pd.Timestamp(expected)


def test_xlsx_template_filled_in_validates(tmp_path):
    from openpyxl import load_workbook

    path = write_template(tmp_path / "t.xlsx", "xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["Submission", "Guidance"]
    sheet = book["Submission"]
    for row in people(70):
        sheet.append([row[c] for c in CANONICAL_COLUMNS])
    book.save(path)
    sub = check(path)
    assert sub.source.sheet == "Submission" and sub.counts.accepted == 70


def test_xlsx_formula_cells_are_rejected_not_evaluated(tmp_path):
    from openpyxl import load_workbook

    path = write_xlsx(tmp_path / "s.xlsx", people(70))
    book = load_workbook(path)
    book["Submission"]["A5"] = '=WEBSERVICE("http://example.invalid")'
    book.save(path)
    sub = check(path)
    issue = sub.errors[sub.errors["row_number"] == 5].iloc[0]
    assert issue["code"] == "formula" and "WEBSERVICE" in issue["value"]


def test_xlsx_trailing_formatted_rows_are_not_rows(tmp_path):
    from openpyxl import load_workbook
    from openpyxl.styles import Font

    path = write_xlsx(tmp_path / "s.xlsx", people(70))
    book = load_workbook(path)
    sheet = book["Submission"]
    for r in range(100, 5000, 7):
        sheet.cell(row=r, column=1).font = Font(bold=True)
    book.save(path)
    assert check(path).counts.rows == 70


def test_parquet(tmp_path):
    frame = pd.DataFrame(people(70))
    frame["date_of_birth"] = pd.to_datetime(frame["date_of_birth"], format="%d/%m/%Y").dt.date
    path = tmp_path / "s.parquet"
    frame.to_parquet(path)
    sub = check(path)
    assert sub.source.format == "parquet" and sub.counts.accepted == 70
    assert sub.rows["row_number"].iloc[0] == 1  # no header row in Parquet


REFUSED = [
    (b"", "empty"),
    (b"%PDF-1.7 ...", "PDF"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), ".xls"),
    (b"\x00\x01\x02\x03" * 500, "not look like a text"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20, "No column headings"),
    (b"just some words\nwith no headings\n", "No column headings"),
    (b"Name,DOB,sex\nJane Smith,01/01/1990,F\n", "single 'Name' column"),
    (b"forename,First name,surname,dob,sex,index_date\n", "both look like forename"),
    (b"PK\x03\x04garbage", "damaged"),
]


@pytest.mark.parametrize(("content", "phrase"), REFUSED, ids=[p for _, p in REFUSED])
def test_unusable_files_are_refused_with_one_message(tmp_path, content, phrase):
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    sub = check(path)
    assert not sub.acceptable
    assert phrase in sub.refusal.message
    assert sub.counts.accepted == 0


def _zip(path, entries):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def test_macro_workbook_refused(tmp_path):
    path = write_xlsx(tmp_path / "s.xlsx", people(70))
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("xl/vbaProject.bin", b"\x00" * 100)
    sub = check(path)
    assert sub.refusal.code == "file" and "macros" in sub.refusal.message


def test_zip_bomb_refused_before_reading(tmp_path):
    path = _zip(tmp_path / "bomb.xlsx", {"xl/workbook.xml": "<x/>",
                                         "xl/worksheets/sheet1.xml": "0" * 5_000_000})
    sub = check(path)
    assert "expands to far more data" in sub.refusal.message
    other = _zip(tmp_path / "docs.xlsx", {"word/document.xml": "<x/>"})
    assert "Word document" in check(other).refusal.message


def test_external_links_are_noted_not_followed(tmp_path):
    path = write_xlsx(tmp_path / "s.xlsx", people(70))
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("xl/externalLinks/externalLink1.xml", "<externalLink/>")
    sub = check(path)
    assert sub.acceptable
    assert any("links to other workbooks" in m for m in sub.warnings["message"])


def test_size_and_row_limits(tmp_path):
    path = write_csv(tmp_path / "s.csv", people(70))
    small = IntakeSettings(max_file_bytes=1000)
    assert "larger than" in check(path, small).refusal.message
    few = IntakeSettings(max_rows=50)
    assert "more than 50 rows" in check(path, few).refusal.message
    xlsx = write_xlsx(tmp_path / "s.xlsx", people(70))
    assert "more than 50 rows" in check(xlsx, few).refusal.message


def test_missing_path_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError):
        check_submission(tmp_path / "nope.csv")
    with pytest.raises(UsageError):
        check_submission(tmp_path)


def test_read_table_keeps_raw_cells(tmp_path, settings):
    raw = read_table(write_csv(tmp_path / "s.csv", people(3)), settings)
    assert raw.headers == CANONICAL_COLUMNS
    assert raw.cells.shape == (3, 10) and raw.row_numbers.tolist() == [2, 3, 4]


def test_formula_free_workbooks_take_the_fast_path(tmp_path, monkeypatch):
    from jdl.intake import _xlsx

    def no_openpyxl(*args):
        raise AssertionError("openpyxl path used")

    monkeypatch.setattr(_xlsx, "_read_openpyxl", no_openpyxl)
    assert check(write_xlsx(tmp_path / "s.xlsx", people(70))).counts.accepted == 70


def _formula_workbook(path):
    from openpyxl import load_workbook

    path = write_xlsx(path, people(70))
    book = load_workbook(path)
    sheet = book["Submission"]
    sheet["B3"] = "=UPPER(A3)"
    sheet["A9"] = '=CONCAT("a&b", "<c>")'
    sheet["J80"] = "=TODAY()"  # below the data, no cached value
    book.create_sheet("Notes")["A1"] = "=1+1"
    book.save(path)
    return path


def test_formula_cells_found_by_the_fast_path_match_the_exact_path(tmp_path, monkeypatch):
    from jdl.intake import _xlsx

    path = _formula_workbook(tmp_path / "s.xlsx")
    original = _xlsx._read_openpyxl
    monkeypatch.setattr(_xlsx, "_read_openpyxl", lambda *a: pytest.fail("openpyxl path used"))
    fast = check(path)
    monkeypatch.setattr(_xlsx, "_read_calamine", lambda *a: None)
    monkeypatch.setattr(_xlsx, "_read_openpyxl", original)
    exact = check(path)
    formulas = fast.errors[fast.errors["code"] == "formula"]
    assert formulas["row_number"].tolist() == [3, 9, 80]
    assert formulas["value"].tolist() == ["=UPPER(A3)", '=CONCAT("a&b", "<c>")', "=TODAY()"]
    assert set(fast.errors.loc[fast.errors["row_number"] < 80, "code"]) == {"formula",
                                                                            "blank_row"}
    pd.testing.assert_frame_equal(fast.issues, exact.issues)
    pd.testing.assert_frame_equal(fast.rows, exact.rows)
    assert fast.counts.rows == 79  # the formula in row 80 makes rows 72-79 blank rows


def test_stray_far_cells_take_the_exact_path(tmp_path, monkeypatch):
    from openpyxl import load_workbook

    from jdl.intake import _xlsx

    calls = []
    original = _xlsx._read_openpyxl
    monkeypatch.setattr(_xlsx, "_read_openpyxl", lambda *a: calls.append(1) or original(*a))
    path = write_xlsx(tmp_path / "s.xlsx", people(70))
    book = load_workbook(path)
    book["Submission"].cell(row=2, column=200, value="stray")
    book.save(path)
    sub = check(path)
    assert calls == [1] and sub.counts.accepted == 70


def test_1904_date_system(tmp_path):
    from openpyxl import load_workbook
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    path = write_xlsx(tmp_path / "s.xlsx", people(70))
    book = load_workbook(path)
    book.epoch = CALENDAR_MAC_1904
    book["Submission"]["C2"] = 29000  # a serial number, not a date cell
    book.save(path)
    sub = check(path)
    assert sub.accepted_rows().loc[0, "date_of_birth"] == pd.Timestamp("1983-05-26")


def _moved(source, target, moves: dict[str, str], extra: dict[str, bytes] | None = None):
    """``source`` rewritten with parts renamed (``moves``: old name -> new name), every
    mention of an old name in the package's indexes pointing at the new one."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w",
                                                         zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename in ("[Content_Types].xml", "xl/_rels/workbook.xml.rels"):
                for before, after in moves.items():
                    data = data.replace(before.encode(), after.encode())
                    data = data.replace(before.removeprefix("xl/").encode(),
                                        after.removeprefix("xl/").encode())
            new.writestr(moves.get(info.filename, info.filename), data)
        for name, data in (extra or {}).items():
            new.writestr(name, data)
    return target


def test_a_sheet_stored_under_another_name_is_refused_before_reading(tmp_path, monkeypatch):
    """Readers find parts through the relationships; the limits were proven on the standard
    names only (second independent check, session 6: a 300,000-row sheet at xl/data/ cost 25
    CPU-s before its rows were refused)."""
    from jdl.intake import _xlsx

    path = write_xlsx(tmp_path / "s.xlsx", people(70))
    moved = _moved(path, tmp_path / "moved.xlsx",
                   {"xl/worksheets/sheet1.xml": "xl/data/sheet1.xml"})

    def never(*_args, **_kwargs):
        raise AssertionError("a reader opened the workbook")

    monkeypatch.setattr(_xlsx, "_read_calamine", never)
    monkeypatch.setattr(_xlsx, "_read_openpyxl", never)
    sub = check(moved)
    assert sub.refusal.code == "file" and "unusual way" in sub.refusal.message


def test_any_xml_part_is_counted_and_length_checked(tmp_path):
    """Defence in depth: a part with rows or one long string counts even when nothing
    declares it."""
    path = write_xlsx(tmp_path / "s.xlsx", people(70))
    rows = "".join(f'<row r="{i}"><c r="A{i}"><v>1</v></c></row>' for i in range(1, 80))
    stray = _moved(path, tmp_path / "stray.xlsx", {}, {
        "xl/stray.xml": f"<worksheet><sheetData>{rows}</sheetData></worksheet>".encode()})
    few = IntakeSettings(max_rows=50)
    assert check(stray).acceptable
    from jdl.intake._xlsx import inspect_zip

    assert inspect_zip(stray, few).sheets["xl/stray.xml"].rows > few.max_rows  # counted, stopped
    long = _moved(path, tmp_path / "long.xlsx", {}, {
        "xl/strs.xml": b"<sst><si><t>" + b"x" * 200_000 + b"</t></si></sst>"})
    assert check(long).refusal is not None


@pytest.mark.parametrize(("body", "says"), [
    (b"\n" * 500_000, "empty lines included"),       # 45 MB of these cost 3.6 GB before
    (b"a,b\n" * 250_000, "more than 200,000 rows"),
    (b"," * 1_000_000 + b"\n", "separators"),
])
def test_a_csv_is_refused_while_it_is_parsed_not_after(tmp_path, body, says):
    """Second independent check, session 6: a CSV was parsed whole into memory before its
    rows were counted (45 MB of empty lines: 3.6 GB, 42 CPU-s)."""
    import tracemalloc

    path = tmp_path / "s.csv"
    path.write_bytes(",".join(CANONICAL_COLUMNS).encode() + b"\n" + body)
    tracemalloc.start()
    try:
        refusal = check(path).refusal
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refusal is not None and says in refusal.message
    assert peak < 20 * len(body) + 50 * 2**20  # not ~80 bytes of memory per byte of file


def test_a_tiny_parquet_file_cannot_expand_to_megabytes_of_text(tmp_path):
    """A 1 KB Parquet file whose dictionary holds one 10 MB value used by 30 rows cost the
    server 886 MB (second independent check, session 6); the text is measured first."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    big = "a" * 2_000_000
    table = pa.table({"forename": [big] * 30, "surname": ["Smith"] * 30})
    path = tmp_path / "s.parquet"
    pq.write_table(table, path, compression="zstd", store_schema=False)
    assert path.stat().st_size < 10_000
    assert "far more text" in check(path).refusal.message
    nested = tmp_path / "n.parquet"
    pq.write_table(pa.table({"forename": [["a", "b"]] * 3}), nested)
    assert "lists, records" in check(nested).refusal.message

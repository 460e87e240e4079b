"""Property tests: no file, however malformed, raises anything but the project's own error, and
every row that is read is accounted for."""

from __future__ import annotations

import csv
import functools
import io
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jdl.core.config import IntakeSettings
from jdl.core.errors import JDLError
from jdl.intake import CANONICAL_COLUMNS, accepted_rows_schema, check_submission

from ._factory import TODAY, person

SETTINGS = IntakeSettings(min_cohort_size=1)
HEADINGS = [*CANONICAL_COLUMNS, "DOB", "First name", "Gender", "Name", "notes", "", "forename"]
CELLS = st.one_of(
    st.sampled_from([*person(1).values(), "", " ", "=1+1", "-", "01/13/2020", "31/02/2020",
                     "M", "f", "2001/0123456F", "a1234bc", "NULL"]),
    st.text(max_size=12),
    st.text(alphabet=',;\t"\n\r\x00é€', max_size=6),
)
TEXT_CELLS = CELLS.filter(lambda cell: "\x00" not in cell)  # NUL-heavy files are "binary"


def _check(data: bytes, suffix: str):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            return check_submission(path, settings=SETTINGS, today=TODAY)
        except JDLError:
            return None


def _assert_accounted_for(submission) -> None:
    if submission is None or submission.source is None:
        return
    counts = submission.counts
    assert counts.accepted + counts.rejected == counts.rows == len(submission.rows)
    assert submission.rows["row_number"].is_unique
    errors = submission.errors
    rejected = set(submission.rows.loc[submission.rows["status"] == "rejected", "row_number"])
    if submission.refusal is None or submission.refusal.code == "too_small":
        assert rejected == set(errors["row_number"].dropna())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.sampled_from([".csv", ".xlsx", ".parquet", ""]))
def test_arbitrary_bytes(data, suffix):
    _assert_accounted_for(_check(data, suffix))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(HEADINGS), min_size=1, max_size=12),
       st.lists(st.lists(CELLS, max_size=12), max_size=15),
       st.sampled_from([",", ";", "\t"]),
       st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
def test_arbitrary_csv(header, rows, delimiter, encoding):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode(encoding, errors="replace")
    _assert_accounted_for(_check(data, ".csv"))


@functools.cache
def _schema():
    return accepted_rows_schema()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({c: TEXT_CELLS for c in CANONICAL_COLUMNS}), max_size=12))
def test_template_shaped_csv_all_rows_accounted(rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CANONICAL_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    submission = _check(buffer.getvalue().encode("utf-8"), ".csv")
    assert submission is not None and submission.source is not None
    _assert_accounted_for(submission)
    _schema().validate(submission.accepted_rows())  # what linkage may rely on


WORKBOOK_PARTS = st.sampled_from([
    "xl/workbook.xml", "xl/worksheets/sheet1.xml", "xl/sharedStrings.xml", "xl/styles.xml",
    "[Content_Types].xml", "xl/_rels/workbook.xml.rels", "_rels/.rels"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(WORKBOOK_PARTS, st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"<workbook/>", b"<worksheet><sheetData><row r='1'><c r='A1' t='s'><v>0"
                     b"</v></c></row></sheetData></worksheet>", b"<sst><si><t>forename</t></si>"
                     b"</sst>", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;"
                     b"</x>"])), min_size=1),
       st.booleans())
def test_arbitrary_workbooks(parts, corrupt):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    data = buffer.getvalue()
    if corrupt and len(data) > 60:  # damage the compressed bytes, keep the zip directory
        data = data[:40] + bytes(b ^ 0x5A for b in data[40:50]) + data[50:]
    _assert_accounted_for(_check(data, ".xlsx"))

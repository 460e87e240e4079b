"""Second re-verification of the upload readers (issue 16, session 6): bypasses now closed.

Each test builds a file of a few kilobytes, reads it with ``read_table`` in a child process and
measures the child's peak memory above its baseline (VmHWM). They were written as
``xfail(strict=True)`` against the readers as they were. Parquet is now decoded in a further
child whose address space is capped (``parquet_memory_cap``), so these also check that the
file is refused; ``test_the_parquet_child_cannot_pass_its_cap`` checks the cap itself.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

_CHILD = r"""
import json, sys
from jdl.core.config import Settings
import jdl.intake as intake
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
base = hwm()
try:
    intake.read_table(sys.argv[1], Settings().intake)
    outcome = "read"
except Exception as exc:
    outcome = type(exc).__name__
print(json.dumps({"extra_mb": hwm() - base, "outcome": outcome}))
"""


def _read_in_child(path: Path) -> tuple[float, str]:
    """(peak memory in MB the reader adds in a fresh process, outcome); a crash (calamine
    aborting on an allocation failure) counts as unbounded."""
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        return float("inf"), "crashed"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["extra_mb"], result["outcome"]


def _peak_extra_mb(path: Path) -> float:
    return _read_in_child(path)[0]


def _varint(value: int, width: int | None = None) -> bytes:
    out = []
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | 0x80 if value else low)
        if not value:
            break
    while width and len(out) < width:  # non-canonical padding keeps the footer's length
        out[-1] |= 0x80
        out.append(0)
    return bytes(out)


def _lying_parquet(path: Path, value_bytes: int) -> None:
    """One string value of ``value_bytes`` whose footer says the column decodes to 1,000 bytes
    (``total_uncompressed_size`` and the row group's ``total_byte_size`` patched in place)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"pnc_id": ["a" * value_bytes]}), path, compression="zstd",
                   write_statistics=False)
    data = path.read_bytes()
    length = struct.unpack("<I", data[-8:-4])[0]
    footer = data[-8 - length:-8]
    meta = pq.ParquetFile(path).metadata
    for size in {meta.row_group(0).total_byte_size,
                 meta.row_group(0).column(0).total_uncompressed_size}:
        zigzag = _varint(size << 1)
        footer = footer.replace(zigzag, _varint(1000 << 1, len(zigzag)))
    path.write_bytes(data[:-8 - length] + footer + data[-8:])
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).total_uncompressed_size == 1000


def test_parquet_footer_that_understates_its_sizes_is_refused_before_decoding(tmp_path):
    path = tmp_path / "lie.parquet"
    _lying_parquet(path, 100 * 1024 * 1024)
    assert path.stat().st_size < 200_000
    extra, outcome = _read_in_child(path)
    # the reader's own process: importing pyarrow alone adds ~100 MB; the decoding happens in
    # the capped child (test_the_parquet_child_cannot_pass_its_cap), not here (2.4 GB before)
    assert extra < 250 and outcome == "SubmissionRefused"


def _allocate_past(limit: int) -> int:
    return len(bytearray(limit + (256 << 20)))


def test_the_parquet_child_cannot_pass_its_cap():
    """What a lying Parquet file could make pyarrow allocate is bounded by the child's cap: an
    allocation past it fails there and the upload is refused, the lab's process untouched."""
    from jdl.core.config import IntakeSettings
    from jdl.core.errors import SubmissionRefused
    from jdl.intake._readers import _in_capped_child, parquet_memory_cap

    settings = IntakeSettings()
    with pytest.raises(SubmissionRefused, match="expands to far more data"):
        _in_capped_child(lambda_free_allocate, str(parquet_memory_cap(settings)), settings)


def lambda_free_allocate(limit: str, _settings) -> int:
    """A picklable function for the spawned child (a lambda is not)."""
    return _allocate_past(int(limit))


def _sparse_workbook(path: Path, far_cell: str) -> None:
    """A 1.5 KB workbook: a heading in A1 and one number at ``far_cell``."""
    ns = ('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
          'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"')
    row = "".join(ch for ch in far_cell if ch.isdigit())
    rels = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://'
        'schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default '
        'Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"'
        '/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://'
        'schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
        f'Type="{rels}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<?xml version="1.0" encoding="UTF-8"?><workbook {ns}><sheets>'
        '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships '
        'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship '
        f'Id="rId1" Type="{rels}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0" encoding="UTF-8"?><worksheet {ns}>'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>forename</t></is></c></row>'
        f'<row r="{row}"><c r="{far_cell}"><v>1</v></c></row></sheetData></worksheet>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)


def test_workbook_with_one_far_cell_is_refused_before_the_sheet_is_built(tmp_path):
    path = tmp_path / "sparse.xlsx"
    _sparse_workbook(path, "XFD2000")  # 16,384 columns x 2,000 rows, two cells
    assert path.stat().st_size < 2_000
    assert _peak_extra_mb(path) < 300


@pytest.mark.slow
def test_parquet_of_repeated_timestamps_is_no_cheaper_to_send_than_a_csv(tmp_path):
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 200_000
    stamp = pa.array([datetime.datetime(2020, 1, 1)] * rows, pa.timestamp("us"))
    names = ["forename", "surname", "date_of_birth", "pnc_id"] + [f"x{i}" for i in range(36)]
    path = tmp_path / "stamps.parquet"
    pq.write_table(pa.table({name: stamp for name in names}), path, compression="zstd")
    assert path.stat().st_size < 100_000
    # as a CSV these 200,000 x 40 dates are 88 MB, refused by size; the largest accepted CSV
    # of dates (200,000 x 20, 44 MB) costs ~590 MB
    extra_mb, outcome = _read_in_child(path)
    assert outcome != "read" or extra_mb < 600

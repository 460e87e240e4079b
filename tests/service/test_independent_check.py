"""The second independent check of issue 16 (docs/service-independent-check.md): each
finding as a short test. They were written as ``xfail(strict=True)`` against the service as it
was, and are plain tests since the fixes.

F1: re-run settings without a range; F2: a body sent in 1-byte chunks costs the server far more
than its size (a real ``jdl serve`` on loopback); F3: workbook parts stored outside the
standard part names escape the row and string limits; F6: one address can hold every connection;
F7: a CSV is parsed whole before its rows are counted; F8: a tiny Parquet file expands in
memory; F9: redirects built from the Host header.
The whole module takes about 30-40 s with -n 0."""

from __future__ import annotations

import random
import socket
import time
import zipfile
from pathlib import Path

import pytest

from tests.service.conftest import make_settings
from tests.service.live import start_server

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
TYPES = "application/vnd.openxmlformats-officedocument.spreadsheetml"


# --- F1 --------------------------------------------------------------------------------------

@pytest.mark.parametrize("override", [
    {"linkage": {"min_id_evidence": -5}},
    {"linkage": {"candidate_floor": 5.0}},
    {"cohort": {"index_window_days": -365}},
    {"cohort": {"community_lookback_days": -1_000_000_000}},
    {"matching": {"candidate_ratios": [0, -1]}},
])
def test_rerun_refuses_out_of_range_values(override):
    from jdl.core.config import Settings
    from jdl.core.errors import UsageError
    from jdl.service._overrides import check_overrides

    with pytest.raises(UsageError):
        check_overrides(Settings(), override)


# --- F2 --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def live(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("independent"))
    from tests.service.conftest import start_lab

    start_lab(settings)
    server = start_server(settings)
    try:
        yield server
    finally:
        server.stop()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, clock ticks


def _sign_in_form_in_chunks(port: int, size: int, chunk: int) -> bytes:
    head = (b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
            b"application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n")
    body = b"".join(f"{chunk:x}\r\n".encode() + b"x" * chunk + b"\r\n"
                    for _ in range(size // chunk)) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head + body)
        return sock.recv(64)


def test_tiny_chunks_cost_no_more_than_the_body(live):
    """A 60 KB anonymous sign-in form (within the 64 KB limit) sent as 60,000 one-byte chunks
    measured 0.82 CPU-s (1,000-byte chunks: 0.01 s) and stalled every other request meanwhile."""
    pid = live.process.pid
    before = _cpu_seconds(pid)
    answer = _sign_in_form_in_chunks(live.port, 60_000, 1)
    spent = _cpu_seconds(pid) - before
    assert answer.startswith(b"HTTP/1.1 4")
    assert spent < 0.2, f"{spent:.2f} CPU-s for a 60 KB form"


# --- F9 --------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/catalogue/", "/login/"])
def test_redirects_do_not_come_from_the_host_header(live, path):
    import httpx

    answer = httpx.get(live.url + path, headers={"Host": "evil.example"}, timeout=10)
    assert "evil.example" not in answer.headers.get("location", "")


# --- F3 --------------------------------------------------------------------------------------

def _package(path: Path, sheet_part: str, sheet_xml: bytes,
             strings_part: str | None = None, strings_xml: bytes = b"") -> Path:
    """A minimal .xlsx whose worksheet (and shared strings) sit at the given part names, found
    through the relationships and content types as Excel's package format allows."""
    overrides = f'<Override PartName="/{sheet_part}" ContentType="{TYPES}.worksheet+xml"/>'
    rels = (f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="/{sheet_part}"/>')
    if strings_part:
        overrides += (f'<Override PartName="/{strings_part}" '
                      f'ContentType="{TYPES}.sharedStrings+xml"/>')
        rels += f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="/{strings_part}"/>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/content-types"><Default Extension="rels" '
                   'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/><Override '
                   f'PartName="/xl/workbook.xml" ContentType="{TYPES}.sheet.main+xml"/>'
                   + overrides + "</Types>")
        z.writestr("_rels/.rels", f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" '
                   f'Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
                   '<sheet name="People" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   f'<Relationships xmlns="{PKG}">{rels}</Relationships>')
        z.writestr(sheet_part, sheet_xml)
        if strings_part:
            z.writestr(strings_part, strings_xml)
    return path


def _never_read(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("a workbook library was asked to read the cells")

    monkeypatch.setattr("jdl.intake._xlsx._read_calamine", refuse)
    monkeypatch.setattr("jdl.intake._xlsx._read_openpyxl", refuse)


def test_xlsx_sheet_outside_worksheets_refused_from_counts(tmp_path, monkeypatch):
    from jdl.core.config import IntakeSettings
    from jdl.core.errors import SubmissionRefused
    from jdl.intake._xlsx import read_workbook

    rows = "".join(f'<row r="{i}"><c r="A{i}"><v>{i}</v></c></row>' for i in range(1, 3_001))
    sheet = f'<worksheet xmlns="{MAIN}"><sheetData>{rows}</sheetData></worksheet>'.encode()
    path = _package(tmp_path / "elsewhere.xlsx", "xl/data/sheet1.xml", sheet)
    _never_read(monkeypatch)
    with pytest.raises(SubmissionRefused):  # for its rows, or for its odd part names
        read_workbook(path, IntakeSettings(max_rows=1_000))


def test_xlsx_shared_strings_elsewhere_length_checked(tmp_path):
    """One shared string of 2 MB (Excel's own cell limit is 32,767 characters), in a part the
    package declares as the shared strings but not at the usual name; a cell past column 60
    sends the sheet to openpyxl, which reads the whole table."""
    from jdl.core.config import IntakeSettings
    from jdl.core.errors import SubmissionRefused
    from jdl.intake._xlsx import read_workbook

    sheet = (f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1"><v>1</v></c>'
             '<c r="BR1"><v>2</v></c></row></sheetData></worksheet>').encode()
    letters = random.Random(16).choices(b"abcdefghijklmnopqrstuvwxyz", k=2_000_000)
    strings = (f'<sst xmlns="{MAIN}" count="1" uniqueCount="1"><si><t>'.encode()
               + bytes(letters) + b"</t></si></sst>")  # does not compress past the ratio limit
    path = _package(tmp_path / "strings.xlsx", "xl/worksheets/sheet1.xml", sheet,
                    "xl/strs.xml", strings)
    started = time.process_time()
    with pytest.raises(SubmissionRefused) as refused:
        read_workbook(path, IntakeSettings())
    assert "expands to far more data" not in str(refused.value)  # not the compression ratio
    assert time.process_time() - started < 5


# --- F6 --------------------------------------------------------------------------------------

def test_one_address_cannot_take_every_connection(tmp_path):
    import httpx

    settings = make_settings(tmp_path)
    server = start_server(settings, JDL_SERVICE__MAX_CONNECTIONS="50")
    idle = []
    try:
        for _ in range(60):
            sock = socket.socket()
            sock.bind(("127.0.0.2", 0))
            sock.connect(("127.0.0.1", server.port))
            idle.append(sock)
        time.sleep(0.5)
        other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3"))
        assert other.get(server.url + "/healthz", timeout=10).status_code == 200
    finally:
        for sock in idle:
            sock.close()
        server.stop()


# --- F7, F8: readers that materialise more than the file ---------------------------------------

HEADINGS = (b"forename,surname,date_of_birth,sex,pnc_id,prison_number,conviction_date,"
            b"intervention_start,intervention_end,index_date\n")

_READ_AND_REPORT_PEAK = """
import resource, sys
from pathlib import Path
from jdl.core.config import IntakeSettings
from jdl.core.errors import SubmissionRefused
from jdl.intake._readers import read_table
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_table(Path(sys.argv[1]), IntakeSettings())
except SubmissionRefused:
    pass
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)
"""


def _reading_costs_mb(path: Path) -> int:
    """Megabytes the reader adds to a fresh process's peak memory (after the imports)."""
    import os
    import subprocess
    import sys

    src = str(Path(__file__).resolve().parents[2] / "src")
    warm = "import jdl.intake._readers, pyarrow.parquet, pandas\n"
    done = subprocess.run([sys.executable, "-c", warm + _READ_AND_REPORT_PEAK, str(path)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": src}, check=True)
    return int(done.stdout.strip().splitlines()[-1])


def test_csv_blank_lines_do_not_cost_memory(tmp_path):
    """4 MB of blank lines after the headings: 3 MB measured 111-236 MB of rows in memory."""
    path = tmp_path / "blank.csv"
    path.write_bytes(HEADINGS + b"\n" * 4_000_000)
    assert _reading_costs_mb(path) < 60


def test_tiny_parquet_does_not_expand_in_memory(tmp_path):
    """A ~1 KB file whose one 10 MB value is referenced by 40 rows (its footer says 10 MB);
    reading it measured 260-670 MB more than the imports, the server +886 MB (30 rows)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    big = "a" * 10_000_000
    table = pa.table({"forename": pa.array([big] * 40), "surname": pa.array(["Smith"] * 40)})
    path = tmp_path / "tiny.parquet"
    pq.write_table(table, path, compression="zstd", use_dictionary=True,
                   dictionary_pagesize_limit=64_000_000, store_schema=False)
    assert path.stat().st_size < 10_000
    assert _reading_costs_mb(path) < 60

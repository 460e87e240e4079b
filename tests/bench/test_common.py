"""A benchmark case counts the CPU and memory of child processes that are still running when it
ends (Spark's JVM lives until the case's process exits, so getrusage never sees it)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.common import run_case

CHILD = """
import sys, time
from pathlib import Path
block = bytearray(300 * 2**20)  # touched: resident
for i in range(0, len(block), 4096):
    block[i] = 1
start = time.process_time()
while time.process_time() - start < 1.0:  # one CPU second
    pass
Path(sys.argv[1]).write_text("ready")
time.sleep(60)
"""


def leave_a_busy_child_running(flag: str) -> dict:
    child = subprocess.Popen([sys.executable, "-c", CHILD, flag])
    while not Path(flag).exists():
        time.sleep(0.05)
    return {"child_pid": child.pid}


def test_a_child_still_running_is_counted(tmp_path):
    record = run_case("live child", leave_a_busy_child_running, str(tmp_path / "ready"))
    try:
        assert record["ok"], record.get("error")
        assert record["peak_live_child_rss_mib"] >= 300
        assert record["cpu_s"] >= 1.0
        assert record["peak_child_rss_mib"] < 300  # getrusage alone would have missed it
    finally:
        with contextlib.suppress(KeyError, ProcessLookupError):
            os.kill(record["child_pid"], signal.SIGKILL)

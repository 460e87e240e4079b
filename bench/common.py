"""Measuring a benchmark case: wall time and peak memory, each case in a fresh process.

A case is a module-level function returning a dict of extra figures. ``run_case`` runs it in a
spawned process (so peak RSS is the case's own, not the runner's) and returns one result record.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import resource
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# ``JDL_BENCH_RESULTS`` redirects the results (``make bench-quick`` writes to results/quick/, so a
# quick run never replaces the full-size figures SUMMARY.md reports).
RESULTS_DIR = Path(os.environ.get("JDL_BENCH_RESULTS") or Path(__file__).parent / "results")
WORK_DIR = Path(__file__).parent / "work"


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _live_children() -> tuple[float, float]:
    """CPU seconds and the largest peak RSS (MiB) of the case's child processes still running.

    A JVM that Spark starts lives until the case's process exits, so ``getrusage`` (which sees
    only children that have ended) would miss its CPU and memory: read them from /proc."""
    import psutil

    cpu, peak_kib = 0.0, 0
    for proc in psutil.Process().children(recursive=True):
        try:
            times = proc.cpu_times()
            status = Path(f"/proc/{proc.pid}/status").read_text()
        except (psutil.Error, OSError):
            continue  # ended meanwhile: getrusage counts it
        cpu += times.user + times.system
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak_kib = max(peak_kib, int(line.split()[1]))
    return cpu, peak_kib / 1024


def _child(func: Callable[..., dict[str, Any] | None], args: tuple, kwargs: dict, queue) -> None:
    try:
        load_before, cpu_before = os.getloadavg()[0], _cpu_seconds()
        start = time.perf_counter()
        extra = func(*args, **kwargs) or {}
        wall = time.perf_counter() - start
        live_cpu, live_peak_mib = _live_children()
        cpu = _cpu_seconds() - cpu_before + live_cpu
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # worker processes a case starts (e.g. the generator's) count separately;
        # ru_maxrss of children is the largest single child
        child_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        queue.put(
            {
                "ok": True,
                "wall_s": round(wall, 3),
                "peak_rss_mib": round(peak_kib / 1024, 1),
                "peak_child_rss_mib": round(child_kib / 1024, 1),
                # a child still running at the end (Spark's JVM): its own peak, from /proc
                "peak_live_child_rss_mib": round(live_peak_mib, 1),
                # CPU seconds of the case (its process and children, every thread): on a shared
                # machine less polluted than wall time. Load: 1-min average, before/after max.
                "cpu_s": round(cpu, 2),
                "load_avg_1m": round(max(load_before, os.getloadavg()[0]), 2),
                **extra,
            }
        )
    except BaseException:  # report, never hang the runner
        queue.put({"ok": False, "error": traceback.format_exc()})


def run_case(
    name: str, func: Callable[..., dict[str, Any] | None], *args: Any, **kwargs: Any
) -> dict[str, Any]:
    """Run ``func(*args, **kwargs)`` in a fresh process; return its figures under ``name``."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(func, args, kwargs, queue))
    proc.start()
    record = _record_or_death(proc, queue)
    proc.join()
    record = {"case": name, **record}
    status = "ok" if record.get("ok") else "FAILED"
    print(
        f"  {name}: {status} "
        + ", ".join(f"{k}={v}" for k, v in record.items() if k not in {"case", "ok", "error"}),
        flush=True,
    )
    if not record.get("ok"):
        print(record.get("error"), flush=True)
    return record


def _record_or_death(proc: Any, queue: Any) -> dict[str, Any]:
    """The case's record; or, when its process died without one (killed for memory, a crash in
    native code), a failed record with the exit code, instead of waiting for ever."""
    import queue as queues

    while True:
        try:
            return queue.get(timeout=5)
        except queues.Empty:
            if not proc.is_alive():
                proc.join()
                code = proc.exitcode
                why = " (killed: out of memory?)" if code == -9 else ""
                return {"ok": False, "exitcode": code,
                        "error": f"the case's process ended with exit code {code}{why} "
                                 "before reporting"}


def write_results(stage: str, records: list[dict[str, Any]]) -> Path:
    """Write ``bench/results/<stage>.json`` with the machine description."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{stage}.json"
    payload = {
        "stage": stage,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": mp.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "results": records,
    }
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path

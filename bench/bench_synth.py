"""Synthetic generator speed and memory: 1M people (target < 60 s) and 10M (< 10 min,
peak memory < 8 GiB) on 2 cores. ``--quick`` runs 100k only."""

from __future__ import annotations

import shutil

from bench.common import WORK_DIR, run_case, write_results
from jdl.core.config import DEFAULT_SEED


def generate_case(people: int, keep: bool = False) -> dict:
    from jdl.admin.synth import generate

    out = WORK_DIR / f"synth-{people}"
    manifest = generate(out, people=people, seed=DEFAULT_SEED)
    counts = manifest["row_counts"]
    size_mib = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
    if not keep:
        shutil.rmtree(out)
    return {"people": people, "offences": counts["offences"],
            "index_events": counts["index_events"], "disk_mib": round(size_mib, 1)}


def main(quick: bool = False) -> list[dict]:
    sizes = [100_000] if quick else [100_000, 1_000_000, 10_000_000]
    records = [run_case(f"synth_{n}", generate_case, n, n == 1_000_000) for n in sizes]
    for r in records:
        if r.get("ok"):
            r["people_per_s"] = round(r["people"] / r["wall_s"])
    write_results("synth", records)
    return records

"""`make bench`: run every benchmark module (`bench/bench_*.py`), each writing its results file.

Each module exposes ``main(quick: bool = False) -> list[dict]`` and calls
:func:`bench.common.write_results`. ``python -m bench.run bench_synth`` runs one module;
``--quick`` runs the small sizes only.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    names = [a for a in argv if a.startswith("bench_")]  # other words are modules' options
    if not names:
        names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    failed = 0
    for name in names:
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"bench.{name}")
        records = module.main(quick=quick)
        failed += sum(1 for r in records if not r.get("ok", True))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

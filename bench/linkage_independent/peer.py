"""Splink, set up as its tutorial suggests, on the independent benchmark's sets and register.

    python -m bench.linkage_independent.peer [--synth DIR] [--label NAME] [--lab LAB_LABEL]
                                             [--sets A,B] [--table-only]

Why: the issue's line for the independent benchmark (F1 ≥ 0.95 with precision ≥ 99.5%) is
worth reading beside what the field's own tool reaches on the same rows. Where Splink's best
threshold falls short of the line too, a set's shortfall says more about the set (how much
its rows still identify a person) than about the lab.

The same register (built by :mod:`bench.linkage_independent.run` with the same seeded draw:
90% of each set's people beside the 200k synthetic people) and the same submitted rows, names
and date of birth only. Splink is the set-up of ``bench/bench_linkage_febrl.py``
(:func:`splink_tutorial_scores`: Splink's ``NameComparison`` with term frequencies for both
names, ``DateOfBirthComparison``, the FEBRL4 example's name and date blocking rules, λ from a
deterministic rule, u by random sampling, m by EM), trained afresh on each set as the
tutorial does; each row's best-scoring register person. Scored by this benchmark's own
``score.py``, like the lab. Results: ``bench/results/linkage_independent_peers.json``, keyed
by ``--label``; with ``--lab`` the table sets them beside that lab run's.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from bench.linkage_independent import run
from bench.linkage_independent.score import best_threshold, by_error_type, metrics, sweep
from bench.linkage_independent.tables import pct

PEERS_FILE = "linkage_independent_peers.json"
SPLINK_THRESHOLD = 0.9  # the threshold the issue compared Splink at
SWEEP = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999)


def best_links(scored: pd.DataFrame) -> pd.DataFrame:
    """Each row's highest-probability person, as a link table ``score.at_threshold`` reads."""
    from bench.bench_linkage_febrl import best_per_row

    best = best_per_row(scored)
    return pd.DataFrame({"row_number": best["row_number"], "person_id": best["person_id"],
                         "match_probability": best["probability"], "method": "probabilistic"})


def splink_set(register: pd.DataFrame, entry: dict[str, Any]) -> dict[str, Any]:
    from bench.bench_linkage_febrl import splink_tutorial_scores, tool_submission
    from bench.linkage_independent.score import at_threshold

    truth = entry["truth"]
    scored, train_s, link_s, n_pairs = splink_tutorial_scores(
        register, tool_submission(entry["submission"]))
    links = best_links(scored)
    table = sweep(links, truth, SWEEP)
    best = best_threshold(table)
    in_blocks = truth.merge(scored[["row_number", "person_id"]].drop_duplicates()
                            .astype({"person_id": "Int64"}), on=["row_number", "person_id"])
    truth_in = truth[truth["person_id"].notna()]
    return {
        "rows_submitted": len(truth), "train_s": round(train_s, 2), "link_s": round(link_s, 2),
        "pairs_scored": n_pairs,
        "at_0_9": metrics(at_threshold(links, SPLINK_THRESHOLD), truth),
        "best_threshold": {"threshold": float(best), **table[best]},
        "sweep": table,
        # pairs scored at p ≥ 0.01 that hold the row's true person
        "true_person_scored": round(len(in_blocks) / len(truth_in), 5) if len(truth_in) else 1.0,
        "by_error_type_at_best": by_error_type(at_threshold(links, float(best)), truth),
    }


def main(label: str, synth: str | None, only: list[str] | None) -> dict[str, Any]:
    synth_path = run.synth_dir(synth, False)
    people, placed = run.place(run.test_sets(False, synth_path))
    # its own copy: the lab's run keeps a trained model in run.WORK / "register"
    data_dir = run.build_register(synth_path, people, run.WORK / "register-peers")
    from bench.bench_linkage_febrl import tool_register

    register = tool_register(data_dir)
    results = {}
    for name, entry in placed.items():
        if only and name not in only:
            continue
        try:
            results[name] = splink_set(register, entry)
        except ValueError as exc:  # a set with nobody on the register: λ estimated as 0
            results[name] = {"rows_submitted": len(entry["truth"]),
                             "failed": f"Splink's training stopped: {exc}"}
            print(f"{name}: {results[name]['failed']}", flush=True)
            continue
        b = results[name]["best_threshold"]
        print(f"{name}: Splink best {b['threshold']}: P {b['precision']:.4f} "
              f"R {b['recall']:.4f} F1 {b['f1']:.4f} ({results[name]['train_s']} s)",
              flush=True)
    entry = {"label": label, "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
             "register_people": len(register), "load_average_end": list(os.getloadavg()),
             "cpus": os.cpu_count(), "splink": results}
    path = run.RESULTS / PEERS_FILE
    payload = json.loads(path.read_text()) if path.exists() else {"runs": {}}
    payload["runs"][label] = entry
    path.write_text(json.dumps(payload, indent=2, default=str))
    print(f"written {path} (label {label})")
    return entry


LINE_PRECISION = 0.995  # the line: F1 ≥ 0.95 with precision ≥ 99.5%


def best_at_precision(table: dict[str, dict[str, Any]], floor: float = LINE_PRECISION
                      ) -> tuple[str, dict[str, Any]] | None:
    """The threshold of a sweep with the best F1 among those with precision ≥ ``floor``
    (None when no threshold reaches it): can the tool reach the issue's line at all?"""
    held = {t: m for t, m in table.items() if m["in_records"] and m["precision"] >= floor}
    if not held:
        return None
    best = max(held, key=lambda t: (held[t]["f1"], -float(t)))
    return best, held[best]


def _line_cell(table: dict[str, dict[str, Any]]) -> str:
    found = best_at_precision(table)
    if found is None:
        return "none"
    t, m = found
    return f"{t}: {pct(m['precision'])} / {pct(m['recall'])} / {m['f1']:.3f}"


def table(peer_label: str, lab_label: str | None) -> str:
    """Markdown: Splink at 0.9 and at its best threshold, beside the lab at its default."""
    peers = json.loads((run.RESULTS / PEERS_FILE).read_text())["runs"][peer_label]["splink"]
    lab = {}
    if lab_label:
        lab = json.loads((run.RESULTS / "linkage_independent.json").read_text())["runs"][
            lab_label]["sets"]
    lines = ["| set | Splink at 0.9: P / R / F1 | Splink at its best t: P / R / F1 | "
             "Splink, best F1 with P ≥ 99.5%: t: P / R / F1 | "
             "lab at its default t: P / R / F1 | lab, best F1 with P ≥ 99.5% |",
             "|---|---|---|---|---|---|"]
    for name, s in peers.items():
        cells = [name]
        if "failed" in s:
            lines.append(f"| {name} | {s['failed']} | – | – | – | – |")
            continue
        for m in (s["at_0_9"], s["best_threshold"]):
            if not m["in_records"]:
                cells.append(f"{m['wrong']} wrong links")
            else:
                cells.append(f"{pct(m['precision'])} / {pct(m['recall'])} / {m['f1']:.3f}")
        cells[-1] += f" ({s['best_threshold']['threshold']})"
        cells.append(_line_cell(s["sweep"]) if s["at_0_9"]["in_records"] else "–")
        own = lab.get(name)
        if own is None:
            cells += ["–", "–"]
        elif not own["default_threshold"]["in_records"]:
            cells += [f"{own['default_threshold']['wrong']} wrong links", "–"]
        else:
            d = own["default_threshold"]
            cells += [f"{pct(d['precision'])} / {pct(d['recall'])} / {d['f1']:.3f} "
                      f"({d['threshold']})", _line_cell(own["sweep"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default=time.strftime("splink-%Y%m%d"))
    parser.add_argument("--lab", help="a lab run's label to set beside (tables only)")
    parser.add_argument("--synth", help="the 200k-person data directory of the lab's run")
    parser.add_argument("--sets", help="comma-separated set names (default: all)")
    parser.add_argument("--table-only", action="store_true",
                        help="print the table of an earlier --label run")
    args = parser.parse_args()
    if not args.table_only:
        main(args.label, args.synth, args.sets.split(",") if args.sets else None)
    print(table(args.label, args.lab))


if __name__ == "__main__":
    _cli()

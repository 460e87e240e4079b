"""Markdown tables from ``bench/results/linkage_independent.json`` (for docs and notes).

    python -m bench.linkage_independent.tables [LABEL ...] [--quick]

One run: its per-set table and per-error-type recall. Two runs: side by side (before/after).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bench.linkage_independent.run import RESULTS


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def set_table(runs: dict[str, dict], labels: list[str]) -> str:
    head = "| set | rows (not on register) | " + " | ".join(
        f"{label}: P / R / F1 at its default (t) | {label}: best t: F1 | "
        f"{label}: blocking recall"
        for label in labels) + " |"
    lines = [head, "|" + "---|" * (2 + 3 * len(labels))]
    for name in runs[labels[0]]["sets"]:
        first = runs[labels[0]]["sets"][name]["default_threshold"]
        cells = [name, f"{first['rows']:,} ({first['not_in_records']:,})"]
        for label in labels:
            s = runs[label]["sets"].get(name)
            if s is None:
                cells += ["–"] * 3
                continue
            d, b = s["default_threshold"], s["best_threshold"]
            if not d["in_records"]:  # a precision probe: nobody is on the register
                low = s["sweep"][min(s["sweep"], key=float)]
                cells += [f"{d['wrong']} wrong links at {d['threshold']}",
                          f"{low['wrong']} at 0.5", "–"]
                continue
            cells += [f"{pct(d['precision'])} / {pct(d['recall'])} / {d['f1']:.3f} "
                      f"({d['threshold']})",
                      f"{b['threshold']}: {b['f1']:.3f}", pct(s["blocking_recall"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cap_table(run: dict[str, Any]) -> str | None:
    """Each set at the rule's threshold with relatives weighed (the default) and capped."""
    sets = run["sets"]
    if not any("with_related_cap" in s for s in sets.values()):
        return None
    lines = ["| set | relatives weighed: P / R / F1 | relatives capped: P / R / F1 |",
             "|---|---|---|"]
    for name, s in sets.items():
        cells = [name]
        for d in (s["default_threshold"], s.get("with_related_cap")):
            if d is None:
                cells.append("–")
            elif not d["in_records"]:
                cells.append(f"{d['wrong']} wrong links")
            else:
                cells.append(f"{pct(d['precision'])} / {pct(d['recall'])} / {d['f1']:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def error_table(runs: dict[str, dict], labels: list[str], set_name: str) -> str:
    lines = ["| error type | rows on register | " + " | ".join(
        f"{label}: recall (blocking) | {label}: wrong links" for label in labels) + " |",
        "|" + "---|" * (2 + 2 * len(labels))]
    first = runs[labels[0]]["sets"][set_name]["by_error_type"]
    for kind, row in first.items():
        cells = [kind, f"{row['in_records']:,}"]
        for label in labels:
            e = runs[label]["sets"].get(set_name, {}).get("by_error_type", {}).get(kind)
            if e is None:
                cells += ["–", "–"]
                continue
            recall = pct(e["recall"]) if e["in_records"] else "–"
            cells += [f"{recall} ({pct(e['blocking_recall']) if e['in_records'] else '–'})",
                      str(e["wrong"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", nargs="*")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    name = "linkage_independent.quick.json" if args.quick else "linkage_independent.json"
    runs = json.loads((RESULTS / name).read_text())["runs"]
    labels = args.labels or list(runs)[-2:]
    for label in labels:
        r = runs[label]
        print(f"- {label}: commit {r['commit'][:7]} ({r['branch']}), {r['measured_at']}, "
              f"register {r['register_people']:,} people, train {r['train_s']} s, "
              f"peak {r['peak_rss_mib']} MiB, load {r['load_average_start']} → "
              f"{r['load_average_end']} on {r['cpus']} CPUs; link s per set: "
              + ", ".join(f"{k} {v['link_s']}" for k, v in r["sets"].items()))
    print()
    print(set_table(runs, labels))
    capped = cap_table(runs[labels[0]])
    if capped:
        print(f"\n**{labels[0]}: relatives weighed or capped (related_cap), at the rule's "
              "threshold**\n")
        print(capped)
    for set_name in runs[labels[0]]["sets"]:
        print(f"\n**{set_name}**\n")
        print(error_table(runs, labels, set_name))


if __name__ == "__main__":
    main()

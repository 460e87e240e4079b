"""The summary's charts as accessible inline SVG (matplotlib, text kept as text).

Each SVG carries ``role="img"``, an ``aria-label``, a ``<title>`` and a ``<desc>`` that states
the data in words; the pages put the same numbers in a table beside the chart. Colours are the
UK Government Analysis Function's colour-blind-safe palette, and the bars also differ in
hatching, so no category is told apart by colour alone.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Mapping
from typing import Any

from jdl.catalogue._summary import CATEGORIES, SECTORS

# One colour per result, everywhere the catalogue shows one (charts and the pages' tags, which
# take theirs from here): a significant decrease is always dark blue, an increase always orange.
COLOURS = {"decrease": "#12436D", "increase": "#F46A25", "not_significant": "#BFC1C3"}
HATCHES = {"decrease": "", "increase": "//", "not_significant": ""}
# the funnel tells sectors apart by marker shape only: colour there is the result's, as above
SECTOR_MARKERS = {"voluntary_community": "o", "public": "s", "private": "^", "education": "D"}
HOLLOW_EDGE = "#505A5F"  # a not-significant point: hollow, dark grey edge (visible on white)
_RC = {"svg.fonttype": "none", "svg.hashsalt": "jdl-catalogue", "font.size": 10,
       "font.family": "sans-serif", "axes.spines.top": False, "axes.spines.right": False}


def stacked_bars(rows: list[Mapping[str, Any]], *, title: str, desc: str, chart_id: str) -> str:
    """Horizontal stacked bars, one per row, in the summary's three categories."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context(_RC):
        fig = Figure(figsize=(7.5, 0.45 * max(len(rows), 1) + 1.4))
        ax = fig.add_subplot()
        names = [r["label"] for r in rows][::-1]
        left = [0] * len(rows)
        for cat, cat_label in CATEGORIES.items():
            values = [r[cat] for r in rows][::-1]
            ax.barh(names, values, left=left, color=COLOURS[cat], hatch=HATCHES[cat],
                    edgecolor="white", label=cat_label)
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_xlabel("Number of published reports")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, frameon=False)
        fig.tight_layout()
        return _svg(fig, title, desc, chart_id)


def funnel(points: list[Mapping[str, Any]], *, threshold: int, unit: str, title: str,
           desc: str, chart_id: str) -> str:
    """Confidence-interval width against treatment-group size: one marker shape per sector,
    the result's colour (:data:`COLOURS`: significant points filled, others hollow grey); the
    size threshold as a dashed line."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    with rc_context(_RC):
        fig = Figure(figsize=(7.5, 5.4))
        ax = fig.add_subplot()
        handles = []
        for sector, sector_label in SECTORS.items():
            mine = [p for p in points if p["sector"] == sector]
            if not mine:
                continue
            marker = SECTOR_MARKERS.get(sector, "o")
            handles.append(Line2D([], [], linestyle="none", marker=marker, markersize=7,
                                  markerfacecolor="none", markeredgecolor="#0B0C0C",
                                  label=sector_label))
            for cat in CATEGORIES:
                pts = [p for p in mine if p["category"] == cat]
                if not pts:
                    continue
                filled = cat != "not_significant"
                ax.scatter([p["treatment_n"] for p in pts], [p["ci_width"] for p in pts],
                           marker=marker, s=48, linewidths=1.5,
                           edgecolors=COLOURS[cat] if filled else HOLLOW_EDGE,
                           facecolors=COLOURS[cat] if filled else "none")
        for cat, cat_label in CATEGORIES.items():
            filled = cat != "not_significant"
            handles.append(Line2D([], [], linestyle="none", marker="o", markersize=7,
                                  markerfacecolor=COLOURS[cat] if filled else "none",
                                  markeredgecolor=COLOURS[cat] if filled else HOLLOW_EDGE,
                                  label=cat_label))
        ax.axvline(threshold, color="#3D3D3D", linestyle="--", linewidth=1)
        ax.annotate(f"{threshold} people", (threshold, 0), xycoords=("data", "axes fraction"),
                    xytext=(4, 6), textcoords="offset points", color="#3D3D3D")
        ax.set_xlabel("Matched treatment-group size (people)")
        ax.set_ylabel(f"Width of 95% confidence interval ({unit})" if unit else
                      "Width of 95% confidence interval")
        top = max((p["ci_width"] for p in points), default=1.0)
        ax.set_ylim(0, top * 1.15)  # room above the widest, so no marker is cut
        ax.set_xlim(0, max([p["treatment_n"] for p in points] + [threshold]) * 1.08)
        if points:
            ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16),
                      ncols=2, frameon=False, fontsize=10)
        fig.tight_layout()
        return _svg(fig, title, desc, chart_id)


def _svg(fig: Any, title: str, desc: str, chart_id: str) -> str:
    """The figure as an inline SVG element with its accessible name and description."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, count=1, flags=re.S)
    t, d = html.escape(title), html.escape(desc)
    opening = (f'<svg id="{chart_id}" role="img" aria-label="{t}" '
               f'aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" '
               'style="max-width:100%;height:auto" ')
    text = re.sub(r"<svg\s", opening, text, count=1)
    close = text.index(">", text.index("<svg")) + 1
    return (text[:close] + f'\n <title id="{chart_id}-title">{t}</title>'
            f'\n <desc id="{chart_id}-desc">{d}</desc>' + text[close:])


def describe_bars(rows: list[Mapping[str, Any]], what: str) -> str:
    """The bars' data in words (the SVG ``<desc>``)."""
    if not rows:
        return f"No published reports by {what} yet."
    parts = [f"{r['label']}: {r['total']} reports ({r['decrease']} significant decrease, "
             f"{r['increase']} significant increase, {r['not_significant']} not significant)"
             for r in rows]
    return f"Published reports by {what}. " + "; ".join(parts) + "."


def describe_funnel(summary: Mapping[str, Any]) -> str:
    size = summary["by_size"]
    pts = summary["funnel"]["points"]
    if not pts:
        return "No published report has a released confidence interval yet."
    widths = [p["ci_width"] for p in pts]
    sizes = [p["treatment_n"] for p in pts]
    return (f"{len(pts)} reports. Treatment groups from {min(sizes)} to {max(sizes)} people; "
            f"confidence intervals from {min(widths):g} to {max(widths):g} "
            f"{summary['funnel']['unit']} wide, narrower for larger groups. "
            f"With more than {size['threshold']} people: {size['large']['significant']} of "
            f"{size['large']['reports']} significant; with {size['threshold']} or fewer: "
            f"{size['small']['significant']} of {size['small']['reports']}.")


def forest(groups: list[Mapping[str, Any]], pooled: list[Mapping[str, Any]], *, unit: str,
           scale: float, title: str, desc: str, chart_id: str) -> str:
    """Every published headline effect with its 95% interval, grouped by intervention type
    (in publication order within a group, never sorted by effect: not a league table), a
    line at no difference, and each group's pooled random-effects estimate as a diamond where
    there is one. Marker colour and shape follow the result (:data:`COLOURS`: filled square
    when significant, hollow grey square otherwise)."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Polygon

    pooled_by = {p["key"]: p for p in pooled if not p.get("synthetic")}
    pooled_by.update({p["key"]: p for p in pooled if p.get("synthetic")
                      and p["key"] not in pooled_by})
    lines: list[tuple[str, Any]] = []  # ("group", label) / ("row", row) / ("pooled", p)
    for g in groups:
        lines.append(("group", g["label"]))
        lines += [("row", r) for r in g["rows"]]
        if g["key"] in pooled_by:
            lines.append(("pooled", pooled_by[g["key"]]))
    with rc_context(_RC):
        fig = Figure(figsize=(7.5, 0.32 * max(len(lines), 1) + 1.6))
        ax = fig.add_subplot()
        ys, labels = [], []
        for i, (kind, item) in enumerate(lines):
            y = len(lines) - i
            ys.append(y)
            if kind == "group":
                labels.append(str(item))
                continue
            if kind == "pooled":
                labels.append("Pooled (random effects)")
                lo, mid, hi = (item["ci_low"] * scale, item["estimate"] * scale,
                               item["ci_high"] * scale)
                ax.add_patch(Polygon([(lo, y), (mid, y + 0.3), (hi, y), (mid, y - 0.3)],
                                     closed=True, facecolor="#505A5F", edgecolor="#0B0C0C"))
                continue
            name = str(item["label"])
            labels.append(f"{name[:34]}…" if len(name) > 35 else name)
            cat = item["result"] if item["result"] in ("decrease", "increase") else (
                "not_significant")
            colour = COLOURS[cat] if cat != "not_significant" else HOLLOW_EDGE
            ax.plot([item["ci_low"] * scale, item["ci_high"] * scale], [y, y], color=colour,
                    linewidth=1.6)
            ax.scatter([item["difference"] * scale], [y], marker="s", s=40, zorder=3,
                       edgecolors=colour, linewidths=1.5,
                       facecolors=COLOURS[cat] if cat != "not_significant" else "white")
        ax.set_yticks(ys, labels)
        for tick, (kind, _item) in zip(ax.get_yticklabels(), lines, strict=True):
            # programme names are the organisations' text: never read as mathtext ("$...$")
            tick.set_parse_math(False)
            if kind == "group":
                tick.set_fontweight("bold")
        ax.axvline(0, color="#0B0C0C", linewidth=1)
        ax.set_ylim(0.3, len(lines) + 0.7)
        ax.set_xlabel(f"Difference, participants minus comparison group ({unit})" if unit
                      else "Difference, participants minus comparison group")
        ax.tick_params(axis="y", length=0)
        handles = [Line2D([], [], linestyle="-", marker="s", markersize=7, color=COLOURS[c]
                          if c != "not_significant" else HOLLOW_EDGE,
                          markerfacecolor=COLOURS[c] if c != "not_significant" else "white",
                          label=label) for c, label in CATEGORIES.items()]
        if pooled_by:
            handles.append(Line2D([], [], linestyle="none", marker="D", markersize=7,
                                  color="#505A5F", label="Pooled estimate (see caveats)"))
        ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2,
                  frameon=False, fontsize=9)
        fig.tight_layout()
        return _svg(fig, title, desc, chart_id)


def describe_forest(groups: list[Mapping[str, Any]], pooled: list[Mapping[str, Any]],
                    unit: str, scale: float) -> str:
    """The forest plot's data in words (the SVG ``<desc>``): per intervention type, how many
    reports, how many intervals lie wholly below or above no difference, the range of the
    estimates, and the pooled estimate where there is one. Every point is in the table beside
    the chart."""
    if not groups:
        return "No published report has a released estimate with an interval yet."

    def num(v: float) -> str:
        return f"{v * scale:+.1f}".replace("-", "−")

    parts = []
    pooled_by = {p["key"]: p for p in pooled}
    for g in groups:
        rows = g["rows"]
        below = sum(1 for r in rows if r["ci_high"] < 0)
        above = sum(1 for r in rows if r["ci_low"] > 0)
        lo, hi = min(r["difference"] for r in rows), max(r["difference"] for r in rows)
        text = (f"{g['label']}: {len(rows)} report{'s' if len(rows) != 1 else ''}, estimates "
                f"from {num(lo)} to {num(hi)} {unit}; {below} interval(s) wholly below no "
                f"difference, {above} wholly above")
        if g["key"] in pooled_by:
            p = pooled_by[g["key"]]
            text += (f"; pooled estimate {num(p['estimate'])} ({num(p['ci_low'])} to "
                     f"{num(p['ci_high'])}), I² {p['i2'] * 100:.0f}%")
        parts.append(text)
    total = sum(len(g["rows"]) for g in groups)
    return (f"{total} published headline effects with their 95% confidence intervals, by "
            "intervention type. " + "; ".join(parts) + ". The table beside the chart gives "
            "every value.")

"""Charts for the report, drawn with matplotlib's Agg canvas and returned as PNG bytes.

The figures are built with ``matplotlib.figure.Figure`` and ``FigureCanvasAgg`` rather than
``pyplot``, so drawing never touches global state or needs a display, and two reports can be
drawn at once. Every chart comes with alt text that states its numbers, because a chart without a
text equivalent is invisible to screen-reader users. Suppressed values are left out of the
drawing and named as ``[c]`` in the figure and its alt text.
"""

from __future__ import annotations

import base64
import io
import textwrap
from dataclasses import dataclass
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from jdl.report._values import SUPPRESSED_MARK, covariate_name, humanise, is_missing
from jdl.report._wording import COMPARISON, TREATED, better_note, scale_for

# GOV.UK design-system colours: enough contrast on white, distinguishable with colour blindness.
BLUE = "#1d70b8"
ORANGE = "#b45309"  # darker than GOV.UK orange: 3:1 against white for thin markers
GREY = "#505a5f"
LIGHT = "#b1b4b6"
BLACK = "#0b0c0c"
DPI = 150

#: The smallest text any chart prints, in points at the size the chart is printed (the report
#: prints charts at their drawn size; see :attr:`Chart.width_px`).
MIN_FONT_PT = 8.0

#: The group names as chart labels (the report's one name per group).
TREATED_LABEL = TREATED.capitalize()
COMPARISON_LABEL = COMPARISON.capitalize()


@dataclass(frozen=True)
class Chart:
    """A drawn chart: a file-name stem, the PNG bytes and the alt text describing it."""

    name: str
    png: bytes
    alt: str

    @property
    def width_px(self) -> int:
        """Width in CSS pixels (96 per inch), so the chart prints at the size it was drawn.

        Read from the PNG header (IHDR width, bytes 16-20) because ``bbox_inches="tight"``
        changes the drawn size.
        """
        return round(int.from_bytes(self.png[16:20], "big") / DPI * 96)

    @property
    def data_uri(self) -> str:
        """The PNG as a data URI, so report.html is one self-contained file."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor("white")
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white", bbox_inches="tight")
    return buf.getvalue()


def _style(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(colors=BLACK, labelsize=9)
    ax.xaxis.label.set_color(BLACK)


def _val(x: Any, factor: float, digits: int) -> str:
    return SUPPRESSED_MARK if is_missing(x) else f"{x * factor:,.{digits}f}"


def _better_label(ax: Any, text: str) -> None:
    """The chart's "which way is better" note, above its top-right corner."""
    ax.text(1.0, 1.04, text, transform=ax.transAxes, ha="right", va="bottom", fontsize=9,
            color=BLACK, fontweight="bold")


def measure_chart(key: str, measure: dict[str, Any]) -> Chart:
    """Group values as bars (left) and the difference with its 95% CI as a dot and line (right).

    The released results carry a confidence interval for the difference only, so the interval is
    drawn where it belongs, on the difference, rather than as error bars on each group. Each
    panel says which way is better (lower re-offending, a longer time to the first re-offence).
    """
    scale = scale_for(measure)
    label = str(measure.get("label") or humanise(key))
    f, d = scale.factor, scale.digits
    t, c = measure.get("treatment"), measure.get("comparison")
    diff, lo, hi = (measure.get(k) for k in ("difference", "ci_low", "ci_high"))
    fig = _figure(7.2, 1.6)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1], "wspace": 0.45})
    names = [TREATED_LABEL, COMPARISON_LABEL.replace(" ", "\n", 1)]
    values = [t, c]
    shown = [0.0 if is_missing(v) else float(v) * f for v in values]
    left.barh([1, 0], shown, color=[BLUE, GREY], height=0.6)
    top = max([*shown, 1e-9])
    for y, v, raw in zip([1, 0], shown, values, strict=True):
        left.text(v + top * 0.02, y, _val(raw, f, d), va="center", fontsize=9, color=BLACK)
    left.set_yticks([1, 0], names)
    left.set_xlim(0, top * 1.25)
    left.set_xlabel(scale.unit)
    _style(left)
    right.axvline(0, color=LIGHT, lw=1.2)
    if not any(is_missing(v) for v in (diff, lo, hi)):
        right.plot([lo * f, hi * f], [0, 0], color=BLACK, lw=2.2, solid_capstyle="butt")
        right.plot([diff * f], [0], "o", color=BLUE if measure.get("significant") else GREY,
                   ms=8, zorder=3)
        span = max(abs(lo * f), abs(hi * f), 1e-9) * 1.3
        right.set_xlim(-span, span)
        right.text(diff * f, 0.25, f"{diff * f:+,.{d}f}", ha="center", fontsize=9, color=BLACK)
    else:
        right.text(0.5, 0.5, f"Difference not shown {SUPPRESSED_MARK}", ha="center",
                   va="center", transform=right.transAxes, fontsize=9)
    right.set_ylim(-0.6, 0.6)
    right.set_yticks([])
    right.spines["left"].set_visible(False)
    right.set_xlabel(f"Difference, {scale.unit}\n({TREATED} minus {COMPARISON}, 95% CI)")
    _style(right)
    better = better_note(key, measure)
    _better_label(left, better)
    side = "left" if better.startswith(("Lower", "Fewer")) else "right"
    _better_label(right, f"Further {side} is better")
    alt = (f"{label}: {_val(t, f, d)} {scale.unit} for the {TREATED} and "
           f"{_val(c, f, d)} for the {COMPARISON}; difference {_val(diff, f, d)} "
           f"(95% confidence interval {_val(lo, f, d)} to {_val(hi, f, d)}). {better}.")
    return Chart(f"measure-{key}", _png(fig), alt)


def attrition_chart(steps: list[dict[str, Any]]) -> Chart:
    """The JDL "chevron": each step from submitted to matched as an arrow with its count."""
    n = max(len(steps), 1)
    fig = _figure(7.4, 1.55)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, n)
    ax.set_ylim(0, 1)
    ax.axis("off")
    tip = 0.16
    for i, step in enumerate(steps):
        x0, x1 = i + 0.02, i + 1 - 0.02
        first = i == 0
        pts = [(x0, 0.05), (x1 - tip, 0.05), (x1, 0.5), (x1 - tip, 0.95), (x0, 0.95)]
        pts.append((x0, 0.5) if first else (x0 + tip, 0.5))
        colour = BLUE if i == len(steps) - 1 else GREY
        ax.add_patch(Polygon(pts, closed=True, facecolor=colour, edgecolor="white"))
        count = step.get("n")
        name = "\n".join(textwrap.wrap(str(step.get("step", "")), 14))
        middle = (x0 + x1 - tip + (0 if first else tip)) / 2
        ax.text(middle, 0.66, _val(count, 1, 0), ha="center", va="center", color="white",
                fontsize=12, fontweight="bold")
        ax.text(middle, 0.3, name, ha="center", va="center", color="white", fontsize=8.5)
    alt = "Numbers of people at each stage: " + "; ".join(
        f"{s.get('step')}: {_val(s.get('n'), 1, 0)}" for s in steps) + "."
    return Chart("attrition", _png(fig), alt)


def love_plot(balance: list[dict[str, Any]], threshold: float) -> Chart:
    """Standardised mean differences before and after matching (cobalt's "Love plot")."""
    return Chart("love-plot", _png(love_figure(balance, threshold)),
                 _love_alt(balance, threshold))


#: Height of one Love-plot row, in inches: enough for 8-point labels, so about 45 covariates
#: fill a printed page; longer lists keep the same row height and run taller.
LOVE_ROW_INCHES = 0.2


def love_figure(balance: list[dict[str, Any]], threshold: float) -> Figure:
    """The Love plot's figure (tests read its text sizes): labels never below
    :data:`MIN_FONT_PT`, however many covariates there are."""
    rows = list(reversed(balance))
    per_row = max(LOVE_ROW_INCHES, min(0.36, 8.0 / max(len(rows), 1)))
    fig = _figure(6.4, 1.1 + per_row * max(len(rows), 1))
    ax = fig.add_subplot(1, 1, 1)
    ys = list(range(len(rows)))
    for y, row in zip(ys, rows, strict=True):
        before, after = row.get("smd_before"), row.get("smd_after")
        if not is_missing(before):
            ax.plot([before], [y], "o", mfc="white", mec=ORANGE, mew=1.8, ms=7)
        if not is_missing(after):
            ax.plot([after], [y], "o", color=BLUE, ms=7)
    for x in (-threshold, threshold):
        ax.axvline(x, color=GREY, ls="--", lw=1)
    ax.axvline(0, color=LIGHT, lw=1)
    ax.set_yticks(ys, [covariate_name(r.get("covariate", "")) for r in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    values = [abs(r[k]) for r in rows for k in ("smd_before", "smd_after")
              if not is_missing(r.get(k))]
    span = max([*values, threshold]) * 1.2
    ax.set_xlim(-span, span)
    ax.set_xlabel(f"Standardised mean difference ({TREATED} minus {COMPARISON})")
    ax.plot([], [], "o", mfc="white", mec=ORANGE, mew=1.8, label="Before matching")
    ax.plot([], [], "o", color=BLUE, label="After matching")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False, fontsize=9)
    _style(ax)
    ax.tick_params(axis="y", labelsize=9 if per_row >= 0.3 else MIN_FONT_PT)
    _better_label(ax, "Closer to zero is better")
    return fig


def _love_alt(balance: list[dict[str, Any]], threshold: float) -> str:
    return (f"Love plot of standardised mean differences; dashed lines at ±{threshold:g}. "
           + "; ".join(f"{covariate_name(r.get('covariate', ''))}: before "
                       f"{_val(r.get('smd_before'), 1, 2)}, after {_val(r.get('smd_after'), 1, 2)}"
                       for r in balance) + ". Closer to zero is better.")


def forest_chart(specs: list[dict[str, Any]], measure: dict[str, Any]) -> Chart:
    """Each sensitivity specification's difference and 95% CI, main analysis first."""
    scale = scale_for(measure)
    f, d = scale.factor, scale.digits
    rows = list(reversed(specs))
    fig = _figure(6.6, 0.8 + 0.38 * max(len(rows), 1))
    ax = fig.add_subplot(1, 1, 1)
    ax.axvline(0, color=LIGHT, lw=1.2)
    ys = list(range(len(rows)))
    for y, row in zip(ys, rows, strict=True):
        diff, lo, hi = (row.get(k) for k in ("difference", "ci_low", "ci_high"))
        main = y == len(rows) - 1
        if not any(is_missing(v) for v in (lo, hi)):
            ax.plot([lo * f, hi * f], [y, y], color=BLACK, lw=1.8)
        if not is_missing(diff):
            ax.plot([diff * f], [y], "D" if main else "o", color=BLUE if main else GREY, ms=7)
    labels = ["\n".join(textwrap.wrap(str(r.get("label", "")), 34)) for r in rows]
    ax.set_yticks(ys, labels)
    ax.set_xlabel(f"Difference in {str(measure.get('label', '')).lower() or 'the measure'}, "
                  f"{scale.unit} (95% CI)")
    _style(ax)
    _better_label(ax, "Further left (lower re-offending) is better")
    alt = ("Differences under alternative analysis choices: " + "; ".join(
        f"{r.get('label')}: {_val(r.get('difference'), f, d)} ({_val(r.get('ci_low'), f, d)} to "
        f"{_val(r.get('ci_high'), f, d)})" for r in specs) + ".")
    return Chart("sensitivity", _png(fig), alt)


def survival_chart(survival: dict[str, list[dict[str, Any]]]) -> Chart | None:
    """Share not yet re-offended over the follow-up year, for both groups (step curves)."""
    groups = [("treatment", TREATED_LABEL, BLUE), ("comparison", COMPARISON_LABEL, GREY)]
    fig = _figure(6.0, 2.4)
    ax = fig.add_subplot(1, 1, 1)
    described = []
    for key, name, colour in groups:
        points = [p for p in survival.get(key) or []
                  if not is_missing(p.get("day")) and not is_missing(
                      p.get("proportion_not_reoffended"))]
        if not points:
            continue
        xs = [p["day"] for p in points]
        ys = [p["proportion_not_reoffended"] * 100 for p in points]
        ax.step(xs, ys, where="post", color=colour, lw=2, label=name)
        described.append(f"{name}: " + ", ".join(f"day {x:g} {y:.0f}%" for x, y in
                                                  zip(xs, ys, strict=True)))
    if not described:
        return None
    ax.set_ylim(0, 102)
    ax.set_xlabel("Days since follow-up began (release, sentence or caution)")
    ax.set_ylabel("% not yet re-offended", fontsize=9)
    ax.legend(frameon=False, fontsize=9, loc="lower left")
    _style(ax)
    _better_label(ax, "Higher is better")
    alt = "Percentage of people not yet proven to have re-offended. " + "; ".join(described) + "."
    return Chart("survival", _png(fig), alt)

"""Render released results to a self-contained HTML file and, from the same HTML, a PDF.

One HTML document serves both outputs: charts are embedded as base64 PNG data URIs and the CSS
is inlined, so ``report.html`` can be emailed as one file, and WeasyPrint turns the very same
markup into ``report.pdf`` using the print rules in the stylesheet (A4, page numbers, a new page
per section). Keeping one source means the two formats cannot disagree.

The PDF is tagged (WeasyPrint's PDF/UA-1 variant: a structure tree, the document's language
and title) so screen readers can read it, and it is set in the fonts the package ships
(``fonts/``, Liberation Sans under the SIL Open Font License), loaded by ``@font-face`` only
for the PDF: pagination is then the same on every machine, and the HTML file carries no path
of the machine that wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from jdl.report._context import LAB_CONTACT, LAB_NAME, build_context
from jdl.report._errors import ReportError
from jdl.report._values import Released

FORMATS = ("html", "pdf")

#: The PDF variant: PDF/UA-1 (ISO 14289-1), tagged for assistive technology.
PDF_VARIANT = "pdf/ua-1"

#: The font family the report is set in, and the shipped files of each face
#: (``src/jdl/report/fonts``; licence in ``fonts/LICENSE``).
FONT_FAMILY = "JDL Report Sans"
FONT_FILES = {("normal", "normal"): "LiberationSans-Regular.ttf",
              ("bold", "normal"): "LiberationSans-Bold.ttf",
              ("normal", "italic"): "LiberationSans-Italic.ttf",
              ("bold", "italic"): "LiberationSans-BoldItalic.ttf"}


@dataclass(frozen=True)
class ReportFiles:
    """The files one call of :func:`render_report` wrote (``None`` for formats not asked for)."""

    html: Path | None
    pdf: Path | None
    charts: tuple[Path, ...] = ()

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every file written, for a manifest or a listing."""
        return tuple(p for p in (self.html, self.pdf, *self.charts) if p is not None)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """The Jinja environment over the packaged templates; autoescaping keeps user text inert."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("jdl.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )


def _stylesheet() -> str:
    return resources.files("jdl.report").joinpath("templates/report.css").read_text("utf-8")


def font_paths() -> dict[tuple[str, str], Path]:
    """The shipped font files, as paths on this machine (``importlib.resources``)."""
    root = resources.files("jdl.report").joinpath("fonts")
    return {face: Path(str(root.joinpath(name))) for face, name in FONT_FILES.items()}


def font_css() -> str:
    """``@font-face`` rules for the shipped fonts (file URLs), for the PDF only."""
    rules = []
    for (weight, style), path in font_paths().items():
        if not path.is_file():
            raise ReportError(f"the report's font file {path.name} is missing.",
                              hint="Reinstall the jdl package (its fonts are package data).")
        rules.append(f"@font-face {{ font-family: '{FONT_FAMILY}'; font-weight: {weight}; "
                     f"font-style: {style}; src: url('{path.as_uri()}'); }}")
    rules.append(f"html, code, .page-margin {{ font-family: '{FONT_FAMILY}'; }}")
    return "\n".join(rules)


def _smd_threshold() -> float:
    """The lab's default "well balanced" SMD threshold (``MatchingSettings.smd_good``)."""
    from jdl.core.config import MatchingSettings

    return float(MatchingSettings().smd_good)


def _context(released: Mapping[str, Any], lab_name: str,
             smd_threshold: float | None, contact: str) -> dict[str, Any]:
    rel = Released.from_dict(released)
    threshold = _smd_threshold() if smd_threshold is None else smd_threshold
    return build_context(rel, lab_name=lab_name, smd_threshold=threshold, contact=contact)


def _html_from_context(ctx: dict[str, Any]) -> str:
    template = _environment().get_template("report.html.j2")
    # The stylesheet is the package's own file, so it is marked safe (not HTML-escaped).
    return template.render(css=Markup(_stylesheet()), **ctx)


def render_html(released: Mapping[str, Any], *, lab_name: str = LAB_NAME,
                smd_threshold: float | None = None, contact: str = LAB_CONTACT) -> str:
    """The report as one self-contained HTML document (charts embedded as data URIs).

    ``released`` must be the disclosure stage's output: a results dict with a ``disclosure``
    block. Raw results are refused with :class:`ReportError`, so an unreleased number cannot
    reach a report by mistake. ``smd_threshold`` defaults to ``MatchingSettings.smd_good``;
    ``contact`` is who readers should contact (the summary page prints it).
    """
    return _html_from_context(_context(released, lab_name, smd_threshold, contact))


def html_to_pdf(html: str, target: Path) -> Path:
    """Render HTML to a tagged PDF/UA-1 with WeasyPrint, in the shipped fonts (WeasyPrint is
    imported here: it is slow to import)."""
    try:
        from weasyprint import CSS, HTML
    except (ImportError, OSError) as exc:  # OSError: missing Pango/Cairo system libraries
        raise ReportError("cannot write a PDF: WeasyPrint is not usable here.",
                          hint=f"{exc}. Ask for formats=('html',) or install WeasyPrint's "
                               "system libraries (Pango).") from exc
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    stylesheet = CSS(string=font_css(), font_config=fonts)
    HTML(string=html, base_url=str(target.parent)).write_pdf(
        target, stylesheets=[stylesheet], font_config=fonts, pdf_variant=PDF_VARIANT,
        uncompressed_pdf=False)
    return target


def _charts_of(ctx: dict[str, Any]) -> list[Any]:
    """Every chart in the context, in report order (for writing them as separate PNGs)."""
    charts = [m["chart"] for m in ctx["headline"] if m.get("chart")]
    for extra in (ctx["survival"], ctx["attrition"]["chart"], ctx["matching"]["chart"],
                  ctx["sensitivity"]["chart"]):
        if extra is not None:
            charts.append(extra)
    return charts


def _check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(str(f).lower() for f in formats))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise ReportError(f"unknown report format(s): {', '.join(unknown) or '(none)'}.",
                          hint=f"Choose from {', '.join(FORMATS)}.")
    return chosen


def render_report(released: Mapping[str, Any], out_dir: Path, *,
                  formats: Iterable[str] = FORMATS, lab_name: str = LAB_NAME,
                  smd_threshold: float | None = None, contact: str = LAB_CONTACT,
                  write_charts: bool = False) -> ReportFiles:
    """Write ``report.html`` and/or ``report.pdf`` into ``out_dir``.

    Both files embed the charts. With ``write_charts`` the charts are also written as separate
    PNG files (``charts/*.png``, for slides); they are off by default so the released outputs
    stay the documented set (report.html, report.pdf and the pipeline's results.json).
    """
    chosen = _check_formats(formats)
    ctx = _context(released, lab_name, smd_threshold, contact)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the report folder {out_dir}: {exc.strerror}.") from exc
    html = _html_from_context(ctx)
    html_path = pdf_path = None
    chart_paths: list[Path] = []
    try:
        if "html" in chosen:
            html_path = out_dir / "report.html"
            html_path.write_text(html, encoding="utf-8")
        if "pdf" in chosen:
            pdf_path = html_to_pdf(html, out_dir / "report.pdf")
        if write_charts:
            chart_dir = out_dir / "charts"
            chart_dir.mkdir(exist_ok=True)
            for chart in _charts_of(ctx):
                path = chart_dir / f"{chart.name}.png"
                path.write_bytes(chart.png)
                chart_paths.append(path)
    except OSError as exc:
        raise ReportError(f"cannot write the report into {out_dir}: {exc.strerror or exc}.") \
            from exc
    return ReportFiles(html=html_path, pdf=pdf_path, charts=tuple(chart_paths))

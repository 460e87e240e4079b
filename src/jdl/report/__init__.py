"""Report stage: released (disclosure-controlled) results -> an HTML and PDF report.

Public API
----------
render_report(released, out_dir, *, formats=("html", "pdf"), ...) -> ReportFiles
    Write ``report.html`` (self-contained) and ``report.pdf`` (WeasyPrint); with
    ``write_charts=True`` also ``charts/*.png``.
render_html(released) -> str
    The report as one HTML string.
ReportFiles : the paths written.
ReportError : a :class:`jdl.core.JDLError` for results that cannot be reported (for example raw
    results without a ``disclosure`` block) or bad options.
SUPPRESSED_MARK : ``"[c]"``, printed wherever the disclosure stage suppressed a value.

The report reads the released results dict only; it imports nothing from the analysis stages,
so it cannot show a number the disclosure stage has not seen.
"""

from jdl.report._errors import ReportError
from jdl.report._render import ReportFiles, html_to_pdf, render_html, render_report
from jdl.report._values import SUPPRESSED_MARK

__all__ = [
    "SUPPRESSED_MARK",
    "ReportError",
    "ReportFiles",
    "html_to_pdf",
    "render_html",
    "render_report",
]

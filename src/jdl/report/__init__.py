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
measure_sentences(released) -> dict
    Each measure's findings in the report's own words, for pages that summarise a report
    (the catalogue's), so a result is never worded two ways.
registration_summary(released) -> dict
    The organisation's registered plan (text, SHA-256, primary measure, registered
    sub-analyses and dose trend) as the report prints it, for the catalogue's page.
INCONCLUSIVE_MEANING : what "inconclusive" means, said once per page.
covariate_name(code) -> str
    A matching covariate in plain words (``ethnicityAsian`` -> ``Ethnicity: Asian``); the
    service's diagnostics pages use it too.

The report reads the released results dict only; it imports nothing from the analysis stages,
so it cannot show a number the disclosure stage has not seen.
"""

from jdl.report._context import registration_summary
from jdl.report._errors import ReportError
from jdl.report._render import ReportFiles, html_to_pdf, render_html, render_report
from jdl.report._values import SUPPRESSED_MARK, covariate_name
from jdl.report._wording import INCONCLUSIVE_MEANING, measure_sentences

__all__ = [
    "INCONCLUSIVE_MEANING",
    "SUPPRESSED_MARK",
    "ReportError",
    "ReportFiles",
    "covariate_name",
    "html_to_pdf",
    "measure_sentences",
    "registration_summary",
    "render_html",
    "render_report",
]

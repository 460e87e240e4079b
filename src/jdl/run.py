"""The lab end to end: evaluate, write the report, review every released file.

The one function the CLI (``jdl evaluate``, ``jdl demo``), the service's worker and the
catalogue's seeding call. It sits above the report layer (layers: core -> engines -> stages ->
evaluation -> report -> this module -> web), because the evaluation stops at the released
results and must not import the report.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdl.core.config import Settings, get_settings
from jdl.evaluation import Checkpoints, Evaluation, evaluate
from jdl.evaluation._evaluate import Progress

if TYPE_CHECKING:
    from jdl.report import ReportFiles


def run_evaluation(
    upload: str | Path,
    programme: str | Path,
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    settings: Settings | None = None,
    seed: int = 20261124,
    progress: Progress | None = None,
    checkpoints: Checkpoints | None = None,
    registration: Any = None,
    published_effects: Any = None,
) -> Evaluation:
    """Run :func:`jdl.evaluation.evaluate`, then write report.html and report.pdf from the
    released results and the output checker's review (``internal/disclosure-review.txt``)."""
    settings = settings or get_settings()
    done = evaluate(upload, programme, data_dir, out_dir, settings=settings, seed=seed,
                    progress=progress, checkpoints=checkpoints, registration=registration,
                    published_effects=published_effects)
    (progress or (lambda _stage: None))("report")
    report = write_report(done.results, done.out_dir, settings)
    internal = done.files["internal"]
    review_released_files(done.released, [done.files["results"], *report.paths], internal)
    written = {"results": done.files["results"], "html": report.html, "pdf": report.pdf,
               "internal": internal}
    files = {name: path for name, path in written.items() if path is not None}
    return replace(done, files=files)


def write_report(results: dict[str, Any], out_dir: Path, settings: Settings) -> ReportFiles:
    """The report from released results; it carries its date, results.json does not (so that
    stays reproducible)."""
    from jdl.report import render_report

    dated = {**results, "generated_at": datetime.now(UTC).date().isoformat()}
    return render_report(dated, out_dir, lab_name=settings.report.lab_name,
                         smd_threshold=settings.matching.smd_good,
                         contact=settings.report.contact)


def review_released_files(released: Any, paths: list[Path], internal: Path) -> list[str]:
    """Scan every released text file for numbers that look like small or unrounded counts and
    write the findings for the output checker (``internal/disclosure-review.txt``).

    The guarantee is structural — the report reads only the released results, which
    ``assert_released`` has proved obey the rules — so this heuristic scan informs the analyst's
    review (as output checkers in secure labs review every file) rather than blocking.
    """
    from jdl.disclosure import check_released_text

    findings: list[str] = []
    for path in paths:
        if path.suffix in (".json", ".html"):
            findings += [
                f"{path.name}: {p}" for p in check_released_text(path.read_text(), released)
            ]
    (internal / "disclosure-review.txt").write_text(
        "Heuristic scan of released files for count-like numbers (review each; the released "
        "results passed the disclosure rules):\n" + "\n".join(findings or ["nothing found"]) + "\n"
    )
    return findings

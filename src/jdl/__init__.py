"""justice-data-lab: evaluate programmes for offenders against national administrative records.

Stages (one sub-package each, data flowing one way):
intake -> linkage -> cohort/outcomes -> matching -> inference -> disclosure -> report,
with ``admin`` (data contract and synthetic generator), ``service`` and ``catalogue`` around them.
``jdl.evaluate(...)`` runs them all (see :func:`jdl.run.run_evaluation`).
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("justice-data-lab")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

__all__ = ["__version__", "evaluate"]


def __getattr__(name: str) -> Any:
    # loaded lazily so that `import jdl` (and `jdl --help`) stays light
    if name == "evaluate":
        from jdl.run import run_evaluation as evaluate

        return evaluate
    raise AttributeError(f"module 'jdl' has no attribute {name!r}")

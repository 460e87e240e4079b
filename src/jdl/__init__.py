"""justice-data-lab: evaluate programmes for offenders against national administrative records.

Stages (one sub-package each, data flowing one way):
intake -> linkage -> cohort/outcomes -> matching -> inference -> disclosure -> report,
with ``admin`` (data contract and synthetic generator), ``service`` and ``catalogue`` around them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("justice-data-lab")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

__all__ = ["__version__"]

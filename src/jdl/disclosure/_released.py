"""What the disclosure stage hands on: the released results and the audit of what it did.

Kept apart from :mod:`._release` (which produces them) so that the checks in :mod:`._check`
can read a release without importing the code that made it (no import cycle).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from jdl.core.config import DisclosureSettings
from jdl.disclosure._errors import DisclosureError
from jdl.disclosure._schema import INDIVIDUAL_KEYS, Kind, Path, pointer

Rule = Literal[
    "primary", "complement", "secondary", "consistency", "derived", "unknown_field",
    "not_finite", "survival_at_risk", "survival_events", "rounding", "one_level",
    "headline_hidden", "withheld_level", "not_reported", "no_events", "coarsened"]


@dataclass(frozen=True)
class Action:
    """One thing disclosure control did. ``raw`` is the lab-internal value: never publish an
    ``Action``; the audit belongs in the lab's internal folder."""

    path: str
    action: Literal["suppressed", "rounded", "dropped"]
    rule: Rule
    raw: Any
    released: Any = None
    kind: Kind | None = None


@dataclass(frozen=True)
class Released:
    """Disclosure-controlled results: ``results`` is the only dict the report, the API and the
    JSON export may read. Immutable: ``results`` returns a fresh copy each time."""

    results_json: str
    audit: tuple[Action, ...]
    settings: DisclosureSettings = field(default_factory=DisclosureSettings)

    @property
    def results(self) -> dict[str, Any]:
        """The released results dict (JSON-serialisable; hidden values are None)."""
        return json.loads(self.results_json)

    @property
    def suppressed(self) -> tuple[str, ...]:
        """JSON pointers of every value released as null by disclosure control."""
        return tuple(a.path for a in self.audit if a.action == "suppressed")

    def to_json(self, indent: int | None = 2) -> str:
        """The released results as JSON text (what ``results.json`` holds)."""
        return json.dumps(self.results, indent=indent, ensure_ascii=False)


# --- step 1: what may not be released at all ---------------------------------------------------

def refuse_individual_level(raw: object, path: Path = ()) -> None:
    """Raise if any key that only per-person records carry appears anywhere in ``raw``."""
    found = [pointer((*p, k)) for p, k in _keys(raw, path) if _norm(k) in INDIVIDUAL_KEYS]
    if found:
        raise DisclosureError(
            "The results contain individual-level fields; only aggregates may be released.",
            problems=found,
            hint="Keep per-person tables in the lab's internal folder, never in the results.")


def _norm(key: str) -> str:
    return key.strip().lower().replace(" ", "_").replace("-", "_")


def _keys(node: object, path: Path):
    if isinstance(node, dict):
        for k, v in node.items():
            yield path, str(k)
            yield from _keys(v, (*path, str(k)))
    elif isinstance(node, list | tuple):
        for i, v in enumerate(node):
            yield from _keys(v, (*path, i))

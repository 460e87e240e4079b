"""The cohort specification: every rule's parameter in one frozen object, and the data cut-off."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import sqlglot

from jdl.core.config import CohortSettings
from jdl.core.errors import UsageError
from jdl.core.index_types import INDEX_TYPES_BY_SETTING as INDEX_TYPES_BY_SETTING
from jdl.core.index_types import SETTINGS as SETTINGS
from jdl.outcomes import FollowUp

MANIFEST = "manifest.json"
# Which index events can follow an intervention delivered in each setting: one definition, in
# jdl.core.index_types (the report words its follow-up from it too).
OFFENCE_FLAG_RULES = {
    "sexual": ("sexual_offence", "Index offence sexual", "offence_group = 'sexual'"),
    "domestic_violence": (
        "domestic_violence",
        "Index offence domestic-violence related",
        "index_dv_flag",
    ),
    "terrorism": ("terrorism", "Index offence terrorism related", "index_terrorism_flag"),
}


# The defaults live in one place, CohortSettings; the spec reads them from there.
_DEFAULTS = CohortSettings()


@dataclass(frozen=True)
class CohortSpec:
    """Parameters of the index-event, eligibility and follow-up rules (see CohortSettings)."""

    data_cutoff: date
    follow_up_days: int = _DEFAULTS.follow_up_days
    waiting_period_days: int = _DEFAULTS.waiting_period_days
    min_age_at_index: int = _DEFAULTS.min_age_at_index
    index_window_days: int = _DEFAULTS.index_window_days
    community_lookback_days: int = _DEFAULTS.community_lookback_days
    count_release_day: bool = _DEFAULTS.count_release_day
    excluded_offence_flags: tuple[str, ...] = tuple(_DEFAULTS.excluded_offence_flags)
    excluded_person_flags: tuple[str, ...] = tuple(_DEFAULTS.excluded_person_flags)
    custom_exclusions: tuple[tuple[str, str], ...] = tuple(
        sorted(_DEFAULTS.custom_exclusions.items()))
    pool_events: str = _DEFAULTS.pool_events
    long_follow_up_days: int | None = _DEFAULTS.long_follow_up_days

    def __post_init__(self) -> None:
        unknown = set(self.excluded_offence_flags) - set(OFFENCE_FLAG_RULES)
        if unknown:
            raise UsageError(
                f"Unknown excluded_offence_flags: {sorted(unknown)}.",
                hint=f"Use any of {sorted(OFFENCE_FLAG_RULES)}.",
            )
        if self.pool_events not in ("first_per_person_year", "all"):
            raise UsageError(
                f"Unknown pool_events {self.pool_events!r}.",
                hint="Use first_per_person_year or all.",
            )
        for reason, predicate in self.custom_exclusions:
            if not reason.isidentifier():
                raise UsageError(f"Custom exclusion name {reason!r} must be an identifier.")
            try:
                sqlglot.parse_one(predicate, read="duckdb")
            except sqlglot.errors.ParseError as exc:
                raise UsageError(f"Custom exclusion {reason!r} is not valid SQL: {exc}") from exc

    @classmethod
    def from_settings(cls, settings: CohortSettings, data_cutoff: date) -> CohortSpec:
        """The spec for a deployment's settings and a data cut-off date."""
        return cls(
            data_cutoff=data_cutoff,
            follow_up_days=settings.follow_up_days,
            waiting_period_days=settings.waiting_period_days,
            min_age_at_index=settings.min_age_at_index,
            index_window_days=settings.index_window_days,
            community_lookback_days=settings.community_lookback_days,
            count_release_day=settings.count_release_day,
            excluded_offence_flags=tuple(settings.excluded_offence_flags),
            excluded_person_flags=tuple(settings.excluded_person_flags),
            custom_exclusions=tuple(sorted(settings.custom_exclusions.items())),
            pool_events=settings.pool_events,
            long_follow_up_days=settings.long_follow_up_days,
        )

    @property
    def follow_up(self) -> FollowUp:
        return FollowUp(
            follow_up_days=self.follow_up_days,
            waiting_period_days=self.waiting_period_days,
            count_release_day=self.count_release_day,
            data_cutoff=self.data_cutoff,
            long_follow_up_days=self.long_follow_up_days,
        )

    @property
    def last_complete_index_date(self) -> date:
        """Latest index date whose follow-up and waiting period end by the data cut-off."""
        return self.data_cutoff - timedelta(days=self.follow_up_days + self.waiting_period_days)


def read_data_cutoff(data_dir: str | Path) -> date:
    """The ``data_cutoff`` recorded in ``DATA_DIR/manifest.json``."""
    path = Path(data_dir) / MANIFEST
    if not path.exists():
        raise UsageError(
            f"No manifest at {path}: the data cut-off date is unknown.",
            hint="Pass the data cut-off date explicitly.",
        )
    try:
        return date.fromisoformat(json.loads(path.read_text())["data_cutoff"])
    except (KeyError, ValueError, TypeError) as exc:
        raise UsageError(f"{path} has no valid data_cutoff (ISO date): {exc}") from exc


def default_spec(engine_path: Path | None, data_cutoff: date | None = None,
                 settings: CohortSettings | None = None) -> CohortSpec:
    """The spec from the cohort ``settings`` (default: their defaults), the cut-off read from the
    data directory's manifest unless given."""
    if data_cutoff is None:
        if engine_path is None:
            raise UsageError(
                "The data cut-off date is unknown for an in-memory engine.",
                hint="Pass data_cutoff or a CohortSpec.",
            )
        data_cutoff = read_data_cutoff(engine_path.parent)
    return CohortSpec.from_settings(settings or CohortSettings(), data_cutoff)

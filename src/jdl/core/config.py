"""All configuration in one place.

Every setting has a default that works on a laptop and can be overridden from the environment
(``JDL_<SECTION>__<NAME>``, e.g. ``JDL_DISCLOSURE__MIN_COUNT=7``) or, for most of them, from a CLI
option. Each stage owns one section; stages receive their section, never the whole ``Settings``.
Defaults follow ``shared/reference/method-notes.md`` (JDL practice, UK secure-lab disclosure rules).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DataSettings(BaseModel):
    """Where the national records live and which engine reads them."""

    data_dir: Path = Path("data/default")
    engine: Literal["duckdb", "spark"] = "duckdb"
    duckdb_threads: int | None = None  # None: DuckDB's default (all cores)
    duckdb_memory_limit: str | None = None  # e.g. "6GB"; None: DuckDB's default (80% of RAM)


class SynthSettings(BaseModel):
    """Synthetic national records generator."""

    people: int = 200_000
    seed: int = 20261124
    chunk_size: int = 250_000
    first_year: int = 2010
    last_year: int = 2024


class IntakeSettings(BaseModel):
    """Submission validation (issue: intake)."""

    min_cohort_size: int = 60
    max_file_bytes: int = 50 * 1024 * 1024
    max_rows: int = 200_000
    min_age_at_intervention: int = 10
    max_age_at_intervention: int = 110


class LinkageSettings(BaseModel):
    """Record linkage (issue: linkage)."""

    match_threshold: float = 0.9


class CohortSettings(BaseModel):
    """Index events, eligibility and follow-up (issue: cohort)."""

    follow_up_days: int = 365
    waiting_period_days: int = 183
    min_age_at_index: int = 15
    index_window_days: int = 365
    excluded_offence_flags: tuple[str, ...] = ("sexual", "domestic_violence", "terrorism")


class MatchingSettings(BaseModel):
    """Propensity score matching (issue: matching)."""

    method: str = "nearest"
    ratio: int = 1
    replace: bool = False
    caliper: float | None = 0.2
    smd_good: float = 0.1


class InferenceSettings(BaseModel):
    """Effect estimation and the lab's reporting rules (issue: matching/inference)."""

    alpha: float = 0.05
    min_treated_reoffenders: int = 30


class DisclosureSettings(BaseModel):
    """Statistical disclosure control (ONS 10-5 rule by default)."""

    min_count: int = 10
    rounding_base: int = 5


class Settings(BaseSettings):
    """The lab's configuration: one section per stage."""

    model_config = SettingsConfigDict(env_prefix="JDL_", env_nested_delimiter="__", extra="ignore")

    data: DataSettings = Field(default_factory=DataSettings)
    synth: SynthSettings = Field(default_factory=SynthSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    linkage: LinkageSettings = Field(default_factory=LinkageSettings)
    cohort: CohortSettings = Field(default_factory=CohortSettings)
    matching: MatchingSettings = Field(default_factory=MatchingSettings)
    inference: InferenceSettings = Field(default_factory=InferenceSettings)
    disclosure: DisclosureSettings = Field(default_factory=DisclosureSettings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once from the environment (tests call ``get_settings.cache_clear()``)."""
    return Settings()

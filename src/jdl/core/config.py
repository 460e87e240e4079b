"""All configuration in one place.

Every setting has a default that works on a laptop and can be overridden from the environment
(``JDL_<SECTION>__<NAME>``, e.g. ``JDL_DISCLOSURE__MIN_COUNT=7``) or, for most of them, from a CLI
option. Each stage owns one section; stages receive their section, never the whole ``Settings``.
Defaults follow ``shared/reference/method-notes.md`` (JDL practice, UK secure-lab disclosure rules).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The seed of everything random that has no seed of its own: the synthetic records, the
# evaluation's tie-breaking, the service's jobs, the validation studies (same seed, same numbers).
DEFAULT_SEED = 20261124
# The data directory, and the environment variable every command's ``--data`` default reads.
DEFAULT_DATA_DIR = Path("data/default")
DATA_DIR_ENV = "JDL_DATA__DATA_DIR"
# Sections whose values decide an evaluation's numbers (what ``Settings.analysis`` returns and
# the evaluation's ``config_hash`` covers); the others say where and how fast it runs.
ANALYSIS_SECTIONS = ("intake", "linkage", "cohort", "matching", "inference", "disclosure")


def operational(default: Any, **kwargs: Any) -> Any:
    """A field of an analysis section that changes where or how fast the work runs, never a
    number: left out of :meth:`Settings.analysis` (and so of the evaluation's config hash)."""
    return Field(default, json_schema_extra={"operational": True}, **kwargs)


class DataSettings(BaseModel):
    """Where the national records live and which engine reads them."""

    data_dir: Path = DEFAULT_DATA_DIR
    engine: Literal["duckdb", "spark"] = "duckdb"  # `--engine` overrides; Spark: SparkSettings
    duckdb_threads: int | None = None  # None: DuckDB's default (all cores)
    # DuckDB spills to disk beyond this (`DIR/admin.duckdb.tmp`); None: DuckDB's default, 80% of
    # RAM, which let the 10M-person pool take 20.7 GB. docs/performance.md has the measurements.
    duckdb_memory_limit: str | None = "4GB"


class SparkSettings(BaseModel):
    """The Spark session used when ``data.engine`` is ``spark`` (docs/deployment.md).

    Defaults suit local mode on a laptop; on a cluster set ``master`` (or ``SPARK_MASTER``) and
    size memory and partitions for the data (``JDL_SPARK__CONF`` takes any other Spark option as
    JSON, e.g. ``{"spark.executor.memory": "8g"}``).
    """

    master: str = Field(default_factory=lambda: os.environ.get("SPARK_MASTER", "local[2]"))
    app_name: str = "justice-data-lab"
    driver_memory: str = "2g"  # local mode: the driver is the only JVM, so this is all of Spark
    # Largest result brought to the driver: matching's pool strata come back whole (Spark's
    # default of 1g refuses them from about 10M people).
    max_result_size: str = "4g"
    # Spark's default of 200 shuffle partitions makes tiny tasks on a laptop; a cluster raises it.
    shuffle_partitions: int = Field(default=8, ge=1)
    ui_enabled: bool = False  # the Spark web UI (port 4040) is off unless asked for
    log_level: str = "ERROR"  # Spark's own log output; INFO floods the command line
    conf: dict[str, str] = Field(default_factory=dict)


class IntakeSettings(BaseModel):
    """Submission validation (issue: intake)."""

    # MoJ JDL minimum; below it the submission is refused (small samples are rarely conclusive).
    min_cohort_size: int = 60
    # Resource limits: a file over them is refused whole, so they never change a number.
    max_file_bytes: int = operational(50 * 1024 * 1024)
    max_rows: int = operational(200_000)
    max_columns: int = operational(60)  # columns read from a file; the template has 10
    header_search_rows: int = 10  # the headings may sit below a title, within these rows
    # Zip-bomb guards for XLSX (and the expanded size of Parquet files).
    max_xlsx_entries: int = operational(1_000)
    max_xlsx_uncompressed_bytes: int = operational(600 * 1024 * 1024)
    max_xlsx_compression_ratio: float = operational(200.0)
    # Filled cells (values, inline strings, formulas) in the submission sheet, and strings in
    # the workbook's shared-strings table, counted from the XML before any cell is built: 20
    # columns of max_rows people (the template has 10). More is refused, not read.
    max_xlsx_cells: int = operational(4_000_000, ge=1)
    # One shared string's XML, in bytes: Excel allows 32,767 characters in a cell; UTF-8, XML
    # escapes and rich-text runs can take several bytes each, so 8 per character.
    max_xlsx_string_bytes: int = operational(32_767 * 8, ge=1)
    min_age_at_intervention: int = 10  # age of criminal responsibility in England and Wales
    max_age_at_intervention: int = 110
    earliest_date_year: int = 1900  # dates before this year are typing mistakes
    # Selective-sample safeguard: warn when fewer than this share of the declared participants
    # were submitted.
    min_share_of_declared: float = 0.8


class LinkageSettings(BaseModel):
    """Record linkage (issue: linkage; docs/linkage.md explains each default)."""

    # link a row's best person at or above this probability (0 or 1 would link all or none)
    match_threshold: float = Field(default=0.9, gt=0, lt=1)
    # pairwise probability below which candidates are dropped
    candidate_floor: float = Field(default=0.0001, ge=0, lt=0.5)
    # of forename/surname/DOB agreeing, for an ID link (at least one: an ID alone is not
    # enough; 4, more than there are, turns the ID pass off)
    min_id_evidence: int = Field(default=2, ge=1, le=4)
    prior_in_register: float = 0.9  # share of submitted people expected in the records
    prior_strength: float = 200.0  # pseudo-pairs of the prior m-probabilities
    # The relatives guards (docs/linkage.md, "Sibling and namesake guards"): the share of
    # people with a twin, and with a same-named parent or child, who also has a record (0 turns
    # a guard off); and the row posterior a pair a relative explains as well is capped at
    # (None: no cap, the corrected probability decides).
    twin_share: float = Field(default=0.01, ge=0, lt=1)
    namesake_share: float = Field(default=0.01, ge=0, lt=1)
    related_cap: float | None = Field(default=None, gt=0, lt=1)
    u_max_pairs: float = 5e6  # random register pairs sampled for u-probabilities
    seed: int = 42
    # Where the probabilistic pass scores pairs; None: the data engine (Settings.data.engine).
    # Both give the same links (tests/engines/test_spark_parity.py).
    backend: Literal["duckdb", "spark"] | None = operational(None)
    threads: int | None = operational(None)  # DuckDB threads (None: all cores)
    memory_limit: str | None = operational(None)  # DuckDB memory limit, e.g. "6GB"

    def backend_for(self, data_engine: Literal["duckdb", "spark"]) -> Literal["duckdb", "spark"]:
        """Where pairs are scored: ``backend`` when set, else the engine holding the records."""
        return self.backend or data_engine


class CohortSettings(BaseModel):
    """Index events, eligibility and follow-up (issue: cohort)."""

    follow_up_days: int = 365
    waiting_period_days: int = 183
    # the JDL's optional longer follow-up (730: two years), reported beside the one-year
    # measures where the records cover it; off by default (issue 20)
    long_follow_up_days: int | None = Field(default=None, gt=365, le=3650)
    min_age_at_index: int = Field(default=15, ge=10, le=100)  # 10: age of criminal responsibility
    index_window_days: int = Field(default=365, ge=1, le=3660)
    # Community and "both" programmes: an index event up to this many days before the reference
    # date is preferred (people are referred during an order that has already started).
    community_lookback_days: int = Field(default=90, ge=0, le=3660)
    # MoJ counts offences committed on the day of release from custody; never on a court order's
    # first day (they are usually part of the index case).
    count_release_day: bool = True
    excluded_offence_flags: tuple[str, ...] = ("sexual", "domestic_violence", "terrorism")
    # Person-level markers from `flags` (e.g. "gang", "vulnerable") that exclude when recorded on
    # or before the index date; empty by default, a deployment adds its own.
    excluded_person_flags: tuple[str, ...] = ()
    # Deployment-specific exclusions: reason -> SQL predicate (DuckDB dialect) over the event's
    # eligibility columns (age_at_index, index_type, offence_group, disposal, sentence_days...).
    custom_exclusions: dict[str, str] = Field(default_factory=dict)
    # Comparison pool: "first_per_person_year" (MoJ annual cohorts) or "all" index events.
    pool_events: Literal["first_per_person_year", "all"] = "first_per_person_year"
    # The pool is derived in slices of this many person_ids (DuckDB): memory stays that of one
    # slice whatever the population; results do not depend on it. 0: one pass.
    pool_chunk_people: int = operational(250_000, ge=0)


class MatchingSettings(BaseModel):
    """Propensity score matching (issue: matching). See docs/matching-and-inference.md."""

    # "power_first" (the default; validated on planted programmes, docs/matching-and-
    # inference.md): k:1 with replacement within `caliper` SDs of the logit of the score, k from
    # `candidate_ratios` by balance first, then the smallest variance
    # (jdl.matching._design_choice). "fixed": exactly method/ratio/replace/caliper below (1:1
    # without replacement is the MatchIt-parity reference design, shown as a sensitivity row
    # under the default). A method, ratio or replacement other than the defaults is a fixed
    # design whatever `design` says.
    design: Literal["power_first", "fixed"] = "power_first"
    candidate_ratios: tuple[Annotated[int, Field(ge=1, le=100)], ...] = Field(
        default=(1, 2, 3, 5, 10, 20), min_length=1)
    method: Literal["nearest", "exact", "subclass"] = "nearest"  # jdl.matching's METHODS
    ratio: int = Field(default=1, ge=1, le=100)  # controls per treated person
    replace: bool = False
    # SDs of the score: of its logit for "power_first" (Austin 2011), of the probability for
    # "fixed" (the MatchIt default distance)
    caliper: float | None = Field(default=0.2, gt=0)  # None: no caliper
    m_order: Literal["largest", "smallest", "data", "random"] = "largest"
    exact: tuple[str, ...] = ("index_type", "index_year")
    smd_good: float = 0.1  # |SMD| below this: well balanced
    smd_poor: float = 0.25  # |SMD| above this after matching: too poor to report (Rubin 2001)
    var_ratio_low: float = 0.5
    var_ratio_high: float = 2.0


class InferenceSettings(BaseModel):
    """Effect estimation and the lab's reporting rules (issue: matching/inference)."""

    alpha: float = 0.05  # significant at p <= alpha
    min_treated_reoffenders: int = 30  # fewer: not significant, no headline days-to-first
    min_expected_count: float = 10.0  # normal-approximation check n*p >= 10 (and n*(1-p))
    power: float = 0.8  # for minimum detectable effects and required sample sizes
    follow_up_days: int = 365  # censoring time for days to first re-offence curves
    # The post-linkage minimum: fewer people than this in the matched treatment group (or
    # eligible after linkage) and the lab declines the request as "could not be answered"
    # (the JDL's minimum of 60 people; docs/matching-and-inference.md)
    min_matched_treated: int = Field(default=60, ge=1)
    # The covariate-adjusted estimate's logistic or Poisson outcome model needs at least this
    # many events (the rarer outcome) per variable, or the estimate is declined with a reason
    # (Vittinghoff and McCulloch 2007; Peduzzi et al. 1996 proposed 10; jdl.inference._adjusted)
    adjusted_min_events_per_parameter: float = Field(default=5.0, ge=0)
    # The probability of benefit (issue 20; jdl.inference._benefit): the weakly informative
    # prior's SD of the headline rate difference (a proportion: 0.05 = 5 points) and the
    # "stated amount" of reduction it is also given for (0.02 = 2 points); with
    # benefit_catalogue_prior the prior comes from the catalogue's published effects of the
    # same intervention type when it has at least three. Off by default: on planted programmes
    # that prior was overconfident (docs/matching-and-inference.md, "Calibration")
    benefit_prior_sd: float = Field(default=0.05, gt=0, le=1)
    benefit_delta: float = Field(default=0.02, ge=0, lt=1)
    benefit_catalogue_prior: bool = False


class DisclosureSettings(BaseModel):
    """Statistical disclosure control (ONS 10-5 rule by default; docs/disclosure-control.md)."""

    # Counts below this are suppressed (ONS 10-5 rule, ACRO threshold 10; OpenSAFELY: 8).
    min_count: int = Field(default=10, ge=1)
    # Released counts are rounded to the nearest multiple of this (ONS, OpenSAFELY: 5).
    rounding_base: int = Field(default=5, ge=1)
    # Proportions whose non-events (n - events) are below min_count are suppressed: a 100% cell
    # is as disclosive as a 0% one (OpenSAFELY, ACRO "zeros are disclosive").
    suppress_complement: bool = True
    # Suppress further cells in a table with a published total until at least two cells,
    # together at least min_count people, are hidden (so no total reveals a hidden cell).
    secondary_suppression: bool = True
    # A survival-curve point is released only with at least this many people at risk.
    min_at_risk: int = Field(default=10, ge=1)
    # A numeric or text field the disclosure schema does not declare: refuse the release, or
    # release it as null.
    unknown_fields: Literal["refuse", "suppress"] = "refuse"
    # Differencing guard: cohorts differing from an earlier cohort of the same organisation by
    # more than 0 and fewer than this many people are refused.
    differencing_min: int = Field(default=10, ge=1)
    # Answered or "could not be answered" (jdl.disclosure._decision): the matched count is
    # rounded like a released count and compared with a threshold drawn, per request, from
    # inference.min_matched_treated up to this many people more (60 with probability 1/2, 65
    # with 1/4, ... up to 100), so no one person decides whether a request near the minimum
    # is answered. 0: a fixed threshold.
    decision_band: int = Field(default=40, ge=0)
    # The lab's secret for that draw (HMAC key); the service derives one from its encryption
    # key when unset. Unset outside the service: the draw is reproducible from the code.
    decision_key: str | None = operational(None, repr=False)


class SettingOverride(BaseModel):
    """One lab setting an analyst changed for a re-run, as the reviewer saw it."""

    model_config = ConfigDict(frozen=True)

    setting: str  # "section.name", e.g. "matching.caliper"
    value: Any  # as the run used it
    lab_value: Any  # the lab's own setting


class ReportSettings(BaseModel):
    """The report (issue: evaluation)."""

    lab_name: str = "Justice Data Lab"
    # Who a report's readers should contact (its summary page prints it): set your lab's own.
    contact: str = "the Justice Data Lab team, justice.datalab@example.org"
    # The analysis settings an analyst changed for this run (set by the service for a re-run;
    # empty for a run with the lab's settings): the report's methods list each one.
    analysis_overrides: tuple[SettingOverride, ...] = ()


class CatalogueSettings(BaseModel):
    """The public catalogue and its summary of findings to date (issue 9; docs/catalogue.md).

    Significance itself follows ``InferenceSettings`` (the lab's rule), not a setting here.
    """

    # The measure the summary's charts use (the JDL's headline: one-year proven re-offending).
    headline_measure: str = "proven_reoffending_rate"
    # The summary compares the share of significant results above and at-or-below this matched
    # treatment-group size (the seed paper: 500 people).
    large_cohort: int = Field(default=500, ge=1)


class ServiceSettings(BaseModel):
    """The web service and its job worker (issue 8; docs/service.md)."""

    # SQLite by default so `jdl serve` needs no setup; PostgreSQL by URL
    # (postgresql+psycopg://user:pass@host/db).
    database_url: str = "sqlite:///out/service/service.db"
    storage_dir: Path = Path("out/service/files")  # uploads and job outputs, one folder each
    host: str = "127.0.0.1"
    port: int = 8000
    in_process_worker: bool = True  # run queued jobs in a thread of `jdl serve`
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    seed: int = DEFAULT_SEED  # evaluation seed for service jobs (same inputs, same numbers)
    # Web UI sessions: signed with a key kept in a file outside the database (created 0600 on
    # first start); cookies are Secure unless turned off for plain-HTTP testing.
    secret_key_file: Path = Path("out/service/secret.key")
    secure_cookies: bool = True
    session_max_age_seconds: int = 8 * 3600
    login_max_failures: int = 5  # per account (and per client and email) in the window, then 429
    login_window_seconds: int = 900
    # The uploaded file (names, dates of birth, PNC ids) is deleted this many days after the
    # submission's last completed run; the report, aggregates and lab-internal link table stay.
    upload_retention_days: float = Field(default=30, ge=0)
    requests_per_minute: int = Field(default=600, ge=1)  # per client address, then 429
    # Behind a reverse proxy, the client address (rate limits, audit) comes from its
    # X-Forwarded-For header, trusted only from these addresses (comma-separated; "*" = any).
    forwarded_allow_ips: str = "127.0.0.1"
    # A running job whose worker has not signalled for this long is taken to be dead and
    # re-queued (workers signal every quarter of it), so several workers can share the queue.
    job_stale_seconds: float = Field(default=60, gt=0)
    # Uploads are stored encrypted (Fernet: AES-128-CBC + HMAC-SHA256). The key comes from
    # JDL_SERVICE__ENCRYPTION_KEY if set, else from this file (created 0600 on first start); keep
    # the file away from the database and its backups.
    encryption_key: str | None = None
    encryption_key_file: Path = Path("out/service/encryption.key")
    # During a key rotation (`jdl admin rotate-key`) with the key in the environment: the old
    # keys, still accepted for decryption (a key file holds them one a line instead).
    encryption_previous_keys: list[str] = Field(default_factory=list)
    # An approved report enters the public catalogue on its embargo date, which the reviewer
    # sets at approval; this many days after approval by default (the organisation's time to
    # read its report first). 0 publishes at the next due run.
    publication_embargo_days: int = Field(default=28, ge=0)
    # Who may see and do what (issue 16; docs/service.md "Threat model"). The lab's own
    # organisation: the only one whose accounts may be analysts, reviewers or admins.
    lab_organisation: str = "Justice Data Lab"
    # Sign-in failures per client address (any email) within login_window_seconds, then 429;
    # login_max_failures counts per account (any address) and per address-and-account.
    login_max_failures_per_address: int = Field(default=20, ge=1)
    # The address the public reaches the service at (e.g. https://lab.example.org): absolute
    # links (the catalogue export's report_url) are built from it, never from the Host header.
    # Unset: the export gives site-relative links.
    public_url: str | None = None
    # Request body limits, enforced while the body streams in and before it is parsed (413):
    # sign-in and other forms, and JSON API bodies. An upload's request may hold
    # intake.max_file_bytes of file plus max_form_bytes of other fields (docs/deployment.md
    # has the matching reverse-proxy settings).
    max_form_bytes: int = Field(default=64 * 1024, ge=1024)
    max_json_bytes: int = Field(default=256 * 1024, ge=1024)
    # Evaluations queued or running for one organisation; a further upload is refused (429)
    # until one finishes, so no organisation can fill the lab's queue.
    max_queued_jobs_per_org: int = Field(default=10, ge=1)
    # On SIGTERM/SIGINT a worker stops at the job's next stage; if that takes longer than
    # this, it abandons the stage (plaintext deleted, job re-queued) and exits.
    worker_stop_grace_seconds: float = Field(default=20, ge=0)
    # Connections (`jdl serve`; docs/service.md "Limits"): a request's head must arrive whole
    # within header_timeout_seconds of the connection opening (slowloris: the connection is
    # closed); an idle kept-alive connection is closed after keep_alive_seconds; past
    # max_connections open at once, requests are answered 503 at once.
    header_timeout_seconds: float = Field(default=10, gt=0)
    keep_alive_seconds: int = Field(default=5, ge=1)
    max_connections: int = Field(default=1000, ge=1)
    # open connections one client address may hold at once, and never more than a quarter of
    # max_connections (not counted for the trusted proxy addresses of forwarded_allow_ips:
    # behind nginx, its limit_conn does this): one address cannot take every connection
    # (second independent check, session 6)
    max_connections_per_address: int = Field(default=50, ge=1)


class MailSettings(BaseModel):
    """Email from the service (issue 21; docs/service.md "Email"): notifications of a
    submission's progress and password-reset links, sent through an SMTP server by the
    worker from an outbox table. Off (no email at all) until ``host`` is set; links in emails
    are built from ``service.public_url``, which must then be set too."""

    host: str | None = None  # the SMTP server; None: the service sends no email
    port: int = Field(default=587, ge=1, le=65535)
    # "starttls" (port 587), "ssl" (implicit TLS, port 465) or "none" (plain SMTP, only for a
    # relay on the same host or a test server on loopback)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None  # JDL_MAIL__PASSWORD; never logged
    sender: str = "Justice Data Lab <no-reply@localhost>"
    reply_to: str | None = None  # e.g. the lab's support mailbox
    timeout_seconds: float = Field(default=10, gt=0)
    # delivery: the worker looks at the outbox this often; a failed send is tried again after
    # retry_seconds, doubling each time up to an hour, and given up after max_attempts
    poll_seconds: float = Field(default=2, gt=0)
    retry_seconds: float = Field(default=60, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    # password reset by email: the link works once, for this long; requests are limited per
    # email address typed and per client address, within service.login_window_seconds
    reset_minutes: int = Field(default=30, ge=5, le=24 * 60)
    reset_max_per_email: int = Field(default=3, ge=1)
    reset_max_per_address: int = Field(default=10, ge=1)

    @property
    def enabled(self) -> bool:
        return bool(self.host)


class Settings(BaseSettings):
    """The lab's configuration: one section per stage."""

    model_config = SettingsConfigDict(env_prefix="JDL_", env_nested_delimiter="__", extra="ignore")

    data: DataSettings = Field(default_factory=DataSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    linkage: LinkageSettings = Field(default_factory=LinkageSettings)
    cohort: CohortSettings = Field(default_factory=CohortSettings)
    matching: MatchingSettings = Field(default_factory=MatchingSettings)
    inference: InferenceSettings = Field(default_factory=InferenceSettings)
    disclosure: DisclosureSettings = Field(default_factory=DisclosureSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    catalogue: CatalogueSettings = Field(default_factory=CatalogueSettings)
    mail: MailSettings = Field(default_factory=MailSettings)

    def analysis(self) -> dict[str, dict[str, Any]]:
        """Every value that decides an evaluation's numbers, as JSON-ready data: the
        :data:`ANALYSIS_SECTIONS` without their :func:`operational` fields. Paths, engines,
        Spark's memory, the service's port and the report's wording are not in it."""
        out = {}
        for name in ANALYSIS_SECTIONS:
            section = getattr(self, name)
            skip = {field for field, info in type(section).model_fields.items()
                    if isinstance(info.json_schema_extra, dict)
                    and info.json_schema_extra.get("operational")}
            out[name] = section.model_dump(mode="json", exclude=skip)
        return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once from the environment (tests call ``get_settings.cache_clear()``)."""
    return Settings()


def default_settings() -> Settings:
    """The defaults alone, without the environment: what library code falls back to when it
    is given no settings (only the entry points read the environment, through get_settings)."""
    return Settings.model_construct()

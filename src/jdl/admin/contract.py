"""The data contract: the national administrative tables the lab links to and draws comparison
groups from, as a real deployment would load them from its own extracts.

The contract is data (frozen dataclasses) so that one definition drives loading, validation and
the documentation in ``docs/data-contract.md``. Bump :data:`CONTRACT_VERSION` on any change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jdl.core.index_types import INDEX_TYPE_DEFINITIONS, INDEX_TYPES

CONTRACT_VERSION = "1.2"

SEXES = ("M", "F")
ETHNICITIES = ("White", "Black", "Asian", "Mixed", "Other", "Unknown")
NATIONALITIES = ("British", "Irish", "EU", "Other", "Unknown")
REGIONS = (
    "North East",
    "North West",
    "Yorkshire and the Humber",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
    "Wales",
)
# MoJ proven re-offending offence groups (Guide to Proven Reoffending Statistics).
OFFENCE_GROUPS = (
    "violence",
    "sexual",
    "robbery",
    "theft",
    "criminal_damage",
    "drugs",
    "weapons",
    "public_order",
    "fraud",
    "misc_society",
    "summary_motoring",
    "summary_other",
)
#: The offence groups as readers see them (reports, tables, charts): the names of the MoJ's
#: proven re-offending statistics, shortened where a table needs it. One entry per code above.
OFFENCE_GROUP_NAMES = {
    "violence": "Violence against the person",
    "sexual": "Sexual offences",
    "robbery": "Robbery",
    "theft": "Theft",
    "criminal_damage": "Criminal damage and arson",
    "drugs": "Drug offences",
    "weapons": "Possession of weapons",
    "public_order": "Public order offences",
    "fraud": "Fraud",
    "misc_society": "Other crimes against society",
    "summary_motoring": "Less serious motoring offences",
    "summary_other": "Other less serious offences",
}
DISPOSALS = ("custody", "suspended", "community", "fine", "discharge", "caution", "other")
BENEFIT_TYPES = ("jobseekers", "incapacity", "income_support", "universal_credit")
FLAG_TYPES = ("gang", "vulnerable")
# Severity tiers as in MoJ re-offending statistics: 1 is the most serious.
SEVERITY_TIERS = (1, 2, 3)


@dataclass(frozen=True)
class Column:
    """One column of a contract table."""

    name: str
    type: str  # DuckDB type name: BIGINT, VARCHAR, DATE, INTEGER, DOUBLE, BOOLEAN
    description: str
    nullable: bool = True
    allowed: tuple[object, ...] | None = None  # closed set of values, where there is one
    minimum: float | None = None
    maximum: float | None = None
    #: The column may be left out of an extract altogether (a column added to the contract
    #: after extracts were first specified): the loader then adds it, empty.
    may_be_absent: bool = False
    since: str | None = None  # the contract version that added the column


@dataclass(frozen=True)
class Table:
    """One contract table; ``required`` tables must be present in every extract."""

    name: str
    description: str
    columns: tuple[Column, ...]
    required: bool = True
    unique: tuple[str, ...] = ()  # columns that together identify a row
    references_people: bool = True  # person_id must exist in people
    date_order: tuple[tuple[str, str], ...] = field(default=())  # (earlier, later) pairs

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _person_id(description: str = "The person's identifier in `people`.") -> Column:
    return Column("person_id", "BIGINT", description, nullable=False)


PEOPLE = Table(
    "people",
    "One row per person on the national register (everyone with a proven offence).",
    (
        _person_id("Lab-internal surrogate key; never released."),
        Column("pnc_id", "VARCHAR", "Police National Computer ID, `YYYY/NNNNNNNC`."),
        Column("prison_number", "VARCHAR", "Prison number `A1234BC` (people ever in custody)."),
        Column("forename", "VARCHAR", "Forename as recorded.", nullable=False),
        Column(
            "middle_names",
            "VARCHAR",
            "Other given names as recorded, in order, space-separated; empty when none.",
            may_be_absent=True,
            since="1.2",
        ),
        Column("surname", "VARCHAR", "Surname as recorded.", nullable=False),
        Column("date_of_birth", "DATE", "Date of birth as recorded.", nullable=False),
        Column("sex", "VARCHAR", "Sex: M or F.", nullable=False, allowed=SEXES),
        Column("ethnicity", "VARCHAR", "Ethnic group (ONS 5+1).", allowed=ETHNICITIES),
        Column("nationality", "VARCHAR", "Nationality group.", allowed=NATIONALITIES),
        Column("region", "VARCHAR", "Region of residence (England and Wales).", allowed=REGIONS),
    ),
    unique=("person_id",),
    references_people=False,
)

ALIASES = Table(
    "aliases",
    "Other names and dates of birth a person has used (same person, another record).",
    (
        _person_id(),
        Column("forename", "VARCHAR", "Alias forename.", nullable=False),
        Column("surname", "VARCHAR", "Alias surname.", nullable=False),
        Column("date_of_birth", "DATE", "Date of birth given with the alias."),
    ),
)

OFFENCES = Table(
    "offences",
    "Proven offences: convictions and cautions, one row per offence.",
    (
        Column("offence_id", "BIGINT", "Identifier of the offence record.", nullable=False),
        _person_id(),
        Column("offence_date", "DATE", "Date the offence was committed.", nullable=False),
        Column("outcome_date", "DATE", "Date of conviction or caution.", nullable=False),
        Column("offence_code", "VARCHAR", "Home Office offence code.", nullable=False),
        Column("offence_group", "VARCHAR", "MoJ offence group.", False, OFFENCE_GROUPS),
        Column("severity", "INTEGER", "Seriousness tier, 1 = most serious.", False, SEVERITY_TIERS),
        Column("disposal", "VARCHAR", "Sentence or out-of-court disposal.", False, DISPOSALS),
        Column(
            "sentence_days",
            "INTEGER",
            "Length of custodial/suspended/community sentence.",
            minimum=0,
        ),
        Column("dv_flag", "BOOLEAN", "Domestic-violence related.", nullable=False),
        Column("terrorism_flag", "BOOLEAN", "Terrorism related.", nullable=False),
    ),
    unique=("offence_id",),
    date_order=(("offence_date", "outcome_date"),),
)

def _index_type_meanings() -> str:
    return "; ".join(f"{t.code}: {t.index_date}" for t in INDEX_TYPE_DEFINITIONS)


INDEX_EVENTS = Table(
    "index_events",
    "Releases from custody, starts of court orders (community and suspended sentence orders), "
    "fines and discharges at court, and cautions (simple and conditional): the events from "
    "which re-offending is measured (the MoJ proven re-offending cohort).",
    (
        Column("event_id", "BIGINT", "Identifier of the index event.", nullable=False),
        _person_id(),
        Column("index_date", "DATE", f"By index type - {_index_type_meanings()}.", False),
        Column("index_type", "VARCHAR", "The kind of index event.", False, INDEX_TYPES),
        Column("offence_id", "BIGINT", "The index offence (`offences.offence_id`)."),
        Column("offence_group", "VARCHAR", "Group of the index offence.", False, OFFENCE_GROUPS),
        Column("disposal", "VARCHAR", "The index disposal (sentence or caution).", False,
               DISPOSALS),
        Column("sentence_days", "INTEGER", "Length of the sentence or order.", minimum=0),
        Column("sentence_start", "DATE", "Date sentenced (custody starts here)."),
    ),
    unique=("event_id",),
)

EMPLOYMENT_SPELLS = Table(
    "employment_spells",
    "Spells of employment from tax records; end_date empty while ongoing.",
    (
        _person_id(),
        Column("start_date", "DATE", "First day employed.", nullable=False),
        Column("end_date", "DATE", "Last day employed (empty: ongoing at extract)."),
    ),
    date_order=(("start_date", "end_date"),),
)

BENEFIT_SPELLS = Table(
    "benefit_spells",
    "Spells on out-of-work benefits; end_date empty while ongoing.",
    (
        _person_id(),
        Column("benefit_type", "VARCHAR", "Benefit group.", nullable=False, allowed=BENEFIT_TYPES),
        Column("start_date", "DATE", "First day on benefit.", nullable=False),
        Column("end_date", "DATE", "Last day on benefit (empty: ongoing at extract)."),
    ),
    date_order=(("start_date", "end_date"),),
)

ASSESSMENTS = Table(
    "assessments",
    "Risk and need assessments (OASys-like), made around sentence and release.",
    (
        _person_id(),
        Column("assessment_date", "DATE", "Date of the assessment.", nullable=False),
        Column(
            "risk_score",
            "DOUBLE",
            "Predicted 2-year re-offending risk, 0-100.",
            False,
            minimum=0,
            maximum=100,
        ),
        Column("need_accommodation", "BOOLEAN", "Accommodation need identified."),
        Column("need_employment", "BOOLEAN", "Education, training or employment need."),
        Column("need_drugs", "BOOLEAN", "Drug misuse need."),
        Column("need_alcohol", "BOOLEAN", "Alcohol misuse need."),
        Column("need_mental_health", "BOOLEAN", "Mental health need."),
    ),
)

FLAGS = Table(
    "flags",
    "Markers used for exclusions (gang membership, vulnerability). Optional.",
    (
        _person_id(),
        Column("flag", "VARCHAR", "Marker type.", nullable=False, allowed=FLAG_TYPES),
        Column("flag_date", "DATE", "Date first recorded.", nullable=False),
    ),
    required=False,
)

TABLES: tuple[Table, ...] = (
    PEOPLE,
    ALIASES,
    OFFENCES,
    INDEX_EVENTS,
    EMPLOYMENT_SPELLS,
    BENEFIT_SPELLS,
    ASSESSMENTS,
    FLAGS,
)
TABLES_BY_NAME = {t.name: t for t in TABLES}


def contract_markdown() -> str:
    """The contract's tables as Markdown (docs/data-contract.md embeds this; a test checks)."""
    lines: list[str] = []
    for table in TABLES:
        status = "required" if table.required else "optional"
        lines += [f"### `{table.name}` ({status})", "", table.description, ""]
        lines += [
            "| column | type | required | allowed values / range | meaning |",
            "|---|---|---|---|---|",
        ]
        for c in table.columns:
            allowed = ", ".join(str(v) for v in c.allowed) if c.allowed else ""
            if c.minimum is not None or c.maximum is not None:
                allowed = (
                    f"{'' if c.minimum is None else c.minimum} to "
                    f"{'' if c.maximum is None else c.maximum}"
                )
            lines.append(
                f"| `{c.name}` | {c.type} | {'no' if c.nullable else 'yes'} | {allowed} | "
                f"{c.description} |"
            )
        extras = []
        if table.unique:
            extras.append(f"Unique: ({', '.join(table.unique)}).")
        if table.references_people:
            extras.append("Every `person_id` must exist in `people`.")
        for earlier, later in table.date_order:
            extras.append(f"`{later}` may not be before `{earlier}`.")
        for c in table.columns:
            if c.may_be_absent:
                extras.append(
                    f"`{c.name}` (added in contract {c.since}) may be left out of an extract:"
                    " it is then loaded empty."
                )
        if extras:
            lines += ["", " ".join(extras)]
        lines.append("")
    return "\n".join(lines)

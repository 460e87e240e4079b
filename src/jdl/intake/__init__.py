"""Submission intake: the upload template, reading any common file, row-level validation.

An organisation's upload is the lab's front door. :func:`check_submission` reads a CSV, XLSX or
Parquet file, matches its headings to the template, checks every row and returns a
:class:`Submission` in which every row of the file is ``accepted`` or ``rejected`` with reasons,
and every problem has a row number (as the user sees it), column, value, message and fix. A file
that cannot be used at all carries a :class:`Refusal`; :func:`validate_submission` raises it as
:class:`IntakeRefused` instead. :meth:`Submission.accepted_rows` is what linkage reads.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jdl.intake._contract import accepted_rows_schema
    from jdl.intake._dates import ParsedDates, parse_dates
    from jdl.intake._programme import (
        EXAMPLE_PROGRAMME,
        Programme,
        ProgrammeError,
        check_programme_text,
        load_programme,
        programme_from_dict,
        screen_programme_text,
    )
    from jdl.intake._readers import RawTable, SourceInfo, read_table
    from jdl.intake._registration import (
        STANDARD_SUBGROUPS,
        OrgVariable,
        Registration,
        RegistrationError,
        load_registration,
        registration_from_dict,
    )
    from jdl.intake._rules import RULES, Rule
    from jdl.intake._safe import csv_safe, escape_value
    from jdl.intake._selective import SelectiveSample, selection_concerns, selective_sample
    from jdl.intake._spec import (
        CANONICAL_COLUMNS,
        COLUMNS,
        EVENT_DATE_COLUMNS,
        REQUIRED_COLUMNS,
        TemplateColumn,
    )
    from jdl.intake._submission import Counts, IntakeRefused, Refusal, Submission
    from jdl.intake._template import template_markdown, write_programme_example, write_template
    from jdl.intake._validate import check_submission, selection_warnings, validate_submission

# Public name -> private module. Loaded on first use, so that `jdl --help` (which imports
# `jdl.intake.cli`, hence this package) does not pay for pandas and pyarrow.
_LOCATIONS = {
    "OrgVariable": "jdl.intake._registration",
    "Registration": "jdl.intake._registration",
    "RegistrationError": "jdl.intake._registration",
    "load_registration": "jdl.intake._registration",
    "registration_from_dict": "jdl.intake._registration",
    "STANDARD_SUBGROUPS": "jdl.intake._registration",
    "CANONICAL_COLUMNS": "jdl.intake._spec",
    "COLUMNS": "jdl.intake._spec",
    "Counts": "jdl.intake._submission",
    "EVENT_DATE_COLUMNS": "jdl.intake._spec",
    "EXAMPLE_PROGRAMME": "jdl.intake._programme",
    "IntakeRefused": "jdl.intake._submission",
    "ParsedDates": "jdl.intake._dates",
    "Programme": "jdl.intake._programme",
    "ProgrammeError": "jdl.intake._programme",
    "check_programme_text": "jdl.intake._programme",
    "screen_programme_text": "jdl.intake._programme",
    "REQUIRED_COLUMNS": "jdl.intake._spec",
    "RULES": "jdl.intake._rules",
    "RawTable": "jdl.intake._readers",
    "Refusal": "jdl.intake._submission",
    "Rule": "jdl.intake._rules",
    "SourceInfo": "jdl.intake._readers",
    "Submission": "jdl.intake._submission",
    "TemplateColumn": "jdl.intake._spec",
    "accepted_rows_schema": "jdl.intake._contract",
    "check_submission": "jdl.intake._validate",
    "csv_safe": "jdl.intake._safe",
    "escape_value": "jdl.intake._safe",
    "load_programme": "jdl.intake._programme",
    "parse_dates": "jdl.intake._dates",
    "programme_from_dict": "jdl.intake._programme",
    "read_table": "jdl.intake._readers",
    "selection_warnings": "jdl.intake._validate",
    "SelectiveSample": "jdl.intake._selective",
    "selection_concerns": "jdl.intake._selective",
    "selective_sample": "jdl.intake._selective",
    "template_markdown": "jdl.intake._template",
    "validate_submission": "jdl.intake._validate",
    "write_programme_example": "jdl.intake._template",
    "write_template": "jdl.intake._template",
}

__all__ = [
    "CANONICAL_COLUMNS",
    "COLUMNS",
    "EVENT_DATE_COLUMNS",
    "EXAMPLE_PROGRAMME",
    "REQUIRED_COLUMNS",
    "RULES",
    "STANDARD_SUBGROUPS",
    "Counts",
    "IntakeRefused",
    "OrgVariable",
    "ParsedDates",
    "Programme",
    "ProgrammeError",
    "RawTable",
    "Refusal",
    "Registration",
    "RegistrationError",
    "Rule",
    "SelectiveSample",
    "SourceInfo",
    "Submission",
    "TemplateColumn",
    "accepted_rows_schema",
    "check_programme_text",
    "check_submission",
    "csv_safe",
    "escape_value",
    "load_programme",
    "load_registration",
    "parse_dates",
    "programme_from_dict",
    "read_table",
    "registration_from_dict",
    "screen_programme_text",
    "selection_concerns",
    "selection_warnings",
    "selective_sample",
    "template_markdown",
    "validate_submission",
    "write_programme_example",
    "write_template",
]


def __getattr__(name: str) -> Any:
    if name not in _LOCATIONS:
        raise AttributeError(f"module 'jdl.intake' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LOCATIONS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

"""Submission intake: the upload template, reading any common file, row-level validation.

An organisation's upload is the lab's front door. :func:`check_submission` reads a CSV, XLSX or
Parquet file, matches its headings to the template, checks every row and returns a
:class:`Submission` in which every row of the file is ``accepted`` or ``rejected`` with reasons,
and every problem has a row number (as the user sees it), column, value, message and fix. A file
that cannot be used at all carries a :class:`Refusal`; :func:`validate_submission` raises it as
:class:`IntakeRefused` instead. :meth:`Submission.accepted_rows` is what linkage reads.
"""

from jdl.intake._contract import accepted_rows_schema
from jdl.intake._dates import ParsedDates, parse_dates
from jdl.intake._programme import (
    EXAMPLE_PROGRAMME,
    Programme,
    ProgrammeError,
    load_programme,
    programme_from_dict,
)
from jdl.intake._readers import RawTable, SourceInfo, read_table
from jdl.intake._rules import RULES, Rule
from jdl.intake._safe import csv_safe, escape_value
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

__all__ = [
    "CANONICAL_COLUMNS",
    "COLUMNS",
    "EVENT_DATE_COLUMNS",
    "EXAMPLE_PROGRAMME",
    "REQUIRED_COLUMNS",
    "RULES",
    "Counts",
    "IntakeRefused",
    "ParsedDates",
    "Programme",
    "ProgrammeError",
    "RawTable",
    "Refusal",
    "Rule",
    "SourceInfo",
    "Submission",
    "TemplateColumn",
    "accepted_rows_schema",
    "check_submission",
    "csv_safe",
    "escape_value",
    "load_programme",
    "parse_dates",
    "programme_from_dict",
    "read_table",
    "selection_warnings",
    "template_markdown",
    "validate_submission",
    "write_programme_example",
    "write_template",
]

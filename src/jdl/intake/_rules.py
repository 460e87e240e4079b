"""Every problem validation can report, as data: severity, message and plain-English fix.

``error`` rejects the row; ``warning`` keeps it and tells the user. Messages may use
``{column}`` (the heading as it is in the user's file), ``{value}`` (the cell, escaped) and
``{detail}`` (a fact computed for that row). ``docs/submission-template.md`` lists these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Rule:
    """One kind of problem."""

    code: str
    severity: Severity
    message: str
    fix: str


_DATE_FIX = "Write dates as dd/mm/yyyy (e.g. 21/03/1985) or yyyy-mm-dd (1985-03-21)."

RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule("blank_row", "error", "The row is empty.",
             "Delete empty rows between people (or ignore this message)."),
        Rule("row_overflow", "error",
             "The row has more values than there are column headings, so its values may have "
             "moved into the wrong columns.",
             "Look for a comma or semicolon inside a name or note; in Excel, save as 'CSV UTF-8' "
             "so such values are quoted."),
        Rule("missing_required", "error", "{column} is blank.",
             "Fill in {column}: it is needed for every person to find them in national records."),
        Rule("formula", "error",
             "{column} holds a formula or starts with =, +, - or @ ({value}).",
             "Type the value itself (in Excel: Copy, then Paste Special > Values)."),
        Rule("name_no_letters", "error", "{column} does not look like a name ({value}).",
             "Enter the name as the police or prison would have recorded it."),
        Rule("name_placeholder", "error", "{column} is a placeholder ({value}), not a name.",
             "Enter the real name. If you do not know it, the person cannot be matched: remove "
             "the row."),
        Rule("name_too_long", "error", "{column} is longer than 100 characters.",
             "Check that notes or several names were not typed into this cell."),
        Rule("cell_too_long", "error",
             "{column} holds {detail} characters, far more than any value the lab reads.",
             "Check that notes or a whole document were not pasted into this cell."),
        Rule("name_has_digits", "warning", "{column} contains digits ({value}).",
             "Check that another value was not typed into the name column."),
        Rule("sex_invalid", "error", "{column} should be M or F, not {value}.",
             "Use M or F as recorded by the police or prison service: the national records the "
             "lab links to hold only these two codes."),
        Rule("date_unreadable", "error", "{column} is not a date the lab can read ({value}).",
             _DATE_FIX),
        Rule("date_impossible", "error", "{column} is not a real date ({value}).",
             "Check the day and the month. " + _DATE_FIX),
        Rule("date_two_digit_year", "error",
             "{column} has a two-digit year ({value}), which could be in either century.",
             "Write the year with four digits, e.g. 21/03/1985."),
        Rule("date_us_order", "error",
             "{column} only makes sense as month/day (US order): {value}.",
             "Write dates day first (dd/mm/yyyy) or as yyyy-mm-dd. If your spreadsheet uses US "
             "dates, check every date in this column."),
        Rule("date_out_of_range", "error", "{column} is not a plausible date ({value}).",
             "Check the year. " + _DATE_FIX),
        Rule("date_swappable", "warning",
             "{column} {value} could be day/month or month/day, and this column has as many "
             "month/day dates as day/month ones; it was read as {detail}.",
             "Check this date and write it as dd/mm/yyyy or yyyy-mm-dd."),
        Rule("dob_future", "error", "{column} is in the future ({value}).",
             "Check the year of birth."),
        Rule("date_future", "error", "{column} is in the future ({value}).",
             "Check the year: re-offending can only be measured after events that have happened."),
        Rule("end_future", "warning", "{column} is in the future ({value}).",
             "If the person is still taking part, leave the end date blank."),
        Rule("too_young", "error",
             "The person would have been {detail}, under the age of criminal responsibility.",
             "Check the date of birth and the event dates."),
        Rule("too_old", "error", "The person would have been {detail}.",
             "Check the date of birth (especially the year) and the event dates."),
        Rule("end_before_start", "error", "{column} ({value}) is before the start date {detail}.",
             "Check both dates: the end of the intervention cannot come before its start."),
        Rule("no_event_date", "error",
             "There is no index date, conviction date or intervention start date.",
             "Fill in at least one of them; the intervention start date is usually the easiest."),
        Rule("pnc_malformed", "warning",
             "{column} is not a PNC ID of the form YYYY/NNNNNNNC ({value}); it will not be used.",
             "Copy the PNC ID exactly as recorded, e.g. 2001/0123456F, or leave it blank. The "
             "person can still be found by name and date of birth."),
        Rule("pnc_check_letter", "warning",
             "{column} {value}: the check letter does not match the number, so the ID has a typing "
             "mistake; it will not be used.",
             "Check the PNC ID against its source, or leave it blank. The person can still be "
             "found by name and date of birth."),
        Rule("prison_malformed", "warning",
             "{column} is not a prison number of the form A1234BC ({value}); it will not be used.",
             "Copy the prison (NOMS) number exactly, e.g. A1234BC, or leave it blank."),
        Rule("duplicate_person", "error",
             "The same person is in row {detail}, which is the copy kept.",
             "Keep one row per person: the first time they took part in the programme."),
        Rule("same_name_other_pnc", "warning",
             "Row {detail} has the same name and date of birth but a different PNC ID.",
             "Check whether these are two different people; if they are, nothing needs changing."),
        Rule("outside_delivery", "warning",
             "{column} ({value}) is outside the programme's period of delivery ({detail}).",
             "Check the date, or the period of delivery in the programme information."),
        Rule("extra_column", "warning",
             "Column {value} is not part of the template; it was ignored and its contents are "
             "not kept.", "Remove columns the template does not ask for."),
        Rule("variable_not_count", "error",
             "{column} should be a whole number ({value}).",
             "Write the number (e.g. 12), or leave the cell blank if it is not known."),
        Rule("variable_not_yes_no", "error", "{column} should be yes or no ({value}).",
             "Write yes or no (Y/N, true/false and 1/0 are also understood), or leave it blank."),
        Rule("variable_unknown_category", "error",
             "{column} ({value}) is not one of the categories your analysis plan declares: "
             "{detail}.",
             "Use one of the declared categories, or declare this one in the plan before you "
             "submit."),
        Rule("variable_blank", "warning",
             "{column} is blank; this person is in the main analysis but not in the analyses "
             "by {column}.", "Fill it in if it is known."),
        Rule("file_note", "warning", "{detail}", "No action needed unless this is unexpected."),
        Rule("selective_sample", "warning", "{detail}",
             "Submit everyone who started the programme in the period, whatever their outcome, "
             "or explain the selection in the programme information."),
    )
}

"""The downloadable submission template (CSV, XLSX with a guidance sheet), the example programme
file, and the column table of ``docs/submission-template.md`` - all from :data:`COLUMNS`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from jdl.core.index_types import SETTINGS
from jdl.intake._programme import EXAMPLE_PROGRAMME
from jdl.intake._rules import RULES
from jdl.intake._spec import COLUMNS

TemplateFormat = Literal["csv", "xlsx"]

GUIDANCE = (
    "One row per person the programme worked with in the period; the first row holds the "
    "column headings exactly as in this template.",
    "Required for every person: forename, surname, date_of_birth, sex, and at least one of "
    "index_date, conviction_date or intervention_start.",
    "Dates: dd/mm/yyyy (e.g. 21/03/1985) or yyyy-mm-dd. US month/day order and two-digit years "
    "are refused rather than guessed.",
    "Include everyone who started the programme in the period, not only those who completed it: "
    "leaving people out biases the result.",
    "The lab needs at least 60 people. Small samples rarely give a conclusive result.",
    "Type values, not formulas. Do not add other columns (notes, addresses): they are ignored "
    "and not kept.",
    "Send the programme information with the file (portal form, or a programme.yaml file).",
)


def write_template(path: str | Path, fmt: TemplateFormat = "csv") -> Path:
    """Write the empty template: CSV (UTF-8 with BOM so Excel shows accents) or XLSX."""
    path = Path(path)
    if fmt == "csv":
        path.write_text(",".join(c.name for c in COLUMNS) + "\n", encoding="utf-8-sig")
    else:
        _write_xlsx(path)
    return path


def _write_xlsx(path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    sheet = book.active
    sheet.title = "Submission"
    sheet.append([c.name for c in COLUMNS])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet[f"{letter}1"].font = Font(bold=True)
        sheet.column_dimensions[letter].width = max(14, len(column.name) + 4)
        if column.kind == "date":
            sheet.column_dimensions[letter].number_format = "DD/MM/YYYY"
        elif column.kind in ("pnc", "prison"):
            sheet.column_dimensions[letter].number_format = "@"  # text: Excel must not reformat
        if column.kind == "sex":
            rule = DataValidation(type="list", formula1='"M,F"', allow_blank=True,
                                  error="Use M or F.", showErrorMessage=True)
            rule.add(f"{letter}2:{letter}200001")
            sheet.add_data_validation(rule)

    guide = book.create_sheet("Guidance")
    guide.append(["Justice Data Lab submission template"])
    guide["A1"].font = Font(bold=True, size=14)
    guide.append([])
    for line in GUIDANCE:
        guide.append([line])
    guide.append([])
    guide.append(["Column", "Required", "What to enter", "Example"])
    for cell in guide[guide.max_row]:
        cell.font = Font(bold=True)
    for column in COLUMNS:
        guide.append([column.name, "yes" if column.required else "optional",
                      column.description.replace("`", ""), column.example])
    for letter, width in zip("ABCD", (22, 10, 90, 16), strict=True):
        guide.column_dimensions[letter].width = width
    for row in guide.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    book.save(path)


def write_programme_example(path: str | Path) -> Path:
    """Write an example programme information file (YAML) with every field filled in."""
    import yaml

    path = Path(path)
    header = ("# Programme information sent with a submission. Choices:\n"
              "# sector: voluntary_community | public | private | education\n"
              "# intervention_type: employment | accommodation | education | mentoring | health |"
              " substance_misuse | restorative_justice | family | youth | other\n"
              f"# setting: {' | '.join(SETTINGS)} (where people are when they start: "
              "in prison, on a court order, after a caution, after a fine or discharge)\n"
              "# region: an English region, Wales, or National\n"
              "# selection_basis: all_participants | completers_only | other "
              "(then say how in selection_notes)\n")
    path.write_text(header + yaml.safe_dump(EXAMPLE_PROGRAMME, sort_keys=False,
                                            allow_unicode=True), encoding="utf-8")
    return path


def template_markdown() -> str:
    """The tables of ``docs/submission-template.md`` (a test keeps the document in step)."""
    lines = ["| Column | Required | What to enter | Example | Also recognised as |",
             "| --- | --- | --- | --- | --- |"]
    for c in COLUMNS:
        also = ", ".join(f"`{s}`" for s in c.synonyms) or "-"
        lines.append(f"| `{c.name}` | {'yes' if c.required else 'optional'} | {c.description} "
                     f"| `{c.example}` | {also} |")
    lines += ["", "| Code | Effect | Message | Fix |", "| --- | --- | --- | --- |"]
    effect = {"error": "row rejected", "warning": "row kept"}
    for rule in RULES.values():
        lines.append(f"| `{rule.code}` | {effect[rule.severity]} | {rule.message} | {rule.fix} |")
    return "\n".join(lines) + "\n"

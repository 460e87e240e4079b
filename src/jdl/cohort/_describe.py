"""The definitions rendered as Markdown tables: ``docs/cohort-and-outcomes.md`` embeds this text
and a test keeps the two identical, so the documentation cannot drift from the code."""

from __future__ import annotations

from datetime import date

from jdl.cohort._covariates import COVARIATE_SET_VERSION, covariate_measures
from jdl.cohort._eligibility import exclusion_rules
from jdl.cohort._spec import CohortSpec
from jdl.outcomes import OUTCOME_SET_VERSION, Measure, outcome_measures

BEGIN = "<!-- BEGIN GENERATED: jdl.cohort.describe_definitions() -->"
END = "<!-- END GENERATED -->"
_EXAMPLE_CUTOFF = date(2024, 12, 31)


def _measure_table(measures: tuple[Measure, ...]) -> list[str]:
    lines = ["| Column | Source | Definition |", "|---|---|---|"]
    for m in measures:
        if m.name.startswith("_"):
            continue
        head = " **(headline)**" if m.headline else ""
        lines.append(f"| `{m.name}` | {m.source} | {m.description}{head} |")
    return lines


def _covariate_table(measures: tuple[Measure, ...]) -> list[str]:
    """The covariates with their plain name, kind and whether matching uses them."""
    lines = ["| Column | Source | Definition | Shown as | Matching |", "|---|---|---|---|---|"]
    for m in measures:
        if m.name.startswith("_"):
            continue
        used = f"{m.kind}" if m.use_in_matching else "not used"
        if m.fill_missing == "zero":
            used += "; empty = 0"
        elif m.fill_missing:
            used += f"; empty = 0 with indicator `{m.fill_missing}`"
        lines.append(f"| `{m.name}` | {m.source} | {m.description} | {m.label} | {used} |")
    return lines


def _reported_table(measures: tuple[Measure, ...]) -> list[str]:
    """The outcomes every report gives: released key, estimate kind, unit and label."""
    lines = ["| Released as | Column | Kind | Unit | Label |", "|---|---|---|---|---|"]
    lines += [f"| `{m.result_key}` | `{m.name}` | {m.kind} | {m.unit} | {m.label} |"
              for m in measures if m.result_key]
    return lines


def describe_definitions(spec: CohortSpec | None = None) -> str:
    """Markdown tables of the exclusion rules, covariates and outcomes for ``spec`` (default
    settings)."""
    spec = spec or CohortSpec(data_cutoff=_EXAMPLE_CUTOFF)
    lines = [
        BEGIN,
        "",
        f"### Exclusion rules (applied in this order; cut-off shown: "
        f"{spec.data_cutoff.isoformat()})",
        "",
        "| Reason | Label |",
        "|---|---|",
    ]
    lines += [f"| `{r.reason}` | {r.label} |" for r in exclusion_rules(spec)]
    lines += [
        "",
        f"### Covariate set v{COVARIATE_SET_VERSION}",
        "",
        "Always present: `person_id`, `event_id`, `treated`, `index_type`, `index_year`.",
        "",
    ]
    lines += _covariate_table(covariate_measures())
    lines += ["", "Matching also stratifies exactly on `index_type` and `index_year`.", ""]
    lines += [f"### Outcome set v{OUTCOME_SET_VERSION}", ""]
    lines += _measure_table(outcome_measures(spec.follow_up))
    lines += ["", "Reported in every evaluation (headline first):", ""]
    lines += _reported_table(outcome_measures(spec.follow_up))
    lines += ["", END]
    return "\n".join(lines)

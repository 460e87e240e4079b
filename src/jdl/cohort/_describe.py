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
    lines += _measure_table(covariate_measures())
    lines += ["", f"### Outcome set v{OUTCOME_SET_VERSION}", ""]
    lines += _measure_table(outcome_measures(spec.follow_up))
    lines += ["", END]
    return "\n".join(lines)

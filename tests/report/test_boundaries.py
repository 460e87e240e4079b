"""The report stage reads released results only: it imports no analysis stage (only the
registry of measures, for names and nouns - definitions, not data)."""

from __future__ import annotations

from importlib import resources

import jdl.report
from tests._imports import imported_modules

#: The registries: measures' labels and sentence nouns, covariate names, and the data
#: contract's code lists with their reader names (offence groups) are defined there once.
REGISTRY = ("jdl.cohort._covariates", "jdl.outcomes", "jdl.admin.contract")
FORBIDDEN = ("intake", "linkage", "cohort", "matching", "inference", "outcomes", "admin",
             "engines", "disclosure", "service", "catalogue")




def test_report_imports_only_core_and_itself():
    modules = [m for m in resources.files("jdl.report").iterdir() if m.name.endswith(".py")]
    assert len(modules) >= 5
    for module in modules:
        for name in imported_modules(module.read_text()):
            if name.startswith("jdl.") and name not in REGISTRY:
                stage = name.split(".")[1]
                assert stage in ("core", "report"), f"{module.name} imports {name}"
                assert stage not in FORBIDDEN


def test_public_names():
    assert set(jdl.report.__all__) >= {"render_report", "render_html", "ReportFiles",
                                       "ReportError"}
    for name in jdl.report.__all__:
        assert getattr(jdl.report, name) is not None


def test_names_and_nouns_come_from_the_registry():
    from jdl.cohort._covariates import covariate_labels
    from jdl.outcomes import reported_outcomes
    from jdl.report._values import covariate_name
    from jdl.report._wording import what_for

    for m in reported_outcomes():
        assert what_for(m.result_key, {"label": m.label, "unit": m.unit}) == m.noun
    assert covariate_name("employment_at_index") == covariate_labels()["employment_at_index"]
    assert covariate_name("no_previous_offence") == "No previous offence"

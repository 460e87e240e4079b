"""The evaluation only orchestrates and sits below the report: it never imports the report,
the run module or the web app (the end-to-end entry is jdl.run, above the report)."""

from __future__ import annotations

from importlib import resources

from tests._imports import imported_modules

ABOVE = ("jdl.report", "jdl.run", "jdl.service", "jdl.catalogue")




def test_evaluation_imports_nothing_above_it():
    modules = [m for m in resources.files("jdl.evaluation").iterdir() if m.name.endswith(".py")]
    assert len(modules) >= 3
    for module in modules:
        bad = [n for n in imported_modules(module.read_text()) if n.startswith(ABOVE)]
        assert bad == [], module.name


def test_stages_used_by_the_evaluation_do_not_import_it():
    for stage in ("matching", "inference", "intake", "cohort", "outcomes"):
        for module in resources.files(f"jdl.{stage}").iterdir():
            if module.name.endswith(".py"):
                names = imported_modules(module.read_text())
                assert not [n for n in names if n.startswith(("jdl.evaluation", *ABOVE))], (
                    f"{stage}/{module.name}")


def test_the_run_module_is_the_end_to_end_entry():
    import jdl
    from jdl.run import run_evaluation

    assert jdl.evaluate is run_evaluation

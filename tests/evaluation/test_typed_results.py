"""Typed results: each field's disclosure kind, declared on the field, is the one the
disclosure stage applies; ``to_dict`` is the raw results shape; the example JSON is generated."""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass, replace

import pytest

from jdl.core.results import Kind, declared_kinds, to_plain
from jdl.disclosure import kind_of
from jdl.disclosure._schema import leaves
from jdl.evaluation._results import Results
from jdl.inference import SpecificationEstimate, SubgroupEstimate
from tests.fixtures.example_results import JSON, example_results


def _with_optional_fields(results: Results) -> Results:
    """The example with every optional (omitted-when-empty) field present."""
    note = SpecificationEstimate("Could not run", note="Too few comparison people.")
    sens = replace(results.sensitivity,
                   specifications=(*results.sensitivity.specifications, note))
    failed = SubgroupEstimate("sex", "Female", 29, 29, reason_not_reported="Too few.")
    warned = replace(results.selective_sample, warning="Only completers were submitted.")
    # a registered plan (issue 20): a registered row and the dose-response block
    from jdl.evaluation._registered import RegistrationSummary
    from jdl.inference import DoseResponse

    planned = SubgroupEstimate("attendance", "0 to 8", 120, 120, 40, 50, -0.05, -0.1, 0.0,
                               0.2, 0.4, False, registered=True)
    plan = RegistrationSummary("{}", "0" * 64, "proven_reoffending_rate", ("attendance",),
                               DoseResponse("attendance", "m", 2, -0.1, -0.2, 0.0, 0.05,
                                            reason_not_reported="x"))
    # a JDL re-offender measure (issue 20): its population and partition
    tier = replace(results.measures["serious_reoffending_rate"], population="reoffenders",
                   partition="first_reoffence_tier")
    # the probability of benefit (issue 20), with the optional note of a hidden one
    from jdl.inference import probability_of_benefit

    benefit = replace(probability_of_benefit(-0.05, 0.03), reason_not_reported="x")
    return replace(results, sensitivity=sens, subgroups=(*results.subgroups, failed, planned),
                   selective_sample=warned, warnings=("Matching quality is too poor.",),
                   registration=plan, benefit=benefit,
                   measures={**results.measures, "first_reoffence_tier1_rate": tier},
                   extended_measures=(*results.extended_measures, "first_reoffence_tier1_rate"))


def test_every_typed_field_has_the_kind_disclosure_declares_for_its_path():
    results = _with_optional_fields(example_results())
    declared = results.kinds()
    assert len(declared) > 150
    wrong = [(p, k, kind_of(p)) for p, k in declared if kind_of(p) != k]
    assert wrong == []


def test_every_released_leaf_is_typed():
    results = _with_optional_fields(example_results())
    typed = {p for p, _ in results.kinds()}
    untyped = [p for p, _ in leaves(results.to_dict())
               if p not in typed and p[0] != "programme"]
    assert untyped == []


def test_a_wrong_kind_would_be_caught():
    assert kind_of(("measures", "x", "treatment_n")) == Kind.COUNT
    flipped = [(p, Kind.STATISTIC) for p, k in example_results().kinds() if k == Kind.COUNT]
    assert all(kind_of(p) != k for p, k in flipped)


def test_example_json_is_generated_from_the_typed_example():
    assert json.loads(JSON.read_text()) == example_results().to_dict()


def test_to_dict_is_json_ready_and_in_the_documented_order():
    raw = example_results().to_dict()
    assert list(raw)[:8] == ["schema_version", "programme", "data_version", "data_cutoff",
                             "software_version", "config_hash", "seed", "counts"]
    assert raw["submitted"] == raw["counts"]["submitted"]
    assert "reason_not_reported" not in raw["subgroups"][0]
    assert raw["subgroups"][1]["reason_not_reported"].startswith("Fewer than 50")
    assert "note" not in raw["sensitivity"]["specifications"][0]
    json.dumps(raw, allow_nan=False)


def test_typed_results_are_frozen():
    results = example_results()
    with pytest.raises(AttributeError):
        results.counts.submitted = 1  # type: ignore[misc]
    for value in (results, results.counts, results.matching, results.power):
        assert is_dataclass(value) and value.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert all(f.metadata.get("kind") for f in fields(results.counts))


def test_declared_kinds_walks_containers_and_skips_internal_fields():
    est = SpecificationEstimate("x", 0.1, max_abs_smd=0.02)
    paths = dict(declared_kinds(est, ("s",)))
    assert paths[("s", "difference")] == Kind.DERIVED
    assert ("s", "max_abs_smd") not in paths
    assert "max_abs_smd" not in to_plain(est)

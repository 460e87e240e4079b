"""What every field of the results dict is, declared in one place.

Disclosure control must not guess from a field's name whether it holds a count: a count released
unrounded is a breach, a rate rounded like a count is nonsense. So every path of the raw results
(``tests/fixtures/raw_results_example.json``) is declared here with its :class:`Kind`. A path
that matches no pattern is *unknown* and is refused (or released as null, see
``DisclosureSettings.unknown_fields``); to release a new field, declare it here.

Patterns are JSON-pointer-like: ``/counts/*`` (``*`` is any key of a dict), ``/attrition/[]/n``
(``[]`` is any index of a list). The first matching pattern wins.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from jdl.core.results import Kind  # defined in core so every layer can declare kinds

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class FieldSpec:
    """One declared pattern: where it is, what it is, and why (shown in the docs)."""

    pattern: str
    kind: Kind
    note: str = ""

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.pattern.strip("/").split("/"))


#: Counts that the pipeline also copies to the top level of results.json (issue 7).
TOP_LEVEL_COUNTS = (
    "submitted", "rejected", "accepted", "linked", "eligible", "treatment_n", "comparison_n")

#: The measure whose re-offender counts the frequency and days measures are built from.
REOFFENDER_MEASURE = "proven_reoffending_rate"
#: Measures computed over the re-offenders of REOFFENDER_MEASURE: hidden with its counts.
#: So is every measure whose ``population`` is :data:`REOFFENDER_POPULATION` (the JDL's
#: court-outcome and custody measures, compared among re-offenders).
REOFFENDER_DEPENDENT = ("reoffending_frequency", "days_to_first_reoffence")
REOFFENDER_POPULATION = "reoffenders"

#: Keys that only per-person records carry; their presence anywhere refuses the release.
INDIVIDUAL_KEYS = frozenset({
    "person_id", "pnc_id", "cro_number", "prison_number", "nomis_id", "offender_id",
    "forename", "forenames", "first_name", "surname", "last_name", "full_name",
    "date_of_birth", "dob", "birth_date", "row_number", "upload_row", "nino",
    "ni_number", "postcode", "address", "index_date", "reference_date", "match_probability",
})

_MEASURE_COUNTS = ("treatment_n", "comparison_n", "treatment_events", "comparison_events",
                   "comparison_ess")
_MEASURE_DERIVED = (
    "treatment", "comparison", "difference", "ci_low", "ci_high", "p_value", "significant",
    "conclusion", "direction", "required_n", "se",
    # each group's own interval; the covariate-adjusted estimate (docs: "Values derived from
    # counts")
    "treatment_ci_low", "treatment_ci_high", "comparison_ci_low", "comparison_ci_high",
    "adjusted_comparison", "adjusted_difference", "adjusted_ci_low", "adjusted_ci_high",
    "adjusted_p_value")
_ROW_DERIVED = (
    "treatment", "comparison", "difference", "ci_low", "ci_high", "p_value", "p_adjusted",
    "significant", "conclusion")

#: The probability of benefit's figures computed from the released headline (banded or rounded).
_BENEFIT_DERIVED = ("probability", "probability_by", "posterior_mean", "credible_low",
                    "credible_high")

SCHEMA: tuple[FieldSpec, ...] = (
    # Provenance and the programme (the organisation's own description).
    *(FieldSpec(f"/{k}", Kind.META) for k in (
        "schema_version", "data_version", "data_cutoff", "software_version", "config_hash", "seed",
        "generated_at")),
    FieldSpec("/programme/declared_participants", Kind.COUNT,
              "the organisation's own figure, rounded like any count"),
    FieldSpec("/programme/*", Kind.LABEL),
    # The flow from submission to analysis.
    FieldSpec("/counts/*", Kind.COUNT, "every entry of counts is a number of people"),
    *(FieldSpec(f"/{k}", Kind.COUNT, "top-level copy of counts") for k in TOP_LEVEL_COUNTS),
    FieldSpec("/exclusions/*", Kind.COUNT, "people excluded, by reason"),
    FieldSpec("/attrition/[]/step", Kind.LABEL),
    FieldSpec("/attrition/[]/n", Kind.COUNT),
    FieldSpec("/headline_measures/[]", Kind.LABEL),
    FieldSpec("/extended_measures/[]", Kind.LABEL),
    # Measures: counts, then the numbers and words derived from them.
    *(FieldSpec(f"/measures/*/{k}", Kind.COUNT) for k in _MEASURE_COUNTS),
    *(FieldSpec(f"/measures/*/{k}", Kind.DERIVED) for k in _MEASURE_DERIVED),
    FieldSpec("/measures/*/label", Kind.LABEL),
    FieldSpec("/measures/*/unit", Kind.LABEL),
    FieldSpec("/measures/*/measure", Kind.LABEL),
    FieldSpec("/measures/*/kind", Kind.LABEL),
    FieldSpec("/measures/*/reported", Kind.FLAG),
    FieldSpec("/measures/*/reason_not_reported", Kind.LABEL),
    FieldSpec("/measures/*/adjustment", Kind.LABEL),
    FieldSpec("/measures/*/adjustment_declined", Kind.LABEL),
    FieldSpec("/measures/*/population", Kind.LABEL,
              "all, or reoffenders: withheld whenever the headline rate's re-offenders are"),
    FieldSpec("/measures/*/partition", Kind.LABEL,
              "measures that split one released total: their counts are one table"),
    # Balance and matching.
    FieldSpec("/balance/[]/covariate", Kind.LABEL),
    FieldSpec("/balance/[]/smd_before", Kind.STATISTIC),
    FieldSpec("/balance/[]/smd_after", Kind.STATISTIC),
    FieldSpec("/balance/[]/variance_ratio_before", Kind.STATISTIC),
    FieldSpec("/balance/[]/variance_ratio_after", Kind.STATISTIC),
    FieldSpec("/matching/treated_matched", Kind.COUNT),
    FieldSpec("/matching/treated_unmatched", Kind.COUNT),
    FieldSpec("/matching/controls_matched", Kind.COUNT),
    FieldSpec("/matching/comparison_ess", Kind.COUNT,
              "the comparison group's effective size (Kish), rounded like a count"),
    FieldSpec("/matching/design", Kind.LABEL),
    FieldSpec("/matching/design_rule", Kind.LABEL),
    FieldSpec("/matching/exact/[]", Kind.LABEL),
    FieldSpec("/matching/covariates/[]", Kind.LABEL),
    FieldSpec("/matching/comparison_restricted_to/*", Kind.LABEL),
    FieldSpec("/matching/ratio", Kind.STATISTIC),
    FieldSpec("/matching/caliper", Kind.STATISTIC),
    FieldSpec("/matching/max_abs_smd_after", Kind.STATISTIC),
    FieldSpec("/matching/replace", Kind.FLAG),
    FieldSpec("/matching/std_caliper", Kind.FLAG),
    FieldSpec("/matching/method", Kind.LABEL),
    FieldSpec("/matching/distance", Kind.LABEL),
    FieldSpec("/matching/quality", Kind.LABEL),
    FieldSpec("/matching/quality_rule", Kind.LABEL),
    # The treatment group's profile: tables of counts whose total is the treatment group.
    FieldSpec("/profile/*/*", Kind.COUNT, "people in the treatment group, by category"),
    # Re-offending curves: points are dropped when too few people are at risk.
    FieldSpec("/survival/*/[]/day", Kind.STATISTIC),
    FieldSpec("/survival/*/[]/proportion_not_reoffended", Kind.DERIVED),
    FieldSpec("/survival/*/[]/n_at_risk", Kind.COUNT, "used to decide, never released"),
    # Sensitivity analyses of the headline rate.
    FieldSpec("/sensitivity/specifications/[]/label", Kind.LABEL),
    FieldSpec("/sensitivity/specifications/[]/treatment_n", Kind.COUNT),
    FieldSpec("/sensitivity/specifications/[]/comparison_n", Kind.COUNT),
    *(FieldSpec(f"/sensitivity/specifications/[]/{k}", Kind.DERIVED) for k in _ROW_DERIVED),
    FieldSpec("/sensitivity/specifications/[]/note", Kind.LABEL, "why it could not be estimated"),
    FieldSpec("/sensitivity/e_value/*", Kind.DERIVED),
    FieldSpec("/sensitivity/rosenbaum/on_reference_design", Kind.FLAG,
              "the bound is of the 1:1 reference matching (power-first main analysis)"),
    FieldSpec("/sensitivity/rosenbaum/*", Kind.DERIVED),
    # Power.
    FieldSpec("/power/treatment_n", Kind.COUNT),
    FieldSpec("/power/base_rate", Kind.DERIVED),
    FieldSpec("/power/mde", Kind.DERIVED),
    FieldSpec("/power/power", Kind.STATISTIC),
    FieldSpec("/power/alpha", Kind.STATISTIC),
    FieldSpec("/power/required_n_for_observed", Kind.DERIVED),
    # Subgroups: a table per dimension, joined to the profile table of the same name.
    FieldSpec("/subgroups/[]/dimension", Kind.LABEL),
    FieldSpec("/subgroups/[]/level", Kind.LABEL),
    FieldSpec("/subgroups/[]/reason_not_reported", Kind.LABEL),
    FieldSpec("/subgroups/[]/treatment_n", Kind.COUNT),
    FieldSpec("/subgroups/[]/comparison_n", Kind.COUNT),
    FieldSpec("/subgroups/[]/treatment_events", Kind.COUNT),
    FieldSpec("/subgroups/[]/comparison_events", Kind.COUNT),
    *(FieldSpec(f"/subgroups/[]/{k}", Kind.DERIVED) for k in _ROW_DERIVED),
    FieldSpec("/subgroups/[]/measure", Kind.LABEL, "the measure estimated (a registered one)"),
    FieldSpec("/subgroups/[]/registered", Kind.FLAG,
              "a sub-analysis the organisation registered (matched afresh within the group)"),
    # The organisation's registered plan (issue 20): its canonical text and SHA-256, and the
    # dose-response trend across the registered dosage bands (withheld with any band).
    FieldSpec("/registration/text", Kind.LABEL, "the organisation's plan, canonical JSON"),
    FieldSpec("/registration/sha256", Kind.LABEL),
    FieldSpec("/registration/primary_measure", Kind.LABEL),
    FieldSpec("/registration/sub_analyses/[]", Kind.LABEL),
    FieldSpec("/registration/dose_response/variable", Kind.LABEL),
    FieldSpec("/registration/dose_response/method", Kind.LABEL),
    FieldSpec("/registration/dose_response/reason_not_reported", Kind.LABEL),
    FieldSpec("/registration/dose_response/bands", Kind.STATISTIC),
    *(FieldSpec(f"/registration/dose_response/{k}", Kind.DERIVED)
      for k in ("slope", "ci_low", "ci_high", "p_value")),
    # The probability of benefit (issue 20, jdl.inference._benefit): recomputed from the released
    # headline difference and interval (jdl.disclosure._coarsen._benefit), banded to 5 points,
    # hidden with the headline; the priors are constants or the catalogue's published effects.
    FieldSpec("/benefit/measure", Kind.LABEL),
    FieldSpec("/benefit/delta", Kind.STATISTIC, "the stated amount of reduction (a proportion)"),
    FieldSpec("/benefit/prior/mean", Kind.STATISTIC),
    FieldSpec("/benefit/prior/sd", Kind.STATISTIC),
    FieldSpec("/benefit/prior/source", Kind.LABEL),
    FieldSpec("/benefit/prior/description", Kind.LABEL),
    FieldSpec("/benefit/prior/reports", Kind.STATISTIC, "published reports the prior rests on"),
    *(FieldSpec(f"/benefit/{k}", Kind.DERIVED) for k in _BENEFIT_DERIVED),
    FieldSpec("/benefit/reason_not_reported", Kind.LABEL),
    FieldSpec("/benefit/sensitivity/[]/label", Kind.LABEL),
    FieldSpec("/benefit/sensitivity/[]/prior_mean", Kind.STATISTIC),
    FieldSpec("/benefit/sensitivity/[]/prior_sd", Kind.STATISTIC),
    FieldSpec("/benefit/sensitivity/[]/probability", Kind.DERIVED),
    FieldSpec("/benefit/sensitivity/[]/probability_by", Kind.DERIVED),
    # Selective-sample safeguard (the organisation's own numbers).
    FieldSpec("/selective_sample/declared_participants", Kind.COUNT),
    FieldSpec("/selective_sample/submitted", Kind.COUNT),
    FieldSpec("/selective_sample/share_submitted", Kind.STATISTIC),
    FieldSpec("/selective_sample/selection_basis", Kind.LABEL),
    FieldSpec("/selective_sample/warning", Kind.LABEL),
    FieldSpec("/warnings/[]", Kind.LABEL, "lab-written sentences; must not quote raw counts"),
    FieldSpec("/analysis_overrides/[]/*", Kind.META,
              "settings an analyst changed for a re-run, as the reviewer approved them"),
)

#: Container shapes of the results dict: "map" (a dict), "list", a tuple for nested containers
#: (``("map", "list", "map")``: a dict of lists of dicts) or a dict for named children. Counts
#: and their rules are found by position, so a wrong shape is refused rather than guessed at.
SHAPES: dict[str, object] = {
    "programme": "map", "counts": "map", "exclusions": "map", "matching": "map",
    "power": "map", "selective_sample": "map",
    "measures": ("map", "map"), "profile": ("map", "map"),
    "attrition": ("list", "map"), "balance": ("list", "map"), "subgroups": ("list", "map"),
    "survival": ("map", "list", "map"),
    "sensitivity": {"specifications": ("list", "map"), "e_value": "map", "rosenbaum": "map"},
    "headline_measures": "list", "extended_measures": "list", "warnings": "list",
    "registration": {"sub_analyses": "list", "dose_response": "map"},
    "benefit": {"prior": "map", "sensitivity": ("list", "map")},
}


def shape_problems(tree: dict[str, object]) -> list[str]:
    """Where ``tree``'s containers do not have the shape :data:`SHAPES` declares (a missing or
    null block is fine; a null inside a declared container is not)."""
    out: list[str] = []
    for key, shape in SHAPES.items():
        if tree.get(key) is not None:
            _shape(tree[key], shape, (key,), out)
    return out


def _shape(value: object, shape: object, path: Path, out: list[str]) -> None:
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            out.append(f"{pointer(path)}: expected an object")
            return
        for key, sub in shape.items():
            if value.get(key) is not None:
                _shape(value[key], sub, (*path, key), out)
        return
    first, rest = (shape[0], shape[1:]) if isinstance(shape, tuple) else (shape, ())
    want = dict if first == "map" else list
    if not isinstance(value, want):
        out.append(f"{pointer(path)}: expected {'an object' if want is dict else 'a list'}")
        return
    if rest:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            _shape(child, rest if len(rest) > 1 else rest[0], (*path, key), out)


#: The block ``release`` adds; ``assert_released`` accepts it, ``release`` refuses it as input.
DISCLOSURE_SCHEMA: tuple[FieldSpec, ...] = (
    FieldSpec("/disclosure/rules/*", Kind.META),
    FieldSpec("/disclosure/suppressed/[]", Kind.META),
    FieldSpec("/disclosure/dropped/[]", Kind.META),
    FieldSpec("/disclosure/notes/[]", Kind.META),
)


#: What a released dict may hold: the results schema plus the disclosure block.
RELEASED_SCHEMA = SCHEMA + DISCLOSURE_SCHEMA


def _matches(parts: tuple[str, ...], path: Path) -> bool:
    if len(parts) != len(path):
        return False
    for want, got in zip(parts, path, strict=True):
        if want == "[]":
            if not isinstance(got, int):
                return False
        elif want == "*":
            if not isinstance(got, str):
                return False
        elif want != got:
            return False
    return True


_COMPILED: dict[int, tuple[tuple[FieldSpec, ...], dict[tuple[int, str], list[tuple]]]] = {}


def _compiled(schema: tuple[FieldSpec, ...]) -> dict[tuple[int, str], list[tuple]]:
    """Patterns grouped by (length, first segment), in declaration order (cached per schema
    object: hashing a hundred patterns on every lookup would dominate a release)."""
    hit = _COMPILED.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    index: dict[tuple[int, str], list[tuple]] = {}
    for spec in schema:
        index.setdefault((len(spec.parts), spec.parts[0]), []).append((spec.parts, spec.kind))
    if len(_COMPILED) < 16:
        _COMPILED[id(schema)] = (schema, index)
    return index


def kind_of(path: Path, schema: tuple[FieldSpec, ...] = SCHEMA) -> Kind | None:
    """The declared kind of a leaf at ``path``, or None if no pattern declares it."""
    if not path or not isinstance(path[0], str):
        return None
    for parts, kind in _compiled(schema).get((len(path), path[0]), ()):
        if _matches(parts, path):
            return kind
    return None


def pointer(path: Path) -> str:
    """RFC 6901 JSON pointer of a path (``/profile/sex/Female``, ``/attrition/0/n``)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def leaves(node: object, path: Path = ()) -> Iterator[tuple[Path, object]]:
    """Every scalar (including None) in a JSON-like tree, with its path (empty containers hold
    nothing to release and are skipped)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, str(key)))
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield from leaves(value, (*path, i))
    else:
        yield path, node


def get(tree: object, path: Path) -> object:
    """The value at ``path`` (KeyError/IndexError when absent)."""
    node = tree
    for part in path:
        node = node[part]  # type: ignore[index]
    return node


def set_(tree: object, path: Path, value: object) -> None:
    """Set the value at ``path`` in place."""
    parent = get(tree, path[:-1])
    parent[path[-1]] = value  # type: ignore[index]

"""The organisation's own variables and its pre-registered analysis plan.

Before any result exists the organisation says (a) which extra columns its upload carries and
what values they may take (:class:`OrgVariable`: attendance, completion, delivery mode, site,
cohort period and up to :data:`MAX_NAMED_VARIABLES` named ones), and (b) its plan
(:class:`Registration`): the primary measure and the sub-analyses it will look at. The plan is
written canonically (sorted keys, no spaces: :meth:`Registration.canonical_json`) and hashed
with SHA-256, so that the report can print the text and the hash and anyone can check that the
plan was not changed after the results were seen. Registering the headline measure and the
sub-groups in advance is the Employment Data Lab's practice and the usual defence against
"the garden of forking paths" (Gelman and Loken 2013; Nosek et al. 2018, "The preregistration
revolution", PNAS 115(11)).

The registration is data the evaluation takes as a parameter: the evaluation never edits it,
and anything it reports that the registration did not name is labelled exploratory.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jdl.core.errors import JDLError
from jdl.intake._spec import HEADER_LOOKUP, normalise_header

VariableKind = Literal["count", "yes_no", "category"]

#: The lab's standard sub-group dimensions (jdl.inference's), which a plan may name too.
STANDARD_SUBGROUPS = ("sex", "age_band", "index_offence_group", "index_type")
#: Named variables beyond the standard organisation variables, at most.
MAX_NAMED_VARIABLES = 3
#: Declared categories per variable, at most; each category label at most this many characters.
MAX_CATEGORIES = 12
MAX_LABEL_CHARS = 40
#: A count above this (sessions attended) is not a plausible value.
MAX_COUNT = 10_000
#: Headings of the standard organisation variables: name -> (kind, synonyms).
STANDARD_VARIABLES: dict[str, tuple[VariableKind, tuple[str, ...]]] = {
    "attendance": ("count", ("sessions", "sessions attended", "attended sessions",
                             "number of sessions", "attendances")),
    "completed": ("yes_no", ("completion", "completed programme", "completed the programme")),
    "delivery_mode": ("category", ("delivery", "delivery method", "mode of delivery",
                                   "delivery type")),
    "site": ("category", ("location", "delivery site", "centre")),
    "cohort_period": ("category", ("cohort", "period", "intake period", "wave")),
}
YES_NO = {"yes": "yes", "y": "yes", "true": "yes", "1": "yes", "no": "no", "n": "no",
          "false": "no", "0": "no"}
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,29}$")
_LABEL = re.compile(r"^[\w][\w .,&()/+'-]*$", re.UNICODE)
#: Keys a registration file may hold.
_KEYS = frozenset({"primary_measure", "sub_analyses", "variables", "dose_bands"})


class RegistrationError(JDLError):
    """The organisation's variables or analysis plan are invalid (all problems listed)."""


@dataclass(frozen=True)
class OrgVariable:
    """One extra column the organisation declares: its name (as the column's heading), kind and,
    for a category, the values it may take (as they will be printed)."""

    name: str
    kind: VariableKind
    categories: tuple[str, ...] = ()

    @property
    def headings(self) -> tuple[str, ...]:
        """Normalised headings that mean this column (its name, and the standard synonyms)."""
        synonyms = STANDARD_VARIABLES.get(self.name, ("", ()))[1]
        return tuple(dict.fromkeys(normalise_header(h) for h in (self.name, *synonyms)))

    @property
    def levels(self) -> tuple[str, ...]:
        """The values a sub-analysis by this variable compares (a count's are its bands)."""
        return ("yes", "no") if self.kind == "yes_no" else self.categories

    def spec(self) -> dict[str, Any]:
        """The declaration as a plan writes it (``{kind, categories}``)."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "category":
            out["categories"] = list(self.categories)
        return out


@dataclass(frozen=True)
class Registration:
    """The organisation's analysis plan, fixed before the evaluation runs.

    ``primary_measure``: the ``result_key`` of a released measure (checked against the lab's
    measures by the evaluation: :meth:`check_measure`). ``sub_analyses``: names of declared
    variables or of :data:`STANDARD_SUBGROUPS`, each a separate matched analysis. ``dose_bands``:
    for a ``count`` variable, the upper bounds of the lower bands (``(4, 9)``: 0-4, 5-9, 10+);
    empty for the lab's default (thirds of the participants' counts)."""

    primary_measure: str
    sub_analyses: tuple[str, ...] = ()
    variables: tuple[OrgVariable, ...] = ()
    dose_bands: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The plan in the form :func:`registration_from_dict` reads (a round trip is the
        identity)."""
        return {"primary_measure": self.primary_measure,
                "sub_analyses": list(self.sub_analyses),
                "variables": {v.name: v.spec() for v in self.variables},
                "dose_bands": list(self.dose_bands)}

    def canonical_json(self) -> str:
        """The plan as canonical JSON (sorted keys, no whitespace, UTF-8 as written): the text
        the hash is of, and the text the report prints."""
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    def variable(self, name: str) -> OrgVariable | None:
        return next((v for v in self.variables if v.name == name), None)

    @property
    def dose_variable(self) -> OrgVariable | None:
        """The registered count variable (attendance, sessions...) the dose-response is of."""
        return next((v for v in self.variables
                     if v.kind == "count" and v.name in self.sub_analyses), None)

    def check_measure(self, released: tuple[str, ...], rates: tuple[str, ...] = ()) -> None:
        """Refuse a primary measure that is not one of the lab's released measures, or, when
        sub-analyses are registered, not one of its ``rates`` (sub-group estimates are released
        for proportions only: disclosure control recomputes them from the rounded counts)."""
        if self.primary_measure not in released:
            raise RegistrationError(
                f"The registered primary measure {self.primary_measure!r} is not one of the "
                "lab's measures.", hint="Use one of: " + ", ".join(released) + ".")
        if self.sub_analyses and rates and self.primary_measure not in rates:
            raise RegistrationError(
                f"Sub-analyses are estimated for a rate, and {self.primary_measure!r} is not "
                "one.", hint="Register one of these rates as the primary measure: "
                + ", ".join(rates) + ".")


def registration_from_dict(data: Any, *, source: str = "analysis plan") -> Registration:
    """Validate a mapping (a YAML/JSON plan file or the web form) into a :class:`Registration`;
    every problem is listed in one :class:`RegistrationError`."""
    if not isinstance(data, dict):
        raise RegistrationError(f"The {source} should be a set of 'field: value' lines.",
                                hint=PLAN_HINT)
    problems = [f"{k}: not a plan field (check the spelling)." for k in data if k not in _KEYS]
    measure = data.get("primary_measure")
    if not isinstance(measure, str) or not measure.strip():
        problems.append("primary_measure: missing; name the measure you will judge the "
                        "programme by (e.g. proven_reoffending_rate).")
        measure = ""
    variables = _variables(data.get("variables") or {}, problems)
    declared = {v.name for v in variables}
    subs = data.get("sub_analyses") or []
    if not isinstance(subs, list | tuple) or not all(isinstance(s, str) for s in subs):
        problems.append("sub_analyses: should be a list of variable names.")
        subs = []
    subs = [s.strip() for s in subs]
    for s in subs:
        if s not in declared and s not in STANDARD_SUBGROUPS:
            problems.append(f"sub_analyses: {s!r} is neither a declared variable nor one of "
                            f"{', '.join(STANDARD_SUBGROUPS)}.")
    if len(set(subs)) != len(subs):
        problems.append("sub_analyses: a variable is named twice.")
    bands = _bands(data.get("dose_bands") or [], problems)
    if problems:
        raise RegistrationError(f"The {source} has {len(problems)} problem(s):",
                                problems=problems, hint=PLAN_HINT)
    return Registration(measure.strip(), tuple(subs), variables, bands)


def _variables(data: Any, problems: list[str]) -> tuple[OrgVariable, ...]:
    if not isinstance(data, dict):
        problems.append("variables: should map each column's name to its kind "
                        "(e.g. 'delivery_mode: {kind: category, categories: [online, "
                        "in person]}').")
        return ()
    out: list[OrgVariable] = []
    named = 0
    for raw_name, spec in data.items():
        name = str(raw_name).strip().lower()
        where = f"variables.{name}"
        if not _NAME.match(name):
            problems.append(f"{where}: a name is 2-30 lower-case letters, digits or _ "
                            "(starting with a letter).")
            continue
        if normalise_header(name) in HEADER_LOOKUP or name in ("status", "reasons",
                                                               "row_number"):
            problems.append(f"{where}: is a template column already.")
            continue
        if name in STANDARD_SUBGROUPS:
            problems.append(f"{where}: is one of the lab's own sub-groups; name it in "
                            "sub_analyses instead of declaring it.")
            continue
        spec = spec if isinstance(spec, dict) else {"kind": spec} if isinstance(spec, str) \
            else {}
        standard = STANDARD_VARIABLES.get(name)
        kind = spec.get("kind", standard[0] if standard else None)
        if kind not in ("count", "yes_no", "category"):
            problems.append(f"{where}: kind must be count, yes_no or category.")
            continue
        if standard is None:
            named += 1
        elif standard[0] != kind:
            problems.append(f"{where}: the standard variable {name} is a {standard[0]}.")
            continue
        categories: tuple[str, ...] = ()
        if kind == "category":
            categories = _categories(spec.get("categories"), where, problems)
        elif spec.get("categories"):
            problems.append(f"{where}: only a category variable has categories.")
        out.append(OrgVariable(name, kind, categories))
    if named > MAX_NAMED_VARIABLES:
        problems.append(f"variables: at most {MAX_NAMED_VARIABLES} named variables besides "
                        f"{', '.join(STANDARD_VARIABLES)}.")
    out.sort(key=lambda v: v.name)  # the canonical order (the plan's text sorts them too)
    headings: dict[str, str] = {}
    for v in out:
        for h in v.headings:
            if h in headings and headings[h] != v.name:
                problems.append(f"variables: {headings[h]} and {v.name} both use the heading "
                                f"{h!r}.")
            headings[h] = v.name
    return tuple(out)


def _categories(values: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(values, list | tuple) or len(values) < 2:
        problems.append(f"{where}: list the categories (at least two).")
        return ()
    if len(values) > MAX_CATEGORIES:
        problems.append(f"{where}: at most {MAX_CATEGORIES} categories.")
    out = []
    for value in values:
        text = re.sub(r"\s+", " ", str(value)).strip()
        if not text or len(text) > MAX_LABEL_CHARS or not _LABEL.match(text):
            problems.append(f"{where}: category {str(value)[:MAX_LABEL_CHARS]!r} should be 1-"
                            f"{MAX_LABEL_CHARS} letters, digits, spaces or simple punctuation.")
            continue
        out.append(text)
    if len({c.casefold() for c in out}) != len(out):
        problems.append(f"{where}: a category is listed twice.")
    return tuple(out)


def _bands(values: Any, problems: list[str]) -> tuple[int, ...]:
    if not isinstance(values, list | tuple) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v < MAX_COUNT
            for v in values):
        problems.append("dose_bands: a list of whole numbers (the top of each lower band).")
        return ()
    if list(values) != sorted(set(values)):
        problems.append("dose_bands: the numbers must increase.")
    return tuple(values)


PLAN_HINT = ("An analysis plan is a YAML or JSON file with primary_measure, variables and "
             "sub_analyses: see docs/submission-template.md ('Your own columns and your plan').")


def load_registration(path: str | Path) -> Registration:
    """Read an analysis plan from a YAML or JSON file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise RegistrationError(f"There is no analysis plan file at {path}.")
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (UnicodeDecodeError, OSError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise RegistrationError(f"{path.name} could not be read as a plan: "
                                f"{type(exc).__name__}.", hint=PLAN_HINT) from None
    return registration_from_dict(data, source=path.name)


"""Reading the released results and formatting their numbers for readers.

The released dict is the report's only input. A number may be ``null`` anywhere: either the
disclosure stage suppressed it (its path is listed in ``disclosure.suppressed``) or it does not
apply (a variance ratio for a yes/no covariate, a sample size nobody asked for). Suppressed values
print as the mark ``[c]`` (the ONS convention for "confidential"), which the template explains in a
footnote; values that do not apply print as an en dash. When the path list cannot tell the two
apart the value is treated as suppressed, because saying "confidential" about a number that does
not apply is harmless while calling a suppressed number "not applicable" is misleading.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from jdl.report._errors import ReportError

SUPPRESSED_MARK = "[c]"
NOT_APPLICABLE = "–"

#: Fields whose ``null`` means "does not apply" unless the disclosure stage says otherwise.
NOT_APPLICABLE_FIELDS = frozenset({"variance_ratio_after", "required_n_for_observed"})

#: Keys the report cannot do without; anything else may be missing or null.
REQUIRED_KEYS = ("programme", "measures", "headline_measures", "disclosure")

_PATH_SPLIT = re.compile(r"\.|\[|\]")


def normalise_path(path: str) -> tuple[str, ...]:
    """JSON pointers (RFC 6901, ``/a/b/0/c``) and dotted paths (``$.a.b[0].c``, ``a.b.0.c``)
    all become ``(a, b, 0, c)``.

    The disclosure stage writes JSON pointers; the dotted spellings are accepted too, so a
    hand-written released dict (tests, old files) is read the same way. A pointer is split on
    ``/`` only, because keys such as exclusion reasons may contain dots.
    """
    text = path.strip()
    if text.startswith("/"):
        return tuple(p.replace("~1", "/").replace("~0", "~") for p in text[1:].split("/"))
    if text.startswith("$"):
        text = text[1:]
    parts = [p.strip("'\"") for p in _PATH_SPLIT.split(text)]
    return tuple(p for p in parts if p)


@dataclass(frozen=True)
class Released:
    """The released results plus the set of suppressed paths, with null-aware formatters."""

    data: Mapping[str, Any]
    suppressed: frozenset[tuple[str, ...]] = field(default_factory=frozenset)

    @classmethod
    def from_dict(cls, released: Mapping[str, Any]) -> Released:
        """Check the dict is released results (it has a ``disclosure`` block) and wrap it.

        The disclosure stage's own result object is accepted too (its ``results`` dict is read).
        """
        inner = getattr(released, "results", None)
        if not isinstance(released, Mapping) and isinstance(inner, Mapping):
            released = inner
        if not isinstance(released, Mapping):
            raise ReportError(f"released results must be a dict, not {type(released).__name__}.")
        missing = [k for k in REQUIRED_KEYS if k not in released]
        if "disclosure" in missing:
            raise ReportError(
                "these results have not been through disclosure control (no 'disclosure' block).",
                hint="Pass the output of the disclosure stage; the report never renders raw "
                     "results.")
        if missing:
            raise ReportError(f"released results lack required fields: {', '.join(missing)}.")
        disclosure = released.get("disclosure") or {}
        paths = disclosure.get("suppressed") or []
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ReportError("disclosure.suppressed must be a list of JSON paths (strings).")
        return cls(released, frozenset(normalise_path(p) for p in paths))

    def get(self, *path: str | int, default: Any = None) -> Any:
        """The value at ``path`` or ``default`` when any step is missing."""
        node: Any = self.data
        for step in path:
            in_map = isinstance(node, Mapping) and step in node
            in_list = isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
            if not (in_map or in_list):
                return default
            node = node[step]
        return node

    def is_suppressed(self, *path: str | int) -> bool:
        """True when the disclosure stage lists ``path`` (or a parent of it) as suppressed."""
        key = tuple(str(p) for p in path)
        return any(key[: len(s)] == s for s in self.suppressed if s)

    @property
    def any_suppressed(self) -> bool:
        """Whether the footnote explaining ``[c]`` is needed at all."""
        return bool(self.suppressed)


def is_missing(value: Any) -> bool:
    """None, NaN and infinities are never printed as numbers."""
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def mark() -> Markup:
    """The suppression mark, tagged so screen readers say what it means."""
    return Markup('<abbr class="supp" title="confidential: suppressed to protect people">'
                  f"{SUPPRESSED_MARK}</abbr>")


def missing_text(rel: Released, path: Iterable[str | int]) -> Markup:
    """What to print for a null at ``path``: the mark, or a dash when the field does not apply."""
    steps = tuple(path)
    if steps and steps[-1] in NOT_APPLICABLE_FIELDS and not rel.is_suppressed(*steps):
        return Markup(f'<span class="na" title="not applicable">{NOT_APPLICABLE}</span>')
    return mark()


def _number(value: float, digits: int, signed: bool) -> str:
    text = f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"
    if text.lstrip("+-").strip("0.,") == "":  # -0.0 and +0.0 read as 0
        text = f"{0:.{digits}f}"
    return text


def fmt_number(rel: Released, value: Any, path: Iterable[str | int], *, digits: int = 1,
               scale: float = 1.0, signed: bool = False, suffix: str = "") -> Markup:
    """A number for a table cell or sentence, or the mark when it was suppressed."""
    if is_missing(value) or isinstance(value, bool):
        return missing_text(rel, path)
    try:
        number = float(value) * scale
    except (TypeError, ValueError) as exc:
        where = ".".join(map(str, path))
        raise ReportError(f"expected a number at {where}, got {value!r}.") from exc
    return Markup(escape(_number(number, digits, signed) + suffix))


def fmt_count(rel: Released, value: Any, path: Iterable[str | int]) -> Markup:
    """A count of people (already rounded by the disclosure stage) with thousands separators."""
    return fmt_number(rel, value, path, digits=0)


def fmt_p(rel: Released, value: Any, path: Iterable[str | int]) -> Markup:
    """A p-value as statisticians expect it: three decimals, ``<0.001`` below that."""
    if is_missing(value):
        return missing_text(rel, path)
    p = float(value)
    return Markup("&lt;0.001") if p < 0.001 else Markup(f"{p:.3f}")


def fmt_yes_no(rel: Released, value: Any, path: Iterable[str | int]) -> Markup:
    """Booleans as Yes/No (never True/False, which readers outside Python do not use)."""
    if value is None:
        return missing_text(rel, path)
    return Markup("Yes") if bool(value) else Markup("No")


def fmt_text(value: Any, default: str = "Not stated") -> str:
    """Free text from the programme form; empty or null becomes ``default``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return str(value)


def humanise(code: str) -> str:
    """``previous_custodial_sentences`` -> ``Previous custodial sentences``."""
    text = str(code).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _covariate_names() -> dict[str, str]:
    """Plain names of the numeric matching covariates, from the covariate registry
    (:func:`jdl.cohort.covariate_labels`), plus the propensity score and older column names
    that saved results may still carry. Categorical covariates are named through
    :data:`FACTOR_NAMES` (their levels are glued to the name in model terms)."""
    from jdl.cohort._covariates import covariate_labels, covariate_measures

    categorical = {m.name for m in covariate_measures() if m.kind == "categorical"}
    names = {"distance": "Propensity score", "female": "Female",
             "previous_offences": "Previous offences",
             "previous_custodial_sentences": "Previous custodial sentences"}
    names.update({k: v for k, v in covariate_labels().items() if k not in categorical})
    return names


#: Plain names for the lab's matching covariates (jdl.cohort's column names).
COVARIATE_NAMES = _covariate_names()

#: Factors whose levels appear glued to the name in model terms (``sexF``, ``ethnicity[Asian]``).
FACTOR_NAMES = {
    "index_offence_group": "Index offence",
    "age_band": "Age band",
    "ethnicity": "Ethnicity",
    "nationality": "Nationality",
    "index_type": "Index type",
    "index_year": "Index year",
    "setting": "Setting",
    "region": "Region",
    "sex": "Sex",
}

LEVEL_NAMES = {"F": "Female", "M": "Male", "EU": "EU"}


def _level_names_by_dimension() -> dict[str, dict[str, str]]:
    """Reader names of coded levels, per characteristic: the offence groups' names are defined
    once beside their codes (:data:`jdl.admin.contract.OFFENCE_GROUP_NAMES`)."""
    from jdl.admin.contract import OFFENCE_GROUP_NAMES

    return {"index_offence_group": dict(OFFENCE_GROUP_NAMES)}


#: ``{dimension: {code: name}}`` for characteristics whose codes are not words.
DIMENSION_LEVEL_NAMES = _level_names_by_dimension()


def level_name(level: object, dimension: str | None = None) -> str:
    """A category level for readers: ``F`` -> ``Female``; with ``dimension`` the
    characteristic's own names (``misc_society`` of ``index_offence_group`` -> ``Other crimes
    against society``). Unknown codes are tidied (``some_code`` -> ``Some code``)."""
    text = str(level)
    named = DIMENSION_LEVEL_NAMES.get(dimension or "", {})
    if text in named:
        return named[text]
    if text.lower() in named:
        return named[text.lower()]
    return LEVEL_NAMES.get(text, humanise(text))


def covariate_name(code: object) -> str:
    """A matching covariate or model term in plain words (``ethnicityAsian`` -> ``Ethnicity:
    Asian``); unknown names are only tidied, never dropped."""
    text = str(code)
    if text in COVARIATE_NAMES:
        return COVARIATE_NAMES[text]
    for factor, name in FACTOR_NAMES.items():
        rest = text[len(factor):]
        if not text.startswith(factor) or not rest:
            continue
        # "sexF", "sex[F]", "sex_F" are levels; "sexual_history" is another covariate.
        glued = rest[0] in "[=_:." or rest[0].isupper() or rest[0].isdigit()
        if glued or factor == "index_offence_group":
            level = rest.strip("[]_=:. ")
            if level:
                return f"{name}: {level_name(level, factor)}"
    return humanise(text)

"""What an analyst may change for a re-run: an allow-list of analysis settings, by name.

A re-run exists to try a reviewed alternative analysis — another caliper, matching ratio or
linkage threshold. It must never switch off the lab's protections: disclosure control,
storage, security and service settings are not on the list, and neither is anything that only
tunes performance. A name that is not a setting at all (``matching.calipr``) is refused by
name, with the nearest real name, instead of being silently ignored.

Every accepted override is recorded on the job (``Job.settings_overrides``), written to the
audit log, shown to the reviewer beside the results, and passed to the evaluation as
``settings.report.analysis_overrides`` so the report's methods can list it.
"""

from __future__ import annotations

import difflib
import json
import math
from typing import Any

from pydantic import BaseModel, ValidationError

from jdl.core.config import SettingOverride, Settings
from jdl.core.errors import UsageError

# section -> settings an analyst may change for one run (each decides the analysis, none the
# lab's protections). Extend with care: the reviewer sees each change.
RERUN_ALLOWED: dict[str, tuple[str, ...]] = {
    "matching": ("design", "candidate_ratios", "method", "ratio", "replace", "caliper",
                 "m_order", "exact"),
    "linkage": ("match_threshold", "min_id_evidence", "candidate_floor"),
    "cohort": ("min_age_at_index", "index_window_days", "community_lookback_days",
               "pool_events"),
}


def _fields(settings: Settings, section: str) -> set[str] | None:
    model = getattr(settings, section, None)
    return set(type(model).model_fields) if isinstance(model, BaseModel) else None


def check_overrides(settings: Settings, overrides: Any) -> list[SettingOverride]:
    """The overrides as reviewed records, or a :class:`UsageError` naming every refused one.

    Refused: a section or setting that does not exist (with the nearest real name), one that
    exists but is not on the allow-list (disclosure, storage, security...), and a value the
    setting does not accept."""
    if not isinstance(overrides, dict):
        raise UsageError("Settings overrides are sections of settings, e.g. "
                         '{"matching": {"caliper": 0.1}}.')
    problems: list[str] = []
    for section, values in overrides.items():
        names = _fields(settings, str(section))
        if names is None:
            problems.append(f"{section}: not a settings section"
                            + _nearest(str(section), list(type(settings).model_fields)))
            continue
        if not isinstance(values, dict):
            problems.append(f"{section}: give the settings to change as name: value pairs.")
            continue
        for name in values:
            key = f"{section}.{name}"
            if name not in names:
                problems.append(f"{key}: not a setting" + _nearest(str(name), sorted(names)))
            elif name not in RERUN_ALLOWED.get(str(section), ()):
                problems.append(f"{key}: may not be changed in a re-run (only analysis "
                                f"settings may: {allowed_names()}).")
            elif _not_finite(values[name]):
                problems.append(f"{key}: must be a finite number (not NaN or infinity).")
            elif key == "matching.exact":
                problems += _exact_problems(values[name])
    if not problems:
        try:
            apply_overrides(settings, overrides, [])
        except ValidationError as exc:
            problems += [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                         for e in exc.errors()]
    if problems:
        raise UsageError("These settings cannot be used for a re-run.", problems=problems,
                         hint=f"An analyst may change: {allowed_names()}.")
    merged = apply_overrides(settings, overrides, [])
    return [SettingOverride(setting=f"{section}.{name}",
                            value=_plain(getattr(getattr(merged, section), name)),
                            lab_value=_plain(getattr(getattr(settings, section), name)))
            for section, values in overrides.items() for name in values]


def apply_overrides(base: Settings, overrides: dict[str, Any],
                    recorded: list[SettingOverride]) -> Settings:
    """The lab settings with the overrides, validated like any settings, and the reviewed list
    of changes in ``report.analysis_overrides``."""
    merged = base.model_dump()
    for section, values in overrides.items():
        merged.setdefault(section, {}).update(values)
    merged.setdefault("report", {})["analysis_overrides"] = [o.model_dump() for o in recorded]
    return Settings.model_validate(merged)


def exact_columns() -> tuple[str, ...]:
    """What matching can stratify exactly on: the index strata and the categorical covariates
    the cohort builds (never an identifier such as ``pnc_id``, which would match nobody)."""
    from jdl.cohort._covariates import EXACT_STRATA, matching_covariates

    return tuple(dict.fromkeys(
        (*EXACT_STRATA, *(m.name for m in matching_covariates() if m.kind == "categorical"))))


def _exact_problems(value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        return ["matching.exact: give a list of covariate names."]
    allowed = exact_columns()
    unknown = [v for v in value if v not in allowed]
    return [f"matching.exact: {v!r} is not a covariate the lab can match exactly on "
            f"(use: {', '.join(allowed)})." for v in unknown]


def allowed_names() -> str:
    return ", ".join(f"{s}.{n}" for s, names in RERUN_ALLOWED.items() for n in names)


def describe(overrides: list[SettingOverride]) -> str:
    """One line for the audit log, e.g. ``matching.caliper=0.1 (lab 0.2)``."""
    return "; ".join(f"{o.setting}={json.dumps(o.value)} (lab {json.dumps(o.lab_value)})"
                     for o in overrides) or "lab settings"


def _not_finite(value: Any) -> bool:
    """NaN or an infinity anywhere in a value (JSON bodies may carry them: Python's parser
    accepts ``NaN`` and ``Infinity``). They would pass as floats, then silently match or link
    nobody, or everybody, and cannot be stored as JSON by PostgreSQL."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_not_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_not_finite(v) for v in value)
    return False


def _nearest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _plain(value: Any) -> Any:
    """JSON-able (tuples as lists, paths as text)."""
    return json.loads(json.dumps(value, default=str))

"""Checks on what is about to leave the lab: the released dict, and any released text.

:func:`find_release_problems` is a proof over the released dict, driven by the same schema as
:func:`release`: every count shown is at least ``min_count`` and a multiple of ``rounding_base``,
no estimate is shown over a hidden count, no table shows a total beside exactly one hidden cell,
no per-person field and nothing undeclared. :func:`check_released_text` is a backstop for
rendered files (HTML, PDF text): it cannot prove anything about free text, but it finds numbers
that look like unrounded or small counts.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from jdl.core.config import DisclosureSettings
from jdl.disclosure._coarsen import (
    CI_STEP,
    RATE_DECIMALS,
    SENSITIVITY_DIFF_STEP,
    SHARE_STEP,
    SMD_DECIMALS,
    coarse_p,
    ess_ratio_of,
    released_two_proportions,
)
from jdl.disclosure._errors import DisclosureError
from jdl.disclosure._released import Released, refuse_individual_level
from jdl.disclosure._schema import (
    RELEASED_SCHEMA,
    REOFFENDER_MEASURE,
    SCHEMA,
    Kind,
    Path,
    kind_of,
    leaves,
    pointer,
    shape_problems,
)

_SIDES = ("treatment", "comparison")
#: Lab-written sentences that must not quote counts (scanned for numbers of people).
_FREE_TEXT = frozenset({"warning", "reason_not_reported", "quality_rule", "description", "note"})
_PAIRED = ("difference", "ci_low", "ci_high", "p_value", "p_adjusted", "significant",
           "conclusion")


def _settings_of(released: Mapping[str, Any], settings: DisclosureSettings | None):
    if settings is not None:
        return settings
    rules = (released.get("disclosure") or {}).get("rules") or {}
    return DisclosureSettings(**rules)


def find_release_problems(
    released: Mapping[str, Any], settings: DisclosureSettings | None = None
) -> list[str]:
    """Every way ``released`` breaks the rules (empty when it may be published).

    ``settings`` default to the rules recorded in the dict's ``disclosure`` block.
    """
    if not isinstance(released, Mapping) or "disclosure" not in released:
        return ["no 'disclosure' block: this dict has not been through disclosure control"]
    try:
        s = _settings_of(released, settings)
    except (TypeError, ValueError) as e:  # pydantic's ValidationError is a ValueError
        return [f"/disclosure/rules: not valid disclosure settings ({e.__class__.__name__})"]
    problems: list[str] = shape_problems(dict(released))
    if problems:
        return problems
    try:
        refuse_individual_level(dict(released))
    except DisclosureError as e:
        problems += [f"{p}: individual-level field" for p in e.problems]
    schema = RELEASED_SCHEMA
    # How far rounding can move a difference of two released counts (n - events).
    b = s.rounding_base
    slack = 2 * (b // 2) if s.min_count % b == 0 else (b - 1) + b // 2
    for path, value in leaves(released):
        kind = kind_of(path, schema)
        if kind is None:
            if value is not None:
                problems.append(f"{pointer(path)}: not declared in the disclosure schema")
        elif kind is Kind.COUNT and value is not None:
            problems += _count_problems(path, value, s)
    problems += _derived_problems(released, s, slack)
    problems += _table_problems(released, s)
    problems += _main_problems(released)
    problems += _estimate_problems(released)
    for path, value in leaves(released):
        if isinstance(value, str) and (path[-1] in _FREE_TEXT or path[0] == "warnings"):
            problems += [f"{pointer(path)}: {p}"
                         for p in _context_problems(str(value), s, set())]
    for p in (released.get("disclosure") or {}).get("suppressed") or []:
        if _at(released, p) is not None:
            problems.append(f"{p}: listed as suppressed but holds a value")
    return problems


def assert_released(
    released: Mapping[str, Any], settings: DisclosureSettings | None = None
) -> None:
    """Raise :class:`DisclosureError` unless ``released`` may be published."""
    problems = find_release_problems(released, settings)
    if problems:
        raise DisclosureError("Results failed disclosure checks; do not publish them.",
                              problems=problems)


def _count_problems(path: Path, value: Any, s: DisclosureSettings) -> list[str]:
    where = pointer(path)
    if path[0] == "survival":
        return [f"{where}: numbers at risk are never released"]
    if not isinstance(value, int | float) or isinstance(value, bool):
        return [f"{where}: count is not a number"]
    out = []
    if value < s.min_count:
        out.append(f"{where}: count {value} below {s.min_count} released")
    if value % s.rounding_base:
        out.append(f"{where}: count {value} not rounded to {s.rounding_base}")
    return out


def _derived_problems(released: Mapping[str, Any], s: DisclosureSettings, slack: int):
    out: list[str] = []
    rows: list[tuple[Path, Mapping[str, Any]]] = [
        (("measures", k), m) for k, m in (released.get("measures") or {}).items()
        if isinstance(m, Mapping)]
    rows += [(("subgroups", i), r) for i, r in enumerate(released.get("subgroups") or [])
             if isinstance(r, Mapping)]
    for base, row in rows:
        shown_sides = []
        for side in _SIDES:
            deps = [f"{side}_n", f"{side}_events"]
            missing = [d for d in deps if row.get(d) is None]
            if row.get(side) is not None and missing:
                out.append(f"{pointer((*base, side))}: shown although {missing} hidden")
            shown_sides.append(not missing)
            n, ev = row.get(f"{side}_n"), row.get(f"{side}_events")
            if (s.suppress_complement and row.get("unit", "proportion") == "proportion"
                    and n is not None and ev is not None and n - ev < s.min_count - slack):
                out.append(f"{pointer(base)}: {side} non-events {n - ev} below {s.min_count}")
        if not all(shown_sides):
            out += [f"{pointer((*base, k))}: shown although a count it rests on is hidden"
                    for k in _PAIRED if row.get(k) is not None]
    return out


def _main_problems(released: Mapping[str, Any]) -> list[str]:
    """Sensitivity analyses re-estimate the headline rate: hidden with it."""
    main = (released.get("measures") or {}).get(REOFFENDER_MEASURE)
    if isinstance(main, Mapping) and main.get("difference") is not None:
        return []
    sens = released.get("sensitivity") or {}
    out = [f"/sensitivity/specifications/{i}/{k}"
           for i, r in enumerate(sens.get("specifications") or []) if isinstance(r, Mapping)
           for k in _PAIRED if r.get(k) is not None]
    out += [f"/sensitivity/{b}/{k}" for b in ("e_value", "rosenbaum")
            for k, v in (sens.get(b) or {}).items() if v is not None]
    return [f"{p}: shown although the headline difference is hidden" for p in out]


def _estimate_problems(released: Mapping[str, Any]) -> list[str]:
    """Estimates in their non-invertible form (``_coarsen``): rates equal the released events
    over the released group size, differences the difference of the released sides, limits on
    their step, p-values coarse, yes/no SMDs to one decimal, the share to 10%; a measure not
    reported and a one-level dimension carry no estimate; no dimension withholds exactly one
    level's estimate."""
    out: list[str] = []
    alpha = (released.get("power") or {}).get("alpha") or 0.05
    rows: list[tuple[Path, Mapping[str, Any], str]] = [
        (("measures", k), m, m.get("unit") or "proportion")
        for k, m in (released.get("measures") or {}).items() if isinstance(m, Mapping)]
    rows += [(("subgroups", i), r, "proportion")
             for i, r in enumerate(released.get("subgroups") or []) if isinstance(r, Mapping)]
    for base, row, unit in rows:
        where = pointer(base)
        if base[0] == "measures" and row.get("reported") is False:
            out += [f"{where}/{k}: shown although the measure is not reported"
                    for k in ("treatment", "comparison", *_PAIRED) if row.get(k) is not None]
        if unit in ("proportion", "per person"):
            for side in _SIDES:
                value = row.get(side)
                n, ev = row.get(f"{side}_n"), row.get(f"{side}_events")
                if value is not None and (n is None or ev is None or not n
                                          or abs(value - round(ev / n, RATE_DECIMALS)) > 1e-9):
                    out.append(f"{where}/{side}: not the released events over the released "
                               "group size")
        t, c, d = row.get("treatment"), row.get("comparison"), row.get("difference")
        if _num(t) and _num(c) and _num(d) and abs(d - (t - c)) > 1e-6:
            out.append(f"{where}/difference: not the difference of the released values")
        step = CI_STEP.get(unit, 0.01)
        lo, hi = row.get("ci_low"), row.get("ci_high")
        counts = [row.get(k) for k in ("treatment_events", "treatment_n", "comparison_events",
                                       "comparison_n")]
        if unit == "proportion" and (_num(lo) or _num(hi)):
            if not all(_num(v) for v in counts) or not counts[1] or not counts[3]:
                out.append(f"{where}: confidence limits without the released counts they "
                           "must be computed from")
            else:
                ratio = None if base[0] == "measures" else ess_ratio_of(
                    (released.get("measures") or {}).get(REOFFENDER_MEASURE))
                _, elo, ehi, ep = released_two_proportions(row, alpha, ratio)
                if abs(lo - round(elo, RATE_DECIMALS)) > 1e-9 or \
                        abs(hi - round(ehi, RATE_DECIMALS)) > 1e-9:
                    out.append(f"{where}: confidence limits not computed from the released "
                               "counts")
                if _num(row.get("p_value")) and abs(row["p_value"] - coarse_p(ep)) > 1e-12:
                    out.append(f"{where}/p_value: not computed from the released counts")
        elif _num(lo) and _num(hi):
            half = (hi - lo) / 2
            if abs(half / step - round(half / step)) > 1e-6:
                out.append(f"{where}: confidence limits' half width not rounded to {step:g}")
            if _num(d) and abs((lo + hi) / 2 - d) > 1e-6:
                out.append(f"{where}: confidence limits not centred on the released difference")
        for k in ("p_value", "p_adjusted"):
            v = row.get(k)
            if _num(v) and abs(coarse_p(v) - v) > 1e-12:
                out.append(f"{where}/{k}: more precise than released p-values may be")
    specs = (released.get("sensitivity") or {}).get("specifications") or []
    for i, r in enumerate(specs):
        if not isinstance(r, Mapping) or str(r.get("label", "")).startswith("Main analysis"):
            continue
        out += [f"/sensitivity/specifications/{i}/{k}: an interval or p-value of a "
                "specification without released counts" for k in ("ci_low", "ci_high", "p_value")
                if r.get(k) is not None]
        d = r.get("difference")
        if _num(d) and abs(d / SENSITIVITY_DIFF_STEP - round(d / SENSITIVITY_DIFF_STEP)) > 1e-6:
            out.append(f"/sensitivity/specifications/{i}/difference: not rounded to "
                       f"{SENSITIVITY_DIFF_STEP:g}")
    by_dim: dict[object, list[Mapping[str, Any]]] = {}
    for r in released.get("subgroups") or []:
        if isinstance(r, Mapping):
            by_dim.setdefault(r.get("dimension"), []).append(r)
    for dim, group in by_dim.items():
        if len(group) == 1 and any(group[0].get(k) is not None for k in
                                   ("treatment_n", "comparison_n", "difference")):
            out.append(f"/subgroups ({dim}): a dimension with one level is the total")
        withheld = sum(r.get("difference") is None for r in group)
        if withheld == 1 and len(group) > 1:
            out.append(f"/subgroups ({dim}): exactly one level's estimate withheld")
    for i, b in enumerate(released.get("balance") or []):
        if not isinstance(b, Mapping):
            continue
        binary = all(b.get(k) is None for k in ("variance_ratio_before", "variance_ratio_after"))
        places = SMD_DECIMALS["binary" if binary else "continuous"]
        for k in ("smd_before", "smd_after"):
            v = b.get(k)
            if _num(v) and round(v, places) != v:
                out.append(f"/balance/{i}/{k}: more than {places} decimals")
    share = (released.get("selective_sample") or {}).get("share_submitted")
    if _num(share) and abs(share / SHARE_STEP - round(share / SHARE_STEP)) > 1e-6:
        out.append("/selective_sample/share_submitted: not rounded to 10%")
    return out


def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _table_problems(released: Mapping[str, Any], s: DisclosureSettings) -> list[str]:
    if not s.secondary_suppression:
        return []
    tables = {f"/profile/{k}": list(v.values()) for k, v in
              (released.get("profile") or {}).items() if isinstance(v, Mapping)}
    tables["/exclusions"] = list((released.get("exclusions") or {}).values())
    return [f"{name}: exactly one cell hidden beside a published total"
            for name, cells in tables.items()
            if sum(c is None for c in cells) == 1 and len(cells) > 1]


def _at(tree: Any, ptr: str) -> Any:
    """The value at an RFC 6901 pointer, or None when absent."""
    node = tree
    for raw in ptr.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
    return node


# --- released text -------------------------------------------------------------------------------

_NUM = r"(?<![\w.,\-/:])(\d{1,3}(?:,\d{3})+|\d+)(?!\w|[.,:]\d|[\-/]\d)"
_PEOPLE = (r"\s+(?:people|persons|participants|offenders|re-?offenders|men|women|individuals|"
           r"rows|records|cases)\b(?!\s+(?:per|in|out of|in every|for every)\s+100\b)")
_CONTEXTS = (
    # "fewer than 10 people" states a threshold, not a count
    re.compile(r"(?<!fewer than )(?<!less than )(?<!at least )(?<!more than )(?<!under )"
               + _NUM + _PEOPLE, re.I),
    re.compile(r"\bn\s*[=:]\s*" + _NUM, re.I),
)
_CELL = re.compile(r"<t[dh][^>]*>\s*" + _NUM + r"\s*</t[dh]>", re.I)
#: Numbers that are not counts: dates as the report writes them ("31 December 2018",
#: "2018-12-31", "31/12/2018") and the PDF's page numbers ("Page 13 of 18").
# Embedded images (the report's charts): their base64 text holds digit runs that are no numbers.
_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+")
_NOT_COUNTS = re.compile(
    r"\b\d{1,2}\s+(?:January|February|March|April|May|June|July|August|September|October|"
    r"November|December)\s+\d{4}\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{4}\b"
    r"|\bPage \d+ of \d+\b")


def check_released_text(text: str, released: Released) -> list[str]:
    """Numbers in a rendered released file (HTML, PDF text, JSON) that look like counts breaking
    the rules: a small or unrounded number beside a people word, after ``n =``, alone in a table
    cell or after a category label of a released table; or any raw count's exact value where
    only its rounded value was released. Heuristic: an empty list is necessary, not sufficient
    (the guarantee is that the report reads only ``released.results``)."""
    s = released.settings
    results = released.results
    text = _DATA_URI.sub(" ", text)
    allowed = _non_count_numbers(results, renderings=False)
    rendered = _non_count_numbers(results, renderings=True)
    # Lab wording built from estimates ("could be lower by between 3 and 12 people") is released
    # as it is: blank it out where the text quotes it verbatim, then judge what is left.
    text_wo_derived = _blank(text, _strings_in(results, Kind.DERIVED))
    found = dict.fromkeys(_context_problems(text_wo_derived, s, allowed,
                                            _labels(results) | _count_keys()))
    # A bare number in a table cell may be an estimate shown rounded (148 days).
    cells = {v for v in rendered if v >= 0}
    for m in _CELL.finditer(text_wo_derived):
        n = int(m.group(1).replace(",", ""))
        if (n < s.min_count or n % s.rounding_base) and n not in cells:
            found.setdefault(f"{m.group(1)} (alone in a table cell)")
    raws = {int(a.raw) for a in released.audit
            if a.kind == Kind.COUNT and isinstance(a.raw, int | float)
            and not isinstance(a.raw, bool) and a.raw == int(a.raw) and a.raw >= s.min_count
            and (a.action == "suppressed" or a.raw % s.rounding_base)}
    # A released count may equal another count's hidden exact value (a one-level sub-group's
    # comparison group is the whole comparison group): the number is then in the text because
    # it was released, and says nothing more.
    released_counts = {int(v) for path, v in leaves(results)
                       if isinstance(v, int | float) and not isinstance(v, bool)
                       and v == int(v) and kind_of(path, RELEASED_SCHEMA) is Kind.COUNT}
    for m in re.finditer(_NUM, _NOT_COUNTS.sub(" ", _blank(text, _strings_in(results, None)))):
        n = int(m.group(1).replace(",", ""))
        if n in raws and n not in rendered and -n - 1 not in rendered \
                and n not in released_counts:
            found.setdefault(f"{m.group(1)} (the exact value of a count that was rounded or "
                             "hidden)")
    return list(found)


def _strings_in(results: Mapping[str, Any], kind: Kind | None) -> set[str]:
    """Released text values (of one kind, or of any kind and every key of every object)."""
    out = {v for path, v in leaves(results) if isinstance(v, str) and v.strip()
           and (kind is None or kind_of(path, RELEASED_SCHEMA) is kind)}
    if kind is None:
        out |= {k for k in _all_keys(results) if k.strip()}
    return out


def _all_keys(node: Any) -> set[str]:
    if isinstance(node, Mapping):
        return {str(k) for k in node} | {k for v in node.values() for k in _all_keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _all_keys(v)}
    return set()


def _blank(text: str, strings: set[str]) -> str:
    """``text`` with every verbatim (or HTML-escaped, or JSON-escaped) occurrence of
    ``strings`` replaced by a space, longest first."""
    for value in sorted(strings, key=len, reverse=True):
        escaped = html.escape(value)
        # Jinja's autoescape writes ' as &#39; where Python's html.escape writes &#x27;
        for form in {value, escaped, escaped.replace("&#x27;", "&#39;"),
                     html.escape(value, quote=False),
                     json.dumps(value, ensure_ascii=False)[1:-1]}:
            # the substring test is what re.sub would find first, at a fraction of the cost (a
            # report's HTML is ~600 kB with its charts; most strings are not in it)
            if form in text:
                text = re.sub(r"(?<!\w)" + re.escape(form) + r"(?!\w)", " ", text)
    return text


def _context_problems(
    text: str, s: DisclosureSettings, allowed: set[int], labels: set[str] = frozenset()
) -> list[str]:
    """Small or unrounded numbers in count contexts of ``text`` (see check_released_text)."""
    found: dict[str, None] = {}

    def judge(token: str, why: str) -> None:
        n = int(token.replace(",", ""))
        if (n < s.min_count or n % s.rounding_base) and n not in allowed:
            found.setdefault(f"{token} ({why})")

    for pattern in _CONTEXTS:
        for m in pattern.finditer(text):
            judge(m.group(1), f"count context: {m.group(0).strip()!r}")
    for label in labels:
        for m in re.finditer(r"(?<![\w-])" + re.escape(label) + r"[\"']?\s*[:|]?\s*" + _NUM,
                             text):
            judge(m.group(1), f"after the label {label!r}")
    return list(found)


def _non_count_numbers(results: Mapping[str, Any], *, renderings: bool) -> set[int]:
    """Whole numbers a text may show because they are a released value that is not a count (a
    ratio of 1, a seed). With ``renderings``, also each estimate rounded or truncated (148.3
    days as 148: as ``n``) and per 100 (a difference of -0.14 as "14 in every 100": as
    ``-n - 1``, so the two kinds stay apart in one set of ints)."""
    out: set[int] = set()
    for path, value in leaves(results):
        kind = kind_of(path, RELEASED_SCHEMA)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        if kind in (Kind.STATISTIC, Kind.META) and value == int(value):
            out.add(int(value))
        if renderings and kind in (Kind.STATISTIC, Kind.DERIVED) and math.isfinite(value):
            v = abs(value)
            out |= {round(v), math.floor(v), math.ceil(v)}
            out |= {-k - 1 for k in (round(v * 100), math.floor(v * 100), math.ceil(v * 100))}
    return out


def _count_keys() -> set[str]:
    """Names of count fields (``treatment_events``, ``n``...), which label counts in JSON text."""
    keys = {spec.parts[-1] for spec in SCHEMA if spec.kind is Kind.COUNT}
    return {k for k in keys if k not in ("*", "[]")}


def _labels(results: Mapping[str, Any]) -> set[str]:
    """Category labels of released count tables (profile, exclusions, attrition steps)."""
    labels = {k for t in (results.get("profile") or {}).values() if isinstance(t, Mapping)
              for k in t}
    labels |= set(results.get("exclusions") or {})
    labels |= {r.get("step") for r in results.get("attrition") or [] if isinstance(r, Mapping)}
    return {x for x in labels if isinstance(x, str) and x.strip()}

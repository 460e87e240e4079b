"""``release``: turn lab-internal raw results into the only results anything may publish.

Order of work (each step documented in docs/disclosure-control.md):

1. refuse individual-level rows, an already-released dict, undeclared fields and wrong types;
2. primary suppression: counts below ``min_count``; for proportions, events whose complement
   ``n - events`` is below ``min_count`` (100% cells);
3. secondary suppression in tables with a published total, and the same hiding for the same
   number elsewhere in the same family of counts (e.g. an exclusion and ``counts``), repeated
   until nothing changes;
4. derived values (rates, means, differences, CIs, p-values, wording) built on a hidden count
   are hidden; survival points with too few people at risk are dropped;
5. every count still shown is rounded to ``rounding_base``;
6. a ``disclosure`` block lists the rules, the hidden paths and plain-English notes, and the
   result is re-checked by :func:`find_release_problems` before it is returned.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from jdl.core.config import DisclosureSettings
from jdl.disclosure._coarsen import coarsen
from jdl.disclosure._errors import DisclosureError
from jdl.disclosure._released import Action, Released, Rule, refuse_individual_level
from jdl.disclosure._rules import complement_small, is_small, released_count, secondary_cells
from jdl.disclosure._schema import (
    REOFFENDER_DEPENDENT,
    REOFFENDER_MEASURE,
    REOFFENDER_POPULATION,
    TOP_LEVEL_COUNTS,
    Kind,
    Path,
    get,
    kind_of,
    leaves,
    pointer,
    set_,
    shape_problems,
)

_DERIVED_ALL = ("difference", "ci_low", "ci_high", "p_value", "p_adjusted", "significant",
                "conclusion", "direction", "required_n", "se")
_SIDES = ("treatment", "comparison")


def _type_problem(kind: Kind, value: object) -> str | None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if value is None:
        return None
    if kind is Kind.COUNT:
        if not number:
            return f"expected a count, found {type(value).__name__}"
        if not math.isfinite(value) or value < 0:
            return f"expected a count, found {value!r}"
    elif kind is Kind.STATISTIC and not number:
        return f"expected a number, found {type(value).__name__}"
    elif kind is Kind.LABEL and not isinstance(value, str):
        return f"expected text, found {type(value).__name__}"
    elif kind is Kind.FLAG and not isinstance(value, bool):
        return f"expected true/false, found {type(value).__name__}"
    elif kind in (Kind.DERIVED, Kind.META) and not (number or isinstance(value, str | bool)):
        return f"expected a scalar, found {type(value).__name__}"
    return None


# --- the release ---------------------------------------------------------------------------------

class _Run:
    """State of one release; methods are the steps, in order."""

    def __init__(self, raw: dict[str, Any], settings: DisclosureSettings):
        self.s = settings
        self.data = copy.deepcopy(raw)
        self.kinds: dict[Path, Kind] = {}
        self.hidden: dict[Path, Rule] = {}  # counts hidden, with the rule that hid them
        self.nulled: dict[Path, Rule] = {}  # other values released as null
        self.dropped: list[Action] = []
        self.survival_values: dict[tuple[str, int], float] = {}
        self.audit: list[Action] = []

    # step 1
    def classify(self) -> None:
        unknown, problems = [], []
        for path, value in leaves(self.data):
            kind = kind_of(path)
            if kind is None:
                unknown.append(path)
                continue
            problem = _type_problem(kind, value)
            if problem:
                problems.append(f"{pointer(path)}: {problem}")
            elif isinstance(value, float) and not math.isfinite(value):
                self.nulled[path] = "not_finite"
            self.kinds[path] = kind
        if problems:
            raise DisclosureError("Some results fields have the wrong type.", problems=problems)
        if unknown and self.s.unknown_fields == "refuse":
            raise DisclosureError(
                "The results contain fields the disclosure schema does not declare.",
                problems=[pointer(p) for p in unknown],
                hint="Declare each field's kind in jdl/disclosure/_schema.py (SCHEMA), or set "
                     "JDL_DISCLOSURE__UNKNOWN_FIELDS=suppress to release them as null.")
        for path in unknown:
            self.nulled[path] = "unknown_field"

    def counts(self) -> dict[Path, float]:
        return {p: get(self.data, p) for p, k in self.kinds.items()
                if k is Kind.COUNT and get(self.data, p) is not None and p[0] != "survival"}

    # step 2
    def primary(self) -> None:
        for path, n in self.counts().items():
            if is_small(n, self.s.min_count):
                self.hidden[path] = "primary"
        if not self.s.suppress_complement:
            return
        for base in self._proportion_rows():
            for side in _SIDES:
                n, ev = (*base, f"{side}_n"), (*base, f"{side}_events")
                if (self._num(n) is not None and self._num(ev) is not None
                        and complement_small(self._num(n), self._num(ev), self.s.min_count)
                        and ev not in self.hidden):
                    self.hidden[ev] = "complement"

    def _proportion_rows(self):
        for name, m in (self.data.get("measures") or {}).items():
            if isinstance(m, dict) and m.get("unit") == "proportion":
                yield ("measures", name)
        for i, row in enumerate(self.data.get("subgroups") or []):
            if isinstance(row, dict):
                yield ("subgroups", i)

    def _num(self, path: Path) -> float | None:
        try:
            value = get(self.data, path)
        except (KeyError, IndexError, TypeError):
            return None
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    # step 3
    def secondary(self) -> None:
        """Secondary suppression (if enabled) and consistency (always), to a fixed point."""
        counts = self.counts()
        family = {p: self._family(p) for p in counts}
        tables = self._tables(counts) if self.s.secondary_suppression else []
        small = {p for p, rule in self.hidden.items() if rule in ("primary", "complement")}
        self._one_level_dimensions(counts)
        while True:
            changed = self._follow_headline(counts)
            for cells in tables:
                extra = secondary_cells([(p, counts[p]) for p in cells], set(self.hidden),
                                        self.s.min_count, small)
                for p in extra:
                    self.hidden[p] = "secondary"
                    changed = True
            for p, rule in list(self.hidden.items()):
                if rule == "primary" or p not in counts:
                    continue
                for q in counts:
                    if (q not in self.hidden and family[q] == family[p] and family[q]
                            and counts[q] == counts[p]):
                        self.hidden[q] = "consistency"
                        changed = True
            if not changed:
                return

    def _tables(self, counts: dict[Path, float]) -> list[list[Path]]:
        """Groups of counts that add up to a published total (docs: which and why)."""
        tables: list[list[Path]] = []
        for dim in self.data.get("profile") or {}:
            tables.append([p for p in counts if p[:2] == ("profile", dim) and len(p) == 3])
        tables.append([p for p in counts if p[0] == "exclusions"])
        tables += self._partitions(counts)
        rows = self.data.get("subgroups") or []
        for dim in dict.fromkeys(r.get("dimension") for r in rows if isinstance(r, dict)):
            for col in ("treatment_n", "comparison_n", "treatment_events", "comparison_events"):
                tables.append([p for p in counts if p[0] == "subgroups" and p[2] == col
                               and rows[p[1]].get("dimension") == dim])
        return [t for t in tables if t]

    def _partitions(self, counts: dict[Path, float]) -> list[list[Path]]:
        """Measures of one ``partition`` split the same people (the tier of the first
        re-offence: its events add up to the re-offenders, a released total), so each side's
        events are a table: one hidden cell would be its total minus the others."""
        parts: dict[object, list[str]] = {}
        for name, m in (self.data.get("measures") or {}).items():
            if isinstance(m, dict) and m.get("partition"):
                parts.setdefault(m["partition"], []).append(name)
        return [[("measures", name, f"{side}_events") for name in names
                 if ("measures", name, f"{side}_events") in counts]
                for names in parts.values() for side in _SIDES]

    def _dimensions(self) -> dict[object, list[int]]:
        """Sub-group rows by dimension (row indexes, in table order)."""
        out: dict[object, list[int]] = {}
        for i, row in enumerate(self.data.get("subgroups") or []):
            if isinstance(row, dict):
                out.setdefault(row.get("dimension"), []).append(i)
        return out

    def _one_level_dimensions(self, counts: dict[Path, float]) -> None:
        """A dimension with one level (with people in it) is the whole group: its row would
        publish the headline again, unsuppressed when the headline is hidden. All its counts
        are hidden (the derived step then hides its estimates)."""
        for rows in self._dimensions().values():
            levels = [i for i in rows if (self._num(("subgroups", i, "treatment_n")) or 0) > 0]
            if len(levels) <= 1:
                for p in counts:
                    if p[0] == "subgroups" and p[1] in rows and p not in self.hidden:
                        self.hidden[p] = "one_level"
        # likewise a profile table with one category: "all of them" is a 100% cell
        for dim in self.data.get("profile") or {}:
            shown = [p for p in counts if p[:2] == ("profile", dim) and counts[p] > 0]
            if len(shown) == 1 and shown[0] not in self.hidden:
                self.hidden[shown[0]] = "one_level"

    def _follow_headline(self, counts: dict[Path, float]) -> bool:
        """Sub-group events add up to the headline's: when a side of the headline rate has a
        hidden count, every sub-group count of that side's events is hidden too."""
        changed = False
        for side in _SIDES:
            head = [("measures", REOFFENDER_MEASURE, f"{side}_{k}") for k in ("n", "events")]
            headline_missing = (self.data.get("measures") or {}).get(REOFFENDER_MEASURE) is None
            if headline_missing or any(p in self.hidden for p in head):
                for p in counts:
                    if (p[0] == "subgroups" and p[2] == f"{side}_events"
                            and p not in self.hidden):
                        self.hidden[p] = "headline_hidden"
                        changed = True
        return changed

    def _family(self, path: Path) -> str:
        """Counts in one family may be the same quantity published twice; hiding one hides
        every count of the family with the same value."""
        head = path[0]
        if head in ("counts", "exclusions", "attrition", "matching", "selective_sample",
                    "power", "programme") or (len(path) == 1 and head in TOP_LEVEL_COUNTS):
            return "flow"
        if head == "measures" and self._own_events(path):
            return f"measures:{path[1]}"
        if head in ("measures", "sensitivity"):
            return "measures"
        if head == "profile":
            return f"profile:{path[1]}"
        if head == "subgroups":
            return f"profile:{self.data['subgroups'][path[1]].get('dimension')}"
        return ""

    def _own_events(self, path: Path) -> bool:
        """The events of a re-offender measure (people or re-offences counted among the
        re-offenders: a tier, custody, a change of offence type) are a quantity of their own,
        published once: no other count is the same quantity, so a hidden one hides no other
        count that merely has the same value (its group size, the re-offenders, stays in the
        measures' family with the headline's events)."""
        m = (self.data.get("measures") or {}).get(path[1]) if len(path) == 3 else None
        return (isinstance(m, dict) and str(path[2]).endswith("_events")
                and m.get("population") == REOFFENDER_POPULATION
                and m.get("unit") in ("proportion", "per person"))

    # step 4
    def derived(self) -> None:
        measures = self.data.get("measures") or {}
        side_hidden: dict[str, dict[str, bool]] = {}
        for name, m in measures.items():
            if isinstance(m, dict):
                not_reported = m.get("reported") is False
                side_hidden[name] = {s: not_reported or self._side_hidden(("measures", name), s)
                                     for s in _SIDES}
        main = side_hidden.get(REOFFENDER_MEASURE, {s: True for s in _SIDES})
        for name, m in measures.items():
            if not isinstance(m, dict):
                continue
            sides = dict(side_hidden[name])
            if (name in REOFFENDER_DEPENDENT  # built from the re-offenders
                    or m.get("population") == REOFFENDER_POPULATION):
                sides = {s: sides[s] or main[s] for s in _SIDES}
            if any(sides.values()):  # a measure not reported carries no estimate anywhere
                sides = {s: True for s in _SIDES}
            side_hidden[name] = sides
            self._hide_row(("measures", name), m, sides)
        main = side_hidden.get(REOFFENDER_MEASURE, main)
        main_diff = main["treatment"] or main["comparison"]
        self._subgroup_estimates(main_diff)
        specs = (self.data.get("sensitivity") or {}).get("specifications") or []
        for i, row in enumerate(specs):
            base = ("sensitivity", "specifications", i)
            self._hide_row(base, row, {s: main_diff or self._side_hidden(base, s, False)
                                       for s in _SIDES})
        for block in ("e_value", "rosenbaum"):
            for key in (self.data.get("sensitivity") or {}).get(block) or {}:
                if main_diff:
                    self._null(("sensitivity", block, key))
        power = self.data.get("power") or {}
        if main["comparison"]:
            for key in ("base_rate", "mde"):
                if key in power:
                    self._null(("power", key))
        if main_diff and "required_n_for_observed" in power:
            self._null(("power", "required_n_for_observed"))
        self._survival(main, measures.get(REOFFENDER_MEASURE) or {})

    def _subgroup_estimates(self, main_diff: bool) -> None:
        """A sub-group estimate needs what the headline needs: both sides' group sizes and events
        shown (events and non-events at least ``min_count``: the primary and complement rules
        on the row's counts), and the headline difference itself shown. When some level of a
        dimension carries no estimate, the estimate of the smallest other level is withheld
        too, until at least two are (else the hidden one is rebuilt by subtraction from the
        headline)."""
        rows = self.data.get("subgroups") or []
        withheld: dict[int, bool] = {}
        for i, row in enumerate(rows):
            if isinstance(row, dict):
                base = ("subgroups", i)
                withheld[i] = (main_diff or row.get("difference") is None
                               or any(self._side_hidden(base, s) for s in _SIDES))
        for idx in self._dimensions().values():
            shown = sorted((i for i in idx if not withheld[i]),
                           key=lambda i: self._num(("subgroups", i, "treatment_n")) or 0)
            while shown and (len(idx) - len(shown)) in range(1, 2):
                withheld[shown.pop(0)] = True
        for i, row in enumerate(rows):
            if isinstance(row, dict) and withheld[i]:
                self._hide_row(("subgroups", i), row, {s: True for s in _SIDES})

    def _side_hidden(self, base: Path, side: str, need_events: bool = True) -> bool:
        """True when a side's estimate rests on a hidden count, or on no count at all."""
        paths = [(*base, f"{side}_n")]
        if need_events or self._num((*base, f"{side}_events")) is not None:
            paths.append((*base, f"{side}_events"))
        return any(p in self.hidden or self._num(p) is None for p in paths)

    def _hide_row(self, base: Path, row: dict[str, Any], sides: dict[str, bool]) -> None:
        for side in _SIDES:
            if sides[side] and side in row:
                self._null((*base, side))
        if sides["treatment"] or sides["comparison"]:
            hid_any = False
            for key in _DERIVED_ALL:
                if key in row:
                    hid_any |= self._null((*base, key))
            if base[0] == "subgroups" and hid_any and row.get("reason_not_reported") is None:
                row["reason_not_reported"] = "Not shown to protect confidentiality."
            if base[0] == "measures" and (hid_any or row.get("reported")):
                if row.get("reported"):
                    row["reported"] = False
                if row.get("reason_not_reported") is None:
                    row["reason_not_reported"] = self._hidden_reason(base)

    def _hidden_reason(self, base: Path) -> str:
        """Why a measure's numbers are withheld: its own small count, or (a tier of a
        partition hidden with a small one) another figure of its table."""
        rules = {rule for p, rule in self.hidden.items() if p[:2] == base}
        if rules and rules <= {"secondary"}:
            return ("Not shown to protect confidentiality: another figure in the same table is "
                    f"based on fewer than {self.s.min_count} people.")
        return ("Not shown to protect confidentiality: based on fewer than "
                f"{self.s.min_count} people.")

    def _null(self, path: Path) -> bool:
        if get(self.data, path) is None:
            return False
        self.nulled.setdefault(path, "derived")
        return True

    def _survival(self, main: dict[str, bool], rate: dict[str, Any]) -> None:
        """Decide each curve point. A point is shown only when (a) the arm's headline rate is
        shown (the curve's end is that rate), (b) at least ``min_at_risk`` people are still at
        risk, and (c) the people who have re-offended by then are none at day 0, or at least
        ``min_count``; its proportion is then recomputed from the rounded numbers of people
        (OpenSAFELY's approach to Kaplan-Meier curves), so the exact counts cannot be read
        back from it."""
        curves = self.data.get("survival")
        if not isinstance(curves, dict):
            return
        s = self.s
        for arm, points in curves.items():
            side = arm if arm in _SIDES else None
            n = rate.get(f"{side}_n") if side else None
            ev = rate.get(f"{side}_events") if side else None
            floor = n - ev if n is not None and ev is not None else None  # no censoring
            first = points[0].get("n_at_risk") if points and points[0].get("day") == 0 else None
            n0 = first if first is not None else n
            last_gone = 0  # re-offenders at the last point shown (none at the start)
            for i, point in enumerate(points):
                where = pointer(("survival", arm, i))
                at_risk = point.get("n_at_risk", floor)
                surv = point.get("proportion_not_reoffended")
                rule: Rule | None = None
                if (side and main[side]) or at_risk is None or at_risk < s.min_at_risk:
                    rule = "survival_at_risk"
                elif surv is not None and isinstance(surv, int | float):
                    if n0 is None or n0 < s.min_count:
                        rule = "survival_at_risk"
                    else:
                        gone = round(n0 * (1 - surv))
                        if gone == 0 and point.get("day") == 0:
                            self.survival_values[(arm, i)] = 1.0
                        elif (gone < s.min_count or gone - last_gone < s.min_count
                              or (ev is not None and 0 < ev - gone < s.min_count)):
                            # a step between two points shown (or to the curve's end, the
                            # released rate) of 1-9 people is a small count: drop the point
                            rule = "survival_events"
                        else:
                            last_gone = gone
                            shown = 1 - (released_count(gone, s.min_count, s.rounding_base)
                                         / released_count(n0, s.min_count, s.rounding_base))
                            self.survival_values[(arm, i)] = round(max(shown, 0.0), 4)
                if rule:
                    self.dropped.append(Action(where, "dropped", rule, copy.deepcopy(point)))

    def _drop_survival_points(self) -> None:
        """Remove dropped points (after nulling, which addresses points by their raw index) and
        every ``n_at_risk``: the number at risk decides, it is never released."""
        curves = self.data.get("survival")
        if not isinstance(curves, dict):
            return
        gone = {a.path for a in self.dropped}
        for arm, points in curves.items():
            for i, p in enumerate(points):
                value = self.survival_values.get((arm, i))
                if value is not None and value != p.get("proportion_not_reoffended"):
                    where = pointer(("survival", arm, i, "proportion_not_reoffended"))
                    self.audit.append(Action(where, "rounded", "rounding",
                                             p["proportion_not_reoffended"], value, Kind.DERIVED))
                    p["proportion_not_reoffended"] = value
            curves[arm] = [
                {k: v for k, v in p.items() if k != "n_at_risk"}
                for i, p in enumerate(points) if pointer(("survival", arm, i)) not in gone]

    # step 5 and 6
    def apply(self) -> dict[str, Any]:
        for path, rule in {**self.nulled, **self.hidden}.items():
            self.audit.append(Action(pointer(path), "suppressed", rule, get(self.data, path),
                                     kind=self.kinds.get(path)))
        for path in [*self.hidden, *self.nulled]:
            set_(self.data, path, None)
        for path, n in self.counts().items():
            r = released_count(n, self.s.min_count, self.s.rounding_base)
            if r != n or not isinstance(n, int):
                self.audit.append(Action(pointer(path), "rounded", "rounding", n, r, Kind.COUNT))
            set_(self.data, path, r)
        self._drop_survival_points()
        self._coarsen()
        self._dose_response()
        self.audit.extend(self.dropped)
        self.data["disclosure"] = {
            # the decision's secret key is the lab's, never released
            "rules": self.s.model_dump(mode="json", exclude={"decision_key"}),
            "suppressed": sorted(a.path for a in self.audit if a.action == "suppressed"),
            "dropped": [a.path for a in self.dropped],
            "notes": self._notes(),
        }
        return self.data

    def _coarsen(self) -> None:
        """Estimates recomputed from the released counts or rounded so they cannot be inverted
        (``_coarsen``); each changed value is audited."""
        before = dict(leaves(self.data))
        coarsen(self.data, base=self.s.rounding_base)
        for path, value in leaves(self.data):
            old = before.get(path)
            if value != old and path[0] != "survival":
                self.audit.append(Action(pointer(path), "rounded", "coarsened", old, value,
                                         kind_of(path)))

    def _dose_response(self) -> None:
        """The registered dose-response trend, recomputed from its bands' released estimates
        (after coarsening, so it is no more exact than they are); withheld when any band's
        estimate is, else the hidden band could be estimated back from the trend."""
        from types import SimpleNamespace

        from jdl.disclosure._coarsen import RATE_DECIMALS, coarse_p
        from jdl.inference import dose_trend

        dose = (self.data.get("registration") or {}).get("dose_response")
        if not isinstance(dose, dict):
            return
        bands = [r for r in self.data.get("subgroups") or []
                 if isinstance(r, dict) and r.get("registered")
                 and r.get("dimension") == dose.get("variable")]
        alpha = (self.data.get("power") or {}).get("alpha") or 0.05
        trend = None
        if bands and all(r.get("difference") is not None for r in bands):
            trend = dose_trend(str(dose.get("variable")),
                               [SimpleNamespace(**r) for r in bands], alpha)  # type: ignore[misc]
        for key in ("slope", "ci_low", "ci_high", "p_value"):
            old = dose.get(key)
            new = getattr(trend, key, None) if trend is not None else None
            if new is not None:
                new = coarse_p(new) if key == "p_value" else round(new, RATE_DECIMALS)
            if new != old:
                dose[key] = new
                self.audit.append(Action(pointer(("registration", "dose_response", key)),
                                         "suppressed" if new is None else "rounded",
                                         "derived" if new is None else "coarsened", old, new,
                                         Kind.DERIVED))
        if "bands" in dose:  # the bands it rests on as released, not before disclosure
            dose["bands"] = sum(r.get("difference") is not None for r in bands)
        if trend is None:
            dose["reason_not_reported"] = ("Not shown: it rests on a dosage band whose "
                                           "estimate is not shown.")
        elif trend.reason_not_reported:
            dose["reason_not_reported"] = trend.reason_not_reported

    def _notes(self) -> list[str]:
        rules = {a.rule for a in self.audit}
        s = self.s
        notes = [f"To protect the people in this report, numbers of people below {s.min_count} "
                 f"are not shown, and other numbers of people are rounded to the nearest "
                 f"{s.rounding_base}. Totals may therefore differ from the sum of their parts."]
        if rules & {"secondary", "consistency"}:
            notes.append("Some larger numbers are also not shown, so that a hidden number cannot "
                         "be worked out from a total.")
        if rules & {"complement", "derived"}:
            notes.append(f"Rates and estimates are not shown where fewer than {s.min_count} "
                         "people had, or did not have, the outcome.")
        if rules & {"survival_at_risk", "survival_events"}:
            notes.append(f"Points on the re-offending curves are not shown where fewer than "
                         f"{s.min_at_risk} people were still being followed, or fewer than "
                         f"{s.min_count} had re-offended; the curves are drawn from rounded "
                         "numbers of people.")
        if "coarsened" in rules:
            notes.append("Rates are calculated from the rounded numbers of people, and other "
                         "estimates are rounded, so that exact numbers of people cannot be "
                         "worked out from them.")
        if rules & {"unknown_field", "not_finite"}:
            notes.append("Some other values are not shown because they could not be checked.")
        return notes


def release(raw: dict[str, Any], settings: DisclosureSettings | None = None) -> Released:
    """Apply statistical disclosure control to raw (lab-internal) results.

    Parameters
    ----------
    raw
        The pipeline's raw results dict (``tests/fixtures/raw_results_example.json`` shape).
    settings
        ``DisclosureSettings``; defaults: ONS 10-5 rule (suppress < 10, round to 5).

    Returns
    -------
    Released
        The released dict (hidden values None, a ``disclosure`` block added) and an audit.

    Raises
    ------
    DisclosureError
        Individual-level fields, an already released dict, undeclared fields (by default),
        wrong types.
    """
    from jdl.disclosure._check import find_release_problems

    settings = settings or DisclosureSettings()
    if not isinstance(raw, dict):
        raise DisclosureError(f"Raw results must be a dict, not {type(raw).__name__}.")
    refuse_individual_level(raw)
    shape = shape_problems(raw)
    if shape:
        raise DisclosureError("Some results blocks have the wrong shape.", problems=shape)
    if "disclosure" in raw:
        raise DisclosureError("These results have already been through disclosure control.",
                              hint="Release the raw results once; never release released ones.")
    run = _Run(raw, settings)
    run.classify()
    run.primary()
    run.secondary()
    run.derived()
    data = run.apply()
    problems = find_release_problems(data, settings)
    if problems:  # a bug in the rules above: refuse rather than publish
        raise DisclosureError("Released results failed their own check; nothing released.",
                              problems=problems)
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    return Released(results_json=text, audit=tuple(run.audit), settings=settings)

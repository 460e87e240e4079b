"""The lab's effect estimates on matched data, with its reporting rules and wording.

Measures (MoJ Justice Data Lab, one-year proven re-offending): the re-offending **rate** (a
proportion) and the **frequency** of re-offences (per person), both *worded* per 100 people, and
the mean **days** to first re-offence, compared among re-offenders only. Values are in natural
units; only the wording scales them. Rules (``InferenceSettings``; method notes):

* a difference is statistically significant when ``p <= alpha`` (0.05) *and* at least
  ``min_treated_reoffenders`` (30) people in the treatment group re-offended *and*, for the
  rate, the normal approximation holds (``n p >= 10`` and ``n (1 - p) >= 10`` in the treatment
  group);
* days to first re-offence is not reported as a headline with fewer than 30 treated
  re-offenders;
* inconclusive results say there is insufficient evidence, that this does not mean the
  programme has no effect, and give the sample size needed to detect the observed difference.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from jdl.core.config import InferenceSettings
from jdl.inference._adjusted import (
    MIN_EVENTS_PER_PARAMETER,
    AdjustedEstimate,
    adjusted_difference,
    covariate_matrix,
)
from jdl.inference._errors import InferenceError
from jdl.inference._estimate import (
    DiffEstimate,
    clusters_for,
    weighted_count,
    weighted_difference,
)
from jdl.inference._power import required_n

Kind = Literal["rate", "frequency", "days", "mean"]

DEFAULT_OUTCOMES: dict[str, Kind] = {
    "reoffended": "rate", "reoffences": "frequency", "days_to_first": "days"}

_LABELS = {"rate": "proven re-offending rate",
           "frequency": "frequency of proven re-offences",
           "days": "days to first proven re-offence (re-offenders only)"}
_SCALE = {"rate": 100.0, "frequency": 100.0, "days": 1.0, "mean": 1.0}
_UNIT = {"rate": "people", "frequency": "re-offences", "days": "days", "mean": ""}
_WHAT = {"rate": "the number of people who commit a proven re-offence within one year",
         "frequency": "the number of proven re-offences committed within one year",
         "days": "the average time to first proven re-offence among those who re-offend"}


@dataclass(frozen=True)
class MeasureEffect:
    """One measure's estimate, its significance under the lab's rules, and the wording.

    Natural units: rates are proportions, frequencies re-offences per person, days are days.
    ``difference`` is treatment minus comparison; ``ci_low``/``ci_high`` is its confidence
    interval. ``treatment_events``/``comparison_events`` count the outcome in each group (the
    comparison group's weighted and rounded); for days and means they are the group sizes.
    """

    measure: str
    kind: str
    label: str
    treatment_value: float
    comparison_value: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    significant: bool
    direction: Literal["increase", "decrease", "inconclusive"]
    conclusion: str
    n_treated: int
    n_comparison: int
    n_treated_reoffenders: int
    suppressed: bool
    required_n: int | None
    se: float
    vcov_type: str
    notes: tuple[str, ...] = ()
    treatment_events: int = 0
    comparison_events: int = 0
    #: Kish's effective size of the weighted comparison group, ``(sum w)^2 / sum w^2``: the
    #: number of equally weighted people it is worth (below ``n_comparison`` when weights vary,
    #: as with matching with replacement or subclasses)
    comparison_ess: float = 0.0
    #: 1 - alpha intervals of each group's value (the treatment and comparison means)
    treatment_ci: tuple[float, float] = (float("nan"), float("nan"))
    comparison_ci: tuple[float, float] = (float("nan"), float("nan"))


@dataclass(frozen=True)
class EffectsResult:
    """All measures for one evaluation; ``to_frame()`` for tables, ``summary()`` for text."""

    effects: tuple[MeasureEffect, ...]
    alpha: float
    settings: InferenceSettings = field(repr=False, default_factory=InferenceSettings)

    def __getitem__(self, measure: str) -> MeasureEffect:
        for e in self.effects:
            if e.measure == measure:
                return e
        raise KeyError(measure)

    def to_frame(self) -> pd.DataFrame:
        """One row per measure (the report and disclosure stages consume this)."""
        rows = [{k: v for k, v in e.__dict__.items() if k != "notes"} for e in self.effects]
        return pd.DataFrame(rows).set_index("measure")

    def summary(self) -> str:
        lines = []
        for e in self.effects:
            unit = " per 100 people" if e.kind in ("rate", "frequency") else (
                " days" if e.kind == "days" else "")
            s = _SCALE.get(e.kind, 1.0)
            lines.append(
                f"{e.label}: treatment {e.treatment_value * s:.2f}, comparison "
                f"{e.comparison_value * s:.2f}{unit}; difference {e.difference * s:+.2f} "
                f"(95% CI {e.ci_low * s:+.2f} to {e.ci_high * s:+.2f}), p = {e.p_value:.3g}"
                + (" [significant]" if e.significant else "")
                + (" [not reported as a headline]" if e.suppressed else ""))
            lines.append("  " + e.conclusion)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


_SINGULAR = {" people": " person", " re-offences": " re-offence", " days": " day"}


def _unit(x: float, unit: str) -> str:
    """" people" after most numbers, " person" after 1 ("by up to 1 person")."""
    return _SINGULAR.get(unit, unit) if _fmt(x) == "1" else unit


def _fmt(x: float) -> str:
    return f"{abs(x):.0f}"


def _what(kind: str, column: str, label: str) -> str:
    """What the sentence counts: the standard phrase for the standard columns, else the label."""
    if DEFAULT_OUTCOMES.get(column) == kind and kind in _WHAT:
        return _WHAT[kind]
    if kind == "rate":
        return f"the number of people counted in '{label}'"
    if kind == "frequency":
        return f"the number counted in '{label}'"
    return f"the average of '{label}'"


def conclusion_text(kind: str, label: str, diff: float, lo: float, hi: float,
                    significant: bool, required: int | None, notes: list[str],
                    what: str | None = None) -> str:
    """The lab's plain-English wording for one measure (JDL report conventions).

    ``what`` is the noun phrase the sentence is about; by default the standard phrase for the
    kind (e.g. "the number of people who commit a proven re-offence within one year").
    """
    unit = _UNIT.get(kind, "")
    what = what or _WHAT.get(kind, f"the average of '{label}'")
    lead = ("For 100 typical people who receive support, compared with 100 similar people who "
            "do not, " if kind in ("rate", "frequency") else "Compared with similar people who "
            "do not receive support, ")
    if kind == "days":
        lower, higher = "shorter", "longer"
    else:
        lower, higher = "lower", "higher"
    u = f" {unit}" if unit else ""
    if significant:
        if hi < 0:
            text = (f"{lead}{what} could be {lower} by between {_fmt(hi)} and {_fmt(lo)}{u}. "
                    "This is a statistically significant result.")
        else:
            text = (f"{lead}{what} could be {higher} by between {_fmt(lo)} and {_fmt(hi)}{u}. "
                    "This is a statistically significant result.")
        return text
    if lo < 0 < hi:
        dec, inc = ("shorten", "lengthen") if kind == "days" else ("decrease", "increase")
        body = (f"{lead}the programme may {dec} {what} by up to {_fmt(lo)}{_unit(lo, u)}, or may "
                f"{inc} it by up to {_fmt(hi)}{_unit(hi, u)}.")
    elif hi <= 0:
        body = f"{lead}{what} could be {lower} by between {_fmt(hi)} and {_fmt(lo)}{u}."
    else:
        body = f"{lead}{what} could be {higher} by between {_fmt(lo)} and {_fmt(hi)}{u}."
    text = (f"{body} There is insufficient evidence at this stage to draw a conclusion about the "
            f"programme's effect on the {label}. This does not mean the programme has no effect.")
    if required and diff < 0:  # more people would only confirm a rise, not show a fall
        text += (f" About {required:,} people in the treatment group would be needed to detect a "
                 "difference of this size.")
    return " ".join([text, *notes])


def _measure_effect(name: str, kind: Kind, est: DiffEstimate, n_reoff: int,
                    cfg: InferenceSettings, label: str,
                    events: tuple[int, int], ess: float) -> MeasureEffect:
    s = _SCALE[kind]  # the wording's scale (per 100 people); the values stay natural
    diff, lo, hi = est.difference, est.ci_low, est.ci_high
    notes: list[str] = []
    ok_rules = True
    if kind in ("rate", "frequency", "days") and n_reoff < cfg.min_treated_reoffenders:
        ok_rules = False
        notes.append(f"Fewer than {cfg.min_treated_reoffenders} people in the treatment group "
                     "re-offended, so this result is not treated as statistically significant.")
    if kind == "rate":
        p = est.treated_mean
        if min(est.n_treated * p, est.n_treated * (1 - p)) < cfg.min_expected_count:
            ok_rules = False
            notes.append("The treatment group is too small for the normal approximation "
                         f"(n p and n (1 - p) must be at least {cfg.min_expected_count:g}).")
    suppressed = kind == "days" and n_reoff < cfg.min_treated_reoffenders
    significant = bool(est.p_value <= cfg.alpha and ok_rules and not suppressed)
    direction = ("inconclusive" if not significant else
                 ("decrease" if diff < 0 else "increase"))
    required = None
    if kind == "rate" and not significant and 0 < est.control_mean < 1 \
            and 0 < est.treated_mean < 1 and abs(est.treated_mean - est.control_mean) > 1e-9:
        required = required_n(est.control_mean, est.treated_mean, alpha=cfg.alpha,
                              power=cfg.power,
                              ratio=max(ess / max(est.n_treated, 1), 1e-9))
    if suppressed:
        notes.append("Time to first re-offence is not reported as a headline result.")
    text = conclusion_text(kind, label, diff * s, lo * s, hi * s, significant, required, notes,
                           what=_what(kind, name, label))
    return MeasureEffect(measure=name, kind=kind, label=label,
                         treatment_value=est.treated_mean, comparison_value=est.control_mean,
                         difference=diff, ci_low=lo, ci_high=hi,
                         p_value=est.p_value, significant=significant, direction=direction,
                         conclusion=text, n_treated=est.n_treated, n_comparison=est.n_control,
                         n_treated_reoffenders=n_reoff, suppressed=suppressed,
                         required_n=required, se=est.se, vcov_type=est.vcov_type,
                         notes=tuple(notes), treatment_events=events[0],
                         comparison_events=events[1], comparison_ess=ess,
                         treatment_ci=_interval(est.treated_mean, est.treated_se, cfg.alpha),
                         comparison_ci=_interval(est.control_mean, est.control_se, cfg.alpha))


def _interval(value: float, se: float, alpha: float) -> tuple[float, float]:
    from scipy import stats

    z = float(stats.norm.ppf(1 - alpha / 2))
    return value - z * se, value + z * se


def _frame_inputs(matched: object, treatment: str | None, person: str = "person_id"):
    """(DataFrame of matched rows, treatment column, weights, clusterings or None).

    The clusterings come from :func:`jdl.inference._estimate.clusters_for`, from the design
    when a ``MatchResult`` is given and from the table's own ``subclass`` (sets holding one
    treated row are pairs) and ``person`` columns when a table is given: the same answer."""
    from jdl.matching import MatchResult

    pairs_design: bool | None = None
    if isinstance(matched, MatchResult):
        df = matched.matched
        treatment = matched.spec.treatment
        pairs_design = not matched.spec.replace and matched.spec.method == "nearest"
    elif isinstance(matched, pd.DataFrame):
        if treatment is None:
            raise InferenceError("give the treatment column name (treatment=...) with a table.")
        df = matched
    else:
        raise InferenceError(f"cannot estimate effects from a {type(matched).__name__}.",
                             hint="Pass a MatchResult or its .matched table.")
    if treatment not in df.columns:
        raise InferenceError(f"treatment column '{treatment}' is not in the matched table.")
    if "weights" in df.columns:
        df = df[df["weights"].to_numpy(dtype="float64") > 0]  # unmatched rows play no part
    t = df[treatment].to_numpy(dtype="float64") == 1.0
    w = df["weights"].to_numpy(dtype="float64") if "weights" in df.columns else np.ones(len(df))
    if not t.any() or t.all():
        raise InferenceError("the matched table needs both treated and comparison rows.")
    has_pairs = "subclass" in df.columns and bool(df["subclass"].notna().all())
    pair = df["subclass"].to_numpy(dtype="int64") if has_pairs else None
    ids = df[person].to_numpy() if person in df.columns and df[person].notna().all() else None
    cl = clusters_for(t, pair, ids, pairs_design=pairs_design if has_pairs else None)
    return df, t, w, cl


def _events(kind: str, y: np.ndarray, t: np.ndarray, w: np.ndarray,
             est: DiffEstimate) -> tuple[int, int]:
    """(treatment, comparison) events: re-offenders or re-offences in each group; group sizes
    for days and means.

    The comparison group's count is its weighted mean times its number of people, rounded: the
    count that, over the group's size, gives the weighted rate. The weighted *sum* is that only
    when the comparison weights add up to the number of comparison people, as MatchIt's do over
    the whole matched sample but not over a subset of it (the re-offenders the JDL's
    re-offender measures compare, a sub-group): there the sum over the size released rates
    tens of points away from the estimate."""
    if kind not in ("rate", "frequency"):
        return est.n_treated, est.n_control
    return int(y[t].sum()), weighted_count(est.control_mean, est.n_control)


def estimate_effects(matched: object, outcomes: Mapping[str, Kind] | None = None, *,
                     treatment: str | None = None, reoffended: str = "reoffended",
                     settings: InferenceSettings | None = None,
                     labels: Mapping[str, str] | None = None) -> EffectsResult:
    """Estimate each outcome's effect on matched data and apply the lab's reporting rules.

    Parameters
    ----------
    matched : a :class:`jdl.matching.MatchResult`, or its ``.matched`` table (then give
        ``treatment``; columns ``weights`` and ``subclass`` are used when present).
    outcomes : column -> kind (``rate`` 0/1, ``frequency`` count, ``days`` among re-offenders,
        ``mean`` any numeric). Default: ``reoffended``, ``reoffences``, ``days_to_first``.
    reoffended : 0/1 column defining re-offenders (for the 30-re-offender rule and ``days``).
    settings : reporting rules (``InferenceSettings``).

    Returns
    -------
    EffectsResult
    """
    cfg = settings or InferenceSettings()
    outcomes = dict(outcomes or DEFAULT_OUTCOMES)
    df, t, w, cl = _frame_inputs(matched, treatment)
    missing = [c for c in outcomes if c not in df.columns]
    need_reoff = any(k in ("rate", "frequency", "days") for k in outcomes.values())
    if need_reoff and reoffended not in df.columns:
        missing.append(reoffended)
    if missing:
        raise InferenceError(f"outcome column(s) not in the matched table: {', '.join(missing)}.")
    reoff = (df[reoffended].to_numpy(dtype="float64") == 1.0) if need_reoff else None
    n_reoff = int((reoff & t).sum()) if reoff is not None else 0
    effects = []
    for col, kind in outcomes.items():
        if kind not in _SCALE:
            raise InferenceError(f"unknown outcome kind '{kind}' for '{col}'.",
                                 hint="Use rate, frequency, days or mean.")
        y = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype="float64")
        sel = np.ones(len(df), dtype=bool) if kind != "days" else reoff & np.isfinite(y)
        if kind != "days" and not np.isfinite(y).all():
            raise InferenceError(f"outcome '{col}' has missing values in the matched table.")
        if kind == "rate" and not np.isin(y, (0.0, 1.0)).all():
            raise InferenceError(f"rate outcome '{col}' must be 0/1.")
        label = (labels or {}).get(col) or _LABELS.get(kind, col)
        if (sel & t).sum() < 2 or (sel & ~t).sum() < 2:
            raise InferenceError(f"too few rows to compare '{col}' between the groups.")
        est = weighted_difference(y[sel], t[sel], w[sel],
                                  None if cl is None else {k: v[sel] for k, v in cl.items()},
                                  alpha=cfg.alpha)
        wc = w[sel & ~t]
        ess = float(wc.sum() ** 2 / (wc**2).sum())
        effects.append(_measure_effect(col, kind, est, n_reoff, cfg, label,
                                       _events(kind, y, t, w, est), ess))
    return EffectsResult(effects=tuple(effects), alpha=cfg.alpha, settings=cfg)


def adjusted_effects(matched: object, outcomes: Mapping[str, Kind], covariates: Sequence[str], *,
                     treatment: str | None = None, reoffended: str = "reoffended",
                     alpha: float = 0.05,
                     min_events_per_parameter: float = MIN_EVENTS_PER_PARAMETER,
                     ) -> dict[str, AdjustedEstimate | str]:
    """Covariate-adjusted (g-computation) effects of each outcome on the matched sample
    (:mod:`jdl.inference._adjusted`), clustered as the unadjusted estimates are; for a measure
    whose model cannot be estimated reliably (saturated, separated, too few events or
    clusters per term, not converged), the plain reason instead. ``days`` are among
    re-offenders."""
    df, t, w, cl = _frame_inputs(matched, treatment)
    Z = covariate_matrix(df, covariates)
    reoff = (df[reoffended].to_numpy(dtype="float64") == 1.0) if reoffended in df.columns \
        else np.ones(len(df), dtype=bool)
    out: dict[str, AdjustedEstimate | str] = {}
    for col, kind in outcomes.items():
        y = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype="float64")
        sel = reoff & np.isfinite(y) if kind == "days" else np.isfinite(y)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out[col] = adjusted_difference(
                    y[sel], t[sel], w[sel], Z[sel], kind,
                    clusters=None if cl is None else {k: v[sel] for k, v in cl.items()},
                    alpha=alpha, min_events_per_parameter=min_events_per_parameter)
        except (InferenceError, np.linalg.LinAlgError) as exc:
            out[col] = getattr(exc, "message",
                               "No adjusted estimate: the model of the outcome could not be "
                               "fitted.")
    return out

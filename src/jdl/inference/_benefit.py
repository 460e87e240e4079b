"""The probability of benefit: how likely it is that the programme reduced re-offending.

Beside the significance verdict ("no significant difference") a reader wants to know how
likely it is that the programme helped, and by how much. This module answers with the
normal-normal model (conjugate; e.g. Gelman et al., *Bayesian Data Analysis*, 3rd ed., s. 2.5;
Spiegelhalter, Abrams & Myles 2004, ch. 3): the released estimate ``d`` of the headline effect
(a difference of one-year proven re-offending rates, treatment minus comparison, as a
proportion) is taken as ``d ~ N(theta, se^2)`` and the true effect ``theta`` has a normal prior
``N(m, s^2)``. The posterior is normal with

    precision  1/v = 1/s^2 + 1/se^2,   mean  v (m/s^2 + d/se^2),

so ``P(theta < 0)`` is the probability the programme *reduced* re-offending and
``P(theta < -delta)`` the probability it reduced it by at least ``delta`` (two percentage
points by default). A flat prior (``sd=None``) gives ``P = Phi(-d/se)``, the one-sided p-value
read the other way round.

The priors (all stated in the report, with the answer under the others beside it):

* **Weakly informative** (the default): ``N(0, 0.05^2)`` — centred on no effect (no
  presumption that a programme works), with 95% of its weight on effects between -10 and +10
  percentage points. Reviews of correctional programmes find mean reductions in re-offending
  of 5-10% (McGuire 2000, combining 18 meta-analyses; Lipsey & Cullen 2007 find the
  rehabilitation effects "consistently positive" but with "considerable variability"); Lösel
  (1995) reports a mean correlation of r = 0.10 across twelve meta-analyses, a difference of
  about 10 points in Rosenthal's binomial effect size display, the upper end of what the
  Justice Data Lab's published headline differences show. An effect of 10 points or more is
  thus rare but possible (two prior SDs); 20 points is all but ruled out (four SDs).
* **The catalogue's published effects of the same intervention type** (empirical Bayes; a
  normal-normal hierarchical model with its hyper-parameters estimated): with at least
  :data:`MIN_CATALOGUE_REPORTS` other published reports, the random-effects meta-analysis of
  their released differences (DerSimonian & Laird 1986) gives ``mu_hat`` with standard error
  ``se(mu_hat)`` and between-programme variance ``tau^2``; a new programme's effect is
  predicted as ``N(mu_hat, tau^2 + se(mu_hat)^2)`` (the predictive distribution; Higgins,
  Thompson & Spiegelhalter 2009). :func:`predictive_prior` builds it from those numbers; the
  catalogue (:func:`jdl.catalogue.catalogue_prior`) does the pooling.
* **The sensitivity**: the default prior's SD halved and doubled, and a flat prior (and, when
  the catalogue prior is used, the weakly informative one).

What it does not do: it assumes the matched comparison removes the bias (as the interval does),
and a probability is only as calibrated as the prior is a fair description of real effects
(``bench/validate_benefit.py`` measures it on planted programmes). Every released figure is
computed from the *released* estimate and interval (:func:`released_posterior`, called by
``jdl.disclosure``), banded (:func:`band_probability`), and hidden with the headline, so it
tells nothing the released figures do not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from jdl.core.results import Kind, released
from jdl.inference._errors import InferenceError

#: The default prior's SD: 5 percentage points (as a proportion; see the module docstring).
DEFAULT_PRIOR_SD = 0.05
#: The default "stated amount": a reduction of at least 2 percentage points.
DEFAULT_DELTA = 0.02
#: The catalogue prior needs at least this many other published reports of the type (with two,
#: the between-programme variance cannot be estimated usefully; as the catalogue's pooled
#: summary, jdl.catalogue._register.MIN_POOLED).
MIN_CATALOGUE_REPORTS = 3
#: Released probabilities are rounded to this step (5 points), and shown as "more than 99%" /
#: "less than 1%" beyond these caps (a rounded 100% or 0% would read as certainty).
BAND_STEP = 0.05
BAND_CAP = 0.99
BAND_FLOOR = 0.01
#: The 97.5% point of the standard normal: a 95% interval is +-Z95 SE.
Z95 = 1.959963984540054


def _phi(x: float) -> float:
    """The standard normal CDF (``math.erfc`` is exact in the tails, unlike 1 - erf)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@dataclass(frozen=True)
class Prior:
    """A normal prior for the headline effect (a difference of proportions), or flat.

    ``source``: ``"weakly informative"``, ``"catalogue"`` (the published effects of the same
    intervention type) or ``"flat"``; ``description`` says it in words for the report;
    ``reports``: how many catalogue reports it rests on."""

    mean: float = released(Kind.STATISTIC)
    sd: float | None = released(Kind.STATISTIC)  # None: flat (improper)
    source: str = released(Kind.LABEL)
    description: str = released(Kind.LABEL)
    reports: int | None = released(Kind.STATISTIC, default=None)

    def __post_init__(self) -> None:
        if not math.isfinite(self.mean):
            raise InferenceError("a prior's mean must be a finite number")
        if self.sd is not None and not (math.isfinite(self.sd) and self.sd > 0):
            raise InferenceError("a prior's SD must be a positive number (or None for flat)")


def weakly_informative_prior(sd: float = DEFAULT_PRIOR_SD) -> Prior:
    """``N(0, sd^2)``: no presumption of benefit or harm, effects beyond two SDs unlikely."""
    return Prior(0.0, sd, "weakly informative",
                 f"a weakly informative prior centred on a difference of zero, with a standard "
                 f"deviation of {_points(sd)} percentage points")


def flat_prior() -> Prior:
    """The flat (improper) prior: the probability is the one-sided p-value's complement."""
    return Prior(0.0, None, "flat", "a flat prior (every effect equally likely beforehand)")


def predictive_prior(mu: float, se_mu: float, tau2: float, reports: int,
                     intervention: str = "", *, widen: bool = True) -> Prior:
    """The predictive distribution of a new programme's effect from a random-effects
    meta-analysis of ``reports`` published effects: ``N(mu, tau2 + se_mu^2)`` (Higgins,
    Thompson & Spiegelhalter 2009), its SD by default widened by ``t_{0.975, k-2} / z_{0.975}``
    so that its 95% range is their predictive interval ``mu ± t_{k-2} sqrt(tau2 + se_mu^2)``.
    Why widen: with a handful of reports DerSimonian-Laird's tau² is often 0 or too small
    (Partlett & Riley 2017), and the plain normal prior was overconfident on planted
    programmes (``bench/validate_benefit.py``); with 3 reports the widened prior says little
    (x6.5), with 20 it is close to the plain one (x1.07). ``intervention``: the type's name,
    for the description."""
    from scipy.stats import norm, t

    if reports < MIN_CATALOGUE_REPORTS:
        raise InferenceError(f"a catalogue prior needs at least {MIN_CATALOGUE_REPORTS} "
                             f"published reports (got {reports})")
    if not (math.isfinite(mu) and math.isfinite(se_mu) and se_mu > 0
            and math.isfinite(tau2) and tau2 >= 0):
        raise InferenceError("a catalogue prior needs a finite mean, a positive standard error "
                             "and a non-negative between-programme variance")
    sd = math.sqrt(tau2 + se_mu ** 2)
    if widen:
        sd *= float(t.ppf(0.975, reports - 2) / norm.ppf(0.975))
    what = f"{intervention} programmes" if intervention else "programmes of the same type"
    return Prior(mu, sd, "catalogue",
                 f"a prior from the {reports} published reports of {what} in the catalogue "
                 f"(centred on their pooled effect of {_signed_points(mu)} points, standard "
                 f"deviation {_points(sd)} points)", reports)


class PublishedEffect(Protocol):
    """A published report's released headline effect, as the catalogue holds it
    (``jdl.catalogue._register.Effect``)."""

    @property
    def id(self) -> int: ...

    @property
    def intervention_type(self) -> str: ...

    @property
    def difference(self) -> float: ...

    @property
    def synthetic(self) -> bool: ...

    @property
    def se(self) -> float: ...


def catalogue_prior(effects: Sequence[PublishedEffect], intervention_type: str, *,
                    exclude_id: int | None = None, synthetic: bool = False,
                    widen: bool = True) -> Prior | None:
    """The empirical-Bayes prior for a new report of ``intervention_type`` (issue 20): the
    predictive distribution (:func:`predictive_prior`) of the DerSimonian-Laird pool
    (:func:`dersimonian_laird`, the register's ``pool`` too) of the type's published
    (released) effects — real reports only, or with ``synthetic`` synthetic ones only (never
    pooled together, as the register's pooled summaries) — without ``exclude_id`` (the report
    itself, when it is already published). None with fewer than
    :data:`MIN_CATALOGUE_REPORTS` reports, or for the catch-all type "other" (not one type:
    its effects describe no common prior)."""
    if intervention_type == "other":
        return None
    mine = [e for e in effects if e.intervention_type == intervention_type
            and e.synthetic == synthetic and e.id != exclude_id and e.se > 0]
    if len(mine) < MIN_CATALOGUE_REPORTS:
        return None
    mu, se_mu, tau2 = pooled_predictive([e.difference for e in mine], [e.se for e in mine])
    return predictive_prior(mu, se_mu, tau2, len(mine), intervention_type.replace("_", " "),
                            widen=widen)


@dataclass(frozen=True)
class PriorCheck:
    """The answer under another prior (the sensitivity to the prior)."""

    label: str = released(Kind.LABEL)
    prior_mean: float = released(Kind.STATISTIC)
    prior_sd: float | None = released(Kind.STATISTIC)
    probability: float | None = released(Kind.DERIVED)
    probability_by: float | None = released(Kind.DERIVED)


@dataclass(frozen=True)
class Benefit:
    """The probability of benefit for one headline effect (proportions; "by" = by at least
    ``delta``), the posterior it comes from, the prior used and the answers under others.

    Probabilities are exact here; the released ones are banded (:func:`band_probability`)."""

    prior: Prior
    measure: str = released(Kind.LABEL)
    delta: float = released(Kind.STATISTIC)
    probability: float | None = released(Kind.DERIVED)  # P(effect < 0)
    probability_by: float | None = released(Kind.DERIVED)  # P(effect < -delta)
    posterior_mean: float | None = released(Kind.DERIVED)
    credible_low: float | None = released(Kind.DERIVED)  # 95% equal-tailed
    credible_high: float | None = released(Kind.DERIVED)
    sensitivity: tuple[PriorCheck, ...] = ()
    reason_not_reported: str | None = released(Kind.LABEL, default=None, omit_if_none=True)


@dataclass(frozen=True)
class Posterior:
    """A normal posterior for the effect (its mean and SD, proportions)."""

    mean: float
    sd: float

    def cdf(self, x: float) -> float:
        """P(effect <= x)."""
        return _phi((x - self.mean) / self.sd)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        from scipy.stats import norm

        z = float(norm.ppf(0.5 + level / 2))
        return self.mean - z * self.sd, self.mean + z * self.sd


def posterior(estimate: float, se: float, prior: Prior) -> Posterior:
    """The conjugate normal posterior of the effect given ``estimate ~ N(effect, se^2)``."""
    if not (math.isfinite(estimate) and math.isfinite(se) and se > 0):
        raise InferenceError("the probability of benefit needs a finite estimate and a positive "
                             "standard error")
    if prior.sd is None:
        return Posterior(estimate, se)
    precision = 1 / prior.sd ** 2 + 1 / se ** 2
    mean = (prior.mean / prior.sd ** 2 + estimate / se ** 2) / precision
    return Posterior(mean, math.sqrt(1 / precision))


def se_from_interval(ci_low: float, ci_high: float, level: float = 0.95) -> float:
    """The standard error a (roughly symmetric) interval implies: half its width over z. The
    lab's released rate intervals are Newcombe's, a little asymmetric; this is the usual
    approximation (as the catalogue's pooled summary uses)."""
    from scipy.stats import norm

    if not (math.isfinite(ci_low) and math.isfinite(ci_high) and ci_high > ci_low):
        raise InferenceError("an interval with its upper limit above its lower one is needed")
    return (ci_high - ci_low) / (2 * float(norm.ppf(0.5 + level / 2)))


def sensitivity_priors(prior: Prior, default_sd: float = DEFAULT_PRIOR_SD) -> tuple[
        tuple[str, Prior], ...]:
    """The other priors the answer is shown under: the weakly informative prior with its SD
    halved and doubled, a flat prior, and (when ``prior`` is the catalogue's) the weakly
    informative prior itself."""
    rows: list[tuple[str, Prior]] = []
    if prior.source != "weakly informative" or prior.sd != default_sd:
        rows.append(("Weakly informative prior", weakly_informative_prior(default_sd)))
    rows += [("Sceptical prior (half the standard deviation)",
              weakly_informative_prior(default_sd / 2)),
             ("Wider prior (twice the standard deviation)",
              weakly_informative_prior(default_sd * 2)),
             ("Flat prior", flat_prior())]
    return tuple(rows)


def probability_of_benefit(estimate: float, se: float, prior: Prior | None = None, *,
                           delta: float = DEFAULT_DELTA, measure: str = "proven_reoffending_rate",
                           default_sd: float = DEFAULT_PRIOR_SD) -> Benefit:
    """The probability that the effect is a reduction (below 0) and a reduction of at least
    ``delta`` (below ``-delta``), under ``prior`` (default: weakly informative with SD
    ``default_sd``), with the same under the :func:`sensitivity_priors`.

    ``estimate`` and ``se``: the effect (treatment minus comparison; negative = fewer
    re-offended) and its standard error, as proportions."""
    if not (math.isfinite(delta) and delta >= 0):
        raise InferenceError("the stated amount (delta) must be zero or a positive proportion")
    prior = prior or weakly_informative_prior(default_sd)
    post = posterior(estimate, se, prior)
    low, high = post.interval()
    checks = []
    for label, other in sensitivity_priors(prior, default_sd):
        p = posterior(estimate, se, other)
        checks.append(PriorCheck(label, other.mean, other.sd, p.cdf(0.0), p.cdf(-delta)))
    return Benefit(measure=measure, delta=delta, prior=prior, probability=post.cdf(0.0),
                   probability_by=post.cdf(-delta), posterior_mean=post.mean, credible_low=low,
                   credible_high=high, sensitivity=tuple(checks))


def band_probability(p: float | None) -> float | None:
    """A probability as released: above :data:`BAND_CAP` it is the cap (read "more than 99%"),
    below :data:`BAND_FLOOR` the floor ("less than 1%"), otherwise rounded to the nearest
    :data:`BAND_STEP` and kept within 5-95% (so 0.98 is "95%", never a rounded "100%"). The
    band says as much as the data can: the second digit of a probability from one study is
    noise."""
    if p is None or not math.isfinite(p):
        return None
    if not 0.0 <= p <= 1.0:
        raise InferenceError(f"a probability must be between 0 and 1 (got {p})")
    if p > BAND_CAP:
        return BAND_CAP
    if p < BAND_FLOOR:
        return BAND_FLOOR
    banded = round(round(p / BAND_STEP) * BAND_STEP, 2)
    return min(max(banded, BAND_STEP), 1 - BAND_STEP)


def released_posterior(difference: float, ci_low: float, ci_high: float, prior_mean: float,
                       prior_sd: float | None) -> Posterior:
    """The posterior from the *released* difference and 95% interval only (the standard error
    the interval implies), under the normal prior ``N(prior_mean, prior_sd^2)`` (flat when
    ``prior_sd`` is None): what the released probabilities are computed from
    (``jdl.disclosure._coarsen._benefit`` and ``bench/validate_benefit.py``), so they tell
    nothing the released figures do not."""
    prior = Prior(prior_mean, prior_sd, "", "")
    return posterior(difference, se_from_interval(ci_low, ci_high), prior)


@dataclass(frozen=True)
class RandomEffects:
    """A DerSimonian-Laird random-effects pool: the pooled estimate, its SE, the
    between-study variance tau^2, Cochran's Q and I^2 (a proportion)."""

    estimate: float
    se: float
    tau2: float
    q: float
    i2: float


def dersimonian_laird(effects: Sequence[float], ses: Sequence[float]) -> RandomEffects:
    """DerSimonian-Laird random-effects meta-analysis of ``effects`` with standard errors
    ``ses`` (statsmodels' ``combine_effects``, ``method_re="dl"``; DerSimonian & Laird 1986,
    Higgins & Thompson 2002 for I^2): the one pool behind the catalogue's pooled summary
    (:func:`jdl.catalogue._register.pool`) and its prior (:func:`catalogue_prior`)."""
    import numpy as np
    from statsmodels.stats.meta_analysis import combine_effects

    eff, se = np.asarray(effects, dtype=float), np.asarray(ses, dtype=float)
    if len(eff) < 2 or len(eff) != len(se) or not np.all(se > 0):
        raise InferenceError("pooling needs two or more effects with positive standard errors")
    with np.errstate(invalid="ignore", divide="ignore"):
        res = combine_effects(eff, se**2, method_re="dl")
    # DerSimonian-Laird's tau^2 is max(0, (Q - df) / C). statsmodels 0.15 does not truncate it
    # (with Q < df its random-effects weights go negative or infinite), so where the
    # estimate is not positive tau^2 is 0 and the random-effects estimate is the fixed one.
    if float(res.tau2) > 0:
        tau2, mu, sd = float(res.tau2), float(res.mean_effect_re), float(res.sd_eff_w_re)
    else:
        tau2, mu, sd = 0.0, float(res.mean_effect_fe), float(res.sd_eff_w_fe)
    return RandomEffects(estimate=mu, se=sd, tau2=tau2, q=float(res.q),
                         i2=max(0.0, float(res.i2)))


def pooled_predictive(effects: Sequence[float], ses: Sequence[float]) -> tuple[float, float,
                                                                                  float]:
    """(mu_hat, se(mu_hat), tau^2) of :func:`dersimonian_laird` (what a predictive prior needs)."""
    pooled = dersimonian_laird(effects, ses)
    return pooled.estimate, pooled.se, pooled.tau2


def _rounded(x: float | None) -> float | None:
    return None if x is None else round(x, 3) + 0.0


def _points(x: float) -> str:
    return f"{100 * x:.1f}".rstrip("0").rstrip(".")


def _signed_points(x: float) -> str:
    text = _points(abs(x))
    return f"-{text}" if x < 0 and text != "0" else ("+" + text if x > 0 and text != "0"
                                                      else text)

"""Planted programmes: cohorts chosen like real referrals, with a known true effect.

Each programme picks participants among people with an index event of its setting, region and
delivery period, with probabilities that depend on what referrers see (age, record, recent work,
assessed risk and needs) — selection on observed characteristics, confounded with outcomes
because those characteristics predict re-offending. Participants' offending after the index
event is then re-simulated with their hazard multiplied by the programme's true hazard ratio
over an effect window. The truth written to ``DIR/truth/`` is both the hazard ratio and the
resulting average effect on the treated (ATT) of the one-year proven re-offending rate and
frequency, computed by Monte Carlo over each participant's own follow-up (so it is the
estimand a perfect evaluation would recover).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from jdl.admin.synth._careers import DAYS_PER_YEAR, CareerParams, simulate_offending

FOLLOW_UP_DAYS = 365
WAITING_DAYS = 183
EFFECT_DAYS = 730


@dataclass(frozen=True)
class ProgrammeSpec:
    """A programme to plant: who runs it, where, when, for whom, and its true effect."""

    name: str
    organisation: str
    sector: str
    intervention_type: str
    setting: str  # a setting of jdl.core.index_types: custody, community, both, out_of_court...
    region: str  # a region or "National"
    delivery_start: str
    delivery_end: str
    size: int
    hazard_ratio: float
    description: str
    referral_route: str
    # Selection: log-odds per standard deviation of each observed characteristic.
    selection: dict[str, float] = field(default_factory=dict)
    hidden_selection: float = 0.0  # log-odds per SD of the *latent* propensity (default none)


DEFAULT_PROGRAMMES: tuple[ProgrammeSpec, ...] = (
    ProgrammeSpec(
        "new-leaf-employment",
        "New Leaf Trust",
        "voluntary_community",
        "employment",
        "custody",
        "London",
        "2015-01-01",
        "2018-12-31",
        400,
        0.70,
        "Pre-release employability training and job brokerage for men and women leaving prison.",
        "Prison staff and self-referral",
        {"age": -0.4, "prior": -0.5, "employment": 0.6, "risk": -0.3},
    ),
    ProgrammeSpec(
        "open-door-housing",
        "Open Door Housing",
        "voluntary_community",
        "accommodation",
        "custody",
        "North West",
        "2014-01-01",
        "2019-06-30",
        250,
        0.80,
        "Accommodation on release for people at risk of homelessness.",
        "Offender managers",
        {"accommodation": 1.0, "prior": 0.3},
    ),
    ProgrammeSpec(
        "steps-to-work",
        "Steps Group plc",
        "private",
        "employment",
        "community",
        "National",
        "2016-01-01",
        "2020-12-31",
        1500,
        1.00,
        "Employment support for people starting community orders.",
        "Probation referral",
        {"employment": 0.5, "risk": -0.4, "age": -0.2},
    ),
    ProgrammeSpec(
        "second-chance-mentoring",
        "Second Chance",
        "voluntary_community",
        "mentoring",
        "both",
        "Yorkshire and the Humber",
        "2013-01-01",
        "2017-12-31",
        120,
        0.90,
        "Volunteer mentoring through the gate and during community sentences.",
        "Self-referral",
        {"age": -0.6, "prior": 0.2},
    ),
    ProgrammeSpec(
        "learning-inside",
        "Open Learning College",
        "education",
        "education",
        "custody",
        "National",
        "2012-01-01",
        "2018-12-31",
        2000,
        0.88,
        "Distance-learning courses taken in prison.",
        "Prison education departments",
        {"age": -0.3, "risk": -0.5, "employment": 0.3},
    ),
    ProgrammeSpec(
        "hardest-to-help",
        "Pathways Ltd",
        "private",
        "employment",
        "community",
        "West Midlands",
        "2015-01-01",
        "2019-12-31",
        600,
        1.25,
        "Intensive employment support for people furthest from work.",
        "Jobcentre and probation",
        {"risk": 0.6, "prior": 0.5, "employment": -0.6},
    ),
    ProgrammeSpec(
        "family-links",
        "County Probation Service",
        "public",
        "family",
        "custody",
        "Wales",
        "2014-01-01",
        "2019-12-31",
        90,
        1.00,
        "Family contact and parenting support for prisoners.",
        "Prison family services",
        {"female": 0.5, "age": 0.2},
    ),
    ProgrammeSpec(
        "restore-together",
        "Restore Together",
        "voluntary_community",
        "restorative_justice",
        "community",
        "South East",
        "2016-01-01",
        "2020-12-31",
        150,
        0.75,
        "Restorative justice conferences for people on community orders.",
        "Courts and probation",
        {"prior": -0.4, "risk": -0.3},
    ),
    ProgrammeSpec(
        "clean-start",
        "City Recovery Service",
        "public",
        "substance_misuse",
        "community",
        "East Midlands",
        "2013-01-01",
        "2018-12-31",
        300,
        0.90,
        "Community drug treatment alongside court orders.",
        "Drug intervention programme",
        {"drugs": 1.2, "prior": 0.4},
    ),
    ProgrammeSpec(
        "youth-futures",
        "Youth Futures",
        "public",
        "youth",
        "community",
        "London",
        "2014-01-01",
        "2019-12-31",
        200,
        0.85,
        "Support for young people starting community sentences.",
        "Youth offending teams",
        {"age": -1.5},
    ),
    ProgrammeSpec(
        "healthy-minds",
        "Healthy Minds",
        "voluntary_community",
        "health",
        "both",
        "South West",
        "2015-01-01",
        "2020-12-31",
        80,
        1.00,
        "Mental health support for people in contact with the justice system.",
        "Health and probation",
        {"mental_health": 1.0},
    ),
    ProgrammeSpec(
        "bridge-to-work",
        "Bridge Employment plc",
        "private",
        "employment",
        "both",
        "National",
        "2012-01-01",
        "2016-12-31",
        3000,
        0.95,
        "Employment programme for people leaving prison or starting orders.",
        "Contracted referral",
        {"employment": 0.4, "age": -0.2},
    ),
    # Generator 1.4: a programme around out-of-court disposals (planted from its own random
    # stream, so the programmes above are the same with or without it).
    ProgrammeSpec(
        "crossroads-diversion",
        "Crossroads Diversion",
        "voluntary_community",
        "mentoring",
        "out_of_court",
        "National",
        "2015-01-01",
        "2020-12-31",
        900,
        0.80,
        "Mentoring and support attached as a rehabilitative condition to conditional cautions.",
        "Police and CPS conditional caution referral",
        {"age": 0.3, "prior": -0.4, "employment": 0.3},
    ),
)


def spec_to_dict(spec: ProgrammeSpec) -> dict:
    return asdict(spec)


@dataclass
class Candidates:
    """Index events a programme could recruit from, with what referrers can observe."""

    person: np.ndarray
    day: np.ndarray
    custody: np.ndarray
    sentence_start: np.ndarray
    features: dict[str, np.ndarray]
    kind: np.ndarray | None = None  # index type (position in INDEX_TYPE_DEFINITIONS)


def choose_participants(
    rng: np.random.Generator,
    spec: ProgrammeSpec,
    candidates: Candidates,
    propensity: np.ndarray,
    target: int,
    taken: np.ndarray,
) -> np.ndarray:
    """Indices into ``candidates`` of the people recruited (one event each).

    Weighted sampling without replacement (Efraimidis–Spirakis keys), weights the odds of
    referral from a logistic model of standardised observed characteristics.
    """
    if target <= 0 or not len(candidates.person):
        return np.empty(0, np.int64)
    logit = np.zeros(len(candidates.person))
    for name, coef in spec.selection.items():
        x = candidates.features[name].astype(float)
        sd = x.std()
        if sd > 0:
            logit += coef * (x - x.mean()) / sd
    if spec.hidden_selection:
        z = propensity[candidates.person]
        logit += spec.hidden_selection * (z - z.mean()) / z.std()
    weight = np.exp(logit)
    keys = np.log(rng.random(len(weight))) / weight
    keys[taken[candidates.person]] = -np.inf
    target = min(target, int(np.isfinite(keys).sum()))
    return np.argsort(-keys, kind="stable")[:target]


def true_effect(
    rng: np.random.Generator,
    params: CareerParams,
    spec: ProgrammeSpec,
    *,
    birth_day: np.ndarray,
    female: np.ndarray,
    log_rate: np.ndarray,
    burst: np.ndarray,
    index_day: np.ndarray,
    prior: np.ndarray,
    start_day: np.ndarray | None = None,
    already_counted: np.ndarray | None = None,
    blocked: tuple[np.ndarray, np.ndarray] | None = None,
    reps: int = 24,
) -> dict[str, float]:
    """Expected one-year outcomes of the participants with and without the programme.

    The follow-up is the measure's: offences committed from ``start_day`` to a year after
    ``index_day`` and proven within six months more. ``start_day`` is the first day the measure
    counts (the day of release from custody, the day after a court order's start; default the
    day after ``index_day``), or later when a case under way then is still going on;
    ``already_counted`` are that case's offences the measure counts, the same in both arms.
    Both arms of each replicate share one random stream (common random numbers), so the
    difference — the effect — is estimated far more precisely than either level.
    """
    n = len(index_day)
    if n == 0:
        return {"n": 0}
    start = index_day + 1.0 if start_day is None else start_day
    before = np.zeros(n, np.int64) if already_counted is None else already_counted
    seeds = rng.integers(0, 2**63 - 1, size=reps)
    results = {}
    for label, hr in (("untreated", 1.0), ("treated", spec.hazard_ratio)):
        rate = np.zeros(n)
        freq = np.zeros(n)
        for seed in seeds:
            batch = simulate_offending(
                np.random.default_rng(seed),
                params,
                person=np.arange(n),
                birth_day=birth_day,
                female=female,
                log_rate=log_rate,
                burst=burst,
                start_day=start,
                end_day=index_day + FOLLOW_UP_DAYS,
                proven_by=index_day + FOLLOW_UP_DAYS + WAITING_DAYS,
                prior=prior,
                hazard_ratio=np.full(n, hr),
                effect_end_day=index_day + EFFECT_DAYS,
                blocked=None if blocked is None else (blocked[0].copy(), blocked[1].copy()),
            )
            counted = batch.offence_day <= index_day[batch.person] + FOLLOW_UP_DAYS
            counts = np.bincount(batch.person[counted], minlength=n) + before
            rate += counts > 0
            freq += counts
        results[f"{label}_rate"] = float(rate.sum() / (n * reps))
        results[f"{label}_frequency"] = float(freq.sum() / (n * reps))
    return {
        "n": n,
        "expected_untreated_rate": results["untreated_rate"],
        "expected_treated_rate": results["treated_rate"],
        "att_rate": results["treated_rate"] - results["untreated_rate"],
        "expected_untreated_frequency": results["untreated_frequency"],
        "expected_treated_frequency": results["treated_frequency"],
        "att_frequency": results["treated_frequency"] - results["untreated_frequency"],
    }


def intervention_dates(
    rng: np.random.Generator,
    index_day: np.ndarray,
    custody: np.ndarray,
    sentence_start: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Custody programmes run in the months before release (some continue through the gate);
    community programmes start soon after the order begins."""
    n = len(index_day)
    pre = rng.integers(30, 200, n)
    c_start = np.maximum(index_day - pre, sentence_start + 1)
    c_end = index_day + np.where(
        rng.random(n) < 0.4, rng.integers(0, 90, n), -rng.integers(0, 15, n)
    )
    c_end = np.maximum(c_end, c_start)
    m_start = index_day + rng.integers(0, 30, n)
    m_end = m_start + rng.integers(60, 300, n)
    start = np.where(custody, c_start, m_start)
    end = np.where(custody, c_end, m_end)
    return start.astype(np.int32), end.astype(np.int32)


def age_feature(day: np.ndarray, birth_day: np.ndarray) -> np.ndarray:
    return (day - birth_day) / DAYS_PER_YEAR

"""Criminal careers: when people offend, how offences are disposed of, custody and release.

Each person offends as a non-homogeneous Poisson process with intensity

    lambda_i(age) = exp(log_rate_i) * g(age) * m_i(t)

where ``g`` is the age-crime curve (a rise to a peak in the late teens and a long decline),
``log_rate_i`` carries the person's latent propensity (which also drives their employment,
needs and risk scores elsewhere), and ``m_i`` is an optional programme effect (a hazard ratio
over a window after an index event). Events are drawn exactly by inverting the integrated
intensity, vectorised over everyone still active, so the loop runs once per offence *rank*
rather than once per person. Custody removes a person from risk until release, and each
release or court order becomes an index event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jdl.admin.contract import DISPOSALS, OFFENCE_GROUPS

DAYS_PER_YEAR = 365.25
EPOCH = np.datetime64("1970-01-01", "D")

# Relative offending rate by age (years): MoJ/Home Office age-crime curves peak at 17-20 and
# decline steadily through adulthood.
_AGE_POINTS = np.array([10, 12, 14, 16, 18, 20, 23, 26, 30, 35, 40, 45, 50, 55, 60, 70, 80, 101.0])
_AGE_RATES = np.array(
    [
        0.10,
        0.35,
        0.75,
        1.0,
        1.0,
        0.95,
        0.85,
        0.75,
        0.64,
        0.54,
        0.44,
        0.34,
        0.25,
        0.17,
        0.11,
        0.05,
        0.02,
        0.01,
    ]
)
_GRID = np.linspace(10.0, 101.0, 91 * 52 + 1)  # weekly ages
_G = np.concatenate(
    ([0.0], np.cumsum(np.diff(_GRID) * np.interp(_GRID[:-1] + 1 / 104, _AGE_POINTS, _AGE_RATES)))
)
MAX_AGE = 100.0

GROUP = {name: i for i, name in enumerate(OFFENCE_GROUPS)}
DISPOSAL = {name: i for i, name in enumerate(DISPOSALS)}

# Offence mix (share of proven offences) for men and women, in OFFENCE_GROUPS order.
_GROUP_MIX_M = np.array(
    [0.21, 0.012, 0.025, 0.22, 0.05, 0.10, 0.045, 0.07, 0.03, 0.04, 0.11, 0.088]
)
_GROUP_MIX_F = np.array([0.18, 0.002, 0.01, 0.33, 0.05, 0.07, 0.015, 0.07, 0.06, 0.04, 0.08, 0.093])
# Probability that an offence of the group is tier 1 (most serious) and tier 2; rest tier 3.
_TIER1 = np.array([0.30, 0.85, 0.90, 0.03, 0.05, 0.15, 0.20, 0.05, 0.10, 0.05, 0.0, 0.0])
_TIER2 = np.array([0.55, 0.15, 0.10, 0.55, 0.35, 0.70, 0.70, 0.35, 0.80, 0.55, 0.05, 0.05])
_GROUP_CODE = ("VAP", "SEX", "ROB", "THF", "CDA", "DRG", "WPN", "PUB", "FRD", "MSC", "MOT", "SUM")


@dataclass(frozen=True)
class CareerParams:
    """Calibrated constants of the offending and sentencing model.

    ``base_log_rate`` and the sentencing coefficients were tuned so that the one-year proven
    re-offending rates of adult index events match MoJ's published figures (42.5% after release
    from custody, 33.6% after the start of a court order; see docs/data-contract.md).
    ``caution_by_record`` (the chance of a caution at a first, a second or third, and a later
    offence) and ``lesser_disposal_record_slope`` (how fast fines and discharges give way to
    court orders as the record lengthens) were set in generator 1.5 so that cautions, fines and
    discharges re-offend below the MoJ's published bound (under 25.6% together, less than the
    all-adult rate; the caution lowest) with those two rates still within their calibration.
    """

    base_log_rate: float = -1.27
    custody_intercept: float = -3.9
    custody_prior_slope: float = 0.62
    custody_tier1: float = 2.1
    custody_tier2: float = 0.8
    served_fraction: float = 0.5
    max_annual_rate: float = 40.0
    burst_mean: float = 0.9  # extra offences per case for an average person
    burst_slope: float = 0.35  # how much more prolific people offend in sprees
    # Generator 1.5: who is dealt with by a caution, a fine or a discharge (see _draw_disposals).
    caution_by_record: tuple[float, float, float] = (0.50, 0.15, 0.005)
    lesser_disposal_record_slope: float = 0.7


@dataclass
class OffenceBatch:
    """Offences and index events produced by :func:`simulate_offending` (parallel arrays)."""

    person: np.ndarray  # index into the chunk's people
    offence_day: np.ndarray  # days since 1970-01-01
    outcome_day: np.ndarray
    group: np.ndarray  # index into OFFENCE_GROUPS
    severity: np.ndarray
    disposal: np.ndarray  # index into DISPOSALS
    sentence_days: np.ndarray  # -1 where not applicable
    dv: np.ndarray
    terrorism: np.ndarray
    code: np.ndarray
    release_day: np.ndarray  # custody release day, -1 otherwise
    prior: np.ndarray  # offences committed before this one
    principal: np.ndarray  # the case's principal offence (the one an index event refers to)

    @classmethod
    def concat(cls, parts: list[OffenceBatch]) -> OffenceBatch:
        fields = cls.__dataclass_fields__
        if not parts:
            return cls(**{f: np.empty(0, dtype=np.int64) for f in fields})
        return cls(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})

    def take(self, idx: np.ndarray) -> OffenceBatch:
        return OffenceBatch(**{f: getattr(self, f)[idx] for f in self.__dataclass_fields__})

    def __len__(self) -> int:
        return len(self.person)


def age_years(day: np.ndarray, birth_day: np.ndarray) -> np.ndarray:
    return (day - birth_day) / DAYS_PER_YEAR


def _next_event_age(
    rng: np.random.Generator,
    age: np.ndarray,
    rate: np.ndarray,
    hr: np.ndarray | None,
    hr_end_age: np.ndarray | None,
) -> np.ndarray:
    """Age at the next event of the Poisson process, by inverting the integrated intensity."""
    g_now = np.interp(age, _GRID, _G)
    e = rng.exponential(size=len(age))
    if hr is None:
        return np.interp(g_now + e / rate, _G, _GRID, right=np.inf)
    # Within the effect window the intensity is multiplied by hr; afterwards it is back to 1.
    end_age = np.maximum(hr_end_age, age)
    in_window = np.interp(g_now + e / (rate * hr), _G, _GRID, right=np.inf)
    inside = in_window <= end_age
    g_end = np.interp(end_age, _GRID, _G)
    used = rate * hr * (g_end - g_now)
    after = np.interp(g_end + np.maximum(e - used, 0.0) / rate, _G, _GRID, right=np.inf)
    return np.where(inside, in_window, after)


def _draw_offences(
    rng: np.random.Generator, sex_f: np.ndarray, age: np.ndarray
) -> tuple[np.ndarray, ...]:
    n = len(sex_f)
    u = rng.random(n)
    group = np.where(
        sex_f,
        np.searchsorted(np.cumsum(_GROUP_MIX_F) / _GROUP_MIX_F.sum(), u),
        np.searchsorted(np.cumsum(_GROUP_MIX_M) / _GROUP_MIX_M.sum(), u),
    ).astype(np.int8)
    # the young commit more theft and criminal damage, less fraud and motoring
    young = (age < 18) & (group >= GROUP["fraud"])
    group[young & (rng.random(n) < 0.5)] = GROUP["theft"]
    v = rng.random(n)
    severity = np.where(v < _TIER1[group], 1, np.where(v < _TIER1[group] + _TIER2[group], 2, 3))
    dv = (group == GROUP["violence"]) & (rng.random(n) < np.where(sex_f, 0.15, 0.28))
    dv |= (group == GROUP["criminal_damage"]) & (rng.random(n) < 0.08)
    terrorism = ((group == GROUP["misc_society"]) | (group == GROUP["weapons"])) & (
        rng.random(n) < 0.002
    )
    code = rng.integers(1, 40, size=n).astype(np.int16) + severity.astype(np.int16) * 100
    return group, severity.astype(np.int8), dv, terrorism, code


def _draw_disposals(
    rng: np.random.Generator,
    params: CareerParams,
    group: np.ndarray,
    severity: np.ndarray,
    prior: np.ndarray,
    age: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Sentence for each offence: depends on seriousness, previous offences and age."""
    n = len(group)
    lp = np.log1p(prior)
    youth = age < 18
    # Out-of-court disposal: mostly first and second offences, less serious ones. The guidance
    # (MoJ, Simple Cautions for Adult Offenders, 2015) keeps cautions for low-level, mainly
    # first-time offending and restricts them after recent similar offending: after three
    # offences, almost never.
    first, second, later = params.caution_by_record
    p_caution = np.where(prior == 0, first, np.where(prior <= 2, second, later))
    p_caution = np.where(severity == 1, p_caution * 0.2, p_caution)
    p_caution = np.where(youth, np.minimum(p_caution + 0.25, 0.9), p_caution)
    p_caution = np.where(group == GROUP["summary_motoring"], 0.01, p_caution)
    caution = rng.random(n) < p_caution
    logit = (
        params.custody_intercept
        + params.custody_prior_slope * lp
        + params.custody_tier1 * (severity == 1)
        + params.custody_tier2 * (severity == 2)
        - 1.2 * youth
        - 1.5 * (group == GROUP["summary_motoring"])
    )
    custody = ~caution & (rng.random(n) < 1 / (1 + np.exp(-logit)))
    # Among other court disposals: suspended, community, fine, discharge, other. Fines and
    # discharges are for short records; as the record lengthens the courts turn to community
    # and suspended sentences (previous convictions aggravate: Sentencing Council guidelines),
    # so their weight falls by (1 + previous offences) ** -lesser_disposal_record_slope.
    lesser = np.exp(-params.lesser_disposal_record_slope * lp)
    w = np.stack(
        [
            0.10 + 0.06 * lp + 0.10 * (severity <= 2),  # suspended
            0.25 + 0.04 * lp + 0.05 * youth,  # community
            (0.38 + 0.4 * (severity == 3) + 0.8 * (group == GROUP["summary_motoring"]))
            * lesser,  # fine
            (0.10 + 0.05 * (prior == 0)) * lesser,  # discharge
            np.full(n, 0.03),  # other
        ],
        axis=1,
    )
    cum = np.cumsum(w, axis=1)
    pick = (rng.random(n)[:, None] * cum[:, -1:] > cum).sum(axis=1)
    court = np.array(
        [DISPOSAL[d] for d in ("suspended", "community", "fine", "discharge", "other")], np.int8
    )[pick]
    disposal = np.where(caution, DISPOSAL["caution"], np.where(custody, DISPOSAL["custody"], court))
    disposal = disposal.astype(np.int8)
    # Custodial sentence lengths (days): log-normal by tier, longer with a longer record.
    median = np.choose(severity - 1, [900.0, 240.0, 75.0]) * np.exp(0.12 * lp)
    custody_days = np.maximum(7, np.round(median * np.exp(0.6 * rng.standard_normal(n))))
    order_days = np.round(np.clip(rng.normal(365, 150, n), 90, 1095) / 30) * 30
    sentence = np.where(
        disposal == DISPOSAL["custody"],
        custody_days,
        np.where(
            (disposal == DISPOSAL["suspended"]) | (disposal == DISPOSAL["community"]),
            order_days,
            -1,
        ),
    )
    return disposal, sentence.astype(np.int32)


def _draw_delays(
    rng: np.random.Generator, disposal: np.ndarray, severity: np.ndarray
) -> np.ndarray:
    """Days from offence to caution or conviction (log-normal; serious cases take longer)."""
    n = len(disposal)
    median = np.where(
        disposal == DISPOSAL["caution"], 18.0, np.choose(severity - 1, [190.0, 85.0, 55.0])
    )
    return np.maximum(1, np.round(median * np.exp(0.75 * rng.standard_normal(n)))).astype(np.int32)


def simulate_offending(
    rng: np.random.Generator,
    params: CareerParams,
    *,
    person: np.ndarray,
    birth_day: np.ndarray,
    female: np.ndarray,
    log_rate: np.ndarray,
    burst: np.ndarray,
    start_day: np.ndarray,
    end_day: int | np.ndarray,
    proven_by: int | np.ndarray | None = None,
    prior: np.ndarray | None = None,
    hazard_ratio: np.ndarray | None = None,
    effect_end_day: np.ndarray | None = None,
    blocked: tuple[np.ndarray, np.ndarray] | None = None,
) -> OffenceBatch:
    """Offences committed from ``start_day`` until ``end_day`` (the data cut-off).

    Each event of the process is a *case*: one or more offences (``1 + Poisson(burst)``)
    committed over a few weeks and sentenced together at one court appearance — which is why
    re-offenders have several re-offences. Offences whose outcome falls after ``end_day`` are
    not yet proven and are not returned (``proven_by``, per person, can set another limit).
    ``prior`` is the count of offences already committed. ``blocked`` = (from, until) days per
    person (-1: none) is a custodial sentence already decided (a case committed earlier and
    sentenced later): no offending inside it, which by the memoryless property is exact.
    """
    n = len(person)
    end = np.broadcast_to(np.asarray(end_day, dtype=np.int64), (n,))
    proven_limit = (
        end if proven_by is None else np.broadcast_to(np.asarray(proven_by, dtype=np.int64), (n,))
    )
    rate = np.minimum(np.exp(log_rate), params.max_annual_rate / _AGE_RATES.max())
    t = start_day.astype(np.float64)
    prior_count = np.zeros(n, np.int32) if prior is None else prior.astype(np.int32).copy()
    active = np.arange(n)
    hr_end_age = (
        None if hazard_ratio is None else age_years(effect_end_day.astype(float), birth_day)
    )
    parts: list[OffenceBatch] = []
    while active.size:
        age_now = age_years(t[active], birth_day[active])
        hr = None if hazard_ratio is None else hazard_ratio[active]
        hr_end = None if hr_end_age is None else hr_end_age[active]
        age_next = _next_event_age(rng, age_now, rate[active], hr, hr_end)
        day_next = birth_day[active] + age_next * DAYS_PER_YEAR
        ok = (age_next < MAX_AGE) & (day_next < end[active] + 1)
        active, day_next, age_next = active[ok], day_next[ok], age_next[ok]
        if blocked is not None:
            active, day_next, age_next, waiting = _skip_blocked(
                active, day_next, age_next, t, blocked
            )
        else:
            waiting = active[:0]
        if not active.size:
            active = waiting
            continue
        case = _draw_cases(rng, params, active, day_next, age_next, female, burst, prior_count)
        proven = case.outcome_day <= proven_limit[active]
        rows = np.flatnonzero(proven[case.row_case])
        parts.append(
            OffenceBatch(
                person=person[active[case.row_case[rows]]],
                offence_day=case.row_offence_day[rows],
                outcome_day=case.outcome_day[case.row_case[rows]],
                group=case.row_group[rows],
                severity=case.row_severity[rows],
                disposal=case.disposal[case.row_case[rows]],
                sentence_days=case.sentence[case.row_case[rows]],
                dv=case.row_dv[rows],
                terrorism=case.row_terrorism[rows],
                code=case.row_code[rows],
                release_day=case.release[case.row_case[rows]],
                prior=prior_count[active[case.row_case[rows]]] + case.row_rank[rows],
                principal=case.row_principal[rows],
            )
        )
        prior_count[active] += case.size
        # Custody takes the person out of circulation until release.
        locked = (case.disposal == DISPOSAL["custody"]) & proven
        t[active] = np.where(locked, case.release, case.last_day + 0.5)
        still = ~locked | (case.release <= end[active])
        active = np.concatenate([active[still], waiting[t[waiting] <= end[waiting]]])
    return OffenceBatch.concat(parts)


def _skip_blocked(active, day_next, age_next, t, blocked):
    """People whose next offence would come after their blocked period has begun resume at its
    end instead (no risk accrues inside it; the process is memoryless)."""
    start, until = blocked
    inside = (start[active] >= 0) & (t[active] < until[active]) & (day_next >= start[active])
    waiting = active[inside]
    t[waiting] = until[waiting]
    start[waiting] = -1  # each block applies once
    keep = ~inside
    return active[keep], day_next[keep], age_next[keep], waiting


@dataclass
class _Cases:
    """One iteration's cases (one per active person) and their offences (rows)."""

    size: np.ndarray
    last_day: np.ndarray
    outcome_day: np.ndarray
    disposal: np.ndarray
    sentence: np.ndarray
    release: np.ndarray
    row_case: np.ndarray
    row_rank: np.ndarray
    row_offence_day: np.ndarray
    row_group: np.ndarray
    row_severity: np.ndarray
    row_dv: np.ndarray
    row_terrorism: np.ndarray
    row_code: np.ndarray
    row_principal: np.ndarray


def _draw_cases(
    rng: np.random.Generator,
    params: CareerParams,
    active: np.ndarray,
    day_next: np.ndarray,
    age_next: np.ndarray,
    female: np.ndarray,
    burst: np.ndarray,
    prior_count: np.ndarray,
) -> _Cases:
    m = len(active)
    size = 1 + rng.poisson(burst[active])
    row_case = np.repeat(np.arange(m), size)
    starts = np.concatenate(([0], np.cumsum(size)[:-1]))
    row_rank = np.arange(len(row_case)) - starts[row_case]
    first = np.floor(day_next).astype(np.int32)
    spread = np.where(row_rank == 0, 0, rng.integers(0, 45, len(row_case)))
    row_day = first[row_case] + spread.astype(np.int32)
    group, severity, dv, terror, code = _draw_offences(
        rng, female[active][row_case], age_next[row_case]
    )
    # The principal offence (most serious; earliest on ties) decides the sentence.
    order = np.lexsort((row_rank, severity, row_case))
    principal_row = order[starts]
    principal = np.zeros(len(row_case), bool)
    principal[principal_row] = True
    disposal, sentence = _draw_disposals(
        rng,
        params,
        group[principal_row],
        severity[principal_row],
        prior_count[active],
        age_next,
    )
    last_day = np.maximum.reduceat(row_day, starts)
    outcome_day = last_day + _draw_delays(rng, disposal, severity[principal_row])
    release = np.where(
        disposal == DISPOSAL["custody"],
        outcome_day + np.ceil(sentence * params.served_fraction).astype(np.int32),
        -1,
    )
    return _Cases(
        size,
        last_day,
        outcome_day,
        disposal,
        sentence,
        release,
        row_case,
        row_rank,
        row_day,
        group,
        severity,
        dv,
        terror,
        code,
        principal,
    )


_CODE_TABLE = np.array(
    [f"{prefix}{number:03d}" for prefix in _GROUP_CODE for number in range(400)], dtype=object
)


def offence_codes(group: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Offence codes like ``THF214``: a group prefix and a (synthetic) numbered offence."""
    return _CODE_TABLE[group.astype(np.int64) * 400 + code]

"""Work, benefits, assessments, markers and aliases — the records around a criminal career.

All of them depend on the person's latent traits, so they carry information about future
offending (which is why the lab matches on them) without revealing it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jdl.admin.contract import BENEFIT_TYPES, FLAG_TYPES
from jdl.admin.synth._careers import DAYS_PER_YEAR, DISPOSAL, OffenceBatch
from jdl.admin.synth._names import NICKNAMES, name_pools
from jdl.admin.synth._people import People

HISTORY_START = int(np.datetime64("2004-01-01").astype(int))
UC_START = int(np.datetime64("2013-04-01").astype(int))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Spells:
    person: np.ndarray
    start: np.ndarray
    end: np.ndarray  # -1: ongoing at the cut-off
    kind: np.ndarray  # index into BENEFIT_TYPES (benefits only)


def employment_and_benefits(
    rng: np.random.Generator, people: People, end_day: int
) -> tuple[Spells, Spells]:
    """Alternating employed / not-employed spells from 2004 (or age 16), with benefit claims
    in the gaps. Durations depend on employability."""
    n = len(people)
    e = people.employability
    start = np.maximum(HISTORY_START, people.birth_day + int(16 * DAYS_PER_YEAR)).astype(float)
    employed = rng.random(n) < _sigmoid(0.2 + 0.9 * e)
    mean_on = 365.0 * np.exp(0.1 + 0.5 * e)
    mean_off = 365.0 * np.exp(0.1 - 0.6 * e)
    p_claim = _sigmoid(0.9 - 0.5 * e)
    t = start.copy()
    active = np.flatnonzero(t < end_day)
    emp: list[tuple[np.ndarray, ...]] = []
    ben: list[tuple[np.ndarray, ...]] = []
    while active.size:
        on = employed[active]
        duration = rng.exponential(np.where(on, mean_on[active], mean_off[active]))
        s = t[active]
        f = s + np.maximum(duration, 7)
        ongoing = f >= end_day
        emp_rows = np.flatnonzero(on)
        emp.append((active[emp_rows], s[emp_rows], np.where(ongoing[emp_rows], -1, f[emp_rows])))
        gap = np.flatnonzero(~on & (rng.random(active.size) < p_claim[active]))
        b_start = s[gap] + rng.geometric(1 / 21, gap.size)
        b_end = np.minimum(f[gap], b_start + rng.exponential(420, gap.size))
        valid = b_start < np.minimum(f[gap], end_day)
        gap, b_start, b_end = gap[valid], b_start[valid], b_end[valid]
        ben_ongoing = b_end >= end_day
        ben.append((active[gap], b_start, np.where(ben_ongoing, -1, b_end)))
        t[active] = f
        employed[active] = ~on
        active = active[~ongoing]
    emp_cat = [np.concatenate(x) for x in zip(*emp, strict=True)] if emp else [np.empty(0)] * 3
    ben_cat = [np.concatenate(x) for x in zip(*ben, strict=True)] if ben else [np.empty(0)] * 3
    employment = Spells(
        emp_cat[0].astype(np.int64),
        np.floor(emp_cat[1]).astype(np.int32),
        np.floor(emp_cat[2]).astype(np.int32),
        np.zeros(len(emp_cat[0]), np.int8),
    )
    b_person = ben_cat[0].astype(np.int64)
    b_start = np.floor(ben_cat[1]).astype(np.int32)
    kind = _benefit_types(rng, b_start, people.employability[b_person])
    benefits = Spells(b_person, b_start, np.floor(ben_cat[2]).astype(np.int32), kind)
    return employment, benefits


def _benefit_types(rng: np.random.Generator, start: np.ndarray, e: np.ndarray) -> np.ndarray:
    n = len(start)
    uc_share = np.clip((start - UC_START) / (6 * 365.0), 0, 1)
    incapacity = rng.random(n) < _sigmoid(-1.4 - 0.4 * e)
    income_support = rng.random(n) < 0.05
    uc = rng.random(n) < uc_share
    kind = np.full(n, BENEFIT_TYPES.index("jobseekers"), np.int8)
    kind[income_support] = BENEFIT_TYPES.index("income_support")
    kind[incapacity] = BENEFIT_TYPES.index("incapacity")
    kind[uc] = BENEFIT_TYPES.index("universal_credit")
    return kind


def custody_periods(offences: OffenceBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(person, start, release) of every custodial sentence, sorted by person and start."""
    mask = offences.principal & (offences.disposal == DISPOSAL["custody"])
    person = offences.person[mask]
    start = offences.outcome_day[mask]
    release = offences.release_day[mask]
    order = np.lexsort((start, person))
    return person[order], start[order], release[order]


def cut_by_custody(spells: Spells, custody: tuple[np.ndarray, ...]) -> Spells:
    """Spells end when a custodial sentence starts; spells starting inside custody vanish."""
    c_person, c_start, c_release = custody
    if not len(c_person) or not len(spells.person):
        return spells
    # sentences can overlap: what matters is the latest release of any sentence begun so far
    stride = np.int64(1_000_000)
    c_release = (
        np.maximum.accumulate(c_person.astype(np.int64) * stride + c_release)
        - c_person.astype(np.int64) * stride
    )
    key_c = c_person.astype(np.int64) * 100_000 + c_start
    key_s = spells.person.astype(np.int64) * 100_000 + spells.start
    # the last custody starting on or before the spell start: is the person still inside?
    before = np.searchsorted(key_c, key_s, side="right") - 1
    inside = (
        (before >= 0)
        & (c_person[np.maximum(before, 0)] == spells.person)
        & (c_release[np.maximum(before, 0)] >= spells.start)
    )
    # the first custody starting after the spell start: does it cut the spell short?
    after = before + 1
    has_next = after < len(c_person)
    nxt = np.minimum(after, len(c_person) - 1)
    cuts = (
        has_next
        & (c_person[nxt] == spells.person)
        & ((spells.end < 0) | (c_start[nxt] <= spells.end))
    )
    end = np.where(cuts, c_start[nxt] - 1, spells.end)
    keep = ~inside & ((end < 0) | (end >= spells.start))
    return Spells(spells.person[keep], spells.start[keep], end[keep], spells.kind[keep])


@dataclass
class Assessments:
    person: np.ndarray
    day: np.ndarray
    event_day: np.ndarray  # the index event the assessment was made for
    risk: np.ndarray
    needs: dict[str, np.ndarray]

    def take(self, idx: np.ndarray) -> Assessments:
        return Assessments(
            self.person[idx],
            self.day[idx],
            self.event_day[idx],
            self.risk[idx],
            {k: v[idx] for k, v in self.needs.items()},
        )

    def concat(self, other: Assessments) -> Assessments:
        return Assessments(
            np.concatenate([self.person, other.person]),
            np.concatenate([self.day, other.day]),
            np.concatenate([self.event_day, other.event_day]),
            np.concatenate([self.risk, other.risk]),
            {k: np.concatenate([v, other.needs[k]]) for k, v in self.needs.items()},
        )


def assessments_for_events(
    rng: np.random.Generator,
    people: People,
    event_person: np.ndarray,
    event_day: np.ndarray,
    event_custody: np.ndarray,
    event_prior: np.ndarray,
) -> Assessments:
    """An OASys-like assessment before most index events: a risk score that predicts
    re-offending well (it sees the latent propensity through a noisy lens) and need flags."""
    n = len(event_person)
    made = rng.random(n) < np.where(event_custody, 0.8, 0.65)
    p, day, cust, prior = (
        event_person[made],
        event_day[made],
        event_custody[made],
        event_prior[made],
    )
    k = len(p)
    lag = np.where(cust, rng.integers(7, 90, k), rng.integers(0, 35, k))
    theta = people.propensity[p]
    e = people.employability[p]
    female = people.female[p]
    age = (day - people.birth_day[p]) / DAYS_PER_YEAR
    score = _sigmoid(
        -0.6 + 0.85 * theta + 0.25 * np.log1p(prior) - 0.03 * (age - 30) + rng.normal(0, 0.45, k)
    )
    needs = {
        "need_accommodation": rng.random(k) < _sigmoid(-1.1 + 0.6 * theta + 0.4 * cust),
        "need_employment": rng.random(k) < _sigmoid(-0.2 - 0.9 * e),
        "need_drugs": rng.random(k) < _sigmoid(-0.9 + 0.7 * theta),
        "need_alcohol": rng.random(k) < _sigmoid(-1.1 + 0.3 * theta),
        "need_mental_health": rng.random(k) < _sigmoid(-1.0 + 0.3 * theta + 0.5 * female),
    }
    return Assessments(
        p, (day - lag).astype(np.int32), day.astype(np.int32), np.round(100 * score, 1), needs
    )


def flags(
    rng: np.random.Generator, people: People, first_offence_day: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gang and vulnerability markers: (person, flag index, flag day)."""
    n = len(people)
    young_male = (~people.female) & (
        people.birth_day > int(np.datetime64("1985-01-01").astype(int))
    )
    gang = young_male & (rng.random(n) < _sigmoid(-4.6 + 0.9 * people.propensity))
    vulnerable = rng.random(n) < _sigmoid(-3.6 + 0.4 * people.propensity + 0.5 * people.female)
    person = np.concatenate([np.flatnonzero(gang), np.flatnonzero(vulnerable)])
    flag = np.concatenate(
        [
            np.full(gang.sum(), FLAG_TYPES.index("gang")),
            np.full(vulnerable.sum(), FLAG_TYPES.index("vulnerable")),
        ]
    ).astype(np.int8)
    day = first_offence_day[person] + rng.integers(0, 2000, len(person))
    return person, flag, day.astype(np.int32)


def aliases(rng: np.random.Generator, people: People) -> tuple[np.ndarray, ...]:
    """Other names and dates of birth people have given: (person, forename, surname, dob day)."""
    n = len(people)
    count = np.where(
        rng.random(n) < np.clip(0.08 + 0.06 * people.propensity, 0.02, 0.5),
        rng.integers(1, 4, n),
        0,
    )
    person = np.repeat(np.arange(n), count)
    k = len(person)
    forename = people.forename[person].copy()
    surname = people.surname[person].copy()
    dob = people.birth_day[person].copy()
    what = rng.random(k)
    # a nickname or the use of another forename
    nick = what < 0.35
    for i in np.flatnonzero(nick):
        variants = NICKNAMES.get(forename[i])
        if variants:
            forename[i] = variants[rng.integers(len(variants))]
    # another surname (marriage, a partner's or a parent's name)
    other = (what >= 0.35) & (what < 0.65)
    surname[other] = name_pools().surnames["british"].sample(rng, int(other.sum()))
    # a different date of birth: day/month swapped, a year out, or a day out
    dob_change = what >= 0.65
    dob[dob_change] = _shift_dates(rng, dob[dob_change])
    return person, forename, surname, dob


def _shift_dates(rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
    dates = days.astype("datetime64[D]")
    years = dates.astype("datetime64[Y]").astype(int) + 1970
    months = dates.astype("datetime64[M]").astype(int) % 12 + 1
    dom = (dates - dates.astype("datetime64[M]")).astype(int) + 1
    choice = rng.integers(0, 3, len(days))
    swap = (choice == 0) & (dom <= 12) & (dom != months)
    new_month = np.where(swap, dom, months)
    new_day = np.where(swap, months, dom)
    new_year = np.where(choice == 1, years + rng.choice([-1, 1], len(days)), years)
    out = (
        (new_year - 1970).astype("datetime64[Y]").astype("datetime64[M]")
        + (new_month - 1).astype("timedelta64[M]")
    ).astype("datetime64[D]") + (new_day - 1).astype("timedelta64[D]")
    out = out.astype(int)
    out = np.where(choice == 2, days + rng.choice([-1, 1], len(days)), out)
    return out.astype(np.int32)

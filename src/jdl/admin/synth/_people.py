"""Who is on the register: demographics, names and the latent traits that drive everything else.

Two latent traits per person, never written out: ``propensity`` (criminal propensity, which sets
the offending rate and leaks into risk scores and needs) and ``employability`` (negatively
correlated with propensity, driving work and benefit histories). Because both drive the records
the lab *can* see, selection into programmes on those records is confounded with outcomes — as
in reality — and matching on history removes most, not all, of a naive comparison's bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jdl.admin.contract import ETHNICITIES, NATIONALITIES, REGIONS
from jdl.admin.synth._careers import DAYS_PER_YEAR, EPOCH, CareerParams
from jdl.admin.synth._names import sample_names

# Shares of the offender population (approximate, from MoJ Criminal Justice Statistics and
# Offender Management Statistics for England and Wales).
_FEMALE_SHARE = 0.16
_ETHNICITY_SHARE = np.array([0.74, 0.10, 0.08, 0.05, 0.02, 0.01])
_REGION_SHARE = np.array([0.05, 0.13, 0.10, 0.08, 0.10, 0.09, 0.16, 0.13, 0.09, 0.07])
# Nationality shares by ethnicity (rows: ETHNICITIES; columns: NATIONALITIES).
_NATIONALITY_BY_ETHNICITY = np.array(
    [
        [0.89, 0.02, 0.08, 0.01, 0.00],
        [0.76, 0.00, 0.02, 0.22, 0.00],
        [0.72, 0.00, 0.01, 0.27, 0.00],
        [0.95, 0.00, 0.02, 0.03, 0.00],
        [0.40, 0.00, 0.15, 0.45, 0.00],
        [0.30, 0.00, 0.00, 0.10, 0.60],
    ]
)
_REGION_LOG_RATE = np.array([0.10, 0.08, 0.05, 0.0, 0.03, -0.08, 0.0, -0.10, -0.06, 0.05])
FIRST_BIRTH_YEAR, LAST_BIRTH_YEAR = 1945, 2007


@dataclass
class People:
    """Parallel arrays, one element per person in a chunk."""

    sex: np.ndarray  # 'M' / 'F'
    birth_day: np.ndarray  # days since 1970-01-01
    ethnicity: np.ndarray  # index into ETHNICITIES
    nationality: np.ndarray  # index into NATIONALITIES
    region: np.ndarray  # index into REGIONS
    forename: np.ndarray
    surname: np.ndarray
    name_group: np.ndarray  # 'british' / 'asian' / 'polish': the pools the names come from
    propensity: np.ndarray  # latent
    employability: np.ndarray  # latent
    log_rate: np.ndarray  # log of the person's peak annual offending rate
    burst: np.ndarray  # mean number of extra offences per case

    def take(self, idx: np.ndarray) -> People:
        return People(**{f: getattr(self, f)[idx] for f in self.__dataclass_fields__})

    def __len__(self) -> int:
        return len(self.sex)

    @property
    def female(self) -> np.ndarray:
        return self.sex == "F"


def _categorical(rng: np.random.Generator, probs: np.ndarray, size: int) -> np.ndarray:
    return np.searchsorted(np.cumsum(probs) / probs.sum(), rng.random(size)).astype(np.int8)


def draw_people(rng: np.random.Generator, n: int, params: CareerParams) -> People:
    """Candidate people; the generator keeps those who have at least one proven offence."""
    female = rng.random(n) < _FEMALE_SHARE
    sex = np.where(female, "F", "M").astype(object)
    year = np.clip(np.round(rng.normal(1986, 12, n)), FIRST_BIRTH_YEAR, LAST_BIRTH_YEAR)
    start = (year.astype(int) - 1970) * DAYS_PER_YEAR
    birth_day = np.floor(start + rng.random(n) * 365).astype(np.int32)
    ethnicity = _categorical(rng, _ETHNICITY_SHARE, n)
    u = rng.random(n)
    cum = np.cumsum(_NATIONALITY_BY_ETHNICITY, axis=1)[ethnicity]
    nationality = (u[:, None] > cum).sum(axis=1).astype(np.int8)
    region = _categorical(rng, _REGION_SHARE, n)
    # Minority groups live disproportionately in London and the West Midlands.
    move = (ethnicity != 0) & (ethnicity != 5) & (rng.random(n) < 0.3)
    region[move] = np.where(rng.random(int(move.sum())) < 0.7, 6, 4)
    group = np.full(n, "british", dtype=object)
    group[(ethnicity == 2) & (rng.random(n) < 0.85)] = "asian"
    group[(ethnicity == 0) & (nationality == 2) & (rng.random(n) < 0.8)] = "polish"
    forename, surname = sample_names(rng, sex, group)
    propensity = rng.normal(0.0, 1.15, n)
    employability = -0.45 * propensity + rng.normal(0.0, 0.9, n)
    log_rate = params.base_log_rate + propensity - 0.45 * female + _REGION_LOG_RATE[region]
    burst = params.burst_mean * np.exp(params.burst_slope * propensity)
    return People(
        sex,
        birth_day,
        ethnicity,
        nationality,
        region,
        forename,
        surname,
        group,
        propensity,
        employability,
        log_rate,
        burst,
    )


def concat_people(parts: list[People]) -> People:
    fields = People.__dataclass_fields__
    return People(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})


def labels(values: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    return np.array(names, dtype=object)[values]


def dates(days: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 as numpy datetime64[D]."""
    return EPOCH + days.astype("timedelta64[D]")


__all__ = ["ETHNICITIES", "NATIONALITIES", "REGIONS", "People", "draw_people"]

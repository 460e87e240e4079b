"""The synthetic national records generator: chunks of people simulated independently and
written as Parquet in the data contract, then loaded into ``DIR/admin.duckdb``.

Each chunk has its own random stream (seeded from the seed and the chunk number), so output is
deterministic for a seed and size, and memory stays bounded by the chunk size.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jdl import __version__
from jdl.admin.contract import (
    BENEFIT_TYPES,
    CONTRACT_VERSION,
    DISPOSALS,
    ETHNICITIES,
    FLAG_TYPES,
    INDEX_TYPES,
    NATIONALITIES,
    OFFENCE_GROUPS,
    REGIONS,
)
from jdl.admin.synth._careers import (
    DAYS_PER_YEAR,
    DISPOSAL,
    CareerParams,
    OffenceBatch,
    offence_codes,
    simulate_offending,
)
from jdl.admin.synth._histories import (
    Spells,
    aliases,
    assessments_for_events,
    custody_periods,
    cut_by_custody,
    employment_and_benefits,
    flags,
)
from jdl.admin.synth._names import sample_middle_names
from jdl.admin.synth._people import People, concat_people, draw_people
from jdl.admin.synth._programmes import (
    DEFAULT_PROGRAMMES,
    EFFECT_DAYS,
    FOLLOW_UP_DAYS,
    WAITING_DAYS,
    Candidates,
    ProgrammeSpec,
    choose_participants,
    intervention_dates,
    spec_to_dict,
    true_effect,
)
from jdl.core.config import DEFAULT_SEED
from jdl.core.identifiers import format_pnc_ids
from jdl.core.index_types import INDEX_TYPE_DEFINITIONS, INDEX_TYPES_BY_SETTING

GENERATOR_VERSION = "1.6"
#: The chunk's random stream for middle names (1.6), apart from the first (everything of 1.5)
#: and the second (the index types and programmes added in 1.4): see :func:`_build_chunk`.
_MIDDLE_NAME_STREAM = 2
_ID_STRIDE = 1_000_000_000  # offence/event ids: chunk * stride + row
_PNC_MULTIPLIER = 3_141_593  # coprime with 10**7: a bijection of serials within a year


def _day(iso: str) -> int:
    return int(np.datetime64(iso, "D").astype(int))


@dataclass(frozen=True)
class SynthConfig:
    """What to generate. Defaults make the demo's population."""

    people: int = 200_000
    seed: int = DEFAULT_SEED
    chunk_size: int = 250_000
    first_year: int = 2010
    last_year: int = 2024
    programmes: tuple[ProgrammeSpec, ...] = DEFAULT_PROGRAMMES
    params: CareerParams = field(default_factory=CareerParams)

    @property
    def cutoff_day(self) -> int:
        return _day(f"{self.last_year}-12-31")

    @property
    def first_day(self) -> int:
        return _day(f"{self.first_year}-01-01")

    def data_version(self) -> str:
        payload = json.dumps(
            {
                "generator": GENERATOR_VERSION,
                "contract": CONTRACT_VERSION,
                **{k: v for k, v in asdict(self).items()},
            },
            sort_keys=True,
            default=str,
        )
        return "synth-" + hashlib.sha256(payload.encode()).hexdigest()[:12]


KIND = {t.code: np.int8(i) for i, t in enumerate(INDEX_TYPE_DEFINITIONS)}
_COUNTS_INDEX_DAY = np.array([t.counts_index_day for t in INDEX_TYPE_DEFINITIONS])
#: The index types of generator 1.3 and before: releases and court orders. Their events, and the
#: programmes recruiting from them, draw from the chunk's first random stream as in 1.3; the
#: other index types (cautions, fines, discharges) and the programmes around them use a second
#: stream, so adding them left every 1.3 programme's participants and truth unchanged (1.4), and
#: with or without them every other programme is the same. (1.5 changed the disposals
#: themselves, in the first stream: its populations differ from 1.4's throughout.)
_SENTENCE_TYPES = ("custody_release", "court_order")
# Which events a planted programme recruits from: the cohort's rule (INDEX_TYPES_BY_SETTING),
# except that a community programme recruits at the start of a court order (the cohort also
# accepts a release, for people referred just after one).
_RECRUIT_TYPES = {**INDEX_TYPES_BY_SETTING, "community": ("court_order",)}


@dataclass
class _Events:
    person: np.ndarray
    day: np.ndarray
    custody: np.ndarray
    offence_row: np.ndarray
    sentence_start: np.ndarray
    prior: np.ndarray
    kind: np.ndarray  # index into INDEX_TYPE_DEFINITIONS

    def concat(self, other: _Events) -> _Events:
        """This table's events, then ``other``'s (event ids of the first are kept)."""
        return _Events(**{f: np.concatenate([getattr(self, f), getattr(other, f)])
                          for f in self.__dataclass_fields__})


def _is_new_setting(setting: str) -> bool:
    """A programme around an index type generator 1.3 did not make (it uses the second stream)."""
    return any(t not in _SENTENCE_TYPES for t in _RECRUIT_TYPES[setting])


def _disposal_events(off: OffenceBatch, first_day: int, cutoff: int) -> _Events:
    """Cautions, fines and discharges: the principal offence of a case so disposed of, on the
    day of the caution or conviction (its ``outcome_day``), the MoJ's index date for them."""
    kind = np.full(len(off), -1, np.int8)
    for t in INDEX_TYPE_DEFINITIONS:
        if t.code not in _SENTENCE_TYPES:
            kind[np.isin(off.disposal, [DISPOSAL[d] for d in t.disposals])] = KIND[t.code]
    rows = np.flatnonzero(
        off.principal & (kind >= 0) & (off.outcome_day >= first_day) & (off.outcome_day <= cutoff)
    )
    sort = np.lexsort((off.outcome_day[rows], off.person[rows]))
    rows = rows[sort]
    return _Events(
        off.person[rows],
        off.outcome_day[rows].astype(np.int32),
        np.zeros(len(rows), bool),
        rows,
        off.outcome_day[rows],
        off.prior[rows],
        kind[rows],
    )


def _index_events(off: OffenceBatch, first_day: int, cutoff: int) -> _Events:
    """Releases from custody and starts of court orders (community or suspended sentence): the
    index events of generator 1.3, in its order (see :func:`_disposal_events` for the rest)."""
    custody = (
        off.principal
        & (off.disposal == DISPOSAL["custody"])
        & (off.release_day >= first_day)
        & (off.release_day <= cutoff)
    )
    order = (
        off.principal
        & np.isin(off.disposal, [DISPOSAL["community"], DISPOSAL["suspended"]])
        & (off.outcome_day >= first_day)
    )
    rows = np.flatnonzero(custody | order)
    is_custody = custody[rows]
    day = np.where(is_custody, off.release_day[rows], off.outcome_day[rows])
    sort = np.lexsort((day, off.person[rows]))
    rows, is_custody, day = rows[sort], is_custody[sort], day[sort]
    return _Events(
        off.person[rows],
        day.astype(np.int32),
        is_custody,
        rows,
        off.outcome_day[rows],
        off.prior[rows],
        np.where(is_custody, KIND["custody_release"], KIND["court_order"]).astype(np.int8),
    )


def _sort_offences(off: OffenceBatch) -> OffenceBatch:
    key = off.person.astype(np.int64) * 100_000 + off.offence_day
    return off.take(np.argsort(key, kind="stable"))


class _DayIndex:
    """Sorted (person, day) keys, for counting each person's records before a date."""

    def __init__(self, person: np.ndarray, day: np.ndarray) -> None:
        self.keys = np.sort(person.astype(np.int64) * 100_000 + day)

    def count_before(
        self, person: np.ndarray, day: np.ndarray, inclusive: bool = False
    ) -> np.ndarray:
        base = person.astype(np.int64) * 100_000
        lo = np.searchsorted(self.keys, base, side="left")
        hi = np.searchsorted(self.keys, base + day, side="right" if inclusive else "left")
        return hi - lo


def _days_in_spells(
    spells: Spells, person: np.ndarray, day: np.ndarray, window: int, cutoff: int
) -> np.ndarray:
    """Days spent in spells during the ``window`` days before ``day``, per query."""
    if not len(person) or not len(spells.person):
        return np.zeros(len(person))
    order = np.argsort(spells.person, kind="stable")
    sp, ss, se = (
        spells.person[order],
        spells.start[order],
        np.where(spells.end[order] < 0, cutoff, spells.end[order]),
    )
    lo = np.searchsorted(sp, person, side="left")
    hi = np.searchsorted(sp, person, side="right")
    counts = hi - lo
    q = np.repeat(np.arange(len(person)), counts)
    first = np.cumsum(counts) - counts
    idx = np.repeat(lo, counts) + np.arange(len(q)) - np.repeat(first, counts)
    start = np.maximum(ss[idx], day[q] - window)
    end = np.minimum(se[idx], day[q] - 1)
    overlap = np.clip(end - start + 1, 0, None)
    return np.bincount(q, weights=overlap, minlength=len(person))


@dataclass
class _ChunkResult:
    tables: dict[str, pa.Table]
    participants: pa.Table
    truth_sums: dict[str, dict[str, float]]


def _draw_register(
    rng: np.random.Generator, cfg: SynthConfig, n_keep: int
) -> tuple[People, OffenceBatch]:
    """People with at least one proven offence by the cut-off, and their offences."""
    people_parts: list[People] = []
    offence_parts: list[OffenceBatch] = []
    got = 0
    while got < n_keep:
        m = int((n_keep - got) * 1.15) + 100
        cand = draw_people(rng, m, cfg.params)
        off = simulate_offending(
            rng,
            cfg.params,
            person=np.arange(m),
            birth_day=cand.birth_day,
            female=cand.female,
            log_rate=cand.log_rate,
            burst=cand.burst,
            start_day=cand.birth_day + int(10 * DAYS_PER_YEAR),
            end_day=cfg.cutoff_day,
        )
        has = np.bincount(off.person, minlength=m) > 0
        keep = np.flatnonzero(has)[: n_keep - got]
        new_index = np.full(m, -1, np.int64)
        new_index[keep] = np.arange(len(keep)) + got
        off = off.take(np.flatnonzero(new_index[off.person] >= 0))
        off.person = new_index[off.person]
        people_parts.append(cand.take(keep))
        offence_parts.append(off)
        got += len(keep)
    return concat_people(people_parts), OffenceBatch.concat(offence_parts)


def _candidates(
    spec: ProgrammeSpec,
    people: People,
    events: _Events,
    assess,
    emp: Spells,
    cfg: SynthConfig,
    proven: _DayIndex,
) -> Candidates:
    start, end = _day(spec.delivery_start), _day(spec.delivery_end)
    end = min(end, cfg.cutoff_day - FOLLOW_UP_DAYS - WAITING_DAYS)
    ok = (events.day >= start) & (events.day <= end)
    ok &= np.isin(events.kind, [KIND[t] for t in _RECRUIT_TYPES[spec.setting]])
    if spec.region != "National":
        ok &= people.region[events.person] == REGIONS.index(spec.region)
    ok &= (events.day - people.birth_day[events.person]) / DAYS_PER_YEAR >= 15
    rows = np.flatnonzero(ok)
    # one event per person: the first in the delivery period
    _, first = np.unique(events.person[rows], return_index=True)
    rows = rows[first]
    person, day = events.person[rows], events.day[rows]
    prior = proven.count_before(person, day)
    features = {
        "age": (day - people.birth_day[person]) / DAYS_PER_YEAR,
        "female": people.female[person].astype(float),
        "prior": np.log1p(prior),
        "employment": _days_in_spells(emp, person, day, 730, cfg.cutoff_day),
    }
    # latest assessment on or before the event (missing: median score, no needs)
    a_key = assess.person.astype(np.int64) * 100_000 + assess.day
    order = np.argsort(a_key, kind="stable")
    pos = np.searchsorted(a_key[order], person.astype(np.int64) * 100_000 + day, side="right") - 1
    has = (pos >= 0) & (assess.person[order][np.maximum(pos, 0)] == person)
    pick = order[np.maximum(pos, 0)]
    risk = np.where(has, assess.risk[pick], np.nan)
    features["risk"] = np.where(np.isnan(risk), np.nanmedian(risk) if has.any() else 50.0, risk)
    for need in ("accommodation", "drugs", "mental_health"):
        features[need] = np.where(has, assess.needs[f"need_{need}"][pick], False)
    features["employment_need"] = np.where(has, assess.needs["need_employment"][pick], False)
    return Candidates(person, day, events.custody[rows], events.sentence_start[rows], features,
                      kind=events.kind[rows])


def _first_follow_up_day(index_day: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """The first day the proven re-offending measure counts (``FollowUp.count_release_day``,
    the MoJ rule; ``IndexType.counts_index_day``): the day of release itself for a release from
    custody, the day after the index date for the others (the start of a court order, the day of
    a caution, fine or discharge - the index case's own offences were committed by then). A
    participant's future under the programme starts then."""
    return index_day + np.where(_COUNTS_INDEX_DAY[kind], 0, 1)


def _outcome_counts(
    off: OffenceBatch, n_people: int, person: np.ndarray, index_day: np.ndarray,
    first_day: np.ndarray,
) -> np.ndarray:
    """Proven re-offences (the measure's one-year follow-up from ``first_day``, six-month
    waiting period) per participant."""
    pos = np.full(n_people, -1, np.int64)
    pos[person] = np.arange(len(person))
    q = pos[off.person]
    sel = np.flatnonzero(q >= 0)
    q = q[sel]
    d = index_day[q]
    counted = (
        (off.offence_day[sel] >= first_day[q])
        & (off.offence_day[sel] <= d + FOLLOW_UP_DAYS)
        & (off.outcome_day[sel] <= d + FOLLOW_UP_DAYS + WAITING_DAYS)
    )
    return np.bincount(q[counted], minlength=len(person))


def _plant_programmes(
    rng: np.random.Generator,
    cfg: SynthConfig,
    people: People,
    off: OffenceBatch,
    events: _Events,
    assess,
    emp: Spells,
    targets: dict[str, int],
    rng_new: np.random.Generator | None = None,
) -> tuple[OffenceBatch, dict[str, np.ndarray], dict[str, dict[str, float]]]:
    """Recruit participants, re-simulate their futures under the programme, record the truth.

    Programmes around the index types of generator 1.3 (releases, court orders) draw from
    ``rng`` exactly as 1.3 did; those around cautions, fines and discharges are planted after
    them from ``rng_new`` (their own stream), so adding them changes no earlier programme's
    participants or truth. ``events`` holds every index event (1.3's first)."""
    taken = np.zeros(len(people), bool)
    begun = _case_first_day(off)
    proven = _DayIndex(off.person, off.outcome_day)
    rng_new = rng if rng_new is None else rng_new
    groups: list[list[dict[str, np.ndarray]]] = [[], []]
    truth: dict[str, dict[str, float]] = {}
    order = sorted(cfg.programmes, key=lambda spec: _is_new_setting(spec.setting))
    for spec in order:
        new = _is_new_setting(spec.setting)
        stream = rng_new if new else rng
        cands = _candidates(spec, people, events, assess, emp, cfg, proven)
        cap = int(0.2 * len(cands.person))
        pick = choose_participants(
            stream, spec, cands, people.propensity, min(targets.get(spec.name, 0), cap), taken
        )
        if not len(pick):
            continue
        person = cands.person[pick]
        taken[person] = True
        start, end = intervention_dates(
            stream, cands.day[pick], cands.custody[pick], cands.sentence_start[pick]
        )
        first = _first_follow_up_day(cands.day[pick], cands.kind[pick])
        ongoing = _ongoing_cases(off, begun, len(people), person, cands.day[pick], first)
        block = _pending_custody(off, begun, len(people), person, cands.day[pick], first)
        groups[int(new)].append(
            {
                "programme": np.full(len(pick), spec.name, dtype=object),
                "person": person,
                "index_day": cands.day[pick],
                "custody": cands.custody[pick],
                "kind": cands.kind[pick],
                "sentence_start": cands.sentence_start[pick],
                "intervention_start": start,
                "intervention_end": end,
                "hazard_ratio": np.full(len(pick), spec.hazard_ratio),
                # each participant's past at the start of their future, for the new life
                "first": first,
                "resume_day": ongoing.resume_day,
                "prior": ongoing.prior,
                "block_from": block[0],
                "block_until": block[1],
            }
        )
        truth[spec.name] = true_effect(
            stream,
            cfg.params,
            spec,
            birth_day=people.birth_day[person],
            female=people.female[person],
            log_rate=people.log_rate[person],
            burst=people.burst[person],
            index_day=cands.day[pick],
            start_day=ongoing.resume_day,
            prior=ongoing.prior,
            already_counted=ongoing.counted,
            blocked=block,
        )
    chosen = groups[0] + groups[1]
    if not chosen:
        return _sort_offences(off), {}, truth
    part = {k: np.concatenate([c[k] for c in chosen]) for k in chosen[0]}
    person, index_day, first = part["person"], part["index_day"], part["first"]
    part["y0"] = _outcome_counts(off, len(people), person, index_day, first)
    # Replace each participant's future with one lived under the programme. The future is the
    # cases *begun* from the first day the measure counts (the release day for a release from
    # custody): a case already under way (offences committed over a few weeks, sentenced
    # together) keeps its later offences, and the new life resumes when it ends, as the career
    # process itself would (:func:`simulate_offending`). Generator 1.1 cut such a case at the
    # index date (its later offences stayed in the untreated future only) and started every new
    # life the day after, so nobody could re-offend on the day of release, which the measure
    # counts: both made programmes look better than they were.
    future = np.zeros(len(people), np.int64) - 1
    future[person] = first
    drop = (future[off.person] >= 0) & (begun >= future[off.person])
    base = off.take(np.flatnonzero(~drop))
    n_old = sum(len(c["person"]) for c in groups[0])
    lives = [
        _treated_lives(stream, cfg, people, part, np.arange(lo, hi))
        for stream, lo, hi in ((rng, 0, n_old), (rng_new, n_old, len(person)))
        if hi > lo
    ]
    final = _sort_offences(OffenceBatch.concat([base, *lives]))
    part["y1"] = _outcome_counts(final, len(people), person, index_day, first)
    part["new_stream"] = np.arange(len(person)) >= n_old
    return final, part, truth


def _treated_lives(
    rng: np.random.Generator, cfg: SynthConfig, people: People, part: dict[str, np.ndarray],
    rows: np.ndarray,
) -> OffenceBatch:
    """The futures of participants ``rows`` (positions in ``part``) under their programme."""
    person = part["person"][rows]
    return simulate_offending(
        rng,
        cfg.params,
        person=person,
        birth_day=people.birth_day[person],
        female=people.female[person],
        log_rate=people.log_rate[person],
        burst=people.burst[person],
        start_day=part["resume_day"][rows],
        end_day=cfg.cutoff_day,
        prior=part["prior"][rows],
        hazard_ratio=part["hazard_ratio"][rows],
        effect_end_day=part["index_day"][rows] + EFFECT_DAYS,
        blocked=(part["block_from"][rows], part["block_until"][rows]),
    )


def _case_first_day(off: OffenceBatch) -> np.ndarray:
    """Per offence, the day its case began. A case (:func:`simulate_offending`) is one person's
    offences sentenced together, so it is identified by (person, outcome day)."""
    key = off.person.astype(np.int64) * 100_000 + off.outcome_day
    _, case = np.unique(key, return_inverse=True)
    first = np.full(int(case.max()) + 1 if len(case) else 0, np.iinfo(np.int64).max)
    np.minimum.at(first, case, off.offence_day.astype(np.int64))
    return first[case]


@dataclass(frozen=True)
class _Ongoing:
    """Participants' past at the start of their future (``first``: the first day the measure
    counts): the offences of the cases begun before it, and of those cases still under way."""

    prior: np.ndarray  # offences of the cases begun before ``first`` (the career's count)
    resume_day: np.ndarray  # float: when a new case can begin
    counted: np.ndarray  # offences of cases under way that the measure counts


def _ongoing_cases(
    off: OffenceBatch, begun: np.ndarray, n_people: int, person: np.ndarray,
    index_day: np.ndarray, first: np.ndarray,
) -> _Ongoing:
    """Each participant's offences so far, what their cases under way at ``first`` hold from it,
    and when a new case can begin: at ``first``, or half a day after the last offence of a case
    still under way (the career process's own rule)."""
    pos = np.full(n_people, -1, np.int64)
    pos[person] = np.arange(len(person))
    q = pos[off.person]
    f = np.where(q >= 0, first[np.maximum(q, 0)], 0)
    past = np.flatnonzero((q >= 0) & (begun < f))
    sel = past[off.offence_day[past] >= f[past]]
    last = np.full(len(person), -np.inf)
    np.maximum.at(last, q[sel], off.offence_day[sel].astype(np.float64))
    d = index_day[q[sel]]
    counted = (off.offence_day[sel] <= d + FOLLOW_UP_DAYS) & (
        off.outcome_day[sel] <= d + FOLLOW_UP_DAYS + WAITING_DAYS
    )
    return _Ongoing(
        prior=np.bincount(q[past], minlength=len(person)),
        resume_day=np.maximum(first.astype(np.float64), last + 0.5),
        counted=np.bincount(q[sel][counted], minlength=len(person)),
    )


def _pending_custody(
    off: OffenceBatch, begun: np.ndarray, n_people: int, person: np.ndarray,
    index_day: np.ndarray, first: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Custody already coming to each participant after the index date: from cases begun before
    their future starts (``first``) but sentenced (or still being served) later. (start,
    release) per participant, -1 where none; several such sentences are merged into one span.

    The span starts at ``first``, not at sentencing: the career process holds a person from a
    custodial case's last offence until release (:func:`simulate_offending`: remand and
    sentence as one span), so their untreated future has no offending before that release.
    Generator 1.1 let the new life offend until sentencing, which the untreated future could
    not."""
    pos = np.full(n_people, -1, np.int64)
    pos[person] = np.arange(len(person))
    q = pos[off.person]
    d = np.where(q >= 0, index_day[np.maximum(q, 0)], 0)
    f = np.where(q >= 0, first[np.maximum(q, 0)], 0)
    sel = np.flatnonzero(
        (q >= 0)
        & off.principal
        & (off.disposal == DISPOSAL["custody"])
        & (begun < f)
        & (off.release_day > d)
    )
    start = np.full(len(person), np.iinfo(np.int64).max)
    until = np.full(len(person), -1, np.int64)
    np.minimum.at(start, q[sel], f[sel])
    np.maximum.at(until, q[sel], off.release_day[sel])
    start = np.where(until >= 0, start, -1)
    return start, until


def _targets(cfg: SynthConfig) -> list[dict[str, int]]:
    """Each programme's recruits per chunk, in proportion to chunk size (largest remainder)."""
    sizes = _chunk_sizes(cfg)
    out: list[dict[str, int]] = [{} for _ in sizes]
    for spec in cfg.programmes:
        share = np.array(sizes) / cfg.people * spec.size
        alloc = np.floor(share).astype(int)
        rest = spec.size - alloc.sum()
        alloc[np.argsort(-(share - alloc), kind="stable")[:rest]] += 1
        for k, a in enumerate(alloc):
            out[k][spec.name] = int(a)
    return out


def _chunk_sizes(cfg: SynthConfig) -> list[int]:
    full, rest = divmod(cfg.people, cfg.chunk_size)
    return [cfg.chunk_size] * full + ([rest] if rest else [])


def _build_chunk(
    cfg: SynthConfig, k: int, n_keep: int, offset: int, targets: dict[str, int]
) -> _ChunkResult:
    rng = np.random.default_rng([cfg.seed, k])
    people, off = _draw_register(rng, cfg, n_keep)
    cutoff = cfg.cutoff_day
    events = _index_events(off, cfg.first_day, cutoff)
    emp_raw, ben_raw = employment_and_benefits(rng, people, cutoff)
    emp = cut_by_custody(emp_raw, custody_periods(off))
    assess = assessments_for_events(
        rng, people, events.person, events.day, events.custody, events.prior
    )
    rng_new = np.random.default_rng([cfg.seed, k, 1])
    all_events = events.concat(_disposal_events(off, cfg.first_day, cutoff))
    off, part, truth = _plant_programmes(
        rng, cfg, people, off, all_events, assess, emp, targets, rng_new
    )
    final_events = _index_events(off, cfg.first_day, cutoff)
    if part:
        future = np.full(len(people), -1, np.int64)
        future[part["person"]] = part["index_day"]
        keep_a = (future[assess.person] < 0) | (assess.event_day <= future[assess.person])
        extras = []
        # assessments at the participants' later releases and orders, each stream for its own
        for stream, mine in ((rng, ~part["new_stream"]), (rng_new, part["new_stream"])):
            if not mine.any():
                continue
            theirs = np.full(len(people), -1, np.int64)
            theirs[part["person"][mine]] = part["index_day"][mine]
            new_e = (theirs[final_events.person] >= 0) & (
                final_events.day > theirs[final_events.person]
            )
            extras.append(
                assessments_for_events(
                    stream,
                    people,
                    final_events.person[new_e],
                    final_events.day[new_e],
                    final_events.custody[new_e],
                    final_events.prior[new_e],
                )
            )
        assess = assess.take(np.flatnonzero(keep_a))
        for extra in extras:
            assess = assess.concat(extra)
    final_events = final_events.concat(_disposal_events(off, cfg.first_day, cutoff))
    custody = custody_periods(off)
    emp = cut_by_custody(emp_raw, custody)
    ben = cut_by_custody(ben_raw, custody)
    first_offence = np.full(len(people), cutoff, np.int64)
    np.minimum.at(first_offence, off.person, off.offence_day)
    f_person, f_flag, f_day = flags(rng, people, first_offence)
    a_person, a_fore, a_sur, a_dob = aliases(rng, people)
    # middle names (1.6) from a stream of their own: every other draw is as in 1.5
    middle = sample_middle_names(
        np.random.default_rng([cfg.seed, k, _MIDDLE_NAME_STREAM]),
        people.sex, people.name_group, people.forename,
    )
    ids = offset + np.arange(len(people), dtype=np.int64) + 1
    tables = {
        "people": _people_table(people, ids, off, first_offence, middle),
        "aliases": pa.table(
            {
                "person_id": ids[a_person],
                "forename": a_fore.astype(str),
                "surname": a_sur.astype(str),
                "date_of_birth": _dates(a_dob),
            }
        ),
        "offences": _offences_table(off, ids, k),
        "index_events": _events_table(final_events, off, ids, k),
        "employment_spells": _spells_table(emp, ids),
        "benefit_spells": _spells_table(ben, ids, benefit=True),
        "assessments": _assessments_table(assess, ids),
        "flags": pa.table(
            {
                "person_id": ids[f_person],
                "flag": np.array(FLAG_TYPES, dtype=object)[f_flag].astype(str),
                "flag_date": _dates(np.minimum(f_day, cutoff)),
            }
        ),
    }
    participants = _participants_table(part, ids, final_events, k)
    return _ChunkResult(tables, participants, truth)


def _labels(codes: np.ndarray, names: tuple[str, ...]) -> pa.Array:
    """Category codes as strings, built through a dictionary (fast for millions of rows)."""
    dictionary = pa.array(list(names), pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), dictionary).cast(
        pa.string()
    )


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.int32()).cast(pa.date32())


def _nullable_dates(days: np.ndarray) -> pa.Array:
    days = np.asarray(days, dtype=np.int64)
    return pa.array(days.astype(np.int32), type=pa.int32(), mask=days < 0).cast(pa.date32())


def _people_table(
    people: People, ids: np.ndarray, off: OffenceBatch, first_offence: np.ndarray,
    middle_names: np.ndarray,
) -> pa.Table:
    years = np.maximum(
        1974, first_offence.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    )
    serial = (ids * _PNC_MULTIPLIER + 12_345) % 10_000_000
    pnc = format_pnc_ids(years, serial)
    ever_custody = np.zeros(len(people), bool)
    ever_custody[off.person[off.disposal == DISPOSAL["custody"]]] = True
    prison = _prison_numbers(ids)
    return pa.table(
        {
            "person_id": ids,
            "pnc_id": pa.array(pnc, pa.string()),
            "prison_number": pa.array(np.where(ever_custody, prison, None).tolist(), pa.string()),
            "forename": pa.array(people.forename, pa.string()),
            "middle_names": pa.array(middle_names, pa.string()),
            "surname": pa.array(people.surname, pa.string()),
            "date_of_birth": _dates(people.birth_day),
            "sex": pa.array(people.sex, pa.string()),
            "ethnicity": _labels(people.ethnicity, ETHNICITIES),
            "nationality": _labels(people.nationality, NATIONALITIES),
            "region": _labels(people.region, REGIONS),
        }
    )


def _prison_numbers(ids: np.ndarray) -> np.ndarray:
    """``A1234BC``: a bijection of person ids onto the prison-number space."""
    x = (ids * 7_654_321 + 99_991) % (26 * 10_000 * 26 * 26)
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), dtype=object)
    a = letters[x // (10_000 * 676)]
    digits = np.char.zfill(((x // 676) % 10_000).astype(str), 4).astype(object)
    b = letters[(x % 676) // 26]
    c = letters[x % 26]
    return (a + digits + b + c).astype(str)


def _offences_table(off: OffenceBatch, ids: np.ndarray, k: int) -> pa.Table:
    sentence = off.sentence_days.astype(np.int64)
    return pa.table(
        {
            "offence_id": k * _ID_STRIDE + np.arange(len(off), dtype=np.int64),
            "person_id": ids[off.person],
            "offence_date": _dates(off.offence_day),
            "outcome_date": _dates(off.outcome_day),
            "offence_code": pa.array(offence_codes(off.group, off.code), pa.string()),
            "offence_group": _labels(off.group, OFFENCE_GROUPS),
            "severity": pa.array(off.severity.astype(np.int32)),
            "disposal": _labels(off.disposal, DISPOSALS),
            "sentence_days": pa.array(sentence.astype(np.int32), mask=sentence < 0),
            "dv_flag": pa.array(off.dv.astype(bool)),
            "terrorism_flag": pa.array(off.terrorism.astype(bool)),
        }
    )


def _events_table(ev: _Events, off: OffenceBatch, ids: np.ndarray, k: int) -> pa.Table:
    rows = ev.offence_row
    return pa.table(
        {
            "event_id": k * _ID_STRIDE + np.arange(len(rows), dtype=np.int64),
            "person_id": ids[ev.person],
            "index_date": _dates(ev.day),
            "index_type": _labels(ev.kind, INDEX_TYPES),
            "offence_id": k * _ID_STRIDE + rows.astype(np.int64),
            "offence_group": _labels(off.group[rows], OFFENCE_GROUPS),
            "disposal": _labels(off.disposal[rows], DISPOSALS),
            # none for a caution, fine or discharge (no sentence length)
            "sentence_days": pa.array(off.sentence_days[rows].astype(np.int32),
                                      mask=off.sentence_days[rows] < 0),
            "sentence_start": _dates(ev.sentence_start),
        }
    )


def _spells_table(sp: Spells, ids: np.ndarray, benefit: bool = False) -> pa.Table:
    cols: dict[str, object] = {"person_id": ids[sp.person]}
    if benefit:
        cols["benefit_type"] = _labels(sp.kind, BENEFIT_TYPES)
    cols["start_date"] = _dates(sp.start)
    cols["end_date"] = _nullable_dates(sp.end)
    return pa.table(cols)


def _assessments_table(a, ids: np.ndarray) -> pa.Table:
    return pa.table(
        {
            "person_id": ids[a.person],
            "assessment_date": _dates(a.day),
            "risk_score": pa.array(a.risk.astype(float)),
            **{k: pa.array(v.astype(bool)) for k, v in a.needs.items()},
        }
    )


def _participants_table(
    part: dict[str, np.ndarray], ids: np.ndarray, ev: _Events, k: int
) -> pa.Table:
    if not part:
        return pa.table({"programme": pa.array([], pa.string())})
    n_kinds = len(INDEX_TYPES)
    key_e = (ev.person.astype(np.int64) * 100_000 + ev.day) * n_kinds + ev.kind
    order = np.argsort(key_e, kind="stable")
    pos = np.searchsorted(
        key_e[order],
        (part["person"].astype(np.int64) * 100_000 + part["index_day"]) * n_kinds + part["kind"],
    )
    event_row = order[np.minimum(pos, len(order) - 1)]
    return pa.table(
        {
            "programme": pa.array(part["programme"].astype(str)),
            "person_id": ids[part["person"]],
            "event_id": k * _ID_STRIDE + event_row.astype(np.int64),
            "index_date": _dates(part["index_day"]),
            "index_type": pa.array(np.array(INDEX_TYPES, dtype=object)[part["kind"]].astype(str)),
            "conviction_date": _dates(part["sentence_start"]),
            "intervention_start": _dates(part["intervention_start"]),
            "intervention_end": _dates(part["intervention_end"]),
            "hazard_ratio": pa.array(part["hazard_ratio"]),
            "reoffences_untreated": pa.array(part["y0"].astype(np.int32)),
            "reoffences_treated": pa.array(part["y1"].astype(np.int32)),
        }
    )


ProgressCallback = Callable[[int, int], None]


def _write_chunk(
    cfg: SynthConfig, k: int, n_keep: int, offset: int, targets: dict[str, int], parquet_dir: Path
) -> tuple[pa.Table, dict]:
    """Simulate one chunk and write its Parquet parts (run in a worker process)."""
    result = _build_chunk(cfg, k, n_keep, offset, targets)
    for name, table in result.tables.items():
        (parquet_dir / name).mkdir(parents=True, exist_ok=True)
        pq.write_table(table, parquet_dir / name / f"part-{k:05d}.parquet")
    return result.participants, result.truth_sums


def _run_chunks(jobs: list[tuple], workers: int):
    """Yield each chunk's (participants, truth) in chunk order."""
    if workers == 1:
        for job in jobs:
            yield _write_chunk(*job)
        return
    ctx = get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(_write_chunk, *job) for job in jobs]
        for future in futures:
            yield future.result()


def generate(
    out_dir: str | Path,
    people: int = SynthConfig.people,
    seed: int = SynthConfig.seed,
    *,
    chunk_size: int = SynthConfig.chunk_size,
    programmes: tuple[ProgrammeSpec, ...] | None = None,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> dict:
    """Generate synthetic national records into ``out_dir``; return the manifest.

    Chunks are simulated in ``workers`` processes (default: one per core); each chunk has its
    own random stream, so the output does not depend on the number of workers.
    """
    from jdl.admin._store import build_database, write_manifest

    cfg = SynthConfig(
        people=people,
        seed=seed,
        chunk_size=chunk_size,
        programmes=DEFAULT_PROGRAMMES if programmes is None else programmes,
    )
    out = Path(out_dir)
    parquet_dir = out / "parquet"
    if parquet_dir.exists():
        shutil.rmtree(parquet_dir)
    truth_dir = out / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    sizes = _chunk_sizes(cfg)
    targets = _targets(cfg)
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).tolist()
    jobs = [(cfg, k, n, offsets[k], targets[k], parquet_dir) for k, n in enumerate(sizes)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    participants: list[pa.Table] = []
    sums: dict[str, dict[str, float]] = {}
    results = _run_chunks(jobs, workers)
    for done, (part, truth) in enumerate(results, start=1):
        if part.num_rows:
            participants.append(part)
        for name, t in truth.items():
            agg = sums.setdefault(name, {})
            for key, value in t.items():
                weight = 1.0 if key == "n" else t["n"]
                agg[key] = agg.get(key, 0.0) + value * weight
        if progress:
            progress(done, len(sizes))
    all_participants = pa.concat_tables(participants) if participants else pa.table({})
    pq.write_table(all_participants, truth_dir / "participants.parquet")
    _write_programme_truth(truth_dir, cfg, sums, all_participants)
    counts = build_database(out, parquet_dir)
    manifest = {
        "source": "synthetic",
        "data_version": cfg.data_version(),
        "contract_version": CONTRACT_VERSION,
        "generator_version": GENERATOR_VERSION,
        "software_version": __version__,
        "seed": seed,
        "people": people,
        "first_year": cfg.first_year,
        "last_year": cfg.last_year,
        "data_cutoff": date(cfg.last_year, 12, 31).isoformat(),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "row_counts": counts,
        "params": asdict(cfg.params),
    }
    write_manifest(out, manifest)
    return manifest


def _write_programme_truth(
    truth_dir: Path, cfg: SynthConfig, sums: dict, participants: pa.Table
) -> None:
    programmes = []
    names = (
        participants.column("programme").to_numpy(zero_copy_only=False)
        if participants.num_rows
        else np.array([])
    )
    for spec in cfg.programmes:
        agg = sums.get(spec.name, {"n": 0})
        n = agg.get("n", 0)
        effect = {k: (v / n if n else None) for k, v in agg.items() if k != "n"}
        mask = names == spec.name
        realised = {}
        if mask.any():
            y0 = participants.column("reoffences_untreated").to_numpy()[mask]
            y1 = participants.column("reoffences_treated").to_numpy()[mask]
            realised = {
                "untreated_rate": float((y0 > 0).mean()),
                "treated_rate": float((y1 > 0).mean()),
                "att_rate": float((y1 > 0).mean() - (y0 > 0).mean()),
                "att_frequency": float(y1.mean() - y0.mean()),
            }
        programmes.append(
            {
                **spec_to_dict(spec),
                "participants": int(mask.sum()),
                "true_effect": {
                    "hazard_ratio": spec.hazard_ratio,
                    "effect_window_days": EFFECT_DAYS,
                    **effect,
                    "realised": realised,
                },
            }
        )
    payload = {
        "data_version": cfg.data_version(),
        "definition": (
            "att_rate: expected one-year proven re-offending rate of the participants with the "
            "programme minus without it (offence within 365 days after the index date, proven "
            "within a further 183 days), by Monte Carlo over their own follow-up; 'realised' "
            "compares their recorded (treated) outcome with the one they had in the untreated "
            "simulation."
        ),
        "programmes": programmes,
    }
    (truth_dir / "programmes.json").write_text(json.dumps(payload, indent=2))

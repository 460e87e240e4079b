"""Greedy nearest-neighbour matching on a one-dimensional distance, as MatchIt does it.

The algorithm is MatchIt 4.7's ``nn_matchC_vec`` (``src/nn_matchC_vec.cpp``, ``internal.cpp``),
re-expressed so that it scales: no distance matrix, one stable sort of all units by score, and
for matching without replacement a pair of union-find "next available control" pointers, so each
treated unit finds its nearest still-available control in near-constant time.

What must agree with MatchIt, and how it does:

* Units are placed in one stable order of the score (R's ``order``: ties keep data order).
  Treated units are matched in ``m_order`` (``largest``: decreasing score, ties in data order).
* A treated unit's candidates are the nearest available control on its left and on its right
  in that order (same exact stratum, within the caliper). MatchIt scans outwards alternately,
  left first, one position per step, and keeps the first candidate found among equally near
  ones. So a tie goes to the left candidate when its step offset ``a`` is at most the right
  one's ``b``, where offsets count positions in the full order (treated and used units
  included) from the scan's starting points.
* ``k:1`` without replacement runs ``k`` passes over the treated; in pass ``r`` the scan starts
  from the outermost of the unit's own position and its earlier matches. A treated unit without
  a match in pass 1 is dropped.
* With replacement the ``k`` nearest are found in one scan and chosen with ``std::partial_sort``
  (heap selection, whose tie order is emulated here).
* The caliper is inclusive: a control at distance equal to the caliper is allowed.
* ``reuse_max`` (MatchIt's ``reuse.max``): a control is removed after that many uses; below the
  number of treated units matching is in passes (each scan starting outside the unit's earlier
  matches), otherwise one scan per treated unit. ``unit_id``: each match counts one use for
  every row of the control's and the treated unit's person. Variable ratio: pass r serves the
  treated units whose ratio is at least r. Covariate calipers filter candidates; each side's
  candidate is the nearest that passes (MatchIt's scan steps over the others).

References
----------
Ho, D., Imai, K., King, G. and Stuart, E. A. (2011). MatchIt: Nonparametric preprocessing for
parametric causal inference. *Journal of Statistical Software* 42(8).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jdl.matching._mahalanobis import CovariateCalipers, UnitMembers, unit_members


@dataclass(frozen=True)
class _Controls:
    """Available controls sorted by (stratum, score position), with per-stratum bounds."""

    unit: np.ndarray  # unit index of each control in this order
    pos: np.ndarray  # position of the control in the full sorted order
    dist: np.ndarray  # its score
    lo: np.ndarray  # per treated unit: first index of its stratum block
    hi: np.ndarray  # per treated unit: one past the last index of its block
    ins: np.ndarray  # per treated unit: first control index with pos > treated pos


def _prepare(distance: np.ndarray, treat: np.ndarray, eligible: np.ndarray,
             strata: np.ndarray | None, treated_idx: np.ndarray) -> tuple[np.ndarray, _Controls]:
    order = np.argsort(distance, kind="stable")
    pos = np.empty(len(distance), dtype=np.int64)
    pos[order] = np.arange(len(distance))
    ctrl = order[(~treat & eligible)[order]]  # available controls in score order
    s_all = strata if strata is not None else np.zeros(len(distance), dtype=np.int64)
    if strata is not None:
        ctrl = ctrl[np.argsort(s_all[ctrl], kind="stable")]
    cs = s_all[ctrl]
    cpos = pos[ctrl]
    # Composite key (stratum, position) for searchsorted, as one sortable float-free integer.
    n = len(distance)
    ckey = cs * (n + 1) + cpos
    ts = s_all[treated_idx]
    lo = np.searchsorted(cs, ts, side="left")
    hi = np.searchsorted(cs, ts, side="right")
    ins = np.searchsorted(ckey, ts * (n + 1) + pos[treated_idx], side="right")
    return pos, _Controls(unit=ctrl, pos=cpos, dist=distance[ctrl], lo=lo, hi=hi, ins=ins)


def _treated_order(distance: np.ndarray, treated_idx: np.ndarray, m_order: str,
                   rng: np.random.Generator | None) -> np.ndarray:
    """Indices into ``treated_idx`` in the order MatchIt matches them."""
    d = distance[treated_idx]
    if m_order == "largest":
        return np.argsort(-d, kind="stable")
    if m_order == "smallest":
        return np.argsort(d, kind="stable")
    if m_order == "data":
        return np.arange(len(treated_idx))
    if m_order == "random":
        return (rng or np.random.default_rng()).permutation(len(treated_idx))
    raise ValueError(m_order)


def nearest_match(distance: np.ndarray, treat: np.ndarray, eligible: np.ndarray, *,
                  ratio: int | np.ndarray = 1, replace: bool = False,
                  caliper: float | None = None, strata: np.ndarray | None = None,
                  m_order: str = "largest", rng: np.random.Generator | None = None,
                  reuse_max: int | None = None, unit_id: np.ndarray | None = None,
                  calipers: CovariateCalipers | None = None) -> np.ndarray:
    """Match each treated unit to ``ratio`` controls; return the match matrix.

    Parameters
    ----------
    distance : (n,) score (propensity score by default).
    treat : (n,) boolean, True for treated (the focal group).
    eligible : (n,) boolean, False for discarded units.
    ratio : controls per treated unit, one number or one per treated unit (variable ratio).
    replace : controls may be reused without limit (``reuse_max`` = infinity).
    caliper : maximum absolute score difference (already in score units), or None.
    strata : (n,) integer exact-matching strata, or None.
    reuse_max : times a control may be used (MatchIt's ``reuse.max``); overrides ``replace``.
    unit_id : (n,) codes of the person behind each row (MatchIt's ``unit.id``): once a row is
        used, every row of the same person counts as used (only when ``reuse_max`` is below
        the number of treated units, as in MatchIt).
    calipers : named covariate calipers (filter candidates; the scan passes over those that
        fail, as MatchIt's ``caliper_covs_okay2``).

    Returns
    -------
    (n_treated, max ratio) int64 array of control unit indices, -1 where unmatched; rows follow
    the treated units in data order.
    """
    treated_idx = np.flatnonzero(treat)
    nf = len(treated_idx)
    ratios = np.broadcast_to(np.asarray(ratio, dtype=np.int64), (nf,)).copy()
    if reuse_max is None:
        reuse_max = np.iinfo(np.int32).max if replace else 1
    pos, c = _prepare(distance, treat, eligible, strata, treated_idx)
    cal = np.inf if caliper is None else float(caliper)
    t_ok = eligible[treated_idx] & (c.hi > c.lo)
    if reuse_max >= nf:  # MatchIt: one scan per treated unit, order irrelevant
        if calipers is None and (ratios == 1).all():
            mm = _replace_one(distance, pos, treated_idx, c, cal)
        else:
            mm = _replace_k(distance, pos, treated_idx, c, cal, ratios, calipers)
        mm[~t_ok] = -1
        return mm
    order = _treated_order(distance, treated_idx, m_order, rng)
    members = unit_members(unit_id)
    return _passes(distance, pos, treated_idx, c, cal, ratios, order, t_ok, int(reuse_max),
                   members, calipers, treat)


def _replace_one(distance: np.ndarray, pos: np.ndarray, treated_idx: np.ndarray, c: _Controls,
                 cal: float) -> np.ndarray:
    """1:1 with replacement: every treated unit independently takes its nearest control."""
    di = distance[treated_idx]
    ii = pos[treated_idx]
    jl = c.ins - 1
    jr = c.ins
    has_l = jl >= c.lo
    has_r = jr < c.hi
    jl_s = np.where(has_l, jl, 0)
    jr_s = np.where(has_r, jr, 0)
    if len(c.unit) == 0:
        return np.full((len(treated_idx), 1), -1, dtype=np.int64)
    dl = np.where(has_l, np.abs(di - c.dist[jl_s]), np.inf)
    dr = np.where(has_r, np.abs(di - c.dist[jr_s]), np.inf)
    has_l &= dl <= cal
    has_r &= dr <= cal
    a = ii - c.pos[jl_s]
    b = c.pos[jr_s] - ii
    take_left = has_l & (~has_r | (dl < dr) | ((dl == dr) & (a <= b)))
    take_right = has_r & ~take_left
    out = np.full(len(treated_idx), -1, dtype=np.int64)
    out[take_left] = c.unit[jl_s[take_left]]
    out[take_right] = c.unit[jr_s[take_right]]
    return out[:, None]


def _heap_select(dists: list[float], k: int) -> list[int]:
    """Indices chosen by libstdc++ ``std::partial_sort(first, first + k, last)`` (heap select).

    Only which elements end up in the first ``k`` matters (the match set), and with ties that
    depends on the heap's layout, so the heap operations are reproduced exactly.
    """
    idx = list(range(len(dists)))

    def less(a: int, b: int) -> bool:
        return dists[a] < dists[b]

    def push_heap(hole: int, top: int, value: int) -> None:
        parent = (hole - 1) // 2
        while hole > top and less(idx[parent], value):
            idx[hole] = idx[parent]
            hole = parent
            parent = (hole - 1) // 2
        idx[hole] = value

    def adjust_heap(hole: int, length: int, value: int) -> None:
        top = hole
        child = hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if less(idx[child], idx[child - 1]):
                child -= 1
            idx[hole] = idx[child]
            hole = child
        if length % 2 == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            idx[hole] = idx[child - 1]
            hole = child - 1
        push_heap(hole, top, value)

    if k >= 2:
        parent = (k - 2) // 2
        while True:
            adjust_heap(parent, k, idx[parent])
            if parent == 0:
                break
            parent -= 1
    for i in range(k, len(idx)):
        if less(idx[i], idx[0]):
            value = idx[i]
            idx[i] = idx[0]
            adjust_heap(0, k, value)
    return idx[:k]


def _side_candidates(j: int, step: int, stop: int, k: int, i: int, cunit: np.ndarray,
                     calipers: CovariateCalipers | None) -> list[int]:
    """Control indices from j outwards (step -1 or +1, up to ``stop``), the first k passing
    the covariate calipers."""
    out: list[int] = []
    while j != stop and len(out) < k:
        if calipers is None or calipers.ok(i, cunit[j:j + 1])[0]:
            out.append(j)
        j += step
    return out


def _replace_k(distance: np.ndarray, pos: np.ndarray, treated_idx: np.ndarray, c: _Controls,
               cal: float, ratios: np.ndarray,
               calipers: CovariateCalipers | None = None) -> np.ndarray:
    """k:1 with replacement: MatchIt's single outward scan collecting up to k per side.

    Each treated unit's scan is independent of the others' (controls are reused), so the
    units whose k nearest controls within the caliper are one set whatever the tie-breaking
    are matched at once (:func:`_k_nearest_untied`); only those with a tie at the k-th
    distance take the scan below, which reproduces MatchIt's order exactly."""
    out = np.full((len(treated_idx), int(ratios.max())), -1, dtype=np.int64)
    cdist, cpos, cunit = c.dist, c.pos, c.unit  # indexed sparsely: no list copies of the pool
    pending = np.arange(len(treated_idx))
    if calipers is None and len(cunit) and (ratios == ratios[0]).all():
        pending = _k_nearest_untied(distance[treated_idx], c, cal, int(ratios[0]), out)
    for t in pending:
        k = int(ratios[t])
        i = int(treated_idx[t])
        di = float(distance[i])
        ii = int(pos[i])
        lo, hi, ins = int(c.lo[t]), int(c.hi[t]), int(c.ins[t])
        # Events in MatchIt's scan order: (offset, side), left before right at equal offsets.
        left = [(ii - cpos[j], 0, j) for j in _side_candidates(ins - 1, -1, lo - 1, k, i,
                                                                cunit, calipers)]
        right = [(cpos[j] - ii, 1, j) for j in _side_candidates(ins, 1, hi, k, i, cunit,
                                                                 calipers)]
        events = sorted(left + right)
        found_ids: list[int] = []
        found_d: list[float] = []
        n_side = [0, 0]
        stopped = [False, False]
        for _off, side, j in events:
            if stopped[side]:
                continue
            dc = abs(di - cdist[j])
            if dc > cal:
                stopped[side] = True
                continue
            if len(found_d) >= k and sum(1 for d in found_d if d < dc) >= k:
                stopped[side] = True
                continue
            found_ids.append(j)
            found_d.append(dc)
            n_side[side] += 1
            if n_side[side] == k:
                stopped[side] = True
        if not found_ids:
            continue
        if len(found_ids) > k:
            chosen = [found_ids[q] for q in _heap_select(found_d, k)]
        else:
            chosen = found_ids
        out[t, : len(chosen)] = [cunit[j] for j in chosen]
    return out


def _k_nearest_untied(di: np.ndarray, c: _Controls, cal: float, k: int,
                      out: np.ndarray) -> np.ndarray:
    """Fill ``out``'s rows with each treated unit's k nearest controls within the caliper where
    they are unambiguous; return the rows left for the exact scan.

    In one dimension a unit's k nearest controls lie among the k on each side of it in score
    order, the window MatchIt's scan visits. MatchIt's scan keeps every control nearer than the
    k-th nearest and its heap selection then keeps the k smallest distances, so when the k-th
    smallest distance in the window is below the next one (or fewer than k controls are within
    the caliper) the match set is those controls whatever the order of the scan. Only a tie at
    the k-th distance depends on MatchIt's tie-breaking (the scan order and the heap's layout):
    those rows are returned. The columns of a row are in ascending distance (the scan leaves
    them in heap order; a match set has no order)."""
    steps = np.arange(1, k + 1)
    left = c.ins[:, None] - steps  # k controls to the left, nearest first
    right = c.ins[:, None] + steps - 1  # k to the right
    window = np.concatenate([left, right], axis=1)
    inside = np.concatenate([left >= c.lo[:, None], right < c.hi[:, None]], axis=1)
    safe = np.where(inside, window, 0)
    d = np.where(inside, np.abs(di[:, None] - c.dist[safe]), np.inf)
    d[d > cal] = np.inf
    order = np.argsort(d, axis=1, kind="stable")
    ranked = np.take_along_axis(d, order, axis=1)
    kth, after = ranked[:, k - 1], ranked[:, k]
    tied = np.isfinite(kth) & (kth == after)
    chosen = np.take_along_axis(safe, order[:, :k], axis=1)
    found = np.isfinite(ranked[:, :k])
    rows = np.flatnonzero(~tied)
    out[rows, :k] = np.where(found[rows], c.unit[chosen[rows]], -1)
    return np.flatnonzero(tied)


def _passes(distance: np.ndarray, pos: np.ndarray, treated_idx: np.ndarray, c: _Controls,
            cal: float, ratios: np.ndarray, order: np.ndarray, t_ok: np.ndarray,
            reuse_max: int, members: UnitMembers | None,
            calipers: CovariateCalipers | None, treat: np.ndarray) -> np.ndarray:
    """Greedy matching in passes (one control per treated unit per pass; pass r serves the
    treated units whose ratio is at least r). A control is removed once used ``reuse_max``
    times (with ``members``: once any row of its person is, and a treated unit once it has
    its ``ratio``); removed controls are skipped with union-find pointers."""
    m = len(c.unit)
    # Union-find over removed controls only (dicts: no O(pool) set-up): a removed index j
    # points right to j + 1 and left to j - 1; finds follow and compress the chains.
    right_next: dict[int, int] = {}
    left_next: dict[int, int] = {}

    def find(nxt: dict[int, int], j: int) -> int:
        root = j
        while root in nxt:
            root = nxt[root]
        while j != root:
            nxt[j], j = root, nxt[j]
        return root

    cdist = c.dist  # indexed a few times per treated unit: no list copy of the pool
    cpos = c.pos
    lo_l, hi_l, ins_l = c.lo.tolist(), c.hi.tolist(), c.ins.tolist()
    d_t = distance[treated_idx].tolist()
    p_t = pos[treated_idx].tolist()
    ok = t_ok.tolist()
    ratio_l = ratios.tolist()
    out = np.full((len(treated_idx), max(ratio_l, default=1)), -1, dtype=np.int64)
    start_l = list(p_t)  # scan starts (positions): outermost of own position and matches
    start_r = list(p_t)
    next_l = [x - 1 for x in ins_l]  # control index to search from, per side
    next_r = list(ins_l)
    filled = [0] * len(treated_idx)
    times: dict[int, int] = {}  # uses per control index (or per treated row, negative key)
    ctrl_index = t_of_row = None
    if members is not None:  # row -> control index / treated index (-1: none)
        ctrl_index = np.full(len(treat), -1, dtype=np.int64)
        ctrl_index[c.unit] = np.arange(m)
        t_of_row = np.full(len(treat), -1, dtype=np.int64)
        t_of_row[treated_idx] = np.arange(len(treated_idx))
    available = m

    def remove(j: int) -> None:
        nonlocal available
        right_next[j] = j + 1
        left_next[j] = j - 1
        available -= 1

    def nearest(t: int, j: int, side: int, lo: int, hi: int) -> tuple[int, float]:
        """First available control from j outwards on one side within the caliper and the
        covariate calipers; (-1, inf) if none."""
        i = int(treated_idx[t])
        while True:
            j = find(left_next, j) if side < 0 else find(right_next, j)
            if j < lo or j >= hi:
                return -1, np.inf
            dc = abs(d_t[t] - cdist[j])
            if dc > cal:
                return -1, np.inf
            if calipers is None or calipers.ok(i, c.unit[j:j + 1])[0]:
                return j, dc
            j += side

    for r in range(max(ratio_l, default=1)):
        for t in order.tolist():
            if ratio_l[t] <= r:
                continue
            if available == 0:
                break
            if not ok[t]:
                continue
            lo, hi = lo_l[t], hi_l[t]
            jl, dl = nearest(t, next_l[t], -1, lo, hi)
            jr, dr = nearest(t, next_r[t], 1, lo, hi)
            if jl < 0 and jr < 0:
                ok[t] = False
                continue
            if jl >= 0 and (jr < 0 or dl < dr or (dl == dr and
                                                 start_l[t] - cpos[jl] <= cpos[jr] - start_r[t])):
                j = jl
            else:
                j = jr
            out[t, filled[t]] = j
            filled[t] += 1
            if cpos[j] < start_l[t]:
                start_l[t] = cpos[j]
                next_l[t] = j - 1
            if cpos[j] > start_r[t]:
                start_r[t] = cpos[j]
                next_r[t] = j + 1
            if members is None:
                if reuse_max == 1:
                    remove(j)
                    continue
                used = times.get(j, 0) + 1
                times[j] = used
                if used >= reuse_max:
                    remove(j)
                continue
            assert ctrl_index is not None and t_of_row is not None
            rows = np.union1d(members[int(c.unit[j])], members[int(treated_idx[t])])
            for u in rows.tolist():
                if treat[u]:
                    t2 = int(t_of_row[u])
                    if not ok[t2]:
                        continue
                    key = -1 - t2
                    times[key] = times.get(key, 0) + 1
                    if times[key] >= ratio_l[t2]:
                        ok[t2] = False
                else:
                    j2 = int(ctrl_index[u])
                    if j2 < 0 or j2 in right_next:
                        continue  # discarded, in another stratum's block, or removed
                    times[j2] = times.get(j2, 0) + 1
                    if times[j2] >= reuse_max:
                        remove(j2)
    matched = out >= 0
    out[matched] = c.unit[out[matched]]
    return out

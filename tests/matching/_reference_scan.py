"""A slow, literal re-expression of MatchIt's outward scan (``find_control_vec``), step by step.

Used only to check the fast union-find implementation on random data full of ties: every
position of the full sorted order is visited alternately left and right, exactly as MatchIt
visits them, so any divergence in tie-breaking, caliper or k-pass handling shows up.
"""

from __future__ import annotations

import numpy as np

from jdl.matching._nearest import _heap_select


def reference_match(distance, treat, eligible, *, ratio=1, replace=False, caliper=None,
                    strata=None, m_order="largest", reuse_max=None, unit_id=None,
                    cov_mat=None, cov_cal=None):
    """``nn_matchC_vec`` literally: ``ratio`` one number or one per treated unit; ``reuse_max``
    (default 1, or unlimited with ``replace``); ``unit_id`` codes; covariate calipers
    ``cov_cal`` (k,) on the columns of ``cov_mat`` (n, k), negative = must differ by more."""
    n = len(distance)
    n_t = int(np.sum(treat))
    ratios = np.broadcast_to(np.asarray(ratio), (n_t,)).astype(int)
    if reuse_max is None:
        reuse_max = 2**31 - 1 if replace else 1
    if reuse_max >= n_t:
        unit_id = None
    order_all = np.argsort(distance, kind="stable")
    pos = np.empty(n, dtype=int)
    pos[order_all] = np.arange(n)
    t_idx = np.flatnonzero(treat)
    s = strata if strata is not None else np.zeros(n, dtype=int)
    cal = np.inf if caliper is None else caliper
    elig = eligible.copy()
    mm = np.full((len(t_idx), int(ratios.max(initial=np.max(ratio)))), -1)

    def cov_ok(i, z):
        if cov_cal is None:
            return True
        for k, cal in enumerate(cov_cal):
            diff = abs(cov_mat[i, k] - cov_mat[z, k])
            if (cal >= 0 and diff > cal) or (cal < 0 and diff <= -cal):
                return False
        return True

    def scan(i, k, r, row):
        ii = pos[i]
        prev = [pos[c] for c in row if c >= 0]
        iil = min([ii, *prev])
        iir = max([ii, *prev])
        if prev:
            min_dist = max(abs(distance[i] - distance[order_all[iil]]),
                           abs(distance[i] - distance[order_all[iir]]))
        else:
            min_dist = 0.0
        found, fd = [], []
        nl = nr = 0
        lstop = rstop = False
        left = False
        while not (lstop and rstop):
            left = True if rstop else (False if lstop else not left)
            if left:
                if iil <= 0 or nl == k:
                    lstop = True
                    continue
                iil -= 1
                z = order_all[iil]
            else:
                if iir >= n - 1 or nr == k:
                    rstop = True
                    continue
                iir += 1
                z = order_all[iir]
            if not elig[z] or treat[z] or (r > 0 and z in row):
                continue
            dc = abs(distance[i] - distance[z])
            if dc > cal:
                if left:
                    lstop = True
                else:
                    rstop = True
                continue
            if dc < min_dist:
                continue
            if len(found) >= k and sum(d < dc for d in fd) >= k:
                if left:
                    lstop = True
                else:
                    rstop = True
                continue
            if s[z] != s[i]:
                continue
            if not cov_ok(i, z):
                continue
            found.append(z)
            fd.append(dc)
            if left:
                nl += 1
                lstop = lstop or nl == k
            else:
                nr += 1
                rstop = rstop or nr == k
        if len(found) > k:
            return [found[q] for q in _heap_select(fd, k)]
        return [found[q] for q in np.argsort(fd, kind="stable")]

    d_t = distance[t_idx]
    ordr = {"largest": np.argsort(-d_t, kind="stable"), "smallest": np.argsort(d_t, kind="stable"),
            "data": np.arange(len(t_idx))}[m_order]
    if reuse_max >= n_t:
        for k_ in range(len(t_idx)):
            i = t_idx[k_]
            if not elig[i]:
                continue
            got = scan(i, int(ratios[k_]), 0, [])
            mm[k_, : len(got)] = got
        return mm
    times = np.zeros(n, dtype=int)
    allowed = np.full(n, reuse_max)
    allowed[t_idx] = ratios
    for r in range(mm.shape[1]):
        for k_ in ordr:
            if ratios[k_] <= r:
                continue
            if not (elig & ~treat).any():
                break
            i = t_idx[k_]
            if not elig[i]:
                continue
            got = scan(i, 1, r, [c for c in mm[k_] if c >= 0])
            if not got:
                elig[i] = False
                continue
            j = got[0]
            mm[k_, int((mm[k_] >= 0).sum())] = j
            touched = [j, i] if unit_id is None else list(
                np.flatnonzero(np.isin(unit_id, unit_id[[j, i]])))
            for u in touched:
                if not elig[u]:
                    continue
                times[u] += 1
                if times[u] >= allowed[u]:
                    elig[u] = False
    return mm


def reference_mahalanobis(Z, treat, eligible, *, ratio=1, reuse_max=1, strata=None,
                          order=None, unit_id=None):
    """``nn_matchC_mahcovs`` / ``find_control_mahcovs`` literally, on transformed rows Z:
    positions ordered by Z[:, 0]; alternate left/right steps; the insertion list with its
    early stops. Exact strata are matched one at a time (MatchIt splits them without
    unit_id), so positions count within the stratum."""
    n = len(treat)
    t_idx = np.flatnonzero(treat)
    n_t = len(t_idx)
    ratios = np.broadcast_to(np.asarray(ratio), (n_t,)).astype(int)
    s = strata if strata is not None else np.zeros(n, dtype=int)
    split = strata is not None and unit_id is None
    order = np.flatnonzero(eligible[t_idx]) if order is None else order
    if reuse_max >= n_t:
        unit_id = None
    elig = eligible.copy()
    mm = np.full((n_t, int(ratios.max())), -1)

    def find(i, k, row):
        members = np.flatnonzero(s == s[i]) if split else np.arange(n)
        srt = members[np.argsort(Z[members, 0], kind="stable")]
        ii = int(np.flatnonzero(srt == i)[0])
        iil = iir = ii
        lst = []  # (unit, dist), ascending
        lstop = rstop = False
        left = False
        while not (lstop and rstop):
            left = False if lstop else (True if rstop else not left)
            if left:
                if iil <= 0:
                    lstop = True
                    continue
                iil -= 1
                z = srt[iil]
            else:
                if iir >= len(srt) - 1:
                    rstop = True
                    continue
                iir += 1
                z = srt[iir]
            if not elig[z] or treat[z] or z in row:
                continue
            mv = (Z[i, 0] - Z[z, 0]) ** 2
            if len(lst) == k and lst[-1][1] < mv:
                if left:
                    lstop = True
                else:
                    rstop = True
                continue
            if s[z] != s[i]:
                continue
            d = 0.0
            for c in range(Z.shape[1]):
                tmp = Z[i, c] - Z[z, c]
                d += tmp * tmp
            if not lst:
                lst.append((z, d))
            elif d > lst[-1][1]:
                if len(lst) < k:
                    lst.append((z, d))
            elif k == 1:
                lst[0] = (z, d)
            else:
                if len(lst) == k:
                    lst.pop()
                if d > lst[-1][1]:
                    lst.append((z, d))
                else:
                    pos = next(q for q, (_u, dq) in enumerate(lst) if not dq < d)
                    lst.insert(pos, (z, d))
        return [u for u, _d in lst]

    if reuse_max >= n_t:
        for k_ in order:
            i = t_idx[k_]
            if elig[i]:
                got = find(i, int(ratios[k_]), [])
                mm[k_, : len(got)] = got
        return mm
    times = np.zeros(n, dtype=int)
    allowed = np.full(n, reuse_max)
    allowed[t_idx] = ratios
    for r in range(mm.shape[1]):
        for k_ in order:
            if ratios[k_] <= r:
                continue
            if not (elig & ~treat).any():
                break
            i = t_idx[k_]
            if not elig[i]:
                continue
            got = find(i, 1, [c for c in mm[k_] if c >= 0])
            if not got:
                elig[i] = False
                continue
            j = got[0]
            mm[k_, int((mm[k_] >= 0).sum())] = j
            touched = [j, i] if unit_id is None else list(
                np.flatnonzero(np.isin(unit_id, unit_id[[j, i]])))
            for u in touched:
                if elig[u]:
                    times[u] += 1
                    if times[u] >= allowed[u]:
                        elig[u] = False
    return mm

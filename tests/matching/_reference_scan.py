"""A slow, literal re-expression of MatchIt's outward scan (``find_control_vec``), step by step.

Used only to check the fast union-find implementation on random data full of ties: every
position of the full sorted order is visited alternately left and right, exactly as MatchIt
visits them, so any divergence in tie-breaking, caliper or k-pass handling shows up.
"""

from __future__ import annotations

import numpy as np

from jdl.matching._nearest import _heap_select


def reference_match(distance, treat, eligible, *, ratio=1, replace=False, caliper=None,
                    strata=None, m_order="largest"):
    n = len(distance)
    order_all = np.argsort(distance, kind="stable")
    pos = np.empty(n, dtype=int)
    pos[order_all] = np.arange(n)
    t_idx = np.flatnonzero(treat)
    s = strata if strata is not None else np.zeros(n, dtype=int)
    cal = np.inf if caliper is None else caliper
    elig = eligible.copy()
    mm = np.full((len(t_idx), ratio), -1)

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
    if replace:
        for k_ in range(len(t_idx)):
            i = t_idx[k_]
            if not elig[i]:
                continue
            got = scan(i, ratio, 0, [])
            mm[k_, : len(got)] = got
        return mm
    for r in range(ratio):
        for k_ in ordr:
            i = t_idx[k_]
            if not elig[i]:
                continue
            got = scan(i, 1, r, list(mm[k_]))
            if not got:
                if r == 0:
                    elig[i] = False
                continue
            mm[k_, r] = got[0]
            elig[got[0]] = False
    return mm

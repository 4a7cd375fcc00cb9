"""Harrell's concordance with its standard error, as R ``survival::concordance(fit)``.

The statistic and its variance are those of ``survival::concordancefit`` (time weight
``"n"``, the default of ``concordance()`` and of ``summary(coxph)``): a pair is comparable
when the shorter time is an event (two events at the same time are tied on time and left
out; an event and a censoring at the same time are comparable); a higher risk score with
the shorter time is concordant, an equal score counts one half. Each pair counts the
product of the two case weights. The variance is the infinitesimal-jackknife one of R:
every row's share of the concordant, discordant and risk-tied pairs it belongs to (as the
shorter or the longer member) gives its influence on Somers' d, and
var(C) = Σ dfbeta_i² / 4. Strata: pairs are formed within a stratum, the counts summed.

The implementation is new and vectorised: after one sort by time, the weighted number of
partners with a smaller / equal risk score is a two-dimensional dominance count, evaluated
over the dyadic blocks of the time order (a sort and a binary search per level,
O(n log² n), no Python loop over rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Concordance:
    """Harrell's C and what R's ``concordance()`` reports with it.

    Attributes
    ----------
    concordance : float
        (concordant + tied.x / 2) / (concordant + discordant + tied.x).
    se : float
        Standard error (square root of R's ``var``).
    concordant, discordant, tied_x, tied_y, tied_xy : float
        Weighted pair counts (R's ``count``); ``tied_y`` excludes pairs tied on both.
    influence : ndarray or None
        Every row's influence term (dfbeta on Somers' d, before any cluster sum), so that
        a caller can sum it over other groupings (the federated clustered SE).
    """

    concordance: float
    se: float
    concordant: float
    discordant: float
    tied_x: float
    tied_y: float
    tied_xy: float
    influence: FloatArray | None = field(default=None, repr=False, compare=False)


def _dominance(
    key: IntArray, rank: IntArray, w: FloatArray, qkey: IntArray, qrank: IntArray
) -> tuple[FloatArray, FloatArray]:
    """For each query: the weight of the points with key < qkey and rank < qrank, and with
    key < qkey and rank <= qrank (keys and ranks are non-negative integers)."""
    less = np.zeros(qkey.size)
    le = np.zeros(qkey.size)
    if key.size == 0 or qkey.size == 0:
        return less, le
    u = int(max(rank.max(), qrank.max())) + 1
    top = int(qkey.max())
    level = 0
    while (1 << level) <= top:
        sel = ((qkey >> level) & 1) == 1
        if sel.any():
            kk = (key >> level) * u + rank
            o = np.argsort(kk, kind="stable")
            ks = kk[o]
            cw = np.concatenate(([0.0], np.cumsum(w[o])))
            base = ((qkey[sel] >> (level + 1)) << 1) * u
            lo = cw[np.searchsorted(ks, base, side="left")]
            less[sel] += cw[np.searchsorted(ks, base + qrank[sel], side="left")] - lo
            le[sel] += cw[np.searchsorted(ks, base + qrank[sel], side="right")] - lo
        level += 1
    return less, le


def concordance_se(
    time: FloatArray,
    event: NDArray[np.bool_],
    risk: FloatArray,
    strata: NDArray[np.intp] | None = None,
    weights: FloatArray | None = None,
    start: FloatArray | None = None,
    cluster: NDArray[np.intp] | None = None,
) -> Concordance:
    """Harrell's C of ``risk`` (higher = shorter survival) with R's standard error.

    Parameters
    ----------
    time, event : ndarray
        Follow-up time and event indicator (right-censored data).
    risk : ndarray
        Risk score (the linear predictor of a Cox model).
    strata : ndarray of int, optional
        Stratum codes: pairs are formed within a stratum.
    weights : ndarray, optional
        Case weights (a pair counts w_i·w_j).
    start : ndarray, optional
        Entry times of (start, stop] rows: the partners of an event at t are the rows at
        risk at t (start < t <= stop), as R's ``concordance`` for counting-process data.
    cluster : ndarray of int, optional
        Cluster codes: the influence terms are summed within a cluster before squaring,
        as R does for a model with ``cluster()``.

    Returns
    -------
    Concordance
        C, its standard error and the pair counts.
    """
    n = time.size
    w_all = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    st = np.zeros(n, dtype=np.intp) if strata is None else strata
    infl = np.zeros((n, 3))  # per row: concordant, discordant, tied-on-risk partner weight
    conc = disc = tie_x = tie_y = tie_xy = 0.0
    for s in np.unique(st):
        rows = np.flatnonzero(st == s)
        t, d, r, w = time[rows], event[rows].astype(bool), risk[rows], w_all[rows]
        order = np.lexsort((d, -t))  # latest first; censorings before events at a tie
        rows, t, d, r, w = rows[order], t[order], d[order], r[order], w[order]
        a = None if start is None else start[rows]
        m = t.size
        ev = np.flatnonzero(d)
        if ev.size == 0:
            continue
        _, rk = np.unique(r, return_inverse=True)
        rk = rk.astype(np.int64)
        pos = np.arange(m, dtype=np.int64)
        # b: first position of the events at each event's time; partners are positions < b
        block_start = np.searchsorted(-t, -t[ev], side="left")
        _, blk = np.unique(-t[ev], return_inverse=True)
        n_ev_block = np.bincount(blk)
        block_size = np.searchsorted(-t, -t[ev], side="right") - block_start
        b = (block_start + block_size - n_ev_block[blk]).astype(np.int64)
        cw = np.concatenate(([0.0], np.cumsum(w)))
        # the event as the shorter member: partners with a smaller / equal / larger risk
        less, le = _dominance(pos, rk, w, b, rk[ev])
        prefix = cw[b]
        if a is not None:
            # rows that entered at or after the event time are not at risk: all of them
            # lie in the prefix (their stop is later); remove them
            so = np.argsort(-a, kind="stable")
            key = np.empty(m, dtype=np.int64)
            key[so] = np.arange(m)
            late = (m - np.searchsorted(np.sort(a), t[ev], side="left")).astype(np.int64)
            l2, e2 = _dominance(key, rk, w, late, rk[ev])
            less, le = less - l2, le - e2
            prefix = prefix - np.concatenate(([0.0], np.cumsum(w[so])))[late]
        greater = prefix - le
        infl[rows[ev], 0] += less
        infl[rows[ev], 1] += greater
        infl[rows[ev], 2] += le - less
        we = w[ev]
        conc += float(we @ less)
        disc += float(we @ greater)
        tie_x += float(we @ (le - less))
        # every row as the longer member: events i with b_i > pos, by their risk
        e_less_all = np.bincount(rk[ev], weights=we, minlength=int(rk.max()) + 1).cumsum()
        tot_lt = np.concatenate(([0.0], e_less_all))[rk]  # events with a smaller risk
        tot_le = e_less_all[rk]
        near_lt, near_le = _dominance(b, rk[ev], we, pos + 1, rk)  # events with b <= pos
        part_lt = tot_lt - near_lt
        part_le = tot_le - near_le
        bo = np.argsort(b, kind="stable")
        cwb = np.concatenate(([0.0], np.cumsum(we[bo])))
        part_all = we.sum() - cwb[np.searchsorted(b[bo], pos, side="right")]
        if a is not None:
            # events at or before the row's entry were not compared with it
            eo = np.argsort(t[ev], kind="stable")
            ekey = np.empty(ev.size, dtype=np.int64)
            ekey[eo] = np.arange(ev.size)
            early = np.searchsorted(t[ev][eo], a, side="right").astype(np.int64)
            l3, e3 = _dominance(ekey, rk[ev], we, early, rk)
            part_lt, part_le = part_lt - l3, part_le - e3
            part_all = part_all - np.concatenate(([0.0], np.cumsum(we[eo])))[early]
        # the event partner has a higher risk than the row: concordant for the pair
        infl[rows, 0] += part_all - part_le
        infl[rows, 1] += part_lt
        infl[rows, 2] += part_le - part_lt
        # pairs tied on time (two events at the same time), and among them tied on risk
        for_blocks = np.bincount(blk, weights=we)
        sq = np.bincount(blk, weights=we * we)
        tie_y += float(((for_blocks**2 - sq) / 2).sum())
        key = blk.astype(np.int64) * (int(rk.max()) + 1) + rk[ev]
        _, kinv = np.unique(key, return_inverse=True)
        kw = np.bincount(kinv, weights=we)
        ksq = np.bincount(kinv, weights=we * we)
        tie_xy += float(((kw**2 - ksq) / 2).sum())
    npair = conc + disc + tie_x
    if npair <= 0:
        return Concordance(np.nan, np.nan, conc, disc, tie_x, tie_y - tie_xy, tie_xy)
    # R counts "concordant" with the smaller risk first (reverse = TRUE for coxph)
    somer = (conc - disc) / npair
    dfbeta = w_all * ((infl[:, 0] - infl[:, 1]) / npair - somer / npair * infl.sum(axis=1))
    per_row = dfbeta
    if cluster is not None:
        dfbeta = np.bincount(cluster, weights=dfbeta)
    var = float(dfbeta @ dfbeta) / 4.0
    c = (conc + tie_x / 2.0) / npair
    return Concordance(
        float(c), float(np.sqrt(var)), conc, disc, tie_x, tie_y - tie_xy, tie_xy, per_row
    )

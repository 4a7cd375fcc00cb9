"""Numerical core of the Cox model: risk-set sums in O(n log n) for (start, stop] data.

For each stratum the rows are sorted once by stop time and once by start time. The sum of
``w`` over the risk set ``{j : start_j < t <= stop_j}`` at an event time ``t`` is a reverse
cumulative sum over stop times minus one over start times, so each evaluation of the partial
likelihood, score and information costs O(n·p + n·p²) with no pairwise loops.
Ties are handled as in R ``survival::coxph`` (Efron or Breslow).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class _Stratum:
    rows: NDArray[np.intp]  # row indices (into the full data) of this stratum
    has_start: bool
    start_order: NDArray[np.intp]
    times: FloatArray  # distinct event times (ascending)
    k_stop: NDArray[np.intp]  # first sorted-stop position with stop >= t_k
    k_start: NDArray[np.intp]  # first sorted-start position with start >= t_k
    ev_pos: NDArray[np.intp]  # positions (within rows) of the events, grouped by time
    ev_group: NDArray[np.intp]  # index k of each event's time
    ev_frac: FloatArray  # Efron fraction r/d_k of each event (0 for Breslow)
    d: FloatArray  # number of events at each time
    n_stop_le: NDArray[np.intp]  # per row: number of event times <= stop
    n_start_le: NDArray[np.intp]  # per row: number of event times <= start


def prepare(
    stop: FloatArray,
    event: NDArray[np.bool_],
    start: FloatArray | None,
    strata: NDArray[np.intp],
    efron: bool,
) -> list[_Stratum]:
    """Sort each stratum and locate its event times (independent of the coefficients)."""
    out = []
    for s in np.unique(strata):
        rows = np.flatnonzero(strata == s)
        rows = rows[np.argsort(stop[rows], kind="stable")]  # rows sorted by stop time
        st = stop[rows]
        ev = event[rows]
        times, d = np.unique(st[ev], return_counts=True)
        if times.size == 0:
            continue
        k_stop = np.searchsorted(st, times, side="left")
        if start is not None:
            sa = start[rows]
            sao = np.argsort(sa, kind="stable")
            k_start = np.searchsorted(sa[sao], times, side="left")
            n_start_le = np.searchsorted(times, sa, side="right")
        else:
            sao = np.zeros(0, dtype=np.intp)
            k_start = np.zeros(0, dtype=np.intp)
            n_start_le = np.zeros(rows.size, dtype=np.intp)
        ev_pos = np.flatnonzero(ev)
        ev_pos = ev_pos[np.argsort(st[ev_pos], kind="stable")]
        ev_group = np.searchsorted(times, st[ev_pos])
        first = np.concatenate(([0], np.cumsum(d)[:-1]))
        rank = np.arange(ev_pos.size) - first[ev_group]
        frac = rank / d[ev_group] if efron else np.zeros(ev_pos.size)
        out.append(
            _Stratum(
                rows,
                start is not None,
                sao,
                times,
                k_stop,
                k_start,
                ev_pos,
                ev_group,
                frac.astype(np.float64),
                d.astype(np.float64),
                np.searchsorted(times, st, side="right"),
                n_start_le,
            )
        )
    return out


def _risk_sums(S: _Stratum, w: FloatArray) -> FloatArray:
    """Sum of ``w`` (rows × q) over the risk set at each event time of the stratum."""
    # rows are sorted by stop and k_stop is strictly increasing (every event time has a
    # row): sum each block between consecutive event times, then a reverse cumulative sum
    # over the blocks — no n-row temporary
    blocks = np.add.reduceat(w, S.k_stop, axis=0)
    tot = np.cumsum(blocks[::-1], axis=0)[::-1]
    if S.has_start:
        wa = w[S.start_order]
        ra = np.cumsum(wa[::-1], axis=0)[::-1]
        ra = np.vstack([ra, np.zeros((1, w.shape[1]))])
        tot = tot - ra[S.k_start]
    return tot


def _per_row(S: _Stratum, per_time: FloatArray) -> FloatArray:
    """For each row, sum of ``per_time`` over the event times in (start, stop]."""
    c = np.vstack([np.zeros((1, per_time.shape[1])), np.cumsum(per_time, axis=0)])
    return c[S.n_stop_le] - c[S.n_start_le]


@dataclass
class CoxEval:
    """Log partial likelihood, score and information at one coefficient vector."""

    loglik: float
    score: FloatArray
    info: FloatArray


class _Rows(tuple):  # type: ignore[type-arg]
    """``(x, xe)`` of one stratum, plus ``xT``: the same rows as a (p, n) array, the layout
    in which the per-iteration sums over rows run contiguously."""

    xT: FloatArray  # noqa: N815
    wt: FloatArray | None


def split(
    strata: list[_Stratum], X: FloatArray, weights: FloatArray | None = None
) -> list[tuple[FloatArray, FloatArray]]:
    """Covariate rows of each stratum (sorted) and of its events (copied once per fit);
    optional case weights travel with them."""
    out: list[tuple[FloatArray, FloatArray]] = []
    for S in strata:
        x = np.ascontiguousarray(X[S.rows])
        rows = _Rows((x, np.ascontiguousarray(x[S.ev_pos])))
        rows.xT = np.ascontiguousarray(x.T)
        rows.wt = None if weights is None else np.ascontiguousarray(weights[S.rows])
        out.append(rows)
    return out


def _risk_sums_t(S: _Stratum, w: FloatArray) -> FloatArray:
    """As :func:`_risk_sums` for ``w`` laid out (q, rows); returns (event times, q)."""
    blocks = np.add.reduceat(w, S.k_stop, axis=1)
    tot = np.cumsum(blocks[:, ::-1], axis=1)[:, ::-1]
    if S.has_start:
        wa = w[:, S.start_order]
        ra = np.cumsum(wa[:, ::-1], axis=1)[:, ::-1]
        ra = np.hstack([ra, np.zeros((w.shape[0], 1))])
        tot = tot - ra[:, S.k_start]
    return tot.T


def _group_sum(v: FloatArray, S: _Stratum) -> FloatArray:
    """Sum rows of ``v`` (one per event, grouped by time) within each event time."""
    starts = np.concatenate(([0], np.cumsum(S.d[:-1]).astype(np.intp)))
    return np.add.reduceat(v, starts, axis=0)


def evaluate(
    strata: list[_Stratum],
    xs: list[tuple[FloatArray, FloatArray]],
    beta: FloatArray,
    need_info: bool = True,
) -> CoxEval:
    """Log partial likelihood (Efron/Breslow as prepared), score and information."""
    p = beta.size
    ll = 0.0
    U = np.zeros(p)
    info = np.zeros((p, p))
    for S, rows in zip(strata, xs, strict=True):
        x, xe = rows
        xT = getattr(rows, "xT", None)
        if xT is None:
            xT = np.ascontiguousarray(x.T)
        wt = getattr(rows, "wt", None)
        e_raw = beta @ xT
        c = e_raw.max()
        e = np.exp(e_raw - c)
        if wt is not None:  # case weights: the risk weights become w·exp(η)
            e = wt * e
        w = np.empty((p + 1, x.shape[0]))
        w[0] = e
        np.multiply(xT, e, out=w[1:])
        R = _risk_sums_t(S, w)
        S0, S1 = R[:, 0], R[:, 1:]
        ee = e[S.ev_pos]
        # sums over the tied deaths at each time (for Efron's correction)
        nk = S.times.size
        D0 = np.bincount(S.ev_group, weights=ee, minlength=nk)
        D1 = _group_sum(ee[:, None] * xe, S)
        f = S.ev_frac
        g = S.ev_group
        den = S0[g] - f * D0[g]
        xbar = (S1[g] - f[:, None] * D1[g]) / den[:, None]
        if wt is None:
            ll += float(e_raw[S.ev_pos].sum() - np.log(den).sum() - c * S.ev_pos.size)
            U += xe.sum(axis=0) - xbar.sum(axis=0)
            mw = None
        else:
            # as R coxph: each tied death's term carries the mean weight of the deaths
            we = wt[S.ev_pos]
            mw = (np.bincount(g, weights=we, minlength=nk) / S.d)[g]
            ll += float(we @ e_raw[S.ev_pos] - mw @ (np.log(den) + c))
            U += we @ xe - mw @ xbar
        if need_info:
            inv = 1.0 / den if mw is None else mw / den
            a = np.bincount(g, weights=inv, minlength=nk)
            b = np.bincount(g, weights=f * inv, minlength=nk)
            A = _per_row(S, a[:, None])[:, 0]
            info += (xT * (e * A)) @ x
            info -= (xe * (ee * b[g])[:, None]).T @ xe
            info -= (xbar if mw is None else xbar * mw[:, None]).T @ xbar
    return CoxEval(ll, U, info)


def score_residuals(strata: list[_Stratum], X: FloatArray, beta: FloatArray) -> FloatArray:
    """Score residuals per row (as R ``residuals(fit, type = "score")``)."""
    n, p = X.shape
    eta = X @ beta
    L = np.zeros((n, p))
    for S in strata:
        x = X[S.rows]
        e = np.exp(eta[S.rows] - eta[S.rows].max())
        R = _risk_sums(S, np.column_stack([e, e[:, None] * x]))
        S0, S1 = R[:, 0], R[:, 1:]
        g = S.ev_group
        f = S.ev_frac
        nk = S.times.size
        xe = x[S.ev_pos]
        ee = e[S.ev_pos]
        D0 = np.bincount(g, weights=ee, minlength=nk)
        D1 = _group_sum(ee[:, None] * xe, S)
        den = S0[g] - f * D0[g]
        xbar = (S1[g] - f[:, None] * D1[g]) / den[:, None]
        a = np.bincount(g, weights=1.0 / den, minlength=nk)
        b = np.bincount(g, weights=f / den, minlength=nk)
        cvec = _group_sum(xbar / den[:, None], S)
        evec = _group_sum(xbar * (f / den)[:, None], S)
        mvec = _group_sum(xbar, S) / S.d[:, None]
        per = _per_row(S, np.column_stack([a, cvec]))
        A, C = per[:, 0], per[:, 1:]
        res = -(e[:, None] * (x * A[:, None] - C))
        res[S.ev_pos] += xe - mvec[g] + ee[:, None] * (xe * b[g][:, None] - evec[g])
        L[S.rows] = res
    return L


def zph_score_info(
    strata: list[_Stratum],
    xs: list[tuple[FloatArray, FloatArray]],
    beta: FloatArray,
    g_of_time: list[FloatArray],
) -> tuple[FloatArray, FloatArray]:
    """Score and information of the model extended by x·g(t), at (beta, 0).

    ``g_of_time[s]`` holds g at each event time of stratum ``s``. Returns the score of the
    2p parameters (the first p are the ordinary score) and the 2p × 2p information, with
    the same tie handling as the fit (as R ``cox.zph``).
    """
    p = beta.size
    u = np.zeros(2 * p)
    blocks = {w: np.zeros((p, p)) for w in (0, 1, 2)}
    for S, (x, xe), gt in zip(strata, xs, g_of_time, strict=True):
        e_raw = x @ beta
        e = np.exp(e_raw - e_raw.max())
        R = _risk_sums(S, np.column_stack([e, e[:, None] * x]))
        S0, S1 = R[:, 0], R[:, 1:]
        ee = e[S.ev_pos]
        nk = S.times.size
        D0 = np.bincount(S.ev_group, weights=ee, minlength=nk)
        D1 = _group_sum(ee[:, None] * xe, S)
        g, f = S.ev_group, S.ev_frac
        den = S0[g] - f * D0[g]
        xbar = (S1[g] - f[:, None] * D1[g]) / den[:, None]
        ge = gt[g]
        resid = xe - xbar
        u[:p] += resid.sum(axis=0)
        u[p:] += (resid * ge[:, None]).sum(axis=0)
        for w in (0, 1, 2):
            we = ge**w
            a = np.bincount(g, weights=we / den, minlength=nk)
            b = np.bincount(g, weights=we * f / den, minlength=nk)
            A = _per_row(S, a[:, None])[:, 0]
            blocks[w] += (
                (x.T * (e * A)) @ x - (xe.T * (ee * b[g])) @ xe - (xbar * we[:, None]).T @ xbar
            )
    info = np.block([[blocks[0], blocks[1]], [blocks[1], blocks[2]]])
    return u, info

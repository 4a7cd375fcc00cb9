"""Numerical core of the Cox model: risk-set sums in O(n log n) for (start, stop] data.

For each stratum the rows are sorted once by stop time and once by start time. The sum of
``w`` over the risk set ``{j : start_j < t <= stop_j}`` at an event time ``t`` is a reverse
cumulative sum over stop times minus one over start times, so each evaluation of the partial
likelihood, score and information costs O(n·p + n·p²) with no pairwise loops.
Ties are handled as in R ``survival::coxph`` (Efron or Breslow).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

FloatArray = NDArray[np.float64]
_F = TypeVar("_F", bound=Callable[..., Any])
#: from this many rows on, a fit runs BLAS on one thread (see :func:`one_blas_thread`)
ONE_THREAD_ROWS = 20_000


def one_blas_thread(fit: _F) -> _F:
    """Run ``fit(X, ...)`` with BLAS on one thread when X has many rows.

    The BLAS calls of a fit are p-vector products and p × p Gram matrices over n rows:
    memory-bound, so a second thread gains little on an idle machine, while on a shared one
    (more runnable jobs than cores) the threads wait for each other and a fit took 1.5–2×
    the wall-clock time. Small fits are left alone (limiting the pool costs about 1 ms).
    """

    @functools.wraps(fit)
    def wrapper(X: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            n = len(X)
        except TypeError:
            n = 0
        if n < ONE_THREAD_ROWS:
            return fit(X, *args, **kwargs)
        with warnings.catch_warnings():  # threadpoolctl may warn about OpenMP runtimes
            warnings.simplefilter("ignore")
            limits = threadpool_limits(limits=1, user_api="blas")
        try:
            return fit(X, *args, **kwargs)
        finally:
            limits.restore_original_limits()

    return wrapper  # type: ignore[return-value]


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


def stable_order(
    values: FloatArray,
    first: NDArray[np.bool_] | None = None,
    key: NDArray[np.integer[Any]] | None = None,
) -> NDArray[np.intp]:
    """The permutation of ``np.lexsort((~first, values))`` (or of a stable argsort of
    ``values``): ascending values, among equal values the ``first`` rows first, ties kept
    in row order — computed as one quicksort plus a stable sort of an almost sorted integer
    key, about twice as fast as either for a million rows. ``key`` (small integers >= 0)
    orders tied values instead of ``first``: ``np.lexsort((key, values))``."""
    n = values.size
    o = np.argsort(values)
    v = values[o]
    run = np.zeros(n, dtype=np.int64)
    np.cumsum(v[1:] != v[:-1], out=run[1:])
    if first is not None:
        key = ~first
    if key is not None and n:
        k = key[o].astype(np.int64)
        run *= int(k.max()) + 1
        run += k
    run *= n
    run += o
    return o[np.argsort(run, kind="stable")]


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
        # rows sorted by stop time, the deaths first among rows tied on it (so the deaths
        # at each event time are one contiguous block: see _Kernel)
        rows = rows[stable_order(stop[rows], event[rows])]
        st = stop[rows]
        ev = event[rows]
        es = st[ev]  # stop times of the deaths, ascending
        if es.size == 0:
            continue
        new_time = np.empty(es.size, dtype=bool)  # first death of each distinct time
        new_time[0] = True
        np.not_equal(es[1:], es[:-1], out=new_time[1:])
        first_ev = np.flatnonzero(new_time)
        times = es[first_ev]
        d = np.diff(np.append(first_ev, es.size))
        k_stop = np.searchsorted(st, times, side="left")
        if start is not None:
            sa = start[rows]
            sao = stable_order(sa)
            k_start = np.searchsorted(sa[sao], times, side="left")
            n_start_le = np.searchsorted(times, sa, side="right")
        else:
            sao = np.zeros(0, dtype=np.intp)
            k_start = np.zeros(0, dtype=np.intp)
            n_start_le = np.zeros(rows.size, dtype=np.intp)
        ev_pos = np.flatnonzero(ev)  # grouped by time: the rows are sorted by stop
        ev_group = np.cumsum(new_time) - 1
        first = first_ev
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
    in which the per-iteration sums over rows run contiguously (``x`` is its transposed
    view, so the rows are stored once)."""

    xT: FloatArray  # noqa: N815
    wt: FloatArray | None
    kern: _Kernel | None


def _gather_t(X: FloatArray, rows: NDArray[np.intp]) -> FloatArray:
    """``X[rows].T`` as a C-contiguous (p, n) array, gathered in chunks (no n × p
    temporary)."""
    out = np.empty((X.shape[1], rows.size))
    step = 1 << 15
    for a in range(0, rows.size, step):
        out[:, a : a + step] = X[rows[a : a + step]].T
    return out


def split(
    strata: list[_Stratum], X: FloatArray, weights: FloatArray | None = None
) -> list[tuple[FloatArray, FloatArray]]:
    """Covariate rows of each stratum (sorted) and of its events (copied once per fit);
    optional case weights travel with them."""
    out: list[tuple[FloatArray, FloatArray]] = []
    for S in strata:
        xT = _gather_t(X, S.rows)
        rows = _Rows((xT.T, xT[:, S.ev_pos].T))
        rows.xT = xT
        rows.wt = None if weights is None else np.ascontiguousarray(weights[S.rows])
        rows.kern = _Kernel.build(S, xT, rows.wt, rows[1])
        out.append(rows)
    return out


def release(xs: list[tuple[FloatArray, FloatArray]]) -> None:
    """Free the work buffers of :func:`evaluate` once a fit is done (they are rebuilt on
    demand)."""
    for rows in xs:
        kern = getattr(rows, "kern", None)
        if kern is not None:
            kern.buf = None


@dataclass
class _Kernel:
    """What :func:`evaluate` needs of one stratum besides the coefficients, built once per fit.

    ``idx`` interleaves, for every event time t_k, the sorted-stop position of its first
    death and of its first non-death (deaths come first among rows tied on the stop time,
    see :func:`prepare`): one ``reduceat`` over the rows then gives both the sums over the
    tied deaths (Efron's D_k) and over the rest of the block [t_k, t_{k+1}), whose reverse
    cumulative sum is the risk-set sum. ``buf`` is a (p + 1, n + 1) work array whose last
    column stays zero (an empty tail block at the end sums to 0).
    """

    xT: FloatArray  # noqa: N815  (p, n): covariates in stop order, rows contiguous
    wt: FloatArray | None
    idx: NDArray[np.intp] | None  # interleaved block starts (2K), or None: see d_idx
    tail_empty: NDArray[np.bool_]  # per event time: no non-death rows in its block
    d_starts: NDArray[np.intp]  # first event (in ev_pos order) of each event time
    xT_start: FloatArray | None  # noqa: N815  (p, n) in start order
    start_blocks: NDArray[np.intp]  # distinct start positions of the event times (< n)
    start_map: NDArray[np.intp]  # per event time: its block in start_blocks (or len)
    death_k: NDArray[np.intp]  # per row: event-time index of a death, K for the others
    m: FloatArray | None  # per event time: mean weight of its deaths (None: unweighted)
    m_ev: FloatArray | None  # the same per event
    sum_wx: FloatArray  # sum over deaths of (weight ·) x
    sum_w: float  # sum over deaths of the weights (the number of deaths unweighted)
    buf: FloatArray | None = None

    @classmethod
    def build(
        cls, S: _Stratum, xT: FloatArray, wt: FloatArray | None, xe: FloatArray | None = None
    ) -> _Kernel:
        n = xT.shape[1]
        K = S.times.size
        d = S.d.astype(np.intp)
        d_starts = np.concatenate(([0], np.cumsum(d)[:-1])).astype(np.intp)
        rank = np.arange(S.ev_pos.size) - d_starts[S.ev_group]
        contiguous = bool(np.array_equal(S.ev_pos, S.k_stop[S.ev_group] + rank))
        tail = S.k_stop + d
        nxt = np.append(S.k_stop[1:], n)
        idx = None
        if contiguous:
            idx = np.empty(2 * K, dtype=np.intp)
            idx[0::2] = S.k_stop
            idx[1::2] = tail
        death_k = np.full(n, K, dtype=np.intp)
        death_k[S.ev_pos] = S.ev_group
        xT_start = None
        blocks = np.zeros(0, dtype=np.intp)
        smap = np.zeros(K, dtype=np.intp)
        if S.has_start:
            xT_start = np.ascontiguousarray(xT[:, S.start_order])
            blocks = np.unique(S.k_start[S.k_start < n])
            smap = np.searchsorted(blocks, S.k_start)  # k_start == n maps past the end
        if xe is None:
            xe = xT[:, S.ev_pos].T
        if wt is None:
            m = m_ev = None
            sum_wx = xe.sum(axis=0)
            sum_w = float(S.ev_pos.size)
        else:
            we = wt[S.ev_pos]
            m = np.bincount(S.ev_group, weights=we, minlength=K) / S.d
            m_ev = m[S.ev_group]
            sum_wx = we @ xe
            sum_w = float(we.sum())
        return cls(
            xT,
            wt,
            idx,
            tail >= nxt,
            d_starts,
            xT_start,
            blocks,
            smap,
            death_k,
            m,
            m_ev,
            sum_wx,
            sum_w,
        )

    def work(self) -> FloatArray:
        p, n = self.xT.shape
        if self.buf is None:
            self.buf = np.empty((p + 1, n + 1))
            self.buf[:, n] = 0.0
        return self.buf


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
    """Log partial likelihood (Efron/Breslow as prepared), score and information.

    Per stratum one pass builds the weights exp(xβ)·(1, x), one ``reduceat`` gives the
    risk-set and tied-death sums at every event time, and the information is one weighted
    Gram matrix over the rows (``Z Zᵀ``, Z = x·sqrt(weight)) minus p×p terms summed over the
    event times — no (events × p) temporaries and no pairwise loops.
    """
    p = beta.size
    ll = 0.0
    U = np.zeros(p)
    info = np.zeros((p, p))
    for S, rows in zip(strata, xs, strict=True):
        kern = getattr(rows, "kern", None)
        if kern is None:  # rows not built by split(): build the kernel for this call
            xT = getattr(rows, "xT", None)
            if xT is None:
                xT = np.ascontiguousarray(rows[0].T)
            kern = _Kernel.build(S, xT, getattr(rows, "wt", None))
        dll, dU, dI = _evaluate_stratum(S, kern, beta, need_info)
        ll += dll
        U += dU
        if dI is not None:
            info += dI
    return CoxEval(ll, U, info)


def _evaluate_stratum(
    S: _Stratum, kern: _Kernel, beta: FloatArray, need_info: bool
) -> tuple[float, FloatArray, FloatArray | None]:
    xT = kern.xT
    p, n = xT.shape
    K = S.times.size
    e = beta @ xT
    c = float(e.max())
    e -= c
    np.exp(e, out=e)
    if kern.wt is not None:  # case weights: the risk weights become w·exp(η)
        e *= kern.wt
    buf = kern.work()
    buf[0, :n] = e
    np.multiply(xT, e, out=buf[1:, :n])
    if kern.idx is not None:
        r = np.add.reduceat(buf, kern.idx, axis=1)
        D = r[:, 0::2]
        rest = r[:, 1::2]
        rest[:, kern.tail_empty] = 0.0
        blocks = D + rest
    else:  # deaths not contiguous within their time (not from prepare): sum them apart
        blocks = np.add.reduceat(buf[:, :n], S.k_stop, axis=1)
        D = np.add.reduceat(buf[:, S.ev_pos], kern.d_starts, axis=1)
    R = np.ascontiguousarray(np.cumsum(blocks[:, ::-1], axis=1)[:, ::-1])
    if kern.xT_start is not None and kern.start_blocks.size:
        es = e[S.start_order]
        buf[0, :n] = es
        np.multiply(kern.xT_start, es, out=buf[1:, :n])
        rs = np.add.reduceat(buf[:, :n], kern.start_blocks, axis=1)
        rs = np.cumsum(rs[:, ::-1], axis=1)[:, ::-1]
        rs = np.hstack([rs, np.zeros((p + 1, 1))])
        R = R - rs[:, kern.start_map]
    S0, S1 = R[0], R[1:]
    D0, D1 = D[0], D[1:]
    g, f = S.ev_group, S.ev_frac
    den = S0[g] - f * D0[g]
    inv = 1.0 / den
    if kern.m_ev is not None:
        inv *= kern.m_ev
        logsum = float(kern.m_ev @ np.log(den))
    else:
        logsum = float(np.log(den).sum())
    ll = float(beta @ kern.sum_wx) - logsum - c * kern.sum_w
    a = np.bincount(g, weights=inv, minlength=K)
    b = np.bincount(g, weights=f * inv, minlength=K)
    U = kern.sum_wx - (S1 @ a - D1 @ b)
    if not need_info:
        return ll, U, None
    # per row: e_i · (sum of a_k over the event times in (start_i, stop_i], minus b_k of
    # its own time for a death) — the weight of x_i x_iᵀ in the information
    ca = np.concatenate(([0.0], np.cumsum(a)))
    A = ca[S.n_stop_le]
    if S.has_start:
        A -= ca[S.n_start_le]
    A -= np.append(b, 0.0)[kern.death_k]
    A *= e
    np.maximum(A, 0.0, out=A)  # >= 0 exactly (a_k > b_k); clears round-off only
    np.sqrt(A, out=A)
    Z = buf[1:, :n]
    np.multiply(xT, A, out=Z)
    info = Z @ Z.T
    # minus the sum over deaths of (mean weight ·) xbar xbarᵀ, xbar = (S1 − f·D1)/den,
    # expanded per event time
    q = inv / den
    c0 = np.bincount(g, weights=q, minlength=K)
    info -= (S1 * c0) @ S1.T
    if S.ev_frac.any():
        c1 = np.bincount(g, weights=f * q, minlength=K)
        c2 = np.bincount(g, weights=f * f * q, minlength=K)
        cross = (S1 * c1) @ D1.T
        info += cross + cross.T
        info -= (D1 * c2) @ D1.T
    return ll, U, (info + info.T) / 2


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

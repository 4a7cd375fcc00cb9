"""Fine–Gray proportional subdistribution hazards regression, as R ``cmprsk::crr`` defines it.

The estimator, its inverse-probability-of-censoring weights (Kaplan–Meier of the censoring
distribution just before each time, per censoring group), the handling of ties, the Newton
iteration with step halving and stopping rule, and the sandwich variance with the
censoring-martingale correction are those of ``crr`` (Fine & Gray, JASA 1999; cmprsk by
R. Gray). The implementation is new: after one sort, every risk-set sum is a forward or
backward cumulative sum (subjects still event-free, and subjects with a competing event who
stay in the risk set with weight G(t-)/G(T_j-)), so one Newton step costs O(n·p²) instead
of crr's O(n²·p). Seed 002 uses the model for relapse and non-relapse mortality
(002 Methods, "Statistical analysis").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from mst.errors import ValidationError
from mst.stats import _finegray_tf
from mst.stats._coef_result import CoefficientTable
from mst.stats._design import (
    check_design,
    complete_rows,
    design_from_columns,
    design_from_formula,
    parse_surv_formula,
)
from mst.stats._regression_cox_core import _gather_t, one_blas_thread, stable_order
from mst.stats.cox_model import LOGLIK_EPS, MonotoneLikelihoodError, _solve, diverging
from mst.stats.io import outcome_frame

FloatArray = NDArray[np.float64]
_EPS = np.finfo(np.float64).eps
#: iterations run (beyond max_iter if needed) to diagnose a diverging coefficient
_DIAGNOSE_ITER = 60


def _censoring_km_before(
    t: FloatArray, cens: NDArray[np.bool_], grp: NDArray[np.intp], n_groups: int
) -> FloatArray:
    """Kaplan–Meier of the censoring distribution of each group, just before every time.

    Returns an array (n_groups, n): entry [g, j] is G_g(t_j-), evaluated as crr does
    (step function of survfit on the group's rows, looked up at t_j·(1 - 100·eps); zero
    after the group's last observed time).
    """
    out = np.empty((n_groups, t.size))
    x = t * (1.0 - 100.0 * _EPS)
    for g in range(n_groups):
        tg = t[grp == g]
        cg = cens[grp == g]
        if tg.size and bool(np.all(tg[1:] >= tg[:-1])):  # sorted (as from finegray_fit)
            first = np.empty(tg.size, dtype=bool)
            first[0] = True
            np.not_equal(tg[1:], tg[:-1], out=first[1:])
            ut = tg[first]
            inv = np.cumsum(first) - 1
        else:
            ut, inv = np.unique(tg, return_inverse=True)
        c = np.bincount(inv, weights=cg.astype(np.float64), minlength=ut.size)
        tot = np.bincount(inv, minlength=ut.size).astype(np.float64)
        at_risk = tot[::-1].cumsum()[::-1]
        surv = np.cumprod(1.0 - c / at_risk)
        knots = np.concatenate(([min(0.0, ut[0]) - 10 * _EPS], ut, [ut[-1] * (1 + 10 * _EPS)]))
        vals = np.concatenate(([1.0], surv, [0.0]))
        idx = np.searchsorted(knots, x, side="right") - 1
        out[g] = vals[np.clip(idx, 0, vals.size - 1)]
    return out


@dataclass(frozen=True)
class _Prepared:
    t: FloatArray  # sorted times
    st: NDArray[np.int8]  # 1 cause of interest, 2 competing, 0 censored
    grp: NDArray[np.intp]  # censoring group (0..G-1)
    G: int
    Gm: FloatArray  # (G, n) censoring KM just before t_j
    u: FloatArray  # distinct failure times
    d: FloatArray  # failures at each
    first: NDArray[np.intp]  # first sorted index with t >= u_m
    Gf: FloatArray  # (G, D) G_g(u_m-)
    fail: NDArray[np.intp]  # sorted indices of the failures
    fail_m: NDArray[np.intp]  # failure-time index of each failure
    n_le: NDArray[np.intp]  # per subject: number of failure times <= t_j
    comp: list[NDArray[np.intp]]  # per group: indices of competing events
    compw: list[FloatArray]  # per group: 1 / G_g(T_j-) of those
    wt: FloatArray | None = None  # case weights (sorted); d is then the weighted count
    tf: Any = None  # time-varying columns (crr's cov2/tf), see _finegray_tf


def _prepare(
    t: FloatArray,
    st: NDArray[np.int8],
    grp: NDArray[np.intp],
    G: int,
    wt: FloatArray | None = None,
) -> _Prepared:
    # the censoring distribution is the unweighted Kaplan-Meier also with case weights,
    # as survival::finegray (its survfit of the censoring times takes no weights)
    Gm = _censoring_km_before(t, st == 0, grp, G)
    fail = np.flatnonzero(st == 1)
    u, d = np.unique(t[fail], return_counts=True)
    if wt is not None:
        d = np.bincount(np.searchsorted(u, t[fail]), weights=wt[fail], minlength=u.size)
    first = np.searchsorted(t, u, side="left")
    Gf = Gm[:, first]
    comp = [np.flatnonzero((st == 2) & (grp == g)) for g in range(G)]
    compw = [1.0 / Gm[g, c] for g, c in enumerate(comp)]
    return _Prepared(
        t,
        st,
        grp,
        G,
        Gm,
        u,
        d.astype(np.float64),
        first,
        Gf,
        fail,
        np.searchsorted(u, t[fail]),
        np.searchsorted(u, t, side="right"),
        comp,
        compw,
        wt,
    )


def _prefix_plan(
    pos: NDArray[np.intp], at: NDArray[np.intp]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """How :func:`_prefix_sums` sums the rows at sorted positions ``pos`` lying before each
    (non-decreasing) position in ``at``: the distinct cut points (block starts, from 0)
    and, per entry of ``at``, its cut (``len(cuts)`` for "all of them")."""
    k = np.searchsorted(pos, at, side="left")  # how many of pos lie before each at
    cuts = np.unique(np.concatenate(([0], k[k < pos.size]))) if pos.size else np.zeros(0, np.intp)
    return cuts.astype(np.intp), np.searchsorted(cuts, k, side="left").astype(np.intp)


def _prefix_sums(w: FloatArray, cuts: NDArray[np.intp], kmap: NDArray[np.intp]) -> FloatArray:
    """Sums of the first k columns of ``w`` (q, m) for every k of a plan from
    :func:`_prefix_plan`: one ``reduceat`` over blocks and a cumulative sum over them."""
    out = np.zeros((w.shape[0], cuts.size + 1))
    if cuts.size:
        np.cumsum(np.add.reduceat(w, cuts, axis=1), axis=1, out=out[:, 1:])
    return out[:, kmap]


#: columns of the (p, n) design processed at once (a (p + 1) × chunk array stays in cache)
_CHUNK = 1 << 13


def _chunk_plan(
    first: NDArray[np.intp], n: int
) -> tuple[list[tuple[int, int, NDArray[np.intp], int]], NDArray[np.intp]]:
    """Block sums over [first[m], first[m + 1]) taken chunk by chunk: the blocks are cut
    at the chunk boundaries into segments; per chunk (lo, hi, segment starts within the
    chunk, index of its first segment), and per block its first segment."""
    lo0 = int(first[0])
    bounds = np.arange((lo0 // _CHUNK + 1) * _CHUNK, n, _CHUNK)
    starts = np.union1d(first, bounds)
    chunks = []
    for lo in range(lo0 // _CHUNK * _CHUNK, n, _CHUNK):
        hi = min(lo + _CHUNK, n)
        a = int(np.searchsorted(starts, max(lo, lo0)))
        b = int(np.searchsorted(starts, hi))
        chunks.append((lo, hi, (starts[a:b] - lo).astype(np.intp), a))
    return chunks, np.searchsorted(starts, first).astype(np.intp)


@dataclass
class _Sums:
    ll: float
    score: FloatArray
    info: FloatArray | None
    e: FloatArray  # w·exp(xβ − c) per sorted row
    S0: FloatArray
    xbar: FloatArray
    beta: FloatArray | None = None  # the coefficients (kept by the time-varying kernel)


@dataclass
class _Kernel:
    """The covariates as the Newton iteration and the variance read them, built once per fit.

    ``xT`` is the time-sorted design as a (p, n) array (sums over subjects run along
    contiguous rows); ``wt`` the case weights (or None) and ``fw`` the weight of each
    row's own failure (w for a failure of the cause, 0 for the others); ``comp_xT[g]``
    holds the columns of group g's competing events and ``comp_plan[g]`` how to sum those
    lying before each failure time (see :func:`_prefix_plan`). ``blocks`` starts the runs
    of rows with one time, status and censoring group (the rows are sorted so, see
    :func:`finegray_fit`): every term of the sandwich variance that is not the row's own
    covariate is constant on such a run; ``run`` gives each row's run. ``chunks`` and
    ``seg_block`` take the risk-set block sums chunk by chunk (see :func:`_chunk_plan`);
    ``buf`` is a (p + 1, chunk) work array.
    """

    xT: FloatArray  # noqa: N815
    wt: FloatArray | None
    fw: FloatArray
    sum_fail_x: FloatArray
    comp_xT: list[FloatArray]  # noqa: N815
    comp_plan: list[tuple[NDArray[np.intp], NDArray[np.intp]]]
    blocks: NDArray[np.intp]
    run: NDArray[np.intp]  # per row: its run (index into blocks)
    chunks: list[tuple[int, int, NDArray[np.intp], int]]
    seg_block: NDArray[np.intp]
    buf: FloatArray | None = None
    comp_buf: list[FloatArray] | None = None

    @classmethod
    def build(cls, P: _Prepared, xT: FloatArray) -> _Kernel:
        """From the time-sorted design as a C-contiguous (p, n) array."""
        n = xT.shape[1]
        fw = np.zeros(n)
        fw[P.fail] = 1.0 if P.wt is None else P.wt[P.fail]
        xf = xT[:, P.fail]
        new = np.ones(n, dtype=bool)
        new[1:] = (P.t[1:] != P.t[:-1]) | (P.st[1:] != P.st[:-1]) | (P.grp[1:] != P.grp[:-1])
        return cls(
            xT,
            P.wt,
            fw,
            xf.sum(axis=1) if P.wt is None else xf @ fw[P.fail],
            [np.ascontiguousarray(xT[:, cg]) for cg in P.comp],
            [_prefix_plan(cg, P.first) for cg in P.comp],
            np.flatnonzero(new),
            np.cumsum(new) - 1,
            *_chunk_plan(P.first, n),
        )

    def work(self) -> FloatArray:
        """A (p + 1, chunk) work array."""
        if self.buf is None:
            self.buf = np.empty((self.xT.shape[0] + 1, min(_CHUNK, self.xT.shape[1])))
        return self.buf

    def comp_rows(self, P: _Prepared, e: FloatArray, g: int) -> FloatArray:
        """(p + 1, m) array of the m competing events of group g: their weights
        w·exp(xβ)/G(T−) and those times x (a work array reused by every evaluation)."""
        if self.comp_buf is None:
            self.comp_buf = [np.empty((0, 0))] * len(self.comp_xT)
        p, m = self.comp_xT[g].shape
        if self.comp_buf[g].shape != (p + 1, m):
            self.comp_buf[g] = np.empty((p + 1, m))
        wc = self.comp_buf[g]
        np.multiply(e[P.comp[g]], P.compw[g], out=wc[0])
        np.multiply(self.comp_xT[g], wc[0], out=wc[1:])
        return wc


def _sums(
    P: _Prepared, X: FloatArray, beta: FloatArray, need_info: bool, kern: _Kernel | None = None
) -> _Sums:
    """Log pseudo-likelihood, score, information at beta (signs as a log-likelihood).

    One pass builds w·exp(xβ)·(1, x); the subjects still event-free at u_m are a block sum
    between consecutive failure times and a reverse cumulative sum, the competing-event
    subjects of each censoring group a forward cumulative sum weighted by G(u_m-)/G(T_j-);
    the information is one weighted Gram matrix Z·Zᵀ minus p×p terms per failure time.
    Case weights multiply each subject's risk-set term and count each failure w times.
    Covariates multiplied by functions of time (crr's cov2/tf) are dispatched to
    :mod:`mst.stats._finegray_tf`.
    """
    if P.tf is not None:
        return _finegray_tf.sums(P, X, beta, need_info)  # type: ignore[no-any-return]
    if kern is None:  # X: the time-sorted design (n × p)
        kern = _Kernel.build(P, np.ascontiguousarray(X.T))
    xT = kern.xT
    p = xT.shape[0]
    eta = beta @ xT
    c = float(eta.max())
    eta -= c
    e = np.exp(eta, out=eta)
    if kern.wt is not None:  # case weights: the risk set sums w·exp(xβ)
        e *= kern.wt
    buf = kern.work()
    # subjects with time >= u_m: block sums between consecutive failure times (P.first is
    # strictly increasing), then a reverse cumulative sum over the blocks; the block sums
    # are taken chunk by chunk (w·exp(xβ)·(1, x) of a chunk stays in cache): sums over the
    # segments of each chunk, then over the segments of each block
    last = kern.chunks[-1]
    seg = np.empty((p + 1, last[3] + last[2].size))
    for lo, hi, idx, j in kern.chunks:
        w = buf[:, : hi - lo]
        w[0] = e[lo:hi]
        np.multiply(xT[:, lo:hi], w[0], out=w[1:])
        np.add.reduceat(w, idx, axis=1, out=seg[:, j : j + idx.size])
    S = np.add.reduceat(seg, kern.seg_block, axis=1)
    S = np.cumsum(S[:, ::-1], axis=1)[:, ::-1]
    for g in range(P.G):  # competing events of group g before u_m, times G_g(u_m-)
        S += P.Gf[g] * _prefix_sums(kern.comp_rows(P, e, g), *kern.comp_plan[g])
    S0 = S[0]
    xbar = (S[1:] / S0).T
    ll = float(beta @ kern.sum_fail_x - (P.d * (np.log(S0) + c)).sum())
    score = kern.sum_fail_x - P.d @ xbar
    info = None
    if need_info:
        h = P.d / S0
        cum = np.concatenate(([0.0], np.cumsum(h)))
        omega = cum[P.n_le]
        for g in range(P.G):
            cg = P.comp[g]
            back = np.concatenate((np.cumsum((h * P.Gf[g])[::-1])[::-1], [0.0]))
            omega[cg] += back[P.n_le[cg]] * P.compw[g]
        omega *= e
        np.sqrt(omega, out=omega)  # omega >= 0: a sum of non-negative terms
        info = -(xbar * P.d[:, None]).T @ xbar
        for lo in range(0, xT.shape[1], _CHUNK):  # the Gram matrix Z·Zᵀ, chunk by chunk
            Z = buf[1:, : min(_CHUNK, xT.shape[1] - lo)]
            np.multiply(xT[:, lo : lo + _CHUNK], omega[lo : lo + _CHUNK], out=Z)
            info += Z @ Z.T
        info = (info + info.T) / 2
    return _Sums(ll, score, info, e, S0, xbar)


def _sandwich_meat(
    P: _Prepared, s: _Sums, kern: _Kernel, fixed_g: bool = False
) -> tuple[FloatArray, FloatArray | None]:
    """Σ_i U_i U_iᵀ of crr's sandwich variance, U_i = w_i·η_i + ψ_i, and (``fixed_g``)
    the same without the censoring-martingale correction ψ (the censoring distribution
    taken as known: Σ w_i² η_i η_iᵀ).

    U_i = a_i·x_i + e_i·P_b + f_i·R_b + Q_b, where a_i = f_i − e_i·W_i is a scalar per
    row, f_i the weight of its own failure and P_b, R_b, Q_b are p-vectors constant on
    each run b of rows with one time, status and censoring group (:attr:`_Kernel.blocks`):
    P_b the running sums of the risk-set means over the failure times <= t, R_b the mean
    at the row's failure time, Q_b the correction ψ. The sum of outer products is then one
    weighted Gram matrix Σ a_i² x_i x_iᵀ, two block sums of a_i·x_i (plain and times
    e_i) and p×p terms per run — no n × p matrix of influence terms.
    """
    xT = kern.xT
    p, n = xT.shape
    e, S0, xbar = s.e, s.S0, s.xbar
    bst = kern.blocks
    bn = P.n_le[bst]  # failure times <= the run's time
    btype = P.st[bst]
    bgrp = P.grp[bst]
    nb = bst.size
    weighted = kern.wt is not None
    # the run vectors as rows of one table (k·p, runs): P (coefficient e), R (coefficient
    # f) and Q (coefficient 1); when f = 1 on the failure rows (unweighted) and ψ is not
    # also wanted alone, R and Q share their rows (the table holds R + Q)
    k = 3 if weighted or fixed_g else 2
    tab = np.zeros((k * p, nb))
    PtT, RtT, QtT = tab[:p], tab[p : 2 * p], tab[(k - 1) * p :]
    h = P.d / S0
    hh = np.vstack([h, xbar.T * h])  # (p + 1, D)
    cum = np.hstack([np.zeros((p + 1, 1)), np.cumsum(hh, axis=1)])  # over times <= u_k
    W = cum[0, P.n_le]
    np.take(cum[1:], bn, axis=1, out=PtT)
    for g in range(P.G):
        # competing events of group g stay at risk after their time with weight G(t-)/G(T-)
        back = np.hstack(
            [np.cumsum((hh * P.Gf[g])[:, ::-1], axis=1)[:, ::-1], np.zeros((p + 1, 1))]
        )
        cg = P.comp[g]
        W[cg] += back[0, P.n_le[cg]] * P.compw[g]
        sel = np.flatnonzero((btype == 2) & (bgrp == g))
        PtT[:, sel] += back[1:, bn[sel]] / P.Gm[g, bst[sel]]
    isf = np.flatnonzero(btype == 1)
    RtT[:, isf] = -xbar.T[:, bn[isf] - 1]  # a failure: minus the mean at its own time
    cens = np.flatnonzero(P.st == 0)
    if cens.size:
        tc = P.t[cens]  # ascending: P.t is sorted
        uc = tc[np.concatenate(([True], tc[1:] != tc[:-1]))]
        fc = np.searchsorted(P.t, uc, side="left")  # first index with t >= uc
        mfirst = np.searchsorted(P.u, uc, side="left")  # first failure time >= uc
        qi = np.searchsorted(uc, tc)
        bkc = np.searchsorted(uc, P.t[bst], side="right")  # censoring times <= the run's
        ffw = kern.fw[P.fail]
        for g in range(P.G):
            # q_g(u): integral over later failure times of the competing-event subjects of
            # group g that remain in the risk set (they depend on group g's censoring KM)
            Bu = _prefix_sums(kern.comp_rows(P, e, g), *_prefix_plan(P.comp[g], fc))
            # as crr (cmprsk >= 2.2-8): only failures of censoring group g enter q_g
            if P.G == 1:
                dg = np.bincount(P.fail_m, weights=ffw, minlength=P.u.size) / S0
                Y = n - fc
                cnt = np.bincount(qi, minlength=uc.size).astype(np.float64)
            else:
                ing_f = P.grp[P.fail] == g
                dg = np.bincount(P.fail_m[ing_f], weights=ffw[ing_f], minlength=P.u.size) / S0
                ing = P.grp == g
                Y = ing.sum() - np.searchsorted(P.t[ing], uc, side="left")
                cnt = np.bincount(qi[P.grp[cens] == g], minlength=uc.size).astype(np.float64)
            r = np.vstack([dg, xbar.T * dg]) * P.Gf[g]
            Rr = np.hstack([np.cumsum(r[:, ::-1], axis=1)[:, ::-1], np.zeros((p + 1, 1))])
            Rr = Rr[:, mfirst]
            q = Bu[1:] * Rr[0] - Bu[0] * Rr[1:]  # (p, censoring times)
            Yf = np.maximum(Y, 1).astype(np.float64)
            # every subject of group g: minus the increments at censoring times <= t;
            # a censored one also plus q / Y at its own time
            cinc = np.hstack([np.zeros((p, 1)), np.cumsum(q * (cnt / Yf**2), axis=1)])
            if P.G == 1:
                QtT -= cinc[:, bkc]
                own = np.flatnonzero(btype == 0)
            else:
                sel = np.flatnonzero(bgrp == g)
                QtT[:, sel] -= cinc[:, bkc[sel]]
                own = np.flatnonzero((bgrp == g) & (btype == 0))
            QtT[:, own] += (q / Yf)[:, bkc[own] - 1]
    # U chunk by chunk (a chunk stays in cache): a·x, plus the run's vectors gathered per
    # row (e·P + f·R + Q), then the Gram matrix of the chunk
    a = kern.fw - e * W
    meat = np.zeros((p, p))
    meat0 = np.zeros((p, p)) if fixed_g else None
    step = 1 << 12
    chunk = np.empty((p, min(step, n)))
    got = np.empty((k * p, min(step, n)))
    for lo in range(0, n, step):
        sl = slice(lo, lo + step)
        m = min(step, n - lo)
        u, g3 = chunk[:, :m], got[:, :m]
        np.multiply(xT[:, sl], a[sl], out=u)
        np.take(tab, kern.run[sl], axis=1, out=g3)
        g3[:p] *= e[sl]
        u += g3[:p]
        if k == 2:
            u += g3[p:]
        else:
            if weighted:
                g3[p : 2 * p] *= kern.fw[sl]
            u += g3[p : 2 * p]
            if meat0 is not None:
                meat0 += u @ u.T
            u += g3[2 * p :]
        meat += u @ u.T
    return (meat + meat.T) / 2, None if meat0 is None else (meat0 + meat0.T) / 2


@dataclass(frozen=True)
class FineGrayResult(CoefficientTable):
    """A fitted Fine–Gray model (fields as ``cmprsk::crr``).

    Attributes
    ----------
    names : list of str
        Covariate names.
    coef : ndarray
        Log subdistribution hazard ratios.
    var : ndarray
        Sandwich variance (crr's ``var``).
    se : ndarray
        sqrt(diag(var)).
    info : ndarray
        Information matrix at the estimate (crr's ``inf``).
    loglik, loglik_null : float
        Log pseudo-likelihood at the estimate and at 0.
    score : ndarray
        Score at the estimate.
    uftime : ndarray
        Distinct failure times of the cause of interest.
    bfitj : ndarray
        Jumps of the baseline cumulative subdistribution hazard at ``uftime``.
    n, events, competing, censored : int
        Rows used and the counts by status.
    cause : int
        Failure code of interest.
    converged : bool
        Whether crr's stopping rule was met.
    iterations : int
        Newton iterations.
    alpha : float
        1 - confidence level.
    n_dropped : int
        Rows dropped for missing values.
    references : dict
        Reference levels of categorical covariates.
    convergence : str
        The stopping rule that was applied (crr's, or a relative-change tolerance).
    weighted : bool
        Whether case weights were given.
    var_fixed_g : ndarray or None
        The sandwich without the correction for the estimated censoring distribution
        (H⁻¹ Σ w_i² η_i η_iᵀ H⁻¹): what R ``coxph(..., weights = fgwt, cluster = id)``
        reports on ``survival::finegray`` data. For comparison only; ``var`` is the
        variance used. Computed for weighted fits, or with ``fixed_g_variance=True``;
        otherwise ``None``.
    tf_cols : tuple of int
        Columns (of :attr:`names`) that are a covariate times a function of time (crr's
        ``cov2``), named ``col*label`` (e.g. ``age*log(t)``).
    tfs : ndarray or None
        The functions of time at :attr:`uftime` (crr's ``tfs``), one column per entry of
        ``tf_cols``.
    """

    names: list[str]
    coef: FloatArray
    var: FloatArray
    se: FloatArray
    info: FloatArray
    loglik: float
    loglik_null: float
    score: FloatArray
    uftime: FloatArray
    bfitj: FloatArray
    n: int
    events: int
    competing: int
    censored: int
    cause: int
    converged: bool
    iterations: int
    alpha: float = 0.05
    n_dropped: int = 0
    references: dict[str, str] = field(default_factory=dict)
    convergence: str = ""
    weighted: bool = False
    var_fixed_g: FloatArray | None = field(default=None, repr=False)
    tf_cols: tuple[int, ...] = ()
    tfs: FloatArray | None = field(default=None, repr=False)

    _model_name = "fine-gray"

    def predict(self, x: ArrayLike) -> pd.DataFrame:
        """Predicted cumulative incidence of the cause for covariate rows (as crr's predict).

        Parameters
        ----------
        x : array_like, shape (p,) or (m, p)
            Covariate values, in the order of :attr:`names` (dummies included); for a
            time-varying term ``col*f`` give the value of ``col`` (it is multiplied by
            f(t) at each time, as crr's ``predict(fit, cov1, cov2)``).

        Returns
        -------
        DataFrame
            Index ``time`` (the distinct failure times); one column per row of ``x``.
        """
        xa = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if xa.shape[1] != self.coef.size:
            raise ValidationError(
                "x", xa.shape, f"needs {self.coef.size} columns ({', '.join(self.names)})"
            )
        if self.tfs is None:
            lam = np.cumsum(self.bfitj)[:, None] * np.exp(xa @ self.coef)[None, :]
        else:
            cols = list(self.tf_cols)
            fixed = np.setdiff1d(np.arange(self.coef.size), cols)
            lp = (xa[:, fixed] @ self.coef[fixed])[None, :] + self.tfs @ (
                xa[:, cols] * self.coef[cols]
            ).T
            lam = np.cumsum(self.bfitj[:, None] * np.exp(lp), axis=0)
        return pd.DataFrame(1.0 - np.exp(-lam), index=pd.Index(self.uftime, name="time"))

    def summary(self) -> str:
        """Text summary: n, events, reference levels, coefficient table, stopping rule."""
        from mst.stats._summary import finegray_text

        return finegray_text(self)

    def print_summary(self, file: Any = None) -> None:
        """Write :meth:`summary` to ``file`` (default: standard output)."""
        import sys

        print(self.summary(), file=file or sys.stdout)

    def plot(self, x: ArrayLike, names: Sequence[str] | None = None, ax: Any = None) -> Any:
        """Predicted cumulative incidence of the cause for covariate rows (crr's predict);
        returns the matplotlib Axes and never shows it."""
        from mst.stats.plotting import curves_plot

        pred = self.predict(x)
        labels = list(names) if names is not None else [f"row {j + 1}" for j in pred.columns]
        return curves_plot(
            pred.index.to_numpy(), pred.to_numpy(), labels, "Cumulative incidence", ax
        )

    def __repr__(self) -> str:
        return (
            f"<FineGrayResult cause={self.cause} n={self.n} events={self.events} "
            f"competing={self.competing} covariates={', '.join(self.names)}>"
        )

    def _dict_head(self) -> dict[str, Any]:
        return {"cause": self.cause}

    def _dict_counts(self) -> dict[str, Any]:
        return {"competing": self.competing, "censored": self.censored}

    def _dict_tail(self) -> dict[str, Any]:
        return {
            "loglik": self.loglik,
            "loglik_null": self.loglik_null,
            "convergence": self.convergence,
            "iterations": self.iterations,
            "weighted": self.weighted,
            "time_varying": [self.names[j] for j in self.tf_cols],
        }


@one_blas_thread
def finegray_fit(
    X: ArrayLike,
    time: ArrayLike,
    status: ArrayLike,
    *,
    cause: int = 1,
    cencode: int = 0,
    cengroup: ArrayLike | None = None,
    names: Sequence[str] | None = None,
    gtol: float = 1e-6,
    max_iter: int = 10,
    alpha: float = 0.05,
    variance: bool = True,
    tol: float | None = None,
    weights: ArrayLike | None = None,
    cov2: ArrayLike | None = None,
    tf: Sequence[_finegray_tf.TimeFunction] | Any = None,
    cov2_names: Sequence[str] | None = None,
    fixed_g_variance: bool = False,
) -> FineGrayResult:
    """Fit the Fine–Gray model on arrays (same arguments and stopping rule as crr).

    Parameters
    ----------
    X : array_like, shape (n, p)
        Covariates.
    time : array_like
        Time to the first event or censoring (>= 0).
    status : array_like
        Integer codes: ``cause`` = event of interest, ``cencode`` = censored, any other
        value = a competing event.
    cause : int
        Code of the event of interest (crr's ``failcode``).
    cencode : int
        Code of censoring.
    cengroup : array_like, optional
        Censoring groups: a separate censoring Kaplan–Meier is used within each.
    names : sequence of str, optional
        Covariate names.
    gtol, max_iter : float, int
        crr's convergence rule: stop when max|score_j|·max(|b_j|, 1) < max(|loglik|, 1)·gtol.
    alpha : float
        Confidence intervals at level 1 - alpha.
    variance : bool
        Compute the sandwich variance (needed for SE and prediction).
    tol : float, optional
        Stop instead when the relative change of the log pseudo-likelihood and of every
        coefficient (relative to max(|b|, 1)) is at most ``tol`` (e.g. 1e-9); crr's rule
        is used when ``None``. The rule applied is stated in ``convergence``.
    weights : array_like, optional
        Case weights (> 0), as ``survival::finegray(weights=)`` followed by
        ``coxph(weights = fgwt)``: the risk set sums w·G(t−)/G(T_j−)·exp(xβ), each failure
        counts w; the censoring distribution G stays the unweighted Kaplan–Meier (as
        survival does). The variance is crr's sandwich with the weighted terms
        (w_i·η_i + ψ_i); ``var_fixed_g`` holds it without ψ (R's robust variance of the
        expanded data clustered by subject).
    cov2 : array_like, shape (n, q), optional
        Covariates multiplied by functions of time (crr's ``cov2``); they follow the
        columns of ``X`` in the result.
    tf : callable or sequence, optional
        As crr's ``tf``: a function of the distinct failure times returning a (D, q)
        matrix, or one time function per column of ``cov2`` (``"log"``, ``"t"``,
        ``"sqrt"``, ``"step:c"`` = I(t > c), or a callable).
    cov2_names : sequence of str, optional
        Names of the ``cov2`` columns (the terms are named ``name*label``).
    fixed_g_variance : bool
        Also compute ``var_fixed_g`` (the sandwich without the censoring correction) for an
        unweighted fit; with case weights it is always computed (it costs a second pass).

    Returns
    -------
    FineGrayResult
        Estimates as ``crr``.
    """
    Xa = np.asarray(X, dtype=np.float64)
    if Xa.ndim == 1:
        Xa = Xa[:, None]
    n, p = Xa.shape
    names = list(names) if names is not None else [f"x{i + 1}" for i in range(p)]
    if len(names) != p:
        raise ValidationError("names", len(names), f"must have one name per column ({p})")
    X2 = None
    if cov2 is not None:
        X2 = np.asarray(cov2, dtype=np.float64)
        X2 = X2[:, None] if X2.ndim == 1 else X2
        if X2.shape[0] != n:
            raise ValidationError("cov2", X2.shape, f"needs {n} rows, as the covariates")
        if tf is None:
            raise ValidationError("tf", None, "cov2 needs its functions of time (tf)")
        if not np.isfinite(X2).all():
            raise ValidationError("cov2", "inf", "covariates must be finite")
    elif tf is not None:
        raise ValidationError("cov2", None, "tf needs the covariates it multiplies (cov2)")
    try:
        t = np.asarray(time, dtype=np.float64)
        s = np.asarray(status, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError("time/status", "non-numeric", "must be numbers") from exc
    if t.shape != (n,) or s.shape != (n,):
        raise ValidationError("time/status", (t.shape, s.shape), f"need {n} values")
    bad = ~np.isfinite(t) | (t < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"time (row {i + 1})", t[i], "must be a finite number >= 0")
    if not np.isfinite(s).all() or np.any(s != np.round(s)):
        raise ValidationError("status", "non-integer", "status codes must be integers")
    if not 0 < alpha < 1:
        raise ValidationError("alpha", alpha, "must be in (0, 1)")
    scale = check_design(Xa, names) if p or X2 is None else None  # the column SDs
    wts = None
    if weights is not None:
        from mst.stats._validate import as_weights

        wts = as_weights(weights, n, "weights")
        if (wts <= 0).any():
            i = int(np.flatnonzero(wts <= 0)[0])
            raise ValidationError(
                f"weights (row {i + 1})",
                float(wts[i]),
                "must be > 0 (as coxph; drop the row instead of giving it weight 0)",
            )
    st = np.where(s == cencode, 0, np.where(s == cause, 1, 2)).astype(np.int8)
    if not (st == 1).any():
        raise ValidationError("status", cause, "no event of the cause of interest")
    grp_raw = (
        np.zeros(n, dtype=np.intp)
        if cengroup is None
        else pd.factorize(pd.Series(np.asarray(cengroup)), sort=True)[0].astype(np.intp)
    )
    if (grp_raw < 0).any():
        raise ValidationError("cengroup", "missing", "censoring groups must not be missing")
    # by time, and among tied times by status and censoring group (see _Kernel.blocks)
    n_grp = int(grp_raw.max()) + 1
    order = stable_order(t, key=st.astype(np.intp) * n_grp + grp_raw)
    P = _prepare(
        t[order],
        st[order],
        grp_raw[order],
        n_grp,
        None if wts is None else wts[order],
    )
    tf_cols: tuple[int, ...] = ()
    if X2 is not None:
        from dataclasses import replace as _replace

        tv, labels = _time_varying(X2, tf, cov2_names, P.u, Xa, names)
        tf_cols = tuple(int(c) for c in tv.cols)
        names = names + labels
        Xa = np.column_stack([Xa, X2])
        p = Xa.shape[1]
        P = _replace(P, tf=tv)
    XsT = _gather_t(Xa, order)  # the sorted design as (p, n): see _Kernel
    Xs = XsT.T
    # the (p, n) kernel serves every time-fixed fit; time-varying terms their own path
    kern = _Kernel.build(P, XsT) if P.tf is None else None
    if scale is None or X2 is not None:  # time-varying columns join the design
        scale = Xa.std(axis=0)
    b = np.zeros(p)
    converged = False
    checked = False
    it = 0
    last_step = np.full(p, np.inf)
    prev_lik = np.inf
    cur = _sums(P, Xs, b, True, kern)
    null = cur.ll  # the log pseudo-likelihood at beta = 0
    # beyond max_iter the iteration goes on only to tell a diverging coefficient (an
    # error naming it) from slow convergence; it never counts as converged
    limit = max(max_iter, _DIAGNOSE_ITER)
    for it in range(limit + 1):
        lik, sc = -cur.ll, -cur.score
        crr_ok = bool(np.max(np.abs(sc) * np.maximum(np.abs(b), 1.0)) < max(abs(lik), 1.0) * gtol)
        rel_ll = abs(prev_lik - lik) / max(abs(lik), 1.0) if np.isfinite(prev_lik) else np.inf
        if not checked and (crr_ok or rel_ll <= LOGLIK_EPS):
            checked = True
            assert cur.info is not None
            bad = diverging(b, _solve(cur.info, cur.score), scale, names)
            if bad:
                raise MonotoneLikelihoodError(
                    bad, "Fine-Gray pseudo", "crr stops there and reports a large finite value"
                )
        if tol is None:
            done = crr_ok
        else:
            done = (
                checked
                and rel_ll <= tol
                and bool(np.all(np.abs(last_step) <= tol * np.maximum(np.abs(b), 1.0)))
            )
        if done:
            converged = it <= max_iter
            break
        if it == limit or (checked and it >= max_iter):
            break
        assert cur.info is not None
        step = _solve(cur.info, cur.score)
        halv = 0
        bn = b + step
        # the candidate is evaluated with its information: it is nearly always accepted,
        # so the next iteration needs no second pass over the data
        cand = _sums(P, Xs, bn, True, kern)
        fbn = -cand.ll
        # crr's sufficient-decrease test; with tol, a step is also accepted when the
        # log-likelihood changes by no more than its rounding (1e-12 relative, as the Cox
        # fit), so that steps near the optimum are not halved on round-off
        slack = 0.0 if tol is None else 1e-12 * max(abs(lik), 1.0)
        while not np.isfinite(fbn) or fbn > lik + 1e-4 * float(step @ sc) + slack:
            halv += 1
            step = step * 0.5
            bn = b + step
            cand = _sums(P, Xs, bn, False, kern)
            fbn = -cand.ll
            if halv > 20:
                break
        if halv > 20:
            if tol is not None and checked and rel_ll <= tol and it <= max_iter:
                converged = True  # no further decrease is representable: at the optimum
            break
        b = bn
        last_step = step
        prev_lik = lik
        cur = cand if cand.info is not None else _sums(P, Xs, b, True, kern)
    rule = (
        f"crr's rule (max|score|·max(|b|,1) < gtol·max(|loglik|,1), gtol = {gtol:g})"
        if tol is None
        else f"relative change of loglik and coefficients <= {tol:g}"
    )
    if not converged:
        raise ValidationError(
            "model",
            f"{max_iter} iterations",
            f"Fine-Gray Newton iteration did not converge ({rule}); raise max_iter",
        )
    assert cur.info is not None
    if variance:
        try:
            hinv = np.linalg.inv(cur.info)
        except np.linalg.LinAlgError as exc:
            raise ValidationError(
                "covariates", "singular information", "the model is not identifiable"
            ) from exc
        want0 = fixed_g_variance or wts is not None
        if kern is None:  # time-varying terms: the influence terms row by row
            U = _finegray_tf.variance_terms(P, Xs, cur, True)
            meat, meat0 = U.T @ U, None
            if want0:
                U0 = _finegray_tf.variance_terms(P, Xs, cur, False)
                meat0 = U0.T @ U0
        else:
            meat, meat0 = _sandwich_meat(P, cur, kern, want0)
        var = hinv @ meat @ hinv.T
        var_fixed_g = None if meat0 is None else hinv @ meat0 @ hinv.T
    else:
        var = np.full((p, p), np.nan)
        var_fixed_g = None
    bfitj = P.d / (cur.S0 * np.exp(float((b @ XsT).max())))
    return FineGrayResult(
        names=names,
        coef=b,
        var=var,
        se=np.sqrt(np.diag(var)),
        info=cur.info,
        loglik=cur.ll,
        loglik_null=null,
        score=cur.score,
        uftime=P.u,
        bfitj=bfitj,
        n=n,
        events=int((st == 1).sum()),
        competing=int((st == 2).sum()),
        censored=int((st == 0).sum()),
        cause=int(cause),
        converged=converged,
        iterations=it,
        alpha=alpha,
        convergence=rule,
        weighted=wts is not None,
        var_fixed_g=var_fixed_g,
        tf_cols=tf_cols,
        tfs=None if P.tf is None else P.tf.tfs,
    )


def _time_varying(
    X2: FloatArray,
    tf: Any,
    cov2_names: Sequence[str] | None,
    uft: FloatArray,
    X1: FloatArray,
    names1: list[str],
) -> tuple[_finegray_tf.TimeVarying, list[str]]:
    """crr's ``tfs`` matrix at the failure times, checked, and the term names."""
    q = X2.shape[1]
    n2 = list(cov2_names) if cov2_names is not None else [f"z{i + 1}" for i in range(q)]
    if len(n2) != q:
        raise ValidationError("cov2_names", len(n2), f"must have one name per column ({q})")
    if callable(tf):  # as crr: tf(uft) -> (D, q)
        v = np.asarray(tf(uft.copy()), dtype=np.float64)
        v = v[:, None] if v.ndim == 1 else v
        if v.shape != (uft.size, q):
            raise ValidationError(
                "tf", v.shape, f"must return a ({uft.size}, {q}) matrix (failure times x cov2)"
            )
        tfs, labels = v, [f"tf{j + 1}" for j in range(q)]
    else:
        specs = list(tf)
        if len(specs) != q:
            raise ValidationError("tf", len(specs), f"needs one function per cov2 column ({q})")
        cols, labels = [], []
        for name, spec in zip(n2, specs, strict=True):
            fn, label = _finegray_tf.time_function(spec, f"tf ({name})")
            cols.append(_finegray_tf.evaluate_tf(fn, uft, f"tf ({name})"))
            labels.append(label)
        tfs = np.column_stack(cols)
    terms = [f"{a}*{b}" for a, b in zip(n2, labels, strict=True)]
    for j, term in enumerate(terms):
        x = X2[:, j]
        if np.ptp(x) == 0:
            raise ValidationError(
                "tf", term, "constant covariate (no variation in the analysed rows)"
            )
        f = tfs[:, j]
        if np.all(f == 0):
            raise ValidationError(
                "tf", term, "the function of time is 0 at every failure time of the cause"
            )
        if np.ptp(f) == 0:
            same = [nm for k, nm in enumerate(names1) if np.array_equal(X1[:, k], x)]
            if same:
                raise ValidationError(
                    "tf",
                    term,
                    f"the function of time takes one value at the {uft.size} failure "
                    f"time(s), so the term is collinear with {same[0]}",
                )
    return _finegray_tf.TimeVarying(np.arange(X1.shape[1], X1.shape[1] + q), tfs), terms


def finegray(
    data: pd.DataFrame,
    formula: str | None = None,
    *,
    time: str | None = None,
    status: str | None = None,
    covariates: Sequence[str] | None = None,
    cause: int = 1,
    cencode: int = 0,
    cengroup: str | None = None,
    reference: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    gtol: float = 1e-6,
    max_iter: int = 10,
    tol: float | None = None,
    weights: str | None = None,
    tf: Mapping[str, _finegray_tf.TimeFunction | Sequence[_finegray_tf.TimeFunction]] | None = None,
    fixed_g_variance: bool = False,
) -> FineGrayResult:
    """Fit the Fine–Gray model on a data frame (e.g. ``crs_days`` / ``crs_status``).

    Parameters
    ----------
    data : DataFrame
        One row per patient.
    formula : str, optional
        ``"Surv(time, status) ~ age + arm"`` (formulaic syntax on the right, as
        :func:`mst.stats.cox`); replaces ``time``, ``status`` and ``covariates``.
    time, status : str
        Time column and status column (0 censored, 1, 2, … causes).
    covariates : sequence of str
        Covariate columns (categorical ones become ``col[level]`` dummies).
    cause, cencode : int
        Code of the event of interest and of censoring.
    cengroup : str, optional
        Column defining censoring groups.
    reference : mapping, optional
        Reference level per categorical covariate.
    alpha, gtol, max_iter, tol
        As in :func:`finegray_fit`.
    weights : str, optional
        Column of case weights (> 0); see :func:`finegray_fit`. Rows with a missing
        weight are dropped and counted, as rows with a missing covariate.
    tf : mapping, optional
        Time-varying effects as crr's ``cov2``/``tf``: ``{"age": "log"}`` adds the term
        ``age*log(t)`` (age × log t at each failure time); functions ``"log"``, ``"t"``,
        ``"sqrt"``, ``"step:c"`` (I(t > c)) or a callable of the failure times. The
        column must be numeric (0/1 for a binary factor); it may also be a covariate.
        A list gives several terms for one column (``{"age": ["log", "t"]}``).
    fixed_g_variance : bool
        See :func:`finegray_fit` (``var_fixed_g`` of an unweighted fit).

    Returns
    -------
    FineGrayResult
        The fitted model.
    """
    rhs = None
    if formula is not None:
        f = parse_surv_formula(formula)
        if f.start is not None or f.strata or f.cluster:
            raise ValidationError(
                "formula", formula, "Fine-Gray takes Surv(time, status) ~ covariates only"
            )
        time, status, rhs = f.stop, f.event, f.rhs
    if time is None or status is None:
        raise ValidationError("time/status", None, "give a formula or the time and status columns")
    tv = dict(tf or {})
    tv_cols: list[str] = []
    tv_specs: list[Any] = []
    for col, spec in tv.items():
        for one in spec if isinstance(spec, list | tuple) else [spec]:
            tv_cols.append(col)
            tv_specs.append(one)
    base = [time, status] + ([cengroup] if cengroup else []) + ([weights] if weights else [])
    data = outcome_frame(
        data, base + list(tv), [time, status] + ([weights] if weights else []) + list(tv)
    )
    rows = complete_rows(data, base + list(tv))
    if rhs is not None:
        design = design_from_formula(data, rhs, rows)
    elif covariates:
        design = design_from_columns(data, covariates, reference, rows)
    elif tv:
        from mst.stats._design import Design

        design = Design(np.zeros((int(rows.sum()), 0)), [], rows, {})
    else:
        raise ValidationError("covariates", None, "at least one covariate is needed")
    sub = data.loc[design.rows]
    res = finegray_fit(
        design.X,
        sub[time].to_numpy(),
        sub[status].to_numpy(),
        cause=cause,
        cencode=cencode,
        cengroup=sub[cengroup].to_numpy() if cengroup else None,
        names=design.names,
        alpha=alpha,
        gtol=gtol,
        max_iter=max_iter,
        tol=tol,
        weights=sub[weights].to_numpy(dtype=np.float64) if weights else None,
        cov2=sub[tv_cols].to_numpy(dtype=np.float64) if tv else None,
        tf=tv_specs if tv else None,
        cov2_names=tv_cols if tv else None,
        fixed_g_variance=fixed_g_variance,
    )
    from dataclasses import replace

    return replace(res, n_dropped=int(len(data) - design.rows.sum()), references=design.references)

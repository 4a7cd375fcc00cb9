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
from scipy import stats as sps

from mst.errors import ValidationError
from mst.stats import _finegray_tf
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


def _exclusive_cumsum_at(
    pos: NDArray[np.intp], vals: FloatArray, at: NDArray[np.intp]
) -> FloatArray:
    """Sum of ``vals`` (rows at sorted positions ``pos``) over positions < each ``at``."""
    c = np.vstack([np.zeros((1, vals.shape[1])), np.cumsum(vals, axis=0)])
    return c[np.searchsorted(pos, at, side="left")]


@dataclass
class _Sums:
    ll: float
    score: FloatArray
    info: FloatArray | None
    e: FloatArray
    S0: FloatArray
    xbar: FloatArray
    B: list[FloatArray]  # per group: [B0 | B1] at each failure time
    beta: FloatArray | None = None  # the coefficients (kept by the time-varying kernel)


@dataclass
class _Kernel:
    """The covariates as the Newton iteration reads them, built once per fit.

    ``xT`` is the time-sorted design as a (p, n) array (sums over subjects run along
    contiguous rows); ``comp_xT[g]`` holds the columns of group g's competing events and
    ``comp_at[g][m]`` how many of them lie before the first subject with t >= u_m.
    ``buf`` is a (p + 1, n) work array reused by every evaluation.
    """

    xT: FloatArray  # noqa: N815
    sum_fail_x: FloatArray
    comp_xT: list[FloatArray]  # noqa: N815
    comp_at: list[NDArray[np.intp]]
    buf: FloatArray | None = None
    comp_buf: list[FloatArray] | None = None

    @classmethod
    def build(cls, P: _Prepared, xT: FloatArray) -> _Kernel:
        """From the time-sorted design as a C-contiguous (p, n) array."""
        return cls(
            xT,
            xT[:, P.fail].sum(axis=1),
            [np.ascontiguousarray(xT[:, cg]) for cg in P.comp],
            [np.searchsorted(cg, P.first, side="left") for cg in P.comp],
        )

    def work(self) -> FloatArray:
        if self.buf is None:
            self.buf = np.empty((self.xT.shape[0] + 1, self.xT.shape[1]))
        return self.buf

    def comp_work(self, g: int) -> FloatArray:
        """(p + 1, 1 + competing events of group g) work array, first column zero."""
        if self.comp_buf is None:
            self.comp_buf = [np.empty((0, 0))] * len(self.comp_xT)
        if self.comp_buf[g].size == 0:
            p, m = self.comp_xT[g].shape
            self.comp_buf[g] = np.empty((p + 1, m + 1))
        wc = self.comp_buf[g]
        wc[:, 0] = 0.0
        return wc


def _sums_fast(
    P: _Prepared,
    X: FloatArray,
    beta: FloatArray,
    need_info: bool,
    kern: _Kernel | None = None,
) -> _Sums:
    """Log pseudo-likelihood, score, information at beta (signs as a log-likelihood).

    One pass builds exp(xβ)·(1, x); the subjects still event-free at u_m are a block sum
    between consecutive failure times and a reverse cumulative sum, the competing-event
    subjects of each censoring group a forward cumulative sum weighted by G(u_m-)/G(T_j-);
    the information is one weighted Gram matrix Z·Zᵀ minus p×p terms per failure time.
    """
    if kern is None:  # X: the time-sorted design (n × p)
        kern = _Kernel.build(P, np.ascontiguousarray(X.T))
    xT = kern.xT
    eta = beta @ xT
    c = float(eta.max())
    e = np.exp(eta - c)
    buf = kern.work()
    buf[0] = e
    np.multiply(xT, e, out=buf[1:])
    # subjects with time >= u_m: block sums between consecutive failure times (P.first is
    # strictly increasing), then a reverse cumulative sum over the blocks
    S = np.cumsum(np.add.reduceat(buf, P.first, axis=1)[:, ::-1], axis=1)[:, ::-1]
    B = []
    for g in range(P.G):
        cg = P.comp[g]
        wc = kern.comp_work(g)
        wc[0, 1:] = e[cg] * P.compw[g]
        np.multiply(kern.comp_xT[g], wc[0, 1:], out=wc[1:, 1:])
        np.cumsum(wc, axis=1, out=wc)
        Bg = wc[:, kern.comp_at[g]]  # competing events of group g before u_m
        B.append(Bg.T)
        S += P.Gf[g] * Bg
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
        Z = buf[1:]
        np.multiply(xT, omega, out=Z)
        info = Z @ Z.T - (xbar * P.d[:, None]).T @ xbar
        info = (info + info.T) / 2
    return _Sums(ll, score, info, e, S0, xbar, B)


def _variance_terms_fast(
    P: _Prepared, X: FloatArray, s: _Sums, kern: _Kernel | None = None, correction: bool = True
) -> FloatArray:
    """Per-subject influence terms eta_i + psi_i of crr's sandwich variance (n × p); eta_i
    only when ``correction`` is false (the censoring distribution taken as known).

    Built in the (p, n) layout of the kernel (the result is a transposed view of its work
    array, valid until the kernel's next evaluation).
    """
    if kern is None:  # X: the time-sorted design (n × p)
        kern = _Kernel.build(P, np.ascontiguousarray(X.T))
    xT = kern.xT
    p, n = xT.shape
    e, S0, xbar = s.e, s.S0, s.xbar
    h = P.d / S0
    hx = xbar * h[:, None]
    hh = np.column_stack([h, hx])  # (D, p + 1)
    cum = np.vstack([np.zeros((1, p + 1)), np.cumsum(hh, axis=0)]).T.copy()  # (p+1, D+1)
    # U_j = −e_j·(x_j·W_j − V_j) + [j fails]·(x_j − xbar at its time) − psi_j: W, V and
    # xbar are running sums looked up at n_le_j (the failure times <= t_j), the
    # censoring-martingale terms psi at the censoring times <= t_j; every term is a
    # (table, per-row index, per-row weight) gathered in one pass over the rows in chunks
    terms: list[tuple[FloatArray, NDArray[np.intp], FloatArray | None]] = []
    fails = np.zeros(n)
    fails[P.fail] = 1.0
    W = cum[0, P.n_le]
    terms.append((cum[1:], P.n_le, e))
    terms.append((-np.hstack([np.zeros((p, 1)), xbar.T]), P.n_le, fails))  # xbar at u_(k-1)
    for g in range(P.G):
        # competing events of group g stay at risk after their time with weight G(t-)/G(T-)
        cg = P.comp[g]
        back = np.vstack(
            [np.cumsum((hh * P.Gf[g][:, None])[::-1], axis=0)[::-1], np.zeros((1, p + 1))]
        ).T.copy()
        cw = np.zeros(n)
        cw[cg] = P.compw[g]
        W += back[0, P.n_le] * cw
        terms.append((back[1:], P.n_le, e * cw))
    cens = np.flatnonzero(P.st == 0)
    if cens.size and correction:
        tc = P.t[cens]  # ascending: P.t is sorted
        uc = tc[np.concatenate(([True], tc[1:] != tc[:-1]))]
        fc = np.searchsorted(P.t, uc, side="left")  # first index with t >= uc
        mfirst = np.searchsorted(P.u, uc, side="left")  # first failure time >= uc
        qi = np.searchsorted(uc, P.t[cens])
        kc = np.searchsorted(uc, P.t, side="right")  # per row: censoring times <= t
        for g in range(P.G):
            # q_g(u): integral over later failure times of the competing-event subjects of
            # group g that remain in the risk set (they depend on group g's censoring KM)
            cg = P.comp[g]
            wc = np.empty((p + 1, cg.size + 1))
            wc[:, 0] = 0.0
            wc[0, 1:] = e[cg] * P.compw[g]
            np.multiply(kern.comp_xT[g], wc[0, 1:], out=wc[1:, 1:])
            np.cumsum(wc, axis=1, out=wc)
            Bu = wc[:, np.searchsorted(cg, fc, side="left")].T  # comp. events before uc
            # as crr (cmprsk >= 2.2-8): only failures of censoring group g enter q_g
            dg = np.bincount(P.fail_m[P.grp[P.fail] == g], minlength=P.u.size) / S0
            r = np.column_stack([dg, xbar * dg[:, None]]) * P.Gf[g][:, None]
            Rr = np.vstack([np.cumsum(r[::-1], axis=0)[::-1], np.zeros((1, p + 1))])[mfirst]
            q = Bu[:, 1:] * Rr[:, [0]] - Bu[:, [0]] * Rr[:, 1:]
            ing = P.grp == g
            Y = ing.sum() - np.searchsorted(P.t[ing], uc, side="left")
            cmask = P.grp[cens] == g
            cnt = np.bincount(qi[cmask], minlength=uc.size).astype(np.float64)
            Yf = np.maximum(Y, 1).astype(np.float64)
            inc = q * (cnt / Yf**2)[:, None]
            # every subject of group g: minus the increments at censoring times <= t_j
            cinc = np.ascontiguousarray(np.vstack([np.zeros((1, p)), np.cumsum(inc, axis=0)]).T)
            terms.append((-cinc, kc, None if P.G == 1 else ing.astype(np.float64)))
            # a censored subject of group g: plus q / Y at its own time (= column kc_j)
            own = np.ascontiguousarray(np.vstack([np.zeros((1, p)), q / Yf[:, None]]).T)
            cw = np.zeros(n)
            cw[cens[cmask]] = 1.0
            terms.append((own, kc, cw))
    UT = kern.work()[1:]
    np.multiply(xT, fails - e * W, out=UT)
    step = 1 << 15
    tmp = np.empty((p, min(step, n)))
    for a in range(0, n, step):
        sl = slice(a, a + step)
        t = tmp[:, : min(step, n - a)]
        for table, idx, wgt in terms:
            np.take(table, idx[sl], axis=1, out=t)
            if wgt is not None:  # None: weight 1 for every row
                t *= wgt[sl]
            UT[:, sl] += t
    return UT.T


def _sums(
    P: _Prepared, X: FloatArray, beta: FloatArray, need_info: bool, kern: _Kernel | None = None
) -> _Sums:
    """Log pseudo-likelihood, score, information at beta (signs as a log-likelihood).

    Without case weights and time-varying terms the (p, n) kernel (:func:`_sums_fast`)
    computes them; this general path serves weighted fits (and dispatches cov2/tf).
    """
    if P.wt is None and P.tf is None:
        return _sums_fast(P, X, beta, need_info, kern)
    if P.tf is not None:  # covariates multiplied by functions of time (crr's cov2/tf)
        return _finegray_tf.sums(P, X, beta, need_info)  # type: ignore[no-any-return]
    eta = X @ beta
    c = float(eta.max())
    e = np.exp(eta - c)
    if P.wt is not None:  # case weights: the risk set sums w·exp(xβ)
        e = e * P.wt
    w = np.empty((X.shape[0], X.shape[1] + 1))
    w[:, 0] = e
    np.multiply(X, e[:, None], out=w[:, 1:])
    # subjects with time >= u_m: block sums between consecutive failure times (P.first is
    # strictly increasing), then a reverse cumulative sum over the blocks
    S = np.cumsum(np.add.reduceat(w, P.first, axis=0)[::-1], axis=0)[::-1]
    B = []
    for g in range(P.G):
        cg = P.comp[g]
        Bg = _exclusive_cumsum_at(cg, w[cg] * P.compw[g][:, None], P.first)
        B.append(Bg)
        S += P.Gf[g][:, None] * Bg
    S0 = S[:, 0]
    xbar = S[:, 1:] / S0[:, None]
    if P.wt is None:
        ll = float(eta[P.fail].sum() - (P.d * (np.log(S0) + c)).sum())
        score = X[P.fail].sum(axis=0) - (P.d[:, None] * xbar).sum(axis=0)
    else:  # each failure counts its weight
        wf = P.wt[P.fail]
        ll = float(wf @ eta[P.fail] - (P.d * (np.log(S0) + c)).sum())
        score = wf @ X[P.fail] - (P.d[:, None] * xbar).sum(axis=0)
    info = None
    if need_info:
        h = P.d / S0
        cum = np.concatenate(([0.0], np.cumsum(h)))
        omega = cum[P.n_le]
        for g in range(P.G):
            cg = P.comp[g]
            back = np.concatenate((np.cumsum((h * P.Gf[g])[::-1])[::-1], [0.0]))
            omega[cg] += back[P.n_le[cg]] * P.compw[g]
        we = omega * e
        info = (X * we[:, None]).T @ X - (xbar * P.d[:, None]).T @ xbar
    return _Sums(ll, score, info, e, S0, xbar, B)


def _variance_terms(
    P: _Prepared,
    X: FloatArray,
    s: _Sums,
    correction: bool = True,
    kern: _Kernel | None = None,
) -> FloatArray:
    """Per-subject influence terms eta_i + psi_i of crr's sandwich variance (n × p);
    eta_i only when ``correction`` is false (the censoring distribution taken as known).
    With case weights the terms are w_i·eta_i + psi_i (psi_i built from the weighted
    failures and competing events, the censoring martingale of subject i unweighted).
    Unweighted time-fixed fits use the (p, n) kernel
    (:func:`_variance_terms_fast`)."""
    if P.wt is None and P.tf is None:
        return _variance_terms_fast(P, X, s, kern, correction)
    if P.tf is not None:
        return _finegray_tf.variance_terms(P, X, s, correction)
    p = X.shape[1]
    e, S0, xbar = s.e, s.S0, s.xbar
    h = P.d / S0
    hx = xbar * h[:, None]
    cum = np.vstack([np.zeros((1, p + 1)), np.cumsum(np.column_stack([h, hx]), axis=0)])
    W = cum[P.n_le, 0].copy()
    V = cum[P.n_le, 1:].copy()
    for g in range(P.G):
        cg = P.comp[g]
        tail = np.column_stack([h, hx]) * P.Gf[g][:, None]
        back = np.vstack([np.cumsum(tail[::-1], axis=0)[::-1], np.zeros((1, p + 1))])
        bk = back[P.n_le[cg]] * P.compw[g][:, None]
        W[cg] += bk[:, 0]
        V[cg] += bk[:, 1:]
    U = -(e[:, None] * (X * W[:, None] - V))
    if P.wt is None:
        U[P.fail] += X[P.fail] - xbar[P.fail_m]
    else:
        U[P.fail] += (X[P.fail] - xbar[P.fail_m]) * P.wt[P.fail][:, None]
    # censoring-martingale correction psi
    cens = np.flatnonzero(P.st == 0)
    if cens.size and correction:
        uc = np.unique(P.t[cens])
        fc = np.searchsorted(P.t, uc, side="left")  # first index with t >= uc
        mfirst = np.searchsorted(P.u, uc, side="left")  # first failure time >= uc
        qi = np.searchsorted(uc, P.t[cens])
        for g in range(P.G):
            # q_g(u): integral over later failure times of the competing-event subjects of
            # group g that remain in the risk set (they depend on group g's censoring KM)
            cg = P.comp[g]
            w = np.column_stack([e[cg], e[cg, None] * X[cg]]) * P.compw[g][:, None]
            Bu = _exclusive_cumsum_at(cg, w, fc)
            # as crr (cmprsk >= 2.2-8): only failures of censoring group g enter q_g
            ing_f = P.grp[P.fail] == g
            dg = (
                np.bincount(
                    P.fail_m[ing_f],
                    weights=None if P.wt is None else P.wt[P.fail][ing_f],
                    minlength=P.u.size,
                )
                / S0
            )
            r = np.column_stack([dg, xbar * dg[:, None]]) * P.Gf[g][:, None]
            Rr = np.vstack([np.cumsum(r[::-1], axis=0)[::-1], np.zeros((1, p + 1))])[mfirst]
            q = Bu[:, 1:] * Rr[:, [0]] - Bu[:, [0]] * Rr[:, 1:]
            ing = P.grp == g
            Y = ing.sum() - np.searchsorted(P.t[ing], uc, side="left")
            cmask = P.grp[cens] == g
            cnt = np.bincount(qi[cmask], minlength=uc.size).astype(np.float64)
            Yf = np.maximum(Y, 1).astype(np.float64)
            inc = q * (cnt / Yf**2)[:, None]
            cinc = np.vstack([np.zeros((1, p)), np.cumsum(inc, axis=0)])
            rows = np.flatnonzero(ing)
            k = np.searchsorted(uc, P.t[rows], side="right")
            U[rows] -= cinc[k]
            cr = cens[cmask]
            kk = qi[cmask]
            U[cr] += q[kk] / Yf[kk][:, None]
    return U


@dataclass(frozen=True)
class FineGrayResult:
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

    @property
    def hr(self) -> FloatArray:
        """Subdistribution hazard ratios exp(coef)."""
        return np.exp(self.coef)

    @property
    def p(self) -> FloatArray:
        """Two-sided Wald p-values."""
        return 2.0 * sps.norm.sf(np.abs(self.coef / self.se))

    @property
    def lower(self) -> FloatArray:
        """Lower confidence limit of the subdistribution hazard ratio."""
        return np.exp(self.coef - sps.norm.ppf(1 - self.alpha / 2) * self.se)

    @property
    def upper(self) -> FloatArray:
        """Upper confidence limit of the subdistribution hazard ratio."""
        return np.exp(self.coef + sps.norm.ppf(1 - self.alpha / 2) * self.se)

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

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table (see :meth:`summary_frame`)."""
        return self.summary_frame()

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

    def summary_frame(self) -> pd.DataFrame:
        """Table with coef, sHR, se, p and the confidence interval."""
        return pd.DataFrame(
            {
                "coef": self.coef,
                "hr": self.hr,
                "se": self.se,
                "p": self.p,
                "lower": self.lower,
                "upper": self.upper,
            },
            index=pd.Index(self.names, name="covariate"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (``coef``, ``se``, ``hr``, ``lower``, ``upper``, ``p`` by name)."""
        by = lambda v: {k: float(x) for k, x in zip(self.names, v, strict=True)}  # noqa: E731
        return {
            "model": "fine-gray",
            "cause": self.cause,
            "coef": by(self.coef),
            "se": by(self.se),
            "hr": by(self.hr),
            "lower": by(self.lower),
            "upper": by(self.upper),
            "p": by(self.p),
            "n": self.n,
            "events": self.events,
            "competing": self.competing,
            "censored": self.censored,
            "n_dropped": self.n_dropped,
            "loglik": self.loglik,
            "loglik_null": self.loglik_null,
            "references": self.references,
            "converged": self.converged,
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
    order = stable_order(t)
    P = _prepare(
        t[order],
        st[order],
        grp_raw[order],
        int(grp_raw.max()) + 1,
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
    # the (p, n) kernel serves unweighted time-fixed fits; the general path the others
    kern = _Kernel.build(P, XsT) if P.wt is None and P.tf is None else None
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
        while not np.isfinite(fbn) or fbn > lik + 1e-4 * float(step @ sc):
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
        U = _variance_terms(P, Xs, cur, kern=kern)
        var = hinv @ (U.T @ U) @ hinv.T
        var_fixed_g = None
        if fixed_g_variance or wts is not None:
            U0 = _variance_terms(P, Xs, cur, correction=False, kern=kern)
            var_fixed_g = hinv @ (U0.T @ U0) @ hinv.T
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

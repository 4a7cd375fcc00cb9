"""Quantities derived from a fitted Cox model, as R ``survival`` computes them.

Baseline cumulative hazard (Breslow, or Efron-adjusted for tied deaths as ``survfit.coxph``),
martingale / deviance / Schoenfeld residuals, and Harrell's concordance as
``survival::concordance`` (pairs tied on the risk score count one half, pairs tied on an
event time are not comparable, an event and a censoring at the same time are comparable).
Every function is O(n log n) after the fit's one sort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mst.stats import _regression_cox_core as core

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class StratumHazard:
    """Baseline hazard of one stratum at its distinct event times.

    Attributes
    ----------
    times : ndarray
        Distinct event times.
    hazard : ndarray
        Increments of the baseline cumulative hazard (covariates at their means).
    n_risk, n_event : ndarray
        Number at risk and events at each time.
    """

    times: FloatArray
    hazard: FloatArray
    n_risk: FloatArray
    n_event: FloatArray


def _denominators(
    S: core._Stratum, x: FloatArray, beta: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, float]:
    """Risk weights e (scaled by exp(-c)), Efron denominators per event, a_k and b_k."""
    e_raw = x @ beta
    c = float(e_raw.max())
    e = np.exp(e_raw - c)
    R = core._risk_sums(S, e[:, None])
    S0 = R[:, 0]
    g, f = S.ev_group, S.ev_frac
    nk = S.times.size
    D0 = np.bincount(g, weights=e[S.ev_pos], minlength=nk)
    den = S0[g] - f * D0[g]
    a = np.bincount(g, weights=1.0 / den, minlength=nk)
    b = np.bincount(g, weights=f / den, minlength=nk)
    return e, a, b, den, c


def baseline_hazard(
    prep: list[core._Stratum], xs: list[tuple[FloatArray, FloatArray]], beta: FloatArray
) -> list[StratumHazard]:
    """Baseline hazard increments per stratum at centred covariates (R ``basehaz``)."""
    out = []
    for S, (x, _) in zip(prep, xs, strict=True):
        _, a, _, _, c = _denominators(S, x, beta)
        # a_k = sum over the tied deaths of 1 / (Efron) denominator; scale back by exp(c)
        hz = a * np.exp(-c)
        ones = core._risk_sums(S, np.ones((x.shape[0], 1)))[:, 0]
        out.append(StratumHazard(S.times.copy(), hz, ones, S.d.copy()))
    return out


def martingale(
    prep: list[core._Stratum],
    xs: list[tuple[FloatArray, FloatArray]],
    beta: FloatArray,
    n: int,
) -> FloatArray:
    """Martingale residuals δ_i − Λ_i, with the Efron adjustment for tied deaths."""
    out = np.zeros(n)
    for S, (x, _) in zip(prep, xs, strict=True):
        e, a, b, _, _ = _denominators(S, x, beta)
        A = core._per_row(S, a[:, None])[:, 0]
        lam = e * A
        lam[S.ev_pos] -= e[S.ev_pos] * b[S.ev_group]
        res = -lam
        res[S.ev_pos] += 1.0
        out[S.rows] = res
    return out


def deviance(mart: FloatArray, event: NDArray[np.bool_]) -> FloatArray:
    """Deviance residuals sign(m)·sqrt(−2(m + δ log(δ − m)))."""
    d = event.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(d > 0, d * np.log(np.where(d > 0, d - mart, 1.0)), 0.0)
    return np.sign(mart) * np.sqrt(np.maximum(-2.0 * (mart + term), 0.0))


def schoenfeld(
    prep: list[core._Stratum],
    xs: list[tuple[FloatArray, FloatArray]],
    beta: FloatArray,
) -> tuple[FloatArray, FloatArray, NDArray[np.intp]]:
    """Schoenfeld residuals, one row per event, ordered by time (R ``residuals(type=
    "schoenfeld")``: tied deaths share the mean of their Efron-weighted covariate means).

    Returns (residuals, event times, row indices of the events).
    """
    res, times, rows = [], [], []
    for S, (x, xe) in zip(prep, xs, strict=True):
        e_raw = x @ beta
        e = np.exp(e_raw - e_raw.max())
        R = core._risk_sums(S, np.column_stack([e, e[:, None] * x]))
        S0, S1 = R[:, 0], R[:, 1:]
        g, f = S.ev_group, S.ev_frac
        nk = S.times.size
        ee = e[S.ev_pos]
        D0 = np.bincount(g, weights=ee, minlength=nk)
        D1 = core._group_sum(ee[:, None] * xe, S)
        den = S0[g] - f * D0[g]
        xbar = (S1[g] - f[:, None] * D1[g]) / den[:, None]
        mean = core._group_sum(xbar, S) / S.d[:, None]
        res.append(xe - mean[g])
        times.append(S.times[g])
        rows.append(S.rows[S.ev_pos])
    r = np.vstack(res)
    t = np.concatenate(times)
    i = np.concatenate(rows)
    o = np.lexsort((i, t))
    return r[o], t[o], i[o]


def concordance(
    time: FloatArray,
    event: NDArray[np.bool_],
    risk: FloatArray,
    strata: NDArray[np.intp],
) -> tuple[float, float, float, float, float]:
    """Harrell's C as ``survival::concordance(fit)``: returns (C, concordant, discordant,
    tied on risk, tied on time).

    A pair is comparable when the shorter time is an event (an event and a censoring at the
    same time are comparable, two events at the same time are "tied on time" and left out).
    Higher risk with the shorter time is concordant; equal risk counts one half.

    Vectorised: the rows are ordered by time (latest first, censorings before events at a
    tie); the comparable partners of an event are then a prefix of that order, and the
    partners with a smaller risk are counted over the dyadic blocks that tile the prefix
    (one sort and a binary search per level, O(n log² n), no Python loop over rows).
    """
    conc = disc = tie_x = tie_y = 0.0
    for s in np.unique(strata):
        m = strata == s
        t, d, r = time[m], event[m].astype(bool), risk[m]
        order = np.lexsort((d, -t))  # latest first; censored before events at a tie
        t, d, r = t[order], d[order], r[order]
        n = t.size
        _, rk = np.unique(r, return_inverse=True)
        rk = rk.astype(np.int64)
        u = int(rk.max()) + 1 if n else 1
        ev = np.flatnonzero(d)
        if ev.size == 0:
            continue
        # prefix length of each event: rows later than it, plus censorings at its time
        first_event_at = np.searchsorted(-t, -t[ev], side="left")  # start of the time block
        cens_at = np.searchsorted(-t, -t[ev], side="right") - first_event_at  # block size
        # within a time block the censorings come first, then the tied events
        _, blk = np.unique(-t[ev], return_inverse=True)
        n_ev_block = np.bincount(blk)
        b = first_event_at + (cens_at - n_ev_block[blk])
        tie_y += float((n_ev_block * (n_ev_block - 1) / 2).sum())
        q = rk[ev]
        less = np.zeros(ev.size)
        le = np.zeros(ev.size)
        pos = np.arange(n, dtype=np.int64)
        level = 0
        while (1 << level) <= n:
            sel = ((b >> level) & 1) == 1
            if sel.any():
                keys = np.sort((pos >> level) * u + rk)
                base = ((b[sel] >> (level + 1)) << 1) * u
                lo = np.searchsorted(keys, base, side="left")
                less[sel] += np.searchsorted(keys, base + q[sel], side="left") - lo
                le[sel] += np.searchsorted(keys, base + q[sel], side="right") - lo
            level += 1
        conc += float(less.sum())
        tie_x += float((le - less).sum())
        disc += float((b - le).sum())
    c = (conc + tie_x / 2) / (conc + disc + tie_x) if conc + disc + tie_x > 0 else np.nan
    return float(c), conc, disc, tie_x, tie_y

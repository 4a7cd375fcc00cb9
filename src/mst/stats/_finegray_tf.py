"""Fine–Gray covariates multiplied by functions of time, as crr's ``cov2`` / ``tf``.

``crr(ftime, fstatus, cov1, cov2, tf)`` enters the columns of ``cov2`` multiplied by
``tf(t)`` evaluated at each distinct failure time of the cause of interest: at failure time
``u_m`` the covariate vector of every subject in the risk set is ``[cov1, cov2·tf(u_m)]``.
The pseudo-likelihood, score, information, the sandwich terms η_i and the censoring
correction ψ_i are those of crr with that covariate vector. As the covariates change with
the failure time, the risk-set sums are evaluated per failure time (one pass over the rows
per distinct failure time, vectorised, O(D·n·p²) per Newton step instead of the O(n·p²) of
the time-fixed model); the correction ψ is accumulated backwards over the failure times.

Time functions by name (``tf={"age": "log"}`` in the API, ``--tf age:log`` in the CLI):
``log`` = log(t), ``t`` = t, ``step:c`` = I(t > c), ``sqrt`` = sqrt(t); a callable
``f(t) -> array`` is accepted in the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mst.errors import ValidationError

FloatArray = NDArray[np.float64]
TimeFunction = str | Callable[[FloatArray], Any]


@dataclass(frozen=True)
class TimeVarying:
    """The time-varying columns of a Fine–Gray design.

    Attributes
    ----------
    cols : ndarray of int
        Columns of the design (the ``cov2`` part) multiplied by a function of time.
    tfs : ndarray, shape (D, len(cols))
        The functions at the distinct failure times (crr's ``tfs``).
    """

    cols: NDArray[np.intp]
    tfs: FloatArray


def time_function(spec: TimeFunction, field: str) -> tuple[Callable[[FloatArray], Any], str]:
    """A named time function (``log``, ``t``, ``sqrt``, ``step:c``) or a callable, and its
    label for the coefficient name."""
    if callable(spec):
        return spec, getattr(spec, "__name__", "tf")
    if not isinstance(spec, str):
        raise ValidationError(field, spec, "must be log, t, sqrt, step:c or a function of time")
    s = spec.strip()
    if s == "log":
        return np.log, "log(t)"
    if s in ("t", "identity"):
        return lambda t: np.asarray(t, dtype=np.float64), "t"
    if s == "sqrt":
        return np.sqrt, "sqrt(t)"
    if s.startswith("step:"):
        try:
            c = float(s[5:])
        except ValueError as exc:
            raise ValidationError(field, spec, "step needs a number, e.g. step:365") from exc
        if not np.isfinite(c):
            raise ValidationError(field, spec, "step needs a finite number, e.g. step:365")
        return lambda t: (np.asarray(t) > c).astype(np.float64), f"I(t>{c:g})"
    raise ValidationError(field, spec, "must be log, t, sqrt or step:c (e.g. step:365)")


def evaluate_tf(fn: Callable[[FloatArray], Any], uft: FloatArray, field: str) -> FloatArray:
    """Values of a time function at the failure times, checked (finite, one per time)."""
    with np.errstate(all="ignore"):
        try:
            v = np.asarray(fn(uft.copy()), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValidationError(field, None, "the time function must return numbers") from exc
    if v.shape != uft.shape:
        raise ValidationError(
            field, v.shape, f"the time function must return one value per failure time ({uft.size})"
        )
    bad = ~np.isfinite(v)
    if bad.any():
        raise ValidationError(
            field,
            float(uft[bad][0]),
            "the time function is not finite at this failure time (log needs times > 0)",
        )
    return v


def _risk(P: Any, m: int) -> tuple[NDArray[np.intp], FloatArray]:
    """Rows in the risk set at failure time m and their crr weights (times case weights)."""
    n = P.t.size
    idx = [np.arange(P.first[m], n)]
    ww = [np.ones(n - P.first[m])]
    um = P.u[m]
    for g in range(P.G):
        cg = P.comp[g]
        k = np.searchsorted(P.t[cg], um, side="left")  # competing events before u_m
        idx.append(cg[:k])
        ww.append(P.Gf[g][m] * P.compw[g][:k])
    rows = np.concatenate(idx)
    w = np.concatenate(ww)
    if P.wt is not None:
        w = w * P.wt[rows]
    return rows, w


def _z(X: FloatArray, T: TimeVarying, m: int) -> FloatArray:
    Z = X.copy()
    Z[:, T.cols] *= T.tfs[m]
    return Z


def sums(P: Any, X: FloatArray, beta: FloatArray, need_info: bool) -> Any:
    """Log pseudo-likelihood, score and information with time-varying columns (crr's
    crrfsv); ``S0`` is returned on the scale exp(−max(Xβ)) as the time-fixed kernel does."""
    from mst.stats.finegray_model import _Sums

    T: TimeVarying = P.tf
    p = X.shape[1]
    D = P.u.size
    c0 = float((X @ beta).max())
    ll = 0.0
    score = np.zeros(p)
    info = np.zeros((p, p)) if need_info else None
    S0 = np.empty(D)
    xbar = np.empty((D, p))
    logS0 = np.empty(D)
    for m in range(D):
        rows, w = _risk(P, m)
        Z = _z(X[rows], T, m)
        eta = Z @ beta
        cm = float(eta.max())
        e = w * np.exp(eta - cm)
        s0 = float(e.sum())
        xb = (e @ Z) / s0
        logS0[m] = np.log(s0) + cm
        S0[m] = np.exp(logS0[m] - c0)
        xbar[m] = xb
        f = P.fail[P.fail_m == m]
        zf = _z(X[f], T, m)
        wf = np.ones(f.size) if P.wt is None else P.wt[f]
        ll += float(wf @ (zf @ beta)) - P.d[m] * logS0[m]
        score += wf @ zf - P.d[m] * xb
        if info is not None:
            info += P.d[m] * ((Z * e[:, None]).T @ Z / s0 - np.outer(xb, xb))
    return _Sums(ll, score, info, np.empty(0), S0, xbar, beta=beta)


def variance_terms(P: Any, X: FloatArray, s: Any, correction: bool) -> FloatArray:
    """Per-subject terms w_i·η_i + ψ_i of crr's sandwich with time-varying columns."""
    T: TimeVarying = P.tf
    beta = s.beta
    n, p = X.shape
    D = P.u.size
    U = np.zeros((n, p))
    logS0 = np.empty(D)
    cens = np.flatnonzero(P.st == 0) if correction else np.zeros(0, dtype=np.intp)
    uc = np.unique(P.t[cens])
    mfirst = np.searchsorted(P.u, uc, side="left")  # first failure time >= uc
    q = [np.zeros((uc.size, p)) for _ in range(P.G)]
    run = [np.zeros((P.comp[g].size + 1, p)) for g in range(P.G)]
    kk = [np.searchsorted(P.t[P.comp[g]], uc, side="left") for g in range(P.G)]
    fw = np.ones(P.fail.size) if P.wt is None else P.wt[P.fail]
    for m in range(D - 1, -1, -1):
        rows, w = _risk(P, m)
        Z = _z(X[rows], T, m)
        eta = Z @ beta
        cm = float(eta.max())
        e = w * np.exp(eta - cm)
        s0 = float(e.sum())
        xb = (e @ Z) / s0
        logS0[m] = np.log(s0) + cm
        # dΛ portion of eta_i
        U[rows] -= (P.d[m] * e / s0)[:, None] * (Z - xb)
        sel = P.fail_m == m
        f = P.fail[sel]
        U[f] += fw[sel][:, None] * (_z(X[f], T, m) - xb)
        if cens.size == 0:
            continue
        for g in range(P.G):
            cg = P.comp[g]
            if cg.size == 0:
                continue
            dg = float(fw[sel][P.grp[f] == g].sum())
            zc = _z(X[cg], T, m)
            ec = P.compw[g] * np.exp(zc @ beta - logS0[m])
            if P.wt is not None:
                ec = ec * P.wt[cg]
            c = (P.Gf[g][m] * dg) * ec[:, None] * (zc - xb)
            run[g] += np.vstack([np.zeros((1, p)), np.cumsum(c, axis=0)])
            hit = np.flatnonzero(mfirst == m)
            if hit.size:
                q[g][hit] = run[g][kk[g][hit]]
    if cens.size == 0:
        return U
    # identical to the time-fixed kernel from here on (given q_g at each censoring time)
    qi = np.searchsorted(uc, P.t[cens])
    for g in range(P.G):
        ing = P.grp == g
        Y = ing.sum() - np.searchsorted(P.t[ing], uc, side="left")
        cmask = P.grp[cens] == g
        cnt = np.bincount(qi[cmask], minlength=uc.size).astype(np.float64)
        Yf = np.maximum(Y, 1).astype(np.float64)
        inc = q[g] * (cnt / Yf**2)[:, None]
        cinc = np.vstack([np.zeros((1, p)), np.cumsum(inc, axis=0)])
        rws = np.flatnonzero(ing)
        k = np.searchsorted(uc, P.t[rws], side="right")
        U[rws] -= cinc[k]
        cr = cens[cmask]
        kq = qi[cmask]
        U[cr] += q[g][kq] / Yf[kq][:, None]
    return U

"""Kaplan–Meier estimator with Greenwood variance, as R ``survival::survfit``.

The core, :func:`km_core`, takes plain numpy arrays (optionally weighted, e.g. for
inverse-probability-of-censoring weights) and returns arrays; :func:`kaplan_meier`
adds input checks, groups, confidence intervals and medians.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm

from mst.errors import ValidationError
from mst.stats import _validate as v

ConfType = Literal["log-log", "log", "plain"]
CONF_TYPES: tuple[str, ...] = ("log-log", "log", "plain")
#: tolerance used by R's ``quantile.survfit`` to decide that S(t) equals the probability
QUANTILE_TOL = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class KMTable:
    """Kaplan–Meier step function at every distinct observed time (events and censorings).

    Attributes
    ----------
    time : ndarray
        Distinct times, increasing.
    n_risk, n_event, n_censor : ndarray
        (Weighted) number at risk just before, events at, and censorings at each time.
    surv : ndarray
        S(t), right-continuous.
    greenwood : ndarray
        Cumulative Greenwood sum ``sum d / (n (n - d))`` = Var(log S(t)); ``inf`` once S = 0.
    """

    time: NDArray[np.float64]
    n_risk: NDArray[np.float64]
    n_event: NDArray[np.float64]
    n_censor: NDArray[np.float64]
    surv: NDArray[np.float64]
    greenwood: NDArray[np.float64]


def km_core(
    time: NDArray[np.float64],
    event: NDArray[np.int64] | NDArray[np.float64],
    weights: NDArray[np.float64] | None = None,
) -> KMTable:
    """Kaplan–Meier estimate from clean arrays (no validation; vectorised, O(n log n)).

    Parameters
    ----------
    time : ndarray of float
        Follow-up times (finite, >= 0).
    event : ndarray of {0, 1}
        1 = event, 0 = censored.
    weights : ndarray of float, optional
        Case weights (>= 0); ``None`` = unweighted. With weights, ``n_risk`` and
        ``n_event`` are sums of weights, as in ``survfit(..., weights=)``.

    Returns
    -------
    KMTable
        The step function at every distinct time.
    """
    time = np.asarray(time, dtype=np.float64)
    ev = np.asarray(event, dtype=np.float64)
    order = np.argsort(time, kind="stable")
    t = time[order]
    if weights is None:
        w_ev = ev[order]
        w_all = np.ones_like(t)
    else:
        w = np.asarray(weights, dtype=np.float64)[order]
        w_ev = w * ev[order]
        w_all = w
    if t.size == 0:
        empty = np.empty(0)
        return KMTable(empty, empty, empty, empty, empty, empty)
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    ut = t[starts]
    d = np.add.reduceat(w_ev, starts)
    tot = np.add.reduceat(w_all, starts)
    n_risk = np.cumsum(tot[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(n_risk > 0, (n_risk - d) / n_risk, 1.0))
        term = np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0)
    gw = np.cumsum(term)
    return KMTable(ut, n_risk, d, tot - d, surv, gw)


def confidence_band(
    surv: NDArray[np.float64],
    se_log: NDArray[np.float64],
    conf_type: str = "log-log",
    conf_level: float = 0.95,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Pointwise confidence limits of S(t) as R ``survfit(conf.type=)``.

    Parameters
    ----------
    surv : ndarray
        Survival estimates.
    se_log : ndarray
        Standard error of log S(t) (square root of the Greenwood sum).
    conf_type : {"log-log", "log", "plain"}
        Transformation; undefined limits (S = 0, and S = 1 for log-log) are NaN as in R.
    conf_level : float
        Coverage, e.g. 0.95.

    Returns
    -------
    (lower, upper) : tuple of ndarray
    """
    if conf_type not in CONF_TYPES:
        raise ValidationError("conf_type", conf_type, f"must be one of {list(CONF_TYPES)}")
    if not 0 < conf_level < 1:
        raise ValidationError("conf_level", conf_level, "must be strictly between 0 and 1")
    z = norm.ppf(1 - (1 - conf_level) / 2)
    p = np.asarray(surv, dtype=np.float64)
    se = np.asarray(se_log, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            se2 = se * p * z
            lower = np.maximum(p - se2, 0.0)
            upper = np.minimum(p + se2, 1.0)
        elif conf_type == "log":
            xx = np.where(p == 0, np.nan, p)
            se2 = z * se
            lower = np.exp(np.log(xx) - se2)
            upper = np.minimum(np.exp(np.log(xx) + se2), 1.0)
        else:
            xx = np.where((p == 0) | (p == 1), np.nan, p)
            se2 = z * se / np.log(xx)
            lower = np.exp(-np.exp(np.log(-np.log(xx)) - se2))
            upper = np.exp(-np.exp(np.log(-np.log(xx)) + se2))
    return lower, upper


def _findq(
    x: NDArray[np.float64], y: NDArray[np.float64], p: float, tol: float = QUANTILE_TOL
) -> float:
    """Time at which the cumulative failure ``y`` (step function over ``x``) reaches ``p``.

    Follows the conventions of R ``quantile.survfit``: when the curve is flat at exactly
    ``p`` the midpoint of the flat stretch is returned; NaN when ``p`` is never reached.
    """
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return float("nan")
    xmax = x[-1]
    # keep the first occurrence of each value (NaN counted as one value), then drop NaNs
    key = np.where(np.isnan(y), np.inf, y)
    _, first = np.unique(key, return_index=True)
    keep = np.zeros(y.size, dtype=bool)
    keep[first] = True
    x, y = x[keep], y[keep]
    last_y = y[-1]
    ok = ~np.isnan(y)
    x, y = x[ok], y[ok]
    if p == 0:
        return float(x[0])

    def first_at_least(vals: NDArray[np.float64]) -> int | None:
        # R: approx(vals, 1:n, p, method="constant", f=1) — first knot >= p, NA outside range
        if p < vals.min() or p > vals.max():
            return None
        return int(np.argmax(vals >= p))

    i1 = first_at_least(y + tol)
    i2 = first_at_least(y - tol)
    if i1 is None:
        return float("nan")
    if not np.isnan(last_y) and abs(p - last_y) < tol:
        return float((x[i1] + xmax) / 2)
    if i2 is None:
        return float("nan")
    return float((x[i1] + x[i2]) / 2)


def survival_quantile(
    time: NDArray[np.float64], curve: NDArray[np.float64], p: float = 0.5, start: float = 0.0
) -> float:
    """Quantile of a survival step function (``p`` = 0.5 gives the median), as R.

    Parameters
    ----------
    time : ndarray
        Times of the step function.
    curve : ndarray
        Survival (or a confidence limit) at those times; NaN where undefined.
    p : float
        Cumulative failure probability (0.5 = median survival time).
    start : float
        Start of the time axis (0).

    Returns
    -------
    float
        NaN when the curve never falls to 1 - p.
    """
    x = np.r_[start, time]
    y = np.r_[0.0, 1.0 - np.asarray(curve, dtype=np.float64)]
    return _findq(x, y, p)


@dataclass(frozen=True)
class KMCurve:
    """Kaplan–Meier curve of one group, with Greenwood SE and pointwise CI."""

    label: str
    n: int
    table: KMTable
    std_err: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    conf_type: str
    conf_level: float
    median: float
    median_lower: float
    median_upper: float

    @property
    def time(self) -> NDArray[np.float64]:
        """Distinct times."""
        return self.table.time

    @property
    def surv(self) -> NDArray[np.float64]:
        """S(t)."""
        return self.table.surv

    @property
    def n_risk(self) -> NDArray[np.float64]:
        """Number at risk."""
        return self.table.n_risk

    @property
    def n_event(self) -> NDArray[np.float64]:
        """Number of events."""
        return self.table.n_event

    def quantile(self, p: float) -> tuple[float, float, float]:
        """Estimate and CI of the time at which S falls to ``1 - p``."""
        return (
            survival_quantile(self.time, self.surv, p),
            survival_quantile(self.time, self.lower, p),
            survival_quantile(self.time, self.upper, p),
        )

    def at(self, times: ArrayLike) -> dict[str, NDArray[np.float64]]:
        """Survival, SE, CI and number at risk at given times (R ``summary(fit, times=)``).

        Before the first observed time S = 1 (CI [1, 1]); after the last one the last value
        is carried forward (R's ``extend=TRUE``) and the number at risk is 0.
        """
        q = np.asarray(times, dtype=np.float64)
        idx = np.searchsorted(self.time, q, side="right") - 1
        before = idx < 0
        j = np.clip(idx, 0, None)
        surv = np.where(before, 1.0, self.surv[j])
        se = np.where(before, 0.0, self.std_err[j])
        # before the first observed time R's summary() reports S = lower = upper = 1
        lo = np.where(before, 1.0, self.lower[j])
        up = np.where(before, 1.0, self.upper[j])
        k = np.searchsorted(self.time, q, side="left")
        n_risk = np.where(k < self.time.size, self.n_risk[np.clip(k, 0, self.time.size - 1)], 0.0)
        return {
            "time": q,
            "survival": surv,
            "std_err": se,
            "lower": lo,
            "upper": up,
            "n_risk": n_risk,
        }


@dataclass(frozen=True)
class KMResult:
    """Kaplan–Meier curves by group (a single group is labelled ``"all"``)."""

    curves: dict[str, KMCurve] = field(default_factory=dict)

    def __getitem__(self, label: str) -> KMCurve:
        return self.curves[label]


def _curve(
    label: str,
    t: NDArray[np.float64],
    e: NDArray[np.int64],
    w: NDArray[np.float64] | None,
    conf_type: str,
    conf_level: float,
) -> KMCurve:
    tab = km_core(t, e, w)
    se_log = np.sqrt(tab.greenwood)
    with np.errstate(invalid="ignore"):
        std_err = np.where(tab.surv == 0, np.nan, tab.surv * se_log)
    lower, upper = confidence_band(tab.surv, se_log, conf_type, conf_level)
    return KMCurve(
        label=label,
        n=int(t.size),
        table=tab,
        std_err=std_err,
        lower=lower,
        upper=upper,
        conf_type=conf_type,
        conf_level=conf_level,
        median=survival_quantile(tab.time, tab.surv),
        median_lower=survival_quantile(tab.time, lower),
        median_upper=survival_quantile(tab.time, upper),
    )


def kaplan_meier(
    time: ArrayLike,
    event: ArrayLike,
    group: ArrayLike | None = None,
    conf_type: ConfType = "log-log",
    conf_level: float = 0.95,
    weights: ArrayLike | None = None,
) -> KMResult:
    """Kaplan–Meier estimates by group, as R ``survfit(Surv(time, event) ~ group)``.

    Parameters
    ----------
    time : array_like
        Follow-up times (>= 0).
    event : array_like of {0, 1}
        1 = event, 0 = censored.
    group : array_like, optional
        Group labels; one curve per distinct label (sorted as R sorts factor levels).
    conf_type : {"log-log", "log", "plain"}
        Confidence-interval transformation (R ``conf.type``; note R's own default is "log").
    conf_level : float
        Coverage of the pointwise intervals and of the median CI.
    weights : array_like, optional
        Case weights.

    Returns
    -------
    KMResult
        ``result[label]`` is a :class:`KMCurve` with ``time``, ``surv``, ``std_err``
        (Greenwood SE of S), ``lower``, ``upper``, ``n_risk``, ``median`` and its CI.
    """
    t = v.as_time(time)
    e = v.as_event(event)
    n = t.size
    v.same_length(n, event=e)
    w = None if weights is None else v.as_weights(weights, n)
    g = v.as_labels(group, n, "group")
    if n == 0:
        raise ValidationError("time", "[]", "no observations")
    if conf_type not in CONF_TYPES:
        raise ValidationError("conf_type", conf_type, f"must be one of {list(CONF_TYPES)}")
    if g is None:
        return KMResult({"all": _curve("all", t, e, w, conf_type, conf_level)})
    curves: dict[str, KMCurve] = {}
    for lev in v.group_levels(g, v.category_order(group)):
        m = g == lev
        curves[str(lev)] = _curve(
            str(lev), t[m], e[m], None if w is None else w[m], conf_type, conf_level
        )
    return KMResult(curves)

"""Kaplan–Meier estimator with Greenwood variance, as R ``survival::survfit``.

The core, :func:`km_core`, takes plain numpy arrays (optionally weighted, e.g. for
inverse-probability-of-censoring weights) and returns arrays; :func:`kaplan_meier`
adds input checks, groups, confidence intervals and medians.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
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
    entry: NDArray[np.float64] | None = None,
    presorted: bool = False,
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
    entry : ndarray of float, optional
        Left-truncation times (< time): at risk on (entry, time].
    presorted : bool
        ``time`` is already sorted (skips the sort).

    Returns
    -------
    KMTable
        The step function at every distinct time.
    """
    time = np.asarray(time, dtype=np.float64)
    ev = np.asarray(event, dtype=np.float64)
    # ties are aggregated below, so the order within a tied time does not matter
    order = np.arange(time.size) if presorted else np.argsort(time)
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
    if entry is not None:
        ent = np.asarray(entry, dtype=np.float64)[order]
        eo = np.argsort(ent, kind="stable")
        w_en = w_all[eo]
        tail = np.r_[np.cumsum(w_en[::-1])[::-1], 0.0]
        n_risk = n_risk - tail[np.searchsorted(ent[eo], ut, side="left")]
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

    @property
    def cumhaz(self) -> NDArray[np.float64]:
        """Nelson–Aalen cumulative hazard sum d/n (R ``survfit(...)$cumhaz``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            inc = np.where(self.n_risk > 0, self.n_event / self.n_risk, 0.0)
        return np.cumsum(inc)

    @property
    def std_cumhaz(self) -> NDArray[np.float64]:
        """Standard error of the Nelson–Aalen estimate sqrt(sum d/n²) (R ``std.chaz``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            inc = np.where(self.n_risk > 0, self.n_event / self.n_risk**2, 0.0)
        return np.sqrt(np.cumsum(inc))

    def rmst(self, tau: float) -> tuple[float, float]:
        """Restricted mean survival time up to ``tau`` and its standard error.

        The area under the Kaplan–Meier curve on [0, tau]; the variance is the Greenwood-
        type sum ``Σ A_k² d_k / (n_k (n_k − d_k))`` over event times ≤ tau, ``A_k`` being
        the area from t_k to tau — as R ``print(survfit, rmean = tau)`` and ``survRM2``.

        Parameters
        ----------
        tau : float
            Truncation time (> 0).

        Returns
        -------
        (rmst, se) : tuple of float
        """
        if not np.isfinite(tau) or tau <= 0:
            raise ValidationError("tau", tau, "must be a positive time")
        t = self.time
        keep = t <= tau
        knots = np.r_[0.0, t[keep], tau]
        heights = np.r_[1.0, self.surv[keep]]
        widths = np.diff(knots)
        pieces = heights * widths
        area = float(pieces.sum())
        # area after each event time (from t_k to tau)
        after = np.cumsum(pieces[::-1])[::-1][1:]
        d = self.n_event[keep]
        n = self.n_risk[keep]
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where((d > 0) & (n - d > 0), d / (n * (n - d)), 0.0)
        return area, float(np.sqrt(np.sum(after**2 * h)))

    def to_frame(self) -> pd.DataFrame:
        """The curve as a table (R ``summary(survfit)`` columns, every distinct time).

        Returns
        -------
        DataFrame
            ``time``, ``n_risk``, ``n_event``, ``n_censor``, ``survival``, ``std_err``,
            ``lower``, ``upper``, ``cumhaz`` (Nelson–Aalen), ``std_cumhaz``.
        """
        return pd.DataFrame(
            {
                "time": self.time,
                "n_risk": self.n_risk,
                "n_event": self.n_event,
                "n_censor": self.table.n_censor,
                "survival": self.surv,
                "std_err": self.std_err,
                "lower": self.lower,
                "upper": self.upper,
                "cumhaz": self.cumhaz,
                "std_cumhaz": self.std_cumhaz,
            }
        )

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
    group: str | None = None

    def __getitem__(self, label: str) -> KMCurve:
        return self.curves[label]

    def to_frame(self) -> pd.DataFrame:
        """All curves stacked, with a ``group`` column (see :meth:`KMCurve.to_frame`)."""
        return pd.concat(
            [c.to_frame().assign(group=k) for k, c in self.curves.items()], ignore_index=True
        )

    @property
    def survival_function(self) -> pd.DataFrame:
        """S(t) per group, one column per group, indexed by every distinct time (carried
        forward), as lifelines' ``survival_function_``."""
        times = np.unique(np.concatenate([c.time for c in self.curves.values()]))
        out = {}
        for k, c in self.curves.items():
            i = np.searchsorted(c.time, times, side="right") - 1
            out[k] = np.where(i >= 0, c.surv[np.clip(i, 0, None)], 1.0)
        return pd.DataFrame(out, index=pd.Index(times, name="time"))

    def at_risk(self, times: ArrayLike) -> pd.DataFrame:
        """Numbers at risk per group at the given times (the plot's risk table)."""
        q = np.asarray(times, dtype=np.float64)
        return pd.DataFrame(
            {k: c.at(q)["n_risk"] for k, c in self.curves.items()},
            index=pd.Index(q, name="time"),
        ).T

    def rmst(self, tau: float) -> pd.DataFrame:
        """Restricted mean survival time per group (see :meth:`KMCurve.rmst`)."""
        rows = {k: c.rmst(tau) for k, c in self.curves.items()}
        return pd.DataFrame(
            {"rmst": [r[0] for r in rows.values()], "se": [r[1] for r in rows.values()]},
            index=pd.Index(list(rows), name="group"),
        ).assign(tau=float(tau))

    def summary(self) -> str:
        """Text summary: n, events, median and its CI per group (as ``print(survfit)``)."""
        from mst.stats._summary import km_text

        return km_text(self)

    def print_summary(self, file: Any = None) -> None:
        """Write :meth:`summary` to ``file`` (default: standard output)."""
        import sys

        print(self.summary(), file=file or sys.stdout)

    def plot(
        self,
        ax: Any = None,
        at_risk: bool = True,
        ci: bool = True,
        censor_marks: bool = True,
        labels: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Step plot of the curves with CI bands, censor marks and a numbers-at-risk table.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw (a new figure when omitted).
        at_risk : bool
            Add the numbers-at-risk table below the axis (as lifelines'
            ``add_at_risk_counts``).
        ci : bool
            Shade the pointwise confidence band.
        censor_marks : bool
            Mark censoring times with ``+``.
        labels : mapping, optional
            Human labels of the groups for the legend and the risk table.
        **kwargs
            ``xlabel``, ``ylabel``, ``title``, ``times`` (risk-table times).

        Returns
        -------
        matplotlib Axes
            The axes (never shown; the caller saves or displays the figure).
        """
        from mst.stats.plotting import step_plot

        return step_plot(self, "survival", ax, at_risk, ci, censor_marks, labels, **kwargs)

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{k}: n={c.n}, events={int(c.n_event.sum())}" for k, c in self.curves.items()
        )
        return f"<KMResult {inner}>"


def _group_tables(
    t: NDArray[np.float64], e: NDArray[np.int64], codes: NDArray[np.int64], ng: int
) -> list[KMTable]:
    """Kaplan–Meier tables of every group from one sort of the times (O(n) after it).

    Each row's distinct-time index comes from one hash pass (:func:`_validate.time_index`);
    events and censorings are then counted per (time, group) cell by one ``bincount``, so
    no sort of the rows, per-group split or gather is needed.
    """
    ut, ti = v.time_index(t)
    cell = ((ti * ng + codes) << 1) | e
    cnt = np.bincount(cell, minlength=ut.size * ng * 2).reshape(ut.size, ng, 2)
    dth = cnt[:, :, 1].astype(np.float64)
    tot = dth + cnt[:, :, 0]
    risk = np.cumsum(tot[::-1], axis=0)[::-1]
    out = []
    for k in range(ng):
        keep = tot[:, k] > 0
        n_risk, d = risk[keep, k], dth[keep, k]
        with np.errstate(divide="ignore", invalid="ignore"):
            surv = np.cumprod(np.where(n_risk > 0, (n_risk - d) / n_risk, 1.0))
            term = np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0)
        out.append(KMTable(ut[keep], n_risk, d, tot[keep, k] - d, surv, np.cumsum(term)))
    return out


def _curve(
    label: str,
    t: NDArray[np.float64],
    e: NDArray[np.int64],
    w: NDArray[np.float64] | None,
    conf_type: str,
    conf_level: float,
    entry: NDArray[np.float64] | None = None,
    presorted: bool = False,
) -> KMCurve:
    tab = km_core(t, e, w, entry, presorted)
    return _curve_from_table(label, int(t.size), tab, conf_type, conf_level)


def _curve_from_table(
    label: str, n: int, tab: KMTable, conf_type: str, conf_level: float
) -> KMCurve:
    se_log = np.sqrt(tab.greenwood)
    with np.errstate(invalid="ignore"):
        std_err = np.where(tab.surv == 0, np.nan, tab.surv * se_log)
    lower, upper = confidence_band(tab.surv, se_log, conf_type, conf_level)
    return KMCurve(
        label=label,
        n=n,
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
    time: ArrayLike | str | None = None,
    event: ArrayLike | str | None = None,
    group: ArrayLike | str | None = None,
    conf_type: ConfType = "log-log",
    conf_level: float = 0.95,
    weights: ArrayLike | None = None,
    *,
    data: pd.DataFrame | None = None,
    formula: str | None = None,
    entry: ArrayLike | str | None = None,
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
    data : DataFrame, optional
        With ``data``, ``time``/``event``/``group``/``entry`` are column names (read with
        the same codings and checks as ``mst stats km``).
    formula : str, optional
        ``"Surv(time, event) ~ group"``, ``"Surv(time, event) ~ 1"`` or, for left
        truncation, ``"Surv(entry, time, event) ~ group"`` (needs ``data``).
    entry : array_like or str, optional
        Delayed-entry (left-truncation) times: a patient is at risk on (entry, time], as
        R ``survfit(Surv(entry, time, event) ~ 1)``.

    Returns
    -------
    KMResult
        ``result[label]`` is a :class:`KMCurve` with ``time``, ``surv``, ``std_err``
        (Greenwood SE of S), ``lower``, ``upper``, ``n_risk``, ``median`` and its CI.
    """
    from mst.stats.io import survival_inputs

    time, event, group, _, entry, gname = survival_inputs(
        data, formula, time, event, group, None, (0, 1), entry
    )
    if time is None or event is None:
        raise ValidationError("time/event", None, "give the follow-up times and events")
    t = v.as_time(time)
    e = v.as_event(event)
    n = t.size
    v.same_length(n, event=e)
    w = None if weights is None else v.as_weights(weights, n)
    g = v.as_labels(group, n, "group")
    en = None
    if entry is not None:
        en = v.as_time(entry, "entry")
        v.same_length(n, entry=en)
        bad = en >= t
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValidationError(f"entry (row {i + 1})", en[i], "must be < the follow-up time")
    if n == 0:
        raise ValidationError("time", "[]", "no observations")
    if conf_type not in CONF_TYPES:
        raise ValidationError("conf_type", conf_type, f"must be one of {list(CONF_TYPES)}")
    if g is None:
        return KMResult({"all": _curve("all", t, e, w, conf_type, conf_level, en)}, gname)
    curves: dict[str, KMCurve] = {}
    levels, codes = v.group_codes(g, v.category_order(group))
    if w is None and en is None:
        for k, (lev, tab) in enumerate(
            zip(levels, _group_tables(t, e, codes, len(levels)), strict=True)
        ):
            curves[str(lev)] = _curve_from_table(
                str(lev), int((codes == k).sum()), tab, conf_type, conf_level
            )
        return KMResult(curves, gname)
    # one sort for all groups: a group's rows, taken in the global order, are sorted too
    o = np.argsort(t)
    ts, es, cs = t[o], e[o], codes[o]
    ws = None if w is None else w[o]
    ens = None if en is None else en[o]
    for k, lev in enumerate(levels):
        m = cs == k
        curves[str(lev)] = _curve(
            str(lev),
            ts[m],
            es[m],
            None if ws is None else ws[m],
            conf_type,
            conf_level,
            None if ens is None else ens[m],
            presorted=True,
        )
    return KMResult(curves, gname)

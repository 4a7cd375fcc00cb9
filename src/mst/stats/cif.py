"""Aalen–Johansen cumulative incidence with the variance of R ``cmprsk::cuminc``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm

from mst.errors import ValidationError
from mst.stats import _validate as v


@dataclass(frozen=True)
class CIFTable:
    """Cumulative incidence of one cause, at the distinct times of that cause.

    Attributes
    ----------
    time : ndarray
        Distinct times at which the cause of interest occurs (the jump points).
    cif : ndarray
        F_k(t) just after each jump.
    variance : ndarray
        Variance of F_k(t) (delta-method estimator of ``cuminc``, Gray 1988).
    n_risk, n_event : ndarray
        Number at risk just before, and events of the cause of interest, at each time.
    last_time : float
        Largest follow-up time (the curve is defined up to here).
    """

    time: NDArray[np.float64]
    cif: NDArray[np.float64]
    variance: NDArray[np.float64]
    n_risk: NDArray[np.float64]
    n_event: NDArray[np.float64]
    last_time: float


def cif_core(
    time: NDArray[np.float64], status: NDArray[np.int64], cause: int, censor_code: int = 0
) -> CIFTable:
    """Aalen–Johansen estimate for ``cause`` from clean arrays (vectorised).

    Parameters
    ----------
    time : ndarray of float
        Follow-up times (>= 0).
    status : ndarray of int
        ``censor_code`` = censored; any other code = failure from that cause.
    cause : int
        Cause of interest; every other non-censoring code is a competing event.
    censor_code : int
        Code of censored observations.

    Returns
    -------
    CIFTable
    """
    time = np.asarray(time, dtype=np.float64)
    status = np.asarray(status)
    if time.size == 0:
        e = np.empty(0)
        return CIFTable(e, e, e, e, e, float("nan"))
    # distinct times by one hash pass; counts per (time, kind) by one bincount
    ut, ti = v.time_index(time)
    kind = np.where(status == cause, 2, np.where(status == censor_code, 0, 1))
    cnt = np.bincount(ti * 3 + kind, minlength=ut.size * 3).reshape(ut.size, 3)
    cnt = cnt.astype(np.float64)
    nsub = cnt.sum(axis=1)
    d1 = cnt[:, 2]
    d2 = cnt[:, 1]
    dall = d1 + d2

    n = np.cumsum(nsub[::-1])[::-1]
    # all-cause Kaplan–Meier: before (fk) and after (fkn) each time
    fkn = np.cumprod((n - dall) / n)
    fk = np.r_[1.0, fkn[:-1]]
    f = np.cumsum(fk * d1 / n)

    def tie(d: NDArray[np.float64]) -> NDArray[np.float64]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(d > 1, 1.0 - (d - 1.0) / (n - 1.0), 1.0)

    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(fkn > 0, 1.0 / fkn, 0.0)
        # competing-event contributions (only while the all-cause KM stays > 0)
        use2 = (d2 > 0) & (fkn > 0)
        w2 = np.where(use2, fk * fk * tie(d2) * d2 / (n * n), 0.0)
        b2 = f * inv
        # cause-of-interest contributions
        use1 = d1 > 0
        w1 = np.where(use1, fk * fk * tie(d1) * d1 / (n * n), 0.0)
        b1 = 1.0 + inv * f
    v1 = np.cumsum(b2 * b2 * w2 + b1 * b1 * w1)
    v2 = np.cumsum(inv * b2 * w2 + inv * b1 * w1)
    v3 = np.cumsum(inv * inv * w2 + inv * inv * w1)
    var = v1 + f * f * v3 - 2.0 * f * v2
    return CIFTable(ut[use1], f[use1], var[use1], n[use1], d1[use1], float(ut[-1]))


@dataclass(frozen=True)
class CIFCurve:
    """Cumulative incidence of one cause in one group, with pointwise CI."""

    label: str
    cause: int
    n: int
    table: CIFTable
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    conf_level: float
    risk_times: NDArray[np.float64] = field(default_factory=lambda: np.empty(0), repr=False)

    def n_at_risk(self, times: ArrayLike) -> NDArray[np.float64]:
        """Patients still under follow-up (no event of any cause, not censored) at times."""
        q = np.asarray(times, dtype=np.float64)
        srt = np.sort(self.risk_times)
        return (srt.size - np.searchsorted(srt, q, side="left")).astype(np.float64)

    def to_frame(self) -> pd.DataFrame:
        """The curve as a table: ``time``, ``n_risk``, ``n_event``, ``cif``, ``variance``,
        ``lower``, ``upper`` at each jump of the cause."""
        return pd.DataFrame(
            {
                "time": self.time,
                "n_risk": self.table.n_risk,
                "n_event": self.table.n_event,
                "cif": self.cif,
                "variance": self.variance,
                "lower": self.lower,
                "upper": self.upper,
            }
        )

    @property
    def time(self) -> NDArray[np.float64]:
        """Jump times of the cause of interest."""
        return self.table.time

    @property
    def cif(self) -> NDArray[np.float64]:
        """Cumulative incidence after each jump."""
        return self.table.cif

    @property
    def variance(self) -> NDArray[np.float64]:
        """Variance of the cumulative incidence."""
        return self.table.variance

    def at(self, times: ArrayLike) -> dict[str, NDArray[np.float64]]:
        """Values at given times (step function; R ``cmprsk::timepoints``).

        Before the first jump the incidence is 0 (variance 0); beyond the largest follow-up
        time the values are NaN, as ``timepoints`` gives NA there.
        """
        q = np.asarray(times, dtype=np.float64)
        idx = np.searchsorted(self.time, q, side="right") - 1
        j = np.clip(idx, 0, None)
        has = self.time.size > 0
        est = np.where(idx < 0, 0.0, self.cif[j] if has else 0.0)
        var = np.where(idx < 0, 0.0, self.variance[j] if has else 0.0)
        lo, up = cif_confidence(est, var, self.conf_level)
        beyond = q > self.table.last_time
        for arr in (est, var, lo, up):
            arr[beyond] = np.nan
        return {"time": q, "cif": est, "variance": var, "lower": lo, "upper": up}


def cif_confidence(
    cif: NDArray[np.float64], variance: NDArray[np.float64], conf_level: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Pointwise CI on the log(-log) scale, ``F^exp(±z sd / (F log F))``.

    This is the transformation of ``cmprsk``'s plotting/printing conventions in common use
    (e.g. ``tidycmprsk``); limits are NaN where F is 0 or 1.
    """
    if not 0 < conf_level < 1:
        raise ValidationError("conf_level", conf_level, "must be strictly between 0 and 1")
    z = norm.ppf(1 - (1 - conf_level) / 2)
    f = np.asarray(cif, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (f > 0) & (f < 1)
        ff = np.where(ok, f, np.nan)
        k = z * np.sqrt(np.asarray(variance)) / (ff * np.log(ff))
        lower = ff ** np.exp(-k)
        upper = ff ** np.exp(k)
    return lower, upper


@dataclass(frozen=True)
class CIFResult:
    """Cumulative incidence curves of one cause by group, plus Gray's test when k > 1."""

    cause: int
    curves: dict[str, CIFCurve] = field(default_factory=dict)
    gray: object | None = None

    def __getitem__(self, label: str) -> CIFCurve:
        return self.curves[label]

    def to_frame(self) -> pd.DataFrame:
        """All curves stacked with a ``group`` column (see :meth:`CIFCurve.to_frame`)."""
        return pd.concat(
            [c.to_frame().assign(group=k) for k, c in self.curves.items()], ignore_index=True
        )

    def summary(self) -> str:
        """Text summary: n, events and final incidence per group, Gray's test."""
        from mst.stats._summary import cif_text

        return cif_text(self)

    def print_summary(self, file: Any = None) -> None:
        """Write :meth:`summary` to ``file`` (default: standard output)."""
        import sys

        print(self.summary(), file=file or sys.stdout)

    def plot(
        self,
        ax: Any = None,
        at_risk: bool = True,
        ci: bool = True,
        censor_marks: bool = False,
        labels: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Step plot of the cumulative incidence with CI bands and a numbers-at-risk table
        (patients still event-free and under follow-up); returns the matplotlib Axes and
        never shows it. Censor marks are not drawn (the curve jumps only at events of the
        cause). See :meth:`mst.stats.km.KMResult.plot` for the arguments."""
        from mst.stats.plotting import step_plot

        del censor_marks
        return step_plot(self, "cif", ax, at_risk, ci, False, labels, **kwargs)

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{k}: n={c.n}, events={int(c.table.n_event.sum())}" for k, c in self.curves.items()
        )
        return f"<CIFResult cause={self.cause} {inner}>"


def cumulative_incidence(
    time: ArrayLike | str | None = None,
    status: ArrayLike | str | None = None,
    cause: int = 1,
    group: ArrayLike | None = None,
    strata: ArrayLike | None = None,
    codes: tuple[int, ...] | None = None,
    censor_code: int = 0,
    rho: float = 0.0,
    conf_level: float = 0.95,
    *,
    data: Any = None,
    formula: str | None = None,
) -> CIFResult:
    """Cumulative incidence of ``cause`` by group, with Gray's test when there are groups.

    Equivalent to R ``cmprsk::cuminc(ftime, fstatus, group, strata, rho, cencode)``.

    Parameters
    ----------
    time : array_like
        Follow-up times (>= 0).
    status : array_like of int
        ``censor_code`` = censored, other codes = cause of failure.
    cause : int
        Cause of interest.
    group : array_like, optional
        Group labels; Gray's test compares the groups.
    strata : array_like, optional
        Strata for the stratified Gray test (the curves are not stratified, as in ``cuminc``).
    codes : tuple of int, optional
        Declared status codes; others are rejected. Default: any integer.
    censor_code : int
        Code of censoring (0).
    rho : float
        Power of the weight function in Gray's test.
    conf_level : float
        Coverage of the pointwise intervals.

    data : DataFrame, optional
        With ``data``, ``time``/``status``/``group``/``strata`` are column names.
    formula : str, optional
        ``"Surv(time, status) ~ group + strata(s)"`` (needs ``data``).

    Returns
    -------
    CIFResult
        ``result[label]`` is a :class:`CIFCurve`; ``result.gray`` a
        :class:`mst.stats.gray.GrayResult` or ``None`` with one group.
    """
    from mst.stats.gray import gray_test
    from mst.stats.io import survival_inputs

    time, status, group, strata, _, _ = survival_inputs(
        data, formula, time, status, group, strata, codes
    )
    t = v.as_time(time)
    n = t.size
    if n == 0:
        raise ValidationError("time", "[]", "no observations")
    if codes is None:
        raw = np.asarray(status, dtype=np.float64)
        codes = tuple(int(c) for c in np.unique(raw[np.isfinite(raw)]))
    s = v.as_codes(status, codes, "status")
    v.same_length(n, status=s)
    if cause == censor_code:
        raise ValidationError("cause", cause, f"must differ from the censoring code {censor_code}")
    if cause not in codes:
        raise ValidationError("cause", cause, f"must be one of the declared codes {list(codes)}")
    g = v.as_labels(group, n, "group")
    curves: dict[str, CIFCurve] = {}
    levels = ["all"] if g is None else v.group_levels(g, v.category_order(group))
    for lev in levels:
        m = np.ones(n, dtype=bool) if g is None else (g == lev)
        tm = t[m]
        tab = cif_core(tm, s[m], cause, censor_code)
        lo, up = cif_confidence(tab.cif, tab.variance, conf_level)
        curves[str(lev)] = CIFCurve(str(lev), cause, int(m.sum()), tab, lo, up, conf_level, tm)
    gray = None
    if g is not None and len(levels) > 1:
        gray = gray_test(t, s, g, cause=cause, strata=strata, rho=rho, censor_code=censor_code)
    return CIFResult(cause, curves, gray)

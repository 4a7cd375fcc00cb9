"""Seed-002 endpoints from the flat analysis table (docs/flat_table.md).

OS from diagnosis to death; LFS from CR to relapse or death; cumulative incidence of
relapse (CIR) from CR with death without relapse as competing event, and NRM as its
complement cause; early death (within 4 weeks of the first chemotherapy); CR rate;
1-, 3- and 5-year rates (002 "Study endpoints"). The flat table already holds the
per-patient endpoint columns; this module turns them into estimates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import binomtest

from mst.errors import ValidationError
from mst.stats import _validate as v
from mst.stats.cif import cumulative_incidence
from mst.stats.followup import median_followup
from mst.stats.km import kaplan_meier
from mst.stats.logrank import logrank_test

SOURCE = "002 Study endpoints"
MONTHS_PER_YEAR = 12.0


@dataclass(frozen=True)
class Endpoint:
    """Definition of a time-to-event endpoint in flat-table columns."""

    name: str
    time: str
    status: str
    cause: int | None  # None = survival endpoint (status 0/1); else competing-risks cause
    population: str
    definition: str


ENDPOINTS: dict[str, Endpoint] = {
    "os": Endpoint(
        "os",
        "os_months",
        "os_event",
        None,
        "all patients",
        "diagnosis to death from any cause; alive censored at last follow-up",
    ),
    "lfs": Endpoint(
        "lfs",
        "lfs_months",
        "lfs_event",
        None,
        "patients in CR",
        "CR to relapse or death from any cause",
    ),
    "cir": Endpoint(
        "cir",
        "crs_months",
        "crs_status",
        1,
        "patients in CR",
        "CR to relapse; death without relapse competing",
    ),
    "nrm": Endpoint(
        "nrm",
        "crs_months",
        "crs_status",
        2,
        "patients in CR",
        "CR to death without relapse; relapse competing",
    ),
}


def _need(df: pd.DataFrame, *cols: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValidationError(
            ", ".join(missing), None, "column not found in the table (see docs/flat_table.md)"
        )


def endpoint_data(
    df: pd.DataFrame, endpoint: str
) -> tuple[NDArray[np.float64], NDArray[np.int64], pd.DataFrame]:
    """Time and event/status arrays of an endpoint, restricted to its population.

    Rows outside the population (no CR for LFS/CIR/NRM, i.e. empty time) are left out;
    any other missing or invalid value is an error naming the column and the rows.

    Returns
    -------
    (time, status, rows)
        ``rows`` is the subset of ``df`` used (same order).
    """
    if endpoint not in ENDPOINTS:
        raise ValidationError("endpoint", endpoint, f"must be one of {sorted(ENDPOINTS)}")
    ep = ENDPOINTS[endpoint]
    _need(df, ep.time, ep.status)
    sub = df
    if ep.population == "patients in CR":
        sub = df[df[ep.time].notna()]
    t = v.as_time(pd.to_numeric(sub[ep.time], errors="coerce").to_numpy(), ep.time)
    codes = (0, 1) if ep.cause is None else (0, 1, 2)
    s = v.as_codes(pd.to_numeric(sub[ep.status], errors="coerce").to_numpy(), codes, ep.status)
    return t, s, sub


@dataclass(frozen=True)
class Proportion:
    """k of n with the exact (Clopper–Pearson) CI of R ``binom.test``."""

    k: int
    n: int
    proportion: float
    lower: float
    upper: float


def proportion(values: Sequence[Any] | pd.Series, conf_level: float = 0.95) -> Proportion:
    """Proportion of true values (missing values are left out)."""
    s = pd.Series(values).dropna()
    if not s.isin([0, 1, True, False]).all():
        raise ValidationError(
            "values", s[~s.isin([0, 1, True, False])].iloc[0], "must be boolean (0/1)"
        )
    k, n = int(s.astype(bool).sum()), int(s.size)
    if n == 0:
        return Proportion(0, 0, float("nan"), float("nan"), float("nan"))
    ci = binomtest(k, n).proportion_ci(conf_level, method="exact")
    return Proportion(k, n, k / n, float(ci.low), float(ci.high))


def rates_at(
    df: pd.DataFrame, endpoint: str, years: Sequence[float] = (1, 3, 5), by: str | None = None
) -> dict[str, list[dict[str, float]]]:
    """KM survival (OS, LFS) or cumulative incidence (CIR, NRM) at given years, by group.

    Times in the flat table are in months; the rate at ``y`` years is read at ``12 y``.
    """
    t, s, sub = endpoint_data(df, endpoint)
    ep = ENDPOINTS[endpoint]
    g = None if by is None else _groups(sub, by)
    at = np.asarray(years, dtype=np.float64) * MONTHS_PER_YEAR
    out: dict[str, list[dict[str, float]]] = {}
    if ep.cause is None:
        res = kaplan_meier(t, s, g)
        for lab, c in res.curves.items():
            a = c.at(at)
            out[lab] = [
                {
                    "years": float(y),
                    "rate": float(a["survival"][i]),
                    "lower": float(a["lower"][i]),
                    "upper": float(a["upper"][i]),
                    "n_risk": float(a["n_risk"][i]),
                }
                for i, y in enumerate(years)
            ]
    else:
        cres = cumulative_incidence(t, s, ep.cause, g, codes=(0, 1, 2))
        for lab, cc in cres.curves.items():
            a = cc.at(at)
            out[lab] = [
                {
                    "years": float(y),
                    "rate": float(a["cif"][i]),
                    "lower": float(a["lower"][i]),
                    "upper": float(a["upper"][i]),
                    "variance": float(a["variance"][i]),
                }
                for i, y in enumerate(years)
            ]
    return out


def _groups(df: pd.DataFrame, by: str) -> NDArray[np.object_]:
    _need(df, by)
    g = df[by]
    if g.isna().any():
        rows = np.flatnonzero(g.isna().to_numpy())[:10] + 1
        raise ValidationError(f"{by} (rows {rows.tolist()})", None, "group must not be missing")
    return g.astype(str).to_numpy(dtype=object)


def outcome_summary(
    df: pd.DataFrame, by: str | None = None, years: Sequence[float] = (1, 3, 5)
) -> dict[str, Any]:
    """Seed-002 Table 2 style outcome summary (JSON-ready).

    CR rate and early death with exact CIs; OS and LFS medians (KM, log-log CI) and
    1/3/5-year rates with the log-rank test across ``by``; CIR and NRM at 1/3/5 years with
    Gray's test; median follow-up by reverse Kaplan–Meier. Every block names its source.
    """
    out: dict[str, Any] = {"source": SOURCE, "n": len(df)}
    labels = ["all"] if by is None else sorted(set(_groups(df, by).tolist()))
    frames = {"all": df} if by is None else {lab: df[df[by].astype(str) == lab] for lab in labels}
    for col in ("cr", "early_death", "death"):
        if col in df.columns:
            out[col] = {lab: proportion(f[col]).__dict__ for lab, f in frames.items()}
    for ep in ("os", "lfs"):
        e = ENDPOINTS[ep]
        if e.time not in df.columns:
            continue
        t, s, sub = endpoint_data(df, ep)
        g = None if by is None else _groups(sub, by)
        res = kaplan_meier(t, s, g)
        block: dict[str, Any] = {
            "definition": e.definition,
            "population": e.population,
            "median": {
                lab: {
                    "median": c.median,
                    "lower": c.median_lower,
                    "upper": c.median_upper,
                    "n": c.n,
                    "events": int(c.n_event.sum()),
                }
                for lab, c in res.curves.items()
            },
            "rates": rates_at(df, ep, years, by),
        }
        if g is not None and len(set(g.tolist())) > 1:
            lr = logrank_test(t, s, g)
            block["logrank"] = {"statistic": lr.statistic, "df": lr.df, "p": lr.p}
        out[ep] = block
    if "crs_months" in df.columns and "crs_status" in df.columns:
        for ep in ("cir", "nrm"):
            e = ENDPOINTS[ep]
            t, s, sub = endpoint_data(df, ep)
            g = None if by is None else _groups(sub, by)
            block = {
                "definition": e.definition,
                "population": e.population,
                "rates": rates_at(df, ep, years, by),
            }
            if g is not None and len(set(g.tolist())) > 1:
                cres = cumulative_incidence(t, s, e.cause or 1, g, codes=(0, 1, 2))
                gr = cres.gray
                block["gray"] = {"statistic": gr.statistic, "df": gr.df, "p": gr.p}
            out[ep] = block
    if "os_months" in df.columns:
        t, s, _ = endpoint_data(df, "os")
        fu = median_followup(t, s)
        out["followup"] = {
            "median_months": fu.median,
            "lower": fu.lower,
            "upper": fu.upper,
            "range_alive": list(fu.range_alive),
            "method": fu.method,
        }
    return out


def days_summary(df: pd.DataFrame, columns: Sequence[str]) -> dict[str, dict[str, float]]:
    """Median, quartiles and range of day counts (e.g. neutrophil/platelet recovery days
    computed with the 3-consecutive-days rule by :mod:`mst.monitoring.recovery`)."""
    out: dict[str, dict[str, float]] = {}
    for col in columns:
        _need(df, col)
        x = pd.to_numeric(df[col], errors="coerce").dropna().to_numpy(dtype=np.float64)
        if x.size == 0:
            out[col] = {"n": 0}
            continue
        q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75])
        out[col] = {
            "n": int(x.size),
            "median": float(med),
            "q1": float(q1),
            "q3": float(q3),
            "min": float(x.min()),
            "max": float(x.max()),
        }
    return out

"""k-sample log-rank and Fleming–Harrington G(rho) tests, as R ``survival::survdiff``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.stats import chi2

from mst.errors import ValidationError
from mst.stats import _validate as v


@dataclass(frozen=True)
class LogRankResult:
    """Result of :func:`logrank_test`.

    Attributes
    ----------
    groups : list of str
        Group labels in the order of ``observed``/``expected``.
    observed, expected : ndarray
        (Weighted) observed and expected events per group, summed over strata.
    variance : ndarray
        Variance–covariance matrix of ``observed - expected``.
    statistic, df, p : float, int, float
        Chi-square statistic, degrees of freedom, upper-tail p-value.
    rho : float
        Weight exponent (0 = log-rank, 1 = Peto–Peto/Prentice-like).
    """

    groups: list[str]
    n: NDArray[np.int64]
    observed: NDArray[np.float64]
    expected: NDArray[np.float64]
    variance: NDArray[np.float64]
    statistic: float
    df: int
    p: float
    rho: float
    test: str


def _stratum(
    t: NDArray[np.float64], e: NDArray[np.int64], gi: NDArray[np.int64], ng: int, rho: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    # each row's distinct-time index from one hash pass (no sort of the rows), then the
    # subjects and events of every (time, group) cell from one bincount
    ut, tidx = v.time_index(t)
    ntime = ut.size
    both = np.bincount(((tidx * ng + gi) << 1) | e, minlength=ntime * ng * 2)
    both = both.reshape(ntime, ng, 2)
    dth = both[:, :, 1].astype(np.float64)
    cnt = dth + both[:, :, 0]
    risk = np.cumsum(cnt[::-1], axis=0)[::-1]  # at risk per group
    n = risk.sum(axis=1)
    d = dth.sum(axis=1)
    keep = d > 0
    if rho != 0:
        km_after = np.cumprod((n - d) / n)
        km_before = np.r_[1.0, km_after[:-1]]
        w = km_before**rho
    else:
        w = np.ones(ntime)
    risk, dth, n, d, w = risk[keep], dth[keep], n[keep], d[keep], w[keep]
    frac = risk / n[:, None]
    obs = (w[:, None] * dth).sum(axis=0)
    exp = (w[:, None] * d[:, None] * frac).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(n > 1, w**2 * d * (n - d) / (n - 1), 0.0)
    var = np.einsum("t,ti,ij->ij", c, frac, np.eye(ng)) - np.einsum("t,ti,tj->ij", c, frac, frac)
    return obs, exp, var


def logrank_test(
    time: ArrayLike | str | None = None,
    event: ArrayLike | str | None = None,
    group: ArrayLike | str | None = None,
    strata: ArrayLike | None = None,
    rho: float = 0.0,
    *,
    data: Any = None,
    formula: str | None = None,
) -> LogRankResult:
    """Compare survival curves of k groups (R ``survdiff(Surv(time, event) ~ group [+ strata()],
    rho=)``).

    Parameters
    ----------
    time : array_like
        Follow-up times (>= 0).
    event : array_like of {0, 1}
        1 = event, 0 = censored.
    group : array_like
        Group labels (at least two distinct).
    strata : array_like, optional
        Stratum labels: the observed-minus-expected and variances are summed over strata.
    rho : float
        Fleming–Harrington weight S(t-)^rho, S the pooled Kaplan–Meier of the stratum.

    data : DataFrame, optional
        With ``data``, ``time``/``event``/``group``/``strata`` are column names.
    formula : str, optional
        ``"Surv(time, event) ~ group + strata(s)"`` (needs ``data``).

    Returns
    -------
    LogRankResult
        Statistic ``(O - E)' V^-1 (O - E)`` over the groups with E > 0 minus one,
        ``df`` = (number of groups with E > 0) - 1, p from the chi-square upper tail.
        Statistic and p are NaN when the variance matrix is singular (R stops there).
    """
    from mst.stats.io import survival_inputs

    time, event, group, strata, _, _ = survival_inputs(
        data, formula, time, event, group, strata, (0, 1)
    )
    t = v.as_time(time)
    e = v.as_event(event)
    n = t.size
    v.same_length(n, event=e)
    g = v.as_labels(group, n, "group")
    if g is None:
        raise ValidationError("group", None, "a grouping variable is required")
    s = v.as_labels(strata, n, "strata")
    if not np.isfinite(rho):
        raise ValidationError("rho", rho, "must be a finite number")
    levels, gi = v.group_codes(g, v.category_order(group))
    if len(levels) < 2:
        raise ValidationError("group", levels, "needs at least two groups")
    ng = len(levels)
    obs = np.zeros(ng)
    exp = np.zeros(ng)
    var = np.zeros((ng, ng))
    s_levels = [None] if s is None else v.group_levels(s, v.category_order(strata))
    for lev in s_levels:
        m = np.ones(n, dtype=bool) if s is None else (s == lev)
        o, ex, vv = _stratum(t[m], e[m], gi[m], ng, rho)
        obs += o
        exp += ex
        var += vv
    use = exp > 0
    df = int(use.sum()) - 1
    if df < 1:
        stat = 0.0
    else:
        diff = (obs - exp)[use][1:]
        vv = var[np.ix_(use, use)][1:, 1:]
        try:
            stat = float(diff @ np.linalg.solve(vv, diff))
        except np.linalg.LinAlgError:  # singular variance (e.g. every event at one time)
            stat = float("nan")
    p = float(chi2.sf(stat, df)) if df >= 1 and np.isfinite(stat) else float("nan")
    counts = np.bincount(gi, minlength=len(levels))
    name = "log-rank" if rho == 0 else f"Fleming-Harrington G(rho={rho:g})"
    if s is not None:
        name = "stratified " + name
    return LogRankResult(
        [str(x) for x in levels], counts, obs, exp, var, stat, df, p, float(rho), name
    )


def pairwise_logrank(
    time: ArrayLike | str | None = None,
    event: ArrayLike | str | None = None,
    group: ArrayLike | str | None = None,
    strata: ArrayLike | None = None,
    rho: float = 0.0,
    adjust: str = "holm",
    *,
    data: Any = None,
    formula: str | None = None,
) -> pd.DataFrame:
    """Log-rank test for every pair of groups (``survdiff`` on each two-group subset).

    Parameters
    ----------
    time, event, group, strata, rho, data, formula
        As :func:`logrank_test`.
    adjust : {"holm", "bonferroni", "none"}
        Multiplicity adjustment of the p-values (R ``p.adjust``).

    Returns
    -------
    DataFrame
        One row per pair: ``group_a``, ``group_b``, ``chisq``, ``p``, ``p_adjusted``.
    """
    from mst.stats.io import survival_inputs

    time, event, group, strata, _, _ = survival_inputs(
        data, formula, time, event, group, strata, (0, 1)
    )
    if adjust not in ("holm", "bonferroni", "none"):
        raise ValidationError("adjust", adjust, "must be holm, bonferroni or none")
    t = v.as_time(time)
    e = v.as_event(event)
    n = t.size
    g = v.as_labels(group, n, "group")
    if g is None:
        raise ValidationError("group", None, "a grouping variable is required")
    s = v.as_labels(strata, n, "strata")
    levels = v.group_levels(g, v.category_order(group))
    rows = []
    for i, a in enumerate(levels):
        for b in levels[i + 1 :]:
            m = (g == a) | (g == b)
            r = logrank_test(t[m], e[m], g[m], None if s is None else s[m], rho)
            rows.append({"group_a": str(a), "group_b": str(b), "chisq": r.statistic, "p": r.p})
    out = pd.DataFrame(rows, columns=["group_a", "group_b", "chisq", "p"])
    p = out["p"].to_numpy(dtype=np.float64)
    k = p.size
    if adjust == "bonferroni":
        adj = np.minimum(p * k, 1.0)
    elif adjust == "holm":
        o = np.argsort(p, kind="stable")
        stepped = np.maximum.accumulate(p[o] * (k - np.arange(k)))
        adj = np.empty(k)
        adj[o] = np.minimum(stepped, 1.0)
    else:
        adj = p.copy()
    return out.assign(p_adjusted=adj)


def trend_logrank(
    time: ArrayLike | str | None = None,
    event: ArrayLike | str | None = None,
    group: ArrayLike | str | None = None,
    scores: ArrayLike | None = None,
    strata: ArrayLike | None = None,
    *,
    data: Any = None,
    formula: str | None = None,
) -> tuple[float, float]:
    """Log-rank test for trend across ordered groups (1 df).

    ``U = Σ s_g (O_g − E_g)``, ``Var U = sᵀ V s`` with the ``survdiff`` variance V; the
    statistic is U² / Var U. Default scores: the numeric group values when the groups are
    numbers, else 1, 2, … in the level order (R ``factor()`` or a Categorical's order).

    Returns
    -------
    (chisq, p) : tuple of float
    """
    from mst.stats.io import survival_inputs

    time, event, group, strata, _, _ = survival_inputs(
        data, formula, time, event, group, strata, (0, 1)
    )
    r = logrank_test(time, event, group, strata)
    if scores is None:
        try:
            sc = np.array([float(x) for x in r.groups])
        except ValueError:
            sc = np.arange(1.0, len(r.groups) + 1)
    else:
        sc = np.asarray(scores, dtype=np.float64)
        if sc.shape != (len(r.groups),):
            raise ValidationError(
                "scores", None, f"need one score per group ({', '.join(r.groups)})"
            )
    u = float(sc @ (r.observed - r.expected))
    var = float(sc @ r.variance @ sc)
    if var <= 0:
        return float("nan"), float("nan")
    stat = u * u / var
    return stat, float(chi2.sf(stat, 1))

"""Figures of the survival results: step curves with CI bands, censor marks, a numbers-at-
risk table, and the scaled-Schoenfeld plot of ``cox.zph``.

The figures are built on :class:`matplotlib.figure.Figure` (no pyplot state, nothing is
ever shown): every function returns the Axes it drew on, and the caller saves or displays
the figure (``ax.figure.savefig(...)``). The report uses the same functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray


def _axes(ax: Any, figsize: tuple[float, float] = (6.4, 4.8)) -> Any:
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig.subplots()


def _steps(
    time: NDArray[np.float64], values: NDArray[np.float64], start: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return np.r_[0.0, time], np.r_[start, values]


def step_plot(
    result: Any,
    kind: str,
    ax: Any = None,
    at_risk: bool = True,
    ci: bool = True,
    censor_marks: bool = True,
    labels: Mapping[str, str] | None = None,
    *,
    xlabel: str = "Time",
    ylabel: str | None = None,
    title: str | None = None,
    times: Any = None,
) -> Any:
    """Draw Kaplan–Meier (``kind="survival"``) or cumulative-incidence (``"cif"``) curves.

    Parameters
    ----------
    result : KMResult or CIFResult
        The curves (one per group).
    kind : {"survival", "cif"}
        What the curves are.
    ax : matplotlib Axes, optional
        Where to draw (a new figure when omitted).
    at_risk : bool
        Add a numbers-at-risk table under the axis, one line per group, at the x ticks.
    ci : bool
        Shade the pointwise confidence band.
    censor_marks : bool
        Mark censoring times on the curve with ``+``.
    labels : mapping, optional
        Human label of each group (legend and risk table); default: the group value.
    xlabel, ylabel, title : str, optional
        Axis labels and title.
    times : array_like, optional
        Times of the risk-table columns (default: the x ticks inside the axis).

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    labels = dict(labels or {})
    tmax = 0.0
    colors: dict[str, Any] = {}
    for key, c in result.curves.items():
        name = labels.get(key, key if key != "all" else ("All" if len(result.curves) == 1 else key))
        y = c.surv if kind == "survival" else c.cif
        start = 1.0 if kind == "survival" else 0.0
        xs, ys = _steps(c.time, y, start)
        (line,) = ax.step(xs, ys, where="post", label=name)
        colors[key] = line.get_color()
        if ci:
            lo = np.nan_to_num(c.lower, nan=np.nan)
            up = np.nan_to_num(c.upper, nan=np.nan)
            _, lo_s = _steps(c.time, lo, start)
            _, up_s = _steps(c.time, up, start)
            ax.fill_between(xs, lo_s, up_s, step="post", alpha=0.15, color=line.get_color())
        if censor_marks and kind == "survival":
            cens = c.table.n_censor > 0
            ax.plot(c.time[cens], y[cens], "+", color=line.get_color(), markersize=7)
        tmax = max(tmax, float(c.time.max()) if c.time.size else 0.0)
    ax.set_xlim(0, tmax * 1.02 if tmax > 0 else 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(
        ylabel or ("Survival probability" if kind == "survival" else "Cumulative incidence")
    )
    if title:
        ax.set_title(title)
    if len(result.curves) > 1 or labels:
        ax.legend(loc="best", frameon=False)
    if at_risk:
        _risk_table(ax, result, labels, colors, times)
    return ax


def risk_counts(result: Any, times: Any) -> dict[str, list[int]]:
    """Numbers at risk of each group at ``times`` (counted from the curves themselves, so
    numeric group labels work as text labels do)."""
    q = np.asarray(times, dtype=np.float64)
    out = {}
    for key, c in result.curves.items():
        if hasattr(c, "n_at_risk"):
            n = c.n_at_risk(q)
        else:
            k = np.searchsorted(c.time, q, side="left")
            last = max(c.time.size - 1, 0)
            n = np.where(k < c.time.size, c.table.n_risk[np.clip(k, 0, last)], 0.0)
        out[key] = [round(float(x)) for x in n]
    return out


def _risk_table(
    ax: Any, result: Any, labels: Mapping[str, str], colors: Mapping[str, Any], times: Any
) -> None:
    from matplotlib.transforms import blended_transform_factory

    lo, hi = ax.get_xlim()
    ticks = np.asarray(ax.get_xticks() if times is None else times, dtype=np.float64)
    ticks = ticks[(ticks >= lo) & (ticks <= hi)]
    counts = risk_counts(result, ticks)
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    keys = list(counts)
    step = 0.07
    base = -0.2
    ax.text(
        lo,
        base,
        "Number at risk",
        transform=trans,
        ha="left",
        va="top",
        fontsize=8,
        fontweight="bold",
    )
    for row, key in enumerate(keys):
        y = base - step * (row + 1)
        name = labels.get(key, key)
        ax.text(
            -0.02,
            y,
            name,
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=8,
            color=colors.get(key),
        )
        for t, n in zip(ticks, counts[key], strict=True):
            ax.text(t, y, str(n), transform=trans, ha="center", va="top", fontsize=8)
    fig = ax.figure
    if fig is not None:
        fig.subplots_adjust(bottom=min(0.5, 0.22 + step * (len(keys) + 1)), left=0.18)


def curves_plot(
    times: NDArray[np.float64],
    curves: NDArray[np.float64],
    names: list[str],
    ylabel: str,
    ax: Any = None,
    xlabel: str = "Time",
) -> Any:
    """Predicted curves (Cox survival or Fine–Gray cumulative incidence), one per row."""
    ax = _axes(ax)
    start = 1.0 if ylabel.lower().startswith("surv") else 0.0
    for j, name in enumerate(names):
        xs, ys = _steps(times, curves[:, j], start)
        ax.step(xs, ys, where="post", label=name)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, float(times.max()) * 1.02 if times.size else 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", frameon=False)
    return ax


def zph_plot(fit: Any, term: str | None = None, ax: Any = None) -> Any:
    """Scaled Schoenfeld residuals of one covariate against the KM-transformed time, with a
    running-mean smooth and the fitted coefficient (dashed), as ``plot(cox.zph(fit))``."""
    ax = _axes(ax)
    res = fit.zph_residuals()
    name = term or fit.names[0]
    if name not in res.columns:
        from mst.errors import ValidationError

        raise ValidationError("term", name, f"must be one of {', '.join(fit.names)}")
    g = res["g"].to_numpy()
    y = res[name].to_numpy()
    order = np.argsort(g, kind="stable")
    ax.plot(g, y, "o", markersize=3, alpha=0.6)
    k = max(5, g.size // 10)
    kernel = np.ones(k) / k
    if g.size >= k:
        smooth = np.convolve(y[order], kernel, mode="valid")
        ax.plot(g[order][k // 2 : k // 2 + smooth.size], smooth, "-")
    ax.axhline(float(fit.coef[fit.names.index(name)]), linestyle="--", color="grey")
    ax.set_xlabel("Time (KM transform, centred)")
    ax.set_ylabel(f"Beta(t) for {name}")
    return ax

"""Publication-style figures drawn on ``matplotlib.figure.Figure`` (no pyplot, no global state).

KM and CIF curves: step curves, pointwise CI bands, censoring marks, the test's p-value, and a
number-at-risk table aligned under the time axis. Forest plots of hazard ratios.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

COLORS = ["#1f4e79", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#7f8c8d"]


def format_p(p: float | None) -> str:
    """``p = 0.012`` / ``p < 0.001`` / ``p = NA``."""
    if p is None or not np.isfinite(p):
        return "p = NA"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _ticks(tmax: float, unit: str) -> np.ndarray:
    step = 12.0 if unit == "months" else 365.0
    while tmax / step > 10:
        step *= 2
    return np.arange(0.0, tmax + step * 0.999, step)


def _at_risk(times: np.ndarray, ticks: np.ndarray) -> list[int]:
    s = np.sort(times)
    return [int(s.size - np.searchsorted(s, t, side="left")) for t in ticks]


def _risk_table(fig: Figure, ax: Any, axt: Any, labels: Sequence[str],
                data: dict[str, np.ndarray], ticks: np.ndarray) -> None:
    axt.set_xlim(ax.get_xlim())
    axt.set_ylim(-0.5, len(labels) - 0.5)
    for k, lab in enumerate(labels):
        y = len(labels) - 1 - k
        for t, n in zip(ticks, _at_risk(data[lab], ticks), strict=True):
            axt.text(t, y, str(n), ha="center", va="center", fontsize=7,
                     color=COLORS[k % len(COLORS)])
    axt.set_yticks(range(len(labels)))
    axt.set_yticklabels(list(reversed(labels)), fontsize=7)
    axt.set_xticks([])
    for sp in axt.spines.values():
        sp.set_visible(False)
    axt.tick_params(left=False, pad=18)
    axt.set_title("Number at risk", fontsize=8, loc="left")


def _frame(n_groups: int) -> tuple[Figure, Any, Any]:
    fig = Figure(figsize=(6.4, 4.6 + 0.18 * n_groups))
    gs = fig.add_gridspec(2, 1, height_ratios=[4.0, 0.55 + 0.22 * n_groups], hspace=0.42)
    return fig, fig.add_subplot(gs[0]), fig.add_subplot(gs[1])


def km_figure(result: Any, data: tuple[np.ndarray, np.ndarray, Any], title: str,
              unit: str, p_text: str | None = None, ylabel: str = "Probability") -> Figure:
    """Kaplan–Meier curves of a :class:`mst.stats.KMResult` with the number at risk.

    ``data`` is the ``(time, event, group)`` arrays the result was fitted on.
    """
    labels = list(result.curves)
    fig, ax, axt = _frame(len(labels))
    t_all, _, g = data
    tmax = float(np.max(t_all)) if t_all.size else 1.0
    for k, lab in enumerate(labels):
        c = result.curves[lab]
        col = COLORS[k % len(COLORS)]
        x = np.concatenate([[0.0], c.time])
        y = np.concatenate([[1.0], c.surv])
        lo = np.concatenate([[1.0], c.lower])
        hi = np.concatenate([[1.0], c.upper])
        ax.step(x, y, where="post", color=col, lw=1.4, label=f"{lab} (n = {c.n})")
        ax.fill_between(x, np.nan_to_num(lo, nan=0.0), np.nan_to_num(hi, nan=1.0),
                        step="post", color=col, alpha=0.12, lw=0)
        cens = c.table.n_censor > 0
        ax.plot(c.time[cens], c.surv[cens], ls="none", marker="|", ms=5, mew=0.8, color=col)
    ticks = _ticks(tmax, unit)
    ax.set_xlim(0, ticks[-1])
    ax.set_xticks(ticks)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"Time ({unit})")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    if p_text:
        ax.text(0.98, 0.62, p_text, transform=ax.transAxes, ha="right", fontsize=9)
    groups = {lab: (t_all if g is None else t_all[g == lab]) for lab in labels}
    _risk_table(fig, ax, axt, labels, groups, ticks)
    return fig


def cif_figure(result: Any, data: tuple[np.ndarray, np.ndarray, Any], title: str,
               unit: str, p_text: str | None = None) -> Figure:
    """Cumulative incidence curves of a :class:`mst.stats.CIFResult` with the number at risk."""
    labels = list(result.curves)
    fig, ax, axt = _frame(len(labels))
    t_all, s_all, g = data
    tmax = float(np.max(t_all)) if t_all.size else 1.0
    ymax = 0.0
    for k, lab in enumerate(labels):
        c = result.curves[lab]
        col = COLORS[k % len(COLORS)]
        last = float(c.table.last_time)
        tail = [last] if c.time.size == 0 or last > c.time[-1] else []
        x = np.concatenate([[0.0], c.time, tail])
        y = np.concatenate([[0.0], c.cif, c.cif[-1:] if tail and c.cif.size else [0.0] * len(tail)])
        lo = np.concatenate([[0.0], c.lower,
                             c.lower[-1:] if tail and c.lower.size else [0.0] * len(tail)])
        hi = np.concatenate([[0.0], c.upper,
                             c.upper[-1:] if tail and c.upper.size else [0.0] * len(tail)])
        ax.step(x, y, where="post", color=col, lw=1.4, label=f"{lab} (n = {c.n})")
        ax.fill_between(x, np.nan_to_num(lo, nan=0.0), np.nan_to_num(hi, nan=0.0),
                        step="post", color=col, alpha=0.12, lw=0)
        tg = t_all if g is None else t_all[g == lab]
        sg = s_all if g is None else s_all[g == lab]
        ct = np.unique(tg[sg == 0])
        if ct.size and c.time.size:
            idx = np.searchsorted(c.time, ct, side="right") - 1
            yc = np.where(idx >= 0, c.cif[np.clip(idx, 0, None)], 0.0)
            ax.plot(ct, yc, ls="none", marker="|", ms=5, mew=0.8, color=col)
        ymax = max(ymax, float(np.nanmax(hi)) if hi.size else 0.0)
    ticks = _ticks(tmax, unit)
    ax.set_xlim(0, ticks[-1])
    ax.set_xticks(ticks)
    ax.set_ylim(0, min(1.0, max(0.1, ymax * 1.1)))
    ax.set_xlabel(f"Time since CR ({unit})")
    ax.set_ylabel("Cumulative incidence")
    ax.set_title(title, fontsize=10, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    if p_text:
        ax.text(0.98, 0.05, p_text, transform=ax.transAxes, ha="right", fontsize=9)
    groups = {lab: (t_all if g is None else t_all[g == lab]) for lab in labels}
    _risk_table(fig, ax, axt, labels, groups, ticks)
    return fig


def forest_figure(data: pd.DataFrame, title: str) -> Figure:
    """Forest plot (log scale) of :func:`mst.stats.forest_data` rows, with HR (CI) and p."""
    d = data[np.isfinite(data["hr"].astype(float))].reset_index(drop=True)
    n = max(len(d), 1)
    fig = Figure(figsize=(7.2, 0.32 * n + 1.3))
    ax = fig.add_axes((0.30, 0.9 / (0.32 * n + 1.3), 0.40, 1 - 1.3 / (0.32 * n + 1.3)))
    y = np.arange(len(d))[::-1]
    hr = d["hr"].to_numpy(float)
    lo = d["lower"].to_numpy(float)
    hi = d["upper"].to_numpy(float)
    ax.hlines(y, lo, hi, color="black", lw=1)
    ax.plot(hr, y, "s", color="#1f4e79", ms=5)
    ax.axvline(1.0, color="grey", ls="--", lw=0.8)
    ax.set_xscale("log")
    lo_x = min(float(np.nanmin(lo)) if lo.size else 1.0, 1.0) / 1.3
    hi_x = max(float(np.nanmax(hi)) if hi.size else 1.0, 1.0) * 1.3
    ax.set_xlim(lo_x, hi_x)
    cand = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100])
    ticks = cand[(cand >= lo_x) & (cand <= hi_x)]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_ylim(-0.7, len(d) - 0.3)
    multi = d["model"].nunique() > 1
    ax.set_yticks(y)
    ax.set_yticklabels([f"{m}: {t}" if multi else str(t)
                        for m, t in zip(d["model"], d["term"], strict=True)], fontsize=7)
    ax.set_xlabel("Hazard ratio (95% CI, log scale)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    for yy, h, a, b, p in zip(y, hr, lo, hi, d["p"].to_numpy(float), strict=True):
        ax.annotate(f"{h:.2f} ({a:.2f}-{b:.2f})  {format_p(p)}", xy=(1.02, yy),
                    xycoords=("axes fraction", "data"), va="center", fontsize=7)
    ax.set_title(title, fontsize=9, loc="left")
    return fig


def svg(fig: Figure) -> str:
    """The figure as an inline SVG string (no XML header)."""
    import matplotlib as mpl

    buf = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": "mst-report", "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text

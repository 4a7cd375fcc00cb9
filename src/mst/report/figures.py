"""Publication-style figures drawn on ``matplotlib.figure.Figure`` (no pyplot, no global state).

KM and CIF curves: step curves, pointwise CI bands, censoring marks, the test's p-value, and a
number-at-risk table aligned under the time axis. Forest plots of hazard ratios.

The one figure module of the package: the report and the web app draw with it.
Sizes are chosen for the displayed size (full text width: 16 cm in the A4 PDF, 640 px in
the HTML), where every text is at least 8 pt: the legend sits above the plot (never over a
curve), censoring marks are thinned to at most :data:`MAX_CENSOR_MARKS` per curve (one per
time bin) so they stay readable at 10,000 patients, and SVG text stays text
(``svg.fonttype = none``: selectable and searchable).

The KM, CIF and forest figures have a fixed layout: margins in inches, the side ones
from the measured width of the labels they hold (font metrics, no drawing), so a figure is
drawn once when it is saved (``bbox_inches="tight"`` would draw it twice). Figures of
other modules passed to :func:`svg` keep the tight crop.
"""

from __future__ import annotations

import io
import math
import weakref
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

COLORS = ["#1f4e79", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#7f8c8d"]
#: At most this many censoring marks per curve (one per bin of the time axis).
MAX_CENSOR_MARKS = 120
#: Font size (pt) of the number-at-risk table and legends at the figure's natural size.
SMALL_PT = 9.0

# Figures laid out here (fixed margins): saved without the tight crop's extra draw.
_FIXED: weakref.WeakSet[Figure] = weakref.WeakSet()


@lru_cache(maxsize=4096)
def text_width(text: str, size: float) -> float:
    """Width in inches of ``text`` at ``size`` pt in the default font (font metrics only;
    4 % added for the renderers' hinting)."""
    from matplotlib.font_manager import FontProperties

    w, _h, _d = _text_to_path().get_text_width_height_descent(
        text, FontProperties(size=size), ismath=False)
    return 1.04 * float(w) / 72.0


@lru_cache(maxsize=1)
def _text_to_path() -> Any:
    from matplotlib.textpath import TextToPath

    return TextToPath()


def thin_marks(x: np.ndarray, tmax: float, max_marks: int = MAX_CENSOR_MARKS) -> np.ndarray:
    """Indices of censoring marks to draw: all when few, else one per time bin."""
    if x.size <= max_marks or tmax <= 0:
        return np.arange(x.size)
    bins = np.floor(x / (tmax / max_marks)).astype(np.int64)
    _, first = np.unique(bins, return_index=True)
    return np.sort(first)


def _step_band(x: np.ndarray, lo: np.ndarray, hi: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The points of a post-step band where it changes: a step whose lower and upper
    limits equal the previous one's only extends it, so leaving it out draws the same
    region (first and last points kept)."""
    if x.size <= 2:
        return x, lo, hi
    keep = np.ones(x.size, dtype=bool)
    keep[1:-1] = (lo[1:-1] != lo[:-2]) | (hi[1:-1] != hi[:-2])
    return x[keep], lo[keep], hi[keep]


def _marks(ax: Any, x: np.ndarray, y: np.ndarray, color: str,
           pending: list[tuple[Any, np.ndarray, np.ndarray]]) -> None:
    """Censoring marks of one curve: vertical strokes 5 pt tall and 0.8 pt wide centred on
    the curve (the look of marker ``"|"`` of size 5), drawn as one path — 120 markers are
    120 SVG elements. Their height in data units is set by :func:`_place_marks` once the
    y limits are final."""
    pending.append((ax.plot([], [], color=color, lw=0.8, solid_capstyle="butt")[0], x, y))


def _place_marks(fig: Figure, ax: Any, pending: list[tuple[Any, np.ndarray, np.ndarray]]
                 ) -> None:
    y0, y1 = ax.get_ylim()
    half = 2.5 / 72 / (ax.get_position().height * fig.get_figheight()) * (y1 - y0)
    for line, x, y in pending:
        line.set_data(np.repeat(x, 3),
                      np.column_stack([y - half, y + half, np.full(y.size, np.nan)]).ravel())


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
            axt.text(t, y, str(n), ha="center", va="center", fontsize=SMALL_PT,
                     color=COLORS[k % len(COLORS)])
    axt.set_yticks(range(len(labels)))
    axt.set_yticklabels(list(reversed(labels)), fontsize=SMALL_PT)
    axt.set_xticks([])
    for sp in axt.spines.values():
        sp.set_visible(False)
    axt.tick_params(left=False, pad=18)
    # no axis labels on the risk table: fixed coordinates spare matplotlib placing the
    # (empty, never drawn) labels beside the tick labels at every draw
    axt.xaxis.set_label_coords(0.5, 0.0)
    axt.yaxis.set_label_coords(0.0, 0.5)
    axt.set_title("Number at risk", fontsize=SMALL_PT, loc="left")


_WIDTH = 6.3  # inches: the full text width (16 cm) at the natural size


def _legend_width(entries: Sequence[str], ncol: int) -> float:
    """Width in inches of a legend of ``entries`` in ``ncol`` columns (9 pt, no frame)."""
    em = SMALL_PT / 72.0
    # matplotlib fills the columns in order, the first ones one entry longer
    cols = np.array_split(np.arange(len(entries)), ncol)
    return sum(max(text_width(entries[i], SMALL_PT) for i in col) + (1.5 + 0.8 + 2.0) * em
               for col in cols if len(col))


def _legend_columns(entries: Sequence[str], width: float) -> int:
    """Most columns (at most 3) whose legend entries fit in ``width`` inches."""
    for ncol in range(min(len(entries), 3), 1, -1):
        if _legend_width(entries, ncol) <= width:
            return ncol
    return 1


def _frame(labels: Sequence[str], entries: Sequence[str]
           ) -> tuple[Figure, Any, Any, tuple[int, float]]:
    """Figure, plot and risk-table axes, legend (columns, left edge as a figure fraction):
    margins fixed in inches.

    Left: the y-axis label and ticks, or the risk table's group labels (9 pt, 18 pt pad)
    if wider; top: the title and the legend rows above the plot; right: half a tick label.
    The legend starts at the plot's left edge, or at the figure's when it fits only so.
    """
    n_groups = len(labels)
    height = 4.9 + 0.22 * n_groups
    left = max(0.8, max((text_width(x, SMALL_PT) for x in labels), default=0.0)
               + (18 + 3.5) / 72 + 0.25)  # label, its pad and the (hidden) tick
    right = 0.3
    width = max(_WIDTH, left + 4.0 + right)  # very long labels widen the figure
    ncol = _legend_columns(entries, width - left - right)
    anchor = left
    if entries and _legend_width(entries, ncol) > width - left - right:
        anchor = 0.1
        ncol = _legend_columns(entries, width - anchor - right)
    rows = math.ceil(max(len(entries), 1) / ncol)
    top = 0.42 + 0.2 * rows
    fig = Figure(figsize=(width, height))
    gs = fig.add_gridspec(2, 1, height_ratios=[4.0, 0.6 + 0.26 * n_groups], hspace=0.45,
                          left=left / width, right=1 - right / width,
                          top=1 - top / height, bottom=0.12 / height)
    _FIXED.add(fig)
    return fig, fig.add_subplot(gs[0]), fig.add_subplot(gs[1]), (ncol, anchor / width)


def _legend(ax: Any, layout: tuple[int, float]) -> None:
    """Legend above the plotting area, so it never covers a curve."""
    from matplotlib.transforms import blended_transform_factory

    ncol, x = layout
    ax.legend(frameon=False, fontsize=SMALL_PT, loc="lower left", bbox_to_anchor=(x, 1.0),
              bbox_transform=blended_transform_factory(ax.figure.transFigure, ax.transAxes),
              ncol=ncol, borderaxespad=0.2, handlelength=1.5)


def _names(result: Any, names: Mapping[str, str] | None) -> tuple[list[str], dict[str, str]]:
    """Curve keys in display order (the order of ``names`` first) and their labels."""
    keys = list(result.curves)
    if names:
        keys = [k for k in names if k in result.curves] + [k for k in keys if k not in names]
    return keys, {k: (names or {}).get(k, k) for k in keys}


def km_figure(result: Any, data: tuple[np.ndarray, np.ndarray, Any], title: str,
              unit: str, p_text: str | None = None, ylabel: str = "Probability",
              names: Mapping[str, str] | None = None) -> Figure:
    """Kaplan–Meier curves of a :class:`mst.stats.KMResult` with the number at risk.

    ``data`` is the ``(time, event, group)`` arrays the result was fitted on; ``names``
    maps group keys to the labels shown, in the order to show them.
    """
    labels, shown = _names(result, names)
    entries = [f"{shown[lab]} (n = {result.curves[lab].n})" for lab in labels]
    fig, ax, axt, legend = _frame([shown[k] for k in labels], entries)
    t_all, _, g = data
    tmax = float(np.max(t_all)) if t_all.size else 1.0
    marks: list[tuple[Any, np.ndarray, np.ndarray]] = []
    for k, lab in enumerate(labels):
        c = result.curves[lab]
        col = COLORS[k % len(COLORS)]
        x = np.concatenate([[0.0], c.time])
        y = np.concatenate([[1.0], c.surv])
        lo = np.concatenate([[1.0], c.lower])
        hi = np.concatenate([[1.0], c.upper])
        ax.step(x, y, where="post", color=col, lw=1.4, label=entries[k])
        ax.fill_between(*_step_band(x, np.nan_to_num(lo, nan=0.0), np.nan_to_num(hi, nan=1.0)),
                        step="post", color=col, alpha=0.12, lw=0)
        cens = np.flatnonzero(c.table.n_censor > 0)
        cens = cens[thin_marks(c.time[cens], tmax)]
        _marks(ax, c.time[cens], c.surv[cens], col, marks)
    ticks = _ticks(tmax, unit)
    ax.set_xlim(0, ticks[-1])
    ax.set_xticks(ticks)
    ax.set_ylim(0, 1.02)
    _place_marks(fig, ax, marks)
    ax.set_xlabel(f"Time ({unit})")
    ax.set_ylabel(ylabel)
    fig.suptitle(title, fontsize=10, x=0.02, ha="left")
    ax.spines[["top", "right"]].set_visible(False)
    _legend(ax, legend)
    if p_text:
        ax.text(0.98, 0.97, p_text, transform=ax.transAxes, ha="right", va="top", fontsize=9)
    groups = {shown[lab]: (t_all if g is None else t_all[g == lab]) for lab in labels}
    _risk_table(fig, ax, axt, [shown[k] for k in labels], groups, ticks)
    return fig


def cif_figure(result: Any, data: tuple[np.ndarray, np.ndarray, Any], title: str,
               unit: str, p_text: str | None = None,
               names: Mapping[str, str] | None = None) -> Figure:
    """Cumulative incidence curves of a :class:`mst.stats.CIFResult` with the number at risk."""
    labels, shown = _names(result, names)
    entries = [f"{shown[lab]} (n = {result.curves[lab].n})" for lab in labels]
    fig, ax, axt, legend = _frame([shown[k] for k in labels], entries)
    t_all, s_all, g = data
    tmax = float(np.max(t_all)) if t_all.size else 1.0
    ymax = 0.0
    marks: list[tuple[Any, np.ndarray, np.ndarray]] = []
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
        ax.step(x, y, where="post", color=col, lw=1.4, label=entries[k])
        ax.fill_between(*_step_band(x, np.nan_to_num(lo, nan=0.0), np.nan_to_num(hi, nan=0.0)),
                        step="post", color=col, alpha=0.12, lw=0)
        tg = t_all if g is None else t_all[g == lab]
        sg = s_all if g is None else s_all[g == lab]
        ct = np.unique(tg[sg == 0])
        ct = ct[thin_marks(ct, tmax)]
        if ct.size and c.time.size:
            idx = np.searchsorted(c.time, ct, side="right") - 1
            yc = np.where(idx >= 0, c.cif[np.clip(idx, 0, None)], 0.0)
            _marks(ax, ct, yc, col, marks)
        ymax = max(ymax, float(np.nanmax(hi)) if hi.size else 0.0)
    ticks = _ticks(tmax, unit)
    ax.set_xlim(0, ticks[-1])
    ax.set_xticks(ticks)
    ax.set_ylim(0, min(1.0, max(0.1, ymax * 1.1)))
    _place_marks(fig, ax, marks)
    ax.set_xlabel(f"Time since CR ({unit})")
    ax.set_ylabel("Cumulative incidence")
    fig.suptitle(title, fontsize=10, x=0.02, ha="left")
    ax.spines[["top", "right"]].set_visible(False)
    _legend(ax, legend)
    if p_text:
        ax.text(0.02, 0.97, p_text, transform=ax.transAxes, ha="left", va="top", fontsize=9)
    groups = {shown[lab]: (t_all if g is None else t_all[g == lab]) for lab in labels}
    _risk_table(fig, ax, axt, [shown[k] for k in labels], groups, ticks)
    return fig


def forest_figure(data: pd.DataFrame, title: str, xlabel: str = "Hazard ratio") -> Figure:
    """Forest plot (log scale) of :func:`mst.stats.forest_data` rows, with HR (CI) and p.

    ``xlabel`` names the ratio: "Hazard ratio" (Cox) or "Subdistribution hazard ratio"
    (Fine–Gray)."""
    finite = np.ones(len(data), dtype=bool)
    for c in ("hr", "lower", "upper"):  # separated data: CI to infinity, not drawable
        finite &= np.isfinite(data[c].astype(float).to_numpy())
    d = data[finite].reset_index(drop=True)
    n = max(len(d), 1)
    h = 0.34 * n + 1.05
    y = np.arange(len(d))[::-1]
    hr = d["hr"].to_numpy(float)
    lo = d["lower"].to_numpy(float)
    hi = d["upper"].to_numpy(float)
    multi = d["model"].nunique() > 1
    terms = [f"{m}: {t}" if multi else str(t) for m, t in zip(d["model"], d["term"], strict=True)]
    notes = [f"{a:.2f} ({b:.2f}-{c:.2f})  {format_p(p)}"
             for a, b, c, p in zip(hr, lo, hi, d["p"].to_numpy(float), strict=True)]
    # fixed layout (inches): term labels left of the plot, HR (CI) p right of it
    plot_w = 0.30 * _WIDTH
    left = max(0.36 * _WIDTH, max((text_width(t, SMALL_PT) for t in terms), default=0.0) + 0.25)
    right = 0.02 * plot_w + max((text_width(t, SMALL_PT) for t in notes), default=0.0) + 0.15
    width = max(_WIDTH, left + plot_w + right, left + text_width(title, 10) + 0.15)
    fig = Figure(figsize=(width, h))
    _FIXED.add(fig)
    ax = fig.add_axes((left / width, 0.65 / h, plot_w / width, 1 - 1.05 / h))
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
    ax.set_yticks(y)
    ax.set_yticklabels(terms, fontsize=SMALL_PT)
    ax.set_xlabel(f"{xlabel} (95% CI, log scale)", fontsize=SMALL_PT)
    ax.tick_params(axis="x", labelsize=SMALL_PT)
    ax.spines[["top", "right"]].set_visible(False)
    for yy, note in zip(y, notes, strict=True):
        ax.annotate(note, xy=(1.02, yy), xycoords=("axes fraction", "data"), va="center",
                    fontsize=SMALL_PT)
    ax.set_title(title, fontsize=10, loc="left")
    return fig


def save_svg(fig: Figure, target: str | Path | IO[str]) -> None:
    """Write the figure as SVG, text kept as text (selectable), reproducible ids.

    A figure laid out here is drawn once as it is; any other is cropped to its content
    (``bbox_inches="tight"``).
    """
    import matplotlib as mpl

    crop = None if fig in _FIXED else "tight"
    with mpl.rc_context({"svg.hashsalt": "mst-report", "svg.fonttype": "none"}):
        fig.savefig(target, format="svg", bbox_inches=crop, metadata={"Date": None})


def svg(fig: Figure) -> str:
    """The figure as an inline SVG string (no XML header); text stays text (selectable)."""
    buf = io.StringIO()
    save_svg(fig, buf)
    text = buf.getvalue()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text

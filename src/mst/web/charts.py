"""Small server-side SVG charts (no JavaScript): time series with markers and thresholds."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Series:
    """One line: name, colour and dated values."""

    name: str
    color: str
    points: Sequence[tuple[dt.date, float]]


@dataclass(frozen=True)
class Marker:
    """A vertical marker at a date (e.g. infusion, recovery day)."""

    date: dt.date
    label: str
    color: str = "#555"


def _legend(
    items: Sequence[tuple[str, str]], x0: float, y0: float, width: float, title: str = ""
) -> tuple[list[str], float]:
    """Legend rows below the plot (never over the curves): SVG parts and the height used."""
    parts, x, y = [], x0, y0
    if title:
        parts.append(f'<text x="{x0}" y="{y0}" class="chart-legend">{escape(title)}:</text>')
        x += 7 * len(title) + 14
    for name, color in items:
        w = 7 * len(name) + 26
        if x + w > x0 + width and x > x0:
            x, y = x0, y + 15
        parts.append(
            f'<line x1="{x:.0f}" x2="{x + 14:.0f}" y1="{y - 4}" y2="{y - 4}" stroke="{color}" '
            f'stroke-width="3"/><text x="{x + 18:.0f}" y="{y}" fill="{color}" '
            f'class="chart-legend">{escape(name)}</text>'
        )
        x += w
    return parts, y - y0 + 15


def _date_ticks(d0: dt.date, d1: dt.date, n: int = 4) -> list[dt.date]:
    span = (d1 - d0).days
    if span <= 0:
        return [d0]
    k = min(n, span)
    return sorted({d0 + dt.timedelta(days=round(span * i / k)) for i in range(k + 1)})


def time_chart(
    series: Sequence[Series],
    *,
    title: str,
    unit: str,
    markers: Sequence[Marker] = (),
    thresholds: Sequence[tuple[float, str]] = (),
    log: bool = False,
    width: int = 640,
    height: int = 240,
) -> str:
    """Render a dated line chart as an inline SVG string.

    Layout: the title above the plot, the unit rotated along the y axis, dates below the
    axis (the first left-aligned and the last right-aligned, so none is cut off), marker
    labels staggered, and the legend below the plot so that it never covers a line.

    Parameters
    ----------
    series : sequence of Series
        Lines to draw (empty series are skipped).
    title, unit : str
        Chart title and y-axis unit.
    markers : sequence of Marker, optional
        Vertical date markers.
    thresholds : sequence of (float, str), optional
        Horizontal reference lines with labels.
    log : bool, optional
        Logarithmic y axis (values ≤ 0 are drawn at the floor).
    width, height : int, optional
        Size of the plot area plus margins, in pixels (the legend adds rows below).

    Returns
    -------
    str
        An ``<svg>`` element with ``role="img"`` and a title for screen readers.
    """
    pts = [p for s in series for p in s.points]
    left, right, top, bottom = 56, 16, 30, 24
    w, h = width - left - right, height - top - bottom
    title_el = f'<text x="{left}" y="18" class="chart-title">{escape(title)}</text>'
    if not pts:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
            f"<title>{escape(title)}</title>{title_el}"
            f'<text x="{left}" y="{top + h / 2}">no data</text></svg>'
        )
    dates = [d for d, _ in pts] + [m.date for m in markers]
    d0, d1 = min(dates), max(dates)
    span = max((d1 - d0).days, 1)
    values = [v for _, v in pts] + [t for t, _ in thresholds]
    if log:
        floor = min((v for v in values if v > 0), default=0.01) / 2
        lo, hi = math.log10(floor), math.log10(max(values + [floor * 10]))
    else:
        lo, hi = 0.0, max(values + [1e-9]) * 1.08

    def x(d: dt.date) -> float:
        return left + w * (d - d0).days / span

    def y(v: float) -> float:
        if log:
            v = math.log10(max(v, 10**lo))
        return top + h - h * (v - lo) / (hi - lo if hi > lo else 1)

    parts = [title_el, f'<rect x="{left}" y="{top}" width="{w}" height="{h}" class="chart-frame"/>']
    ticks = (
        [10**k for k in range(math.floor(lo), math.ceil(hi) + 1)]
        if log
        else [hi / 1.08 * f for f in (0, 0.5, 1)]
    )
    for t in ticks:
        if (log and lo <= math.log10(t) <= hi) or not log:
            parts.append(
                f'<text x="{left - 4}" y="{y(t) + 4:.1f}" class="chart-tick" '
                f'text-anchor="end">{t:g}</text>'
            )
    parts.append(
        f'<text x="14" y="{top + h / 2:.1f}" class="chart-tick" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + h / 2:.1f})">{escape(unit)}</text>'
    )
    date_ticks = _date_ticks(d0, d1)
    for i, tick in enumerate(date_ticks):
        anchor = "start" if i == 0 else "end" if i == len(date_ticks) - 1 else "middle"
        parts.append(
            f'<text x="{x(tick):.1f}" y="{top + h + 14}" class="chart-tick" '
            f'text-anchor="{anchor}">{tick.isoformat()}</text>'
        )
    for value, label in thresholds:
        parts.append(
            f'<line x1="{left}" x2="{left + w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'class="chart-threshold"/><text x="{left + w - 2}" y="{y(value) - 3:.1f}" '
            f'class="chart-tick" text-anchor="end">{escape(label)}</text>'
        )
    for i, m in enumerate(sorted(markers, key=lambda m: m.date)):
        near_end = x(m.date) > left + w - 60
        tx = x(m.date) + (-3 if near_end else 3)
        parts.append(
            f'<line x1="{x(m.date):.1f}" x2="{x(m.date):.1f}" y1="{top}" y2="{top + h}" '
            f'stroke="{m.color}" stroke-dasharray="4 3"/><text x="{tx:.1f}" '
            f'y="{top + 12 + 12 * (i % 3)}" class="chart-marker" fill="{m.color}" '
            f'text-anchor="{"end" if near_end else "start"}">{escape(m.label)}</text>'
        )
    drawn = [s for s in series if s.points]
    for s in drawn:
        path = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in sorted(s.points))
        parts.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="2"/>')
    legend, legend_h = _legend([(s.name, s.color) for s in drawn], left, height + 6, w)
    total = height + legend_h + 4
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {total:.0f}" width="{width}" height="{total:.0f}">'
        f"<title>{escape(title)}</title>"
    )
    return head + "".join(parts + legend) + "</svg>"


@dataclass(frozen=True)
class StepCurve:
    """A right-continuous step function (survival or cumulative incidence) with a CI band."""

    name: str
    color: str
    time: Sequence[float]
    value: Sequence[float]
    lower: Sequence[float] | None = None
    upper: Sequence[float] | None = None
    start: float = 1.0


def step_chart(
    curves: Sequence[StepCurve],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    x_max: float | None = None,
    note: str | None = None,
    legend_title: str = "",
    width: int = 640,
    height: int = 300,
) -> str:
    """Render step curves (Kaplan–Meier or cumulative incidence) with CI bands as SVG.

    Parameters
    ----------
    curves : sequence of StepCurve
        One per group; ``start`` is the value at time 0 (1 for survival, 0 for incidence).
    title, xlabel, ylabel : str
        Labels.
    x_max : float, optional
        Right end of the time axis (default: last time).
    note : str, optional
        Text shown right of the title, above the plot (e.g. the test's p-value).
    legend_title : str, optional
        What the groups are (e.g. "Donor sex"); the legend is drawn below the plot.
    width, height : int, optional
        Size in pixels.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    left, right, top, bottom = 56, 16, 30, 40
    w, h = width - left - right, height - top - bottom
    t_end = (
        x_max if x_max is not None else max((max(c.time, default=0.0) for c in curves), default=1.0)
    )
    t_end = max(float(t_end), 1e-9)

    def x(t: float) -> float:
        return left + w * min(t, t_end) / t_end

    def y(v: float) -> float:
        return top + h - h * v

    parts = [
        f'<text x="{left}" y="18" class="chart-title">{escape(title)}</text>',
        f'<rect x="{left}" y="{top}" width="{w}" height="{h}" class="chart-frame"/>',
    ]
    for v in (0, 0.25, 0.5, 0.75, 1):
        parts.append(
            f'<text x="{left - 4}" y="{y(v) + 4:.1f}" '
            f'class="chart-tick" text-anchor="end">{v:g}</text>'
        )
    for k in range(6):
        t = t_end * k / 5
        parts.append(
            f'<text x="{x(t):.1f}" y="{top + h + 14}" '
            f'class="chart-tick" text-anchor="middle">{t:.0f}</text>'
        )
    parts.append(
        f'<text x="{left + w / 2}" y="{height - 6}" '
        f'class="chart-tick" text-anchor="middle">{escape(xlabel)}</text>'
    )
    parts.append(
        f'<text x="14" y="{top + h / 2:.1f}" class="chart-tick" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + h / 2:.1f})">{escape(ylabel)}</text>'
    )
    if note:
        parts.append(
            f'<text x="{left + w}" y="18" class="chart-legend" text-anchor="end">'
            f"{escape(note)}</text>"
        )

    def steps(
        times: Sequence[float], values: Sequence[float], start: float
    ) -> list[tuple[float, float]]:
        pts = [(0.0, start)]
        prev = start
        for t, v in zip(times, values, strict=True):
            if t > t_end or v != v:
                break
            pts += [(t, prev), (t, v)]
            prev = v
        pts.append((t_end, prev))
        return pts

    for c in curves:
        if c.lower is not None and c.upper is not None:
            lo = steps(
                c.time, [v if v == v else c.value[j] for j, v in enumerate(c.lower)], c.start
            )
            up = steps(
                c.time, [v if v == v else c.value[j] for j, v in enumerate(c.upper)], c.start
            )
            poly = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in up + lo[::-1])
            parts.append(f'<polygon points="{poly}" fill="{c.color}" opacity="0.12"/>')
        line = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in steps(c.time, c.value, c.start))
        parts.append(f'<polyline points="{line}" fill="none" stroke="{c.color}" stroke-width="2"/>')
    legend, legend_h = _legend(
        [(c.name, c.color) for c in curves], left, height + 6, w, legend_title
    )
    total = height + legend_h + 4
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {total:.0f}" width="{width}" height="{total:.0f}">'
        f"<title>{escape(title)}</title>"
    )
    return head + "".join(parts + legend) + "</svg>"

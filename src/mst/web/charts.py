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


def time_chart(
    series: Sequence[Series],
    *,
    title: str,
    unit: str,
    markers: Sequence[Marker] = (),
    thresholds: Sequence[tuple[float, str]] = (),
    log: bool = False,
    width: int = 640,
    height: int = 220,
) -> str:
    """Render a dated line chart as an inline SVG string.

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
        Size in pixels.

    Returns
    -------
    str
        An ``<svg>`` element with ``role="img"`` and a title for screen readers.
    """
    pts = [p for s in series for p in s.points]
    left, right, top, bottom = 52, 12, 26, 34
    w, h = width - left - right, height - top - bottom
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f"<title>{escape(title)}</title>"
        f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>'
    )
    if not pts:
        return head + f'<text x="{left}" y="{top + h / 2}">no data</text></svg>'
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

    parts = [head, f'<rect x="{left}" y="{top}" width="{w}" height="{h}" class="chart-frame"/>']
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
    parts.append(f'<text x="4" y="{top - 6}" class="chart-tick">{escape(unit)}</text>')
    for label_date in (d0, d1):
        parts.append(
            f'<text x="{x(label_date):.1f}" y="{height - 12}" class="chart-tick" '
            f'text-anchor="middle">{label_date.isoformat()}</text>'
        )
    for value, label in thresholds:
        parts.append(
            f'<line x1="{left}" x2="{left + w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'class="chart-threshold"/><text x="{left + w - 2}" y="{y(value) - 3:.1f}" '
            f'class="chart-tick" text-anchor="end">{escape(label)}</text>'
        )
    for m in markers:
        parts.append(
            f'<line x1="{x(m.date):.1f}" x2="{x(m.date):.1f}" y1="{top}" y2="{top + h}" '
            f'stroke="{m.color}" stroke-dasharray="4 3"/><text x="{x(m.date) + 3:.1f}" '
            f'y="{top + 12}" class="chart-marker" fill="{m.color}">{escape(m.label)}</text>'
        )
    for i, s in enumerate(series):
        if not s.points:
            continue
        path = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in sorted(s.points))
        parts.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="2"/>')
        parts.append(
            f'<text x="{left + 8 + 110 * i}" y="{top + h - 6}" fill="{s.color}" '
            f'class="chart-legend">{escape(s.name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


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
        Text shown in the top-right corner (e.g. the test's p-value).
    width, height : int, optional
        Size in pixels.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    left, right, top, bottom = 52, 14, 28, 40
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
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}"><title>{escape(title)}</title>',
        f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>',
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
    parts.append(f'<text x="6" y="{top - 8}" class="chart-tick">{escape(ylabel)}</text>')
    if note:
        parts.append(
            f'<text x="{left + w - 4}" y="{top + 14}" '
            f'class="chart-legend" text-anchor="end">{escape(note)}</text>'
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

    for i, c in enumerate(curves):
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
        parts.append(
            f'<text x="{left + 8}" y="{top + 16 + 14 * i}" fill="{c.color}" class="chart-legend">'
            f"{escape(c.name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)

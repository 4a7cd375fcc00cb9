"""Per-patient donor-chimerism time series: first positive, peak, persistence, conversion.

A sample is *positive* when it is at or above the limit of detection
(:class:`~mst.monitoring.chimerism.limits.ChimerismValue` with
``below_lod = False``). Persistence is the number of days from the first to
the last positive sample (003 Results: microchimerism detected from 14 days to
6 months; 004 §2.5: median persistence 10.5 months). Negative conversion is the
first negative sample after the last positive one, provided no positive sample
follows it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

SOURCE = "004 §2.5; 002 Methods (monitor until negative); 003 Results"


@dataclasses.dataclass(frozen=True, slots=True)
class ChimerismCourse:
    """Summary of a patient's donor-chimerism series."""

    n_samples: int
    n_positive: int
    first_positive: dt.date | None
    peak_date: dt.date | None
    peak_pct: float | None
    last_positive: dt.date | None
    persistence_days: int | None
    negative_conversion: dt.date | None
    still_positive: bool
    source: str = SOURCE


def summarize_series(samples: Iterable[tuple[dt.date, float | None]]) -> ChimerismCourse:
    """Summarize a chimerism series.

    Parameters
    ----------
    samples : iterable of (date, percent or None)
        One entry per sample; ``None`` means below the limit of detection
        (reported "< LoD"). Unsorted input is sorted by date.

    Returns
    -------
    ChimerismCourse
    """
    rows = sorted(samples, key=lambda s: s[0])
    pos = [(d, v) for d, v in rows if v is not None]
    if not pos:
        return ChimerismCourse(len(rows), 0, None, None, None, None, None, None, False)
    first, last = pos[0][0], pos[-1][0]
    peak_date, peak = max(pos, key=lambda s: (s[1], -s[0].toordinal()))
    after = [d for d, v in rows if d > last and v is None]
    conversion = after[0] if after else None
    return ChimerismCourse(
        n_samples=len(rows),
        n_positive=len(pos),
        first_positive=first,
        peak_date=peak_date,
        peak_pct=peak,
        last_positive=last,
        persistence_days=(last - first).days,
        negative_conversion=conversion,
        still_positive=conversion is None,
    )

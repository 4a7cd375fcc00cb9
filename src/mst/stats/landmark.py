"""Landmark analysis: compare groups defined by what happened before a fixed landmark time.

Patients who died or were censored before the landmark are excluded, the exposure (e.g.
the number of MST courses received) is frozen at the landmark, and follow-up restarts
there. This removes the immortal time bias of classifying patients by exposures they could
only receive by surviving (002 "Limitations"); the price is that exposures after the
landmark are ignored (use :func:`mst.stats.timedep.split_at_times` for a time-dependent
analysis instead).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mst.errors import ValidationError


def landmark_table(
    data: pd.DataFrame,
    *,
    landmark: float,
    time: str,
    event: str,
    id: str | None = None,
    times: Mapping[Any, Sequence[float]] | None = None,
    name: str = "courses",
) -> pd.DataFrame:
    """Patients still under follow-up at ``landmark``, with time reset to the landmark.

    Parameters
    ----------
    data : DataFrame
        One row per patient.
    landmark : float
        Landmark time (same scale as ``time``), > 0.
    time, event : str
        Follow-up time and event columns.
    id : str, optional
        Patient id column (needed with ``times``).
    times : mapping, optional
        Patient id → exposure times (e.g. course start days); the column ``name`` then
        counts the exposures at or before the landmark.
    name : str
        Name of that count column.

    Returns
    -------
    DataFrame
        The rows with ``time > landmark`` and two new columns ``lm_time`` (= time -
        landmark) and ``lm_event`` (= event), plus ``name`` when ``times`` is given.
    """
    if not np.isfinite(landmark) or landmark <= 0:
        raise ValidationError("landmark", landmark, "must be a finite time > 0")
    for c in (time, event) + ((id,) if id else ()):
        if c not in data.columns:
            raise ValidationError("column", c, "not in the data")
    t = pd.to_numeric(data[time], errors="coerce")
    keep = (t > landmark).to_numpy()
    out = data.loc[keep].copy()
    out["lm_time"] = t[keep].to_numpy() - landmark
    out["lm_event"] = data.loc[keep, event].to_numpy()
    if times is not None:
        if id is None:
            raise ValidationError("id", None, "an id column is needed with times")
        out[name] = [_n_at_or_before(times.get(pid, ()), landmark) for pid in out[id].to_numpy()]
    if out.empty:
        raise ValidationError("landmark", landmark, "no patient is still at risk at the landmark")
    return out.reset_index(drop=True)


def _n_at_or_before(times: Any, landmark: float) -> int:
    """How many of ``times`` are <= ``landmark`` (as floats; NaN never counts)."""
    if isinstance(times, list | tuple) and all(type(d) is float for d in times):
        return sum(1 for d in times if d <= landmark)  # the common case, without numpy
    return int(np.sum(np.asarray(times, dtype=float) <= landmark))

"""Time-dependent covariates: split follow-up into ``(start, stop]`` rows at course starts.

Seed 002 compares patients by the number of MST courses they received ("more than three
courses"), but a patient has to survive long enough to receive a fourth course: counting
courses over the whole follow-up credits the survival that made them possible to the
courses (immortal time bias, 002 "Limitations"). Splitting each patient's follow-up at the
start of each course, with a covariate that counts the courses received so far, gives each
period of follow-up the exposure the patient actually had then; fit the result with
:func:`mst.stats.cox_model.cox` using ``start``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mst.domain import PatientRecord
from mst.errors import ValidationError
from mst.io.frame_ops import positions

if TYPE_CHECKING:
    from mst.io.frames import CohortFrames


def course_days(
    records: Iterable[PatientRecord], origin: Mapping[str, dt.date | None] | None = None
) -> dict[str, list[float]]:
    """Days from the time origin to the start of each course, per patient.

    Parameters
    ----------
    records : iterable of PatientRecord
        The patients (e.g. ``simulate_cohort(...).records``).
    origin : mapping, optional
        Patient id → origin date (e.g. the CR date for LFS). Default: the diagnosis date,
        the origin of ``os_days`` in the flat table.

    Returns
    -------
    dict
        Patient id → sorted day offsets of course starts (courses before the origin are
        kept as negative offsets; patients without an origin get no entry).
    """
    from mst.io.frames import frames_from_records

    return course_days_from_frames(frames_from_records(records), origin)


def course_days_from_frames(
    frames: CohortFrames, origin: Mapping[str, dt.date | None] | None = None
) -> dict[str, list[float]]:
    """:func:`course_days` of a cohort's frames (the one implementation).

    Parameters
    ----------
    frames : mst.io.frames.CohortFrames
        The cohort.
    origin : mapping, optional
        As for :func:`course_days`.

    Returns
    -------
    dict
        Patient id → sorted day offsets of course starts.
    """
    p, courses = frames.patients, frames.courses
    ids = p["id"].to_numpy(dtype=object)
    if origin is None:
        o = p["diagnosis_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    else:
        o = np.array([origin.get(pid) for pid in ids], dtype="datetime64[D]")
    pos = positions(p, courses)
    start = courses["start_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    keep = pos >= 0
    pos, start = pos[keep], start[keep]
    days = (start - o[pos]).astype(np.int64).astype(float)
    order = np.lexsort((days, pos))
    pos, days = pos[order], days[order]
    cuts = np.searchsorted(pos, np.arange(len(ids) + 1))
    has_origin = ~np.isnat(o)
    return {str(ids[i]): days[cuts[i]:cuts[i + 1]].tolist()
            for i in range(len(ids)) if has_origin[i]}


def split_at_times(
    data: pd.DataFrame,
    times: Mapping[Any, Sequence[float]],
    *,
    id: str,
    time: str,
    event: str,
    name: str = "courses",
    start: str | None = None,
) -> pd.DataFrame:
    """Counting-process rows with a covariate counting the dated exposures received so far.

    Parameters
    ----------
    data : DataFrame
        One row per patient with the follow-up time and event (e.g. ``os_days``,
        ``os_event``) and any baseline covariates (copied to every row).
    times : mapping
        Patient id → times (same scale and origin as ``time``) at which the count rises by
        one, e.g. :func:`course_days`. Times <= the entry time count from the start; times
        at or after the end of follow-up are ignored.
    id, time, event : str
        Columns of ``data``.
    name : str
        Name of the counting covariate.
    start : str, optional
        Entry-time column (left truncation); default 0.

    Returns
    -------
    DataFrame
        Columns of ``data`` plus ``tstart``, ``tstop``, ``status`` and ``name``; one row per
        interval ``(tstart, tstop]``, the event only on the last row of each patient.
        A time equal to a cut point belongs to the interval that ends there, so a course
        started on day ``d`` counts from ``(d, next]`` on.
    """
    for c in (id, time, event) + ((start,) if start else ()):
        if c not in data.columns:
            raise ValidationError("column", c, "not in the data")
    if data[id].duplicated().any():
        dup = data.loc[data[id].duplicated(), id].iloc[0]
        raise ValidationError(id, dup, "one row per patient is required")
    stop = pd.to_numeric(data[time], errors="coerce").to_numpy(dtype=np.float64)
    entry = (
        pd.to_numeric(data[start], errors="coerce").to_numpy(dtype=np.float64)
        if start
        else np.zeros(len(data))
    )
    ev = pd.to_numeric(data[event], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(stop) | ~np.isfinite(entry) | ~np.isfinite(ev)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(
            f"{time}/{event} (row {i + 1})", data[id].iloc[i], "time and event must not be missing"
        )
    if np.any(stop <= entry):
        i = int(np.flatnonzero(stop <= entry)[0])
        raise ValidationError(
            f"{time} (row {i + 1})", float(stop[i]), "follow-up must end after the entry time"
        )
    n = len(data)
    given = [np.asarray(times.get(pid, ()), dtype=np.float64) for pid in data[id].to_numpy()]
    lens = np.array([g.size for g in given], dtype=np.int64)
    ri = np.repeat(np.arange(n, dtype=np.int64), lens)
    tv = np.concatenate(given) if given else np.zeros(0)
    order = np.lexsort((tv, ri))
    ri, tv = ri[order], tv[order]
    # courses at or before the entry count from the start of follow-up
    at_entry = np.bincount(ri[tv <= entry[ri]], minlength=n) if ri.size else np.zeros(n, int)
    # each distinct course time strictly inside (entry, stop) opens an interval; the count of
    # courses received from then on includes every course given up to that time
    row_first = np.searchsorted(ri, np.arange(n))
    last_of_value = np.ones(ri.size, dtype=bool)
    last_of_value[:-1] = (ri[1:] != ri[:-1]) | (tv[1:] != tv[:-1])
    cut = last_of_value & (tv > entry[ri]) & (tv < stop[ri])
    cut_idx = np.flatnonzero(cut)
    c_row = ri[cut_idx]
    rows = np.concatenate([np.arange(n, dtype=np.int64), c_row])
    tstart = np.concatenate([entry, tv[cut_idx]])
    counts = np.concatenate([at_entry, cut_idx - row_first[c_row] + 1]).astype(np.int64)
    o = np.lexsort((tstart, rows))
    rows, tstart, counts = rows[o], tstart[o], counts[o]
    last = np.ones(rows.size, dtype=bool)
    last[:-1] = rows[1:] != rows[:-1]
    tstop = np.empty(rows.size, dtype=np.float64)
    tstop[:-1] = tstart[1:]
    tstop[last] = stop[rows[last]]
    status = np.where(last, ev[rows], 0).astype(np.int64)
    long = pd.DataFrame({"_row": rows, "tstart": tstart, "tstop": tstop, "status": status,
                         name: counts})
    base = data.reset_index(drop=True).drop(
        columns=[c for c in ("tstart", "tstop", "status", name) if c in data.columns]
    )
    out = base.iloc[long["_row"].to_numpy()].reset_index(drop=True)
    return pd.concat([out, long.drop(columns="_row")], axis=1)

"""Hematopoietic recovery after one MST course (002 Study endpoints).

Rule (002 "Study endpoints", after Guo et al., Blood 2011): the aplasia window
starts on the first of three consecutive days with ANC < 2 × 10⁹/L **and**
platelets < 100 × 10⁹/L after chemotherapy; it ends (recovery) on the first of
three consecutive days with ANC > 0.5 × 10⁹/L **and** platelets > 30 × 10⁹/L.
Neutrophil recovery (ANC > 0.5 on three consecutive days) and platelet
recovery (platelets > 30 on three consecutive days) are also reported apart.

Project reading: a recovery is looked for only after the counts have fallen
to or below the recovery thresholds on or after the aplasia start (otherwise
the first days of the aplasia window, when counts are still falling, would
count as "recovery"). When they never fell, no recovery date is given and the
``*_fell`` flag is False.

"Consecutive days" are consecutive *calendar* days that each carry a
measurement: a day without a value breaks the run, and every such gap inside
the observed period is reported. When several values exist on one day, the
last one given is used.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mst.domain import PatientRecord
from mst.domain.analytes import to_canonical
from mst.errors import ValidationError
from mst.io import frame_ops as ops
from mst.io.frames import CohortFrames, frames_from_records
from mst.monitoring._data import load

SOURCE = "002 Study endpoints"
COUNT_UNIT = "10^9/L"


@dataclasses.dataclass(frozen=True, slots=True)
class CourseRecovery:
    """Recovery of one course.

    Attributes
    ----------
    aplasia_start : date or None
        First of three consecutive days with ANC < 2 and platelets < 100 on or
        after the last chemotherapy day.
    recovery_date : date or None
        First of three consecutive days with ANC > 0.5 and platelets > 30 after
        ``aplasia_start`` (the end point of 002).
    neutrophil_recovery_date, platelet_recovery_date : date or None
        First of three consecutive days with ANC > 0.5 (platelets > 30) after
        ``aplasia_start``.
    recovery_days_from_aplasia : int or None
        ``recovery_date - aplasia_start`` in days (duration of aplasia, the 002 definition).
    recovery_days_from_chemo_start, neutrophil_days_from_chemo_start,
    platelet_days_from_chemo_start : int or None
        Days from the first chemotherapy day (one reading of how 002 reports
        "12 days after induction chemotherapy").
    neutrophil_days_from_chemo_end, platelet_days_from_chemo_end : int or None
        The same counted from the last chemotherapy day (002 does not say which
        day it counts from; both are exposed).
    counts_fell, anc_fell, platelets_fell : bool
        Whether the counts fell to or below the recovery thresholds after
        ``aplasia_start`` (a recovery is searched only after such a fall; when
        they never fell, the recovery date is None and the flag is False).
    gaps : tuple of (date, date)
        Runs of missing calendar days (first, last) between the first and the
        last measurement on or after the chemotherapy start, plus single days
        on which only one of the two counts was measured (such a day cannot
        satisfy the joint rule).
    source : str
        Citation of the rule.
    """

    chemo_start: dt.date
    chemo_end: dt.date
    aplasia_start: dt.date | None
    recovery_date: dt.date | None
    neutrophil_recovery_date: dt.date | None
    platelet_recovery_date: dt.date | None
    recovery_days_from_aplasia: int | None
    recovery_days_from_chemo_start: int | None
    neutrophil_days_from_chemo_start: int | None
    platelet_days_from_chemo_start: int | None
    neutrophil_days_from_chemo_end: int | None
    platelet_days_from_chemo_end: int | None
    gaps: tuple[tuple[dt.date, dt.date], ...]
    counts_fell: bool = False
    anc_fell: bool = False
    platelets_fell: bool = False
    source: str = SOURCE

    def to_dict(self) -> dict[str, Any]:
        """Plain dictionary (dates stay ``date`` objects)."""
        return dataclasses.asdict(self)


def _as_date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise ValidationError(field, value, "must be an ISO date (YYYY-MM-DD)") from None
    if hasattr(value, "astype") and str(getattr(value, "dtype", "")).startswith("datetime64"):
        return dt.date.fromisoformat(str(value)[:10])
    raise ValidationError(field, value, "must be a date")


def _as_value(value: Any, field: str) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValidationError(field, value, "must be a number") from None
    if math.isnan(v):
        return None
    if v < 0 or math.isinf(v):
        raise ValidationError(field, value, "must be a finite number >= 0")
    return v


def _series(dates: Iterable[Any], values: Iterable[Any], name: str) -> dict[dt.date, float]:
    out: dict[dt.date, float] = {}
    ds, vs = list(dates), list(values)
    if len(ds) != len(vs):
        raise ValidationError(f"{name}", len(vs), f"needs one value per date ({len(ds)} dates)")
    for i, (d, v) in enumerate(zip(ds, vs, strict=True)):
        day = _as_date(d, f"{name}[{i}].date")
        val = _as_value(v, f"{name}[{i}]")
        if val is not None:
            # counts are in 10^9/L: a value outside the analyte's plausible range (e.g. ANC 1500,
            # platelets 90000 given in cells/µL) is refused, naming the likely unit
            to_canonical(name, val, COUNT_UNIT, f"{name}[{i}]")
            out[day] = val
    return out


def _split(series: Any, dates: Sequence[Any] | None, name: str) -> dict[dt.date, float]:
    if series is None:
        return {}
    if dates is None:
        if hasattr(series, "index") and hasattr(series, "to_numpy"):
            return _series(list(series.index), list(series.to_numpy()), name)
        if isinstance(series, dict):
            return _series(list(series.keys()), list(series.values()), name)
        raise ValidationError(
            name, type(series).__name__, "without dates must be a pandas Series or a dict"
        )
    return _series(dates, series, name)


def _first_run(
    g: np.ndarray, day: np.ndarray, ok: np.ndarray, frm: np.ndarray, run: int
) -> np.ndarray:
    """Per group: the first day of the first run of ``run`` ok days on consecutive calendar
    days, among the group's days on or after ``frm[group]`` (a day not ok, or a calendar day
    without a value, breaks the run); :data:`ops.NONE` when there is none.

    ``g``/``day`` are sorted by group, then day (one row per group and day)."""
    out = np.full(len(frm), ops.NONE, dtype=np.int64)
    keep = (frm[g] != ops.NONE) & (day >= frm[g])
    g, day, ok = g[keep], day[keep], ok[keep]
    if len(g) == 0:
        return out
    cont = np.zeros(len(g), dtype=bool)
    cont[1:] = ok[1:] & ok[:-1] & (g[1:] == g[:-1]) & (np.diff(day) == 1)
    idx = np.arange(len(g))
    run_start = np.maximum.accumulate(np.where(ok & ~cont, idx, -1))
    hit = ok & (idx - run_start + 1 >= run)
    np.minimum.at(out, g[hit], day[run_start[hit]])
    return out


def _after_fall(
    g: np.ndarray, day: np.ndarray, ok: np.ndarray, frm: np.ndarray, run: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per group: the first run (as :func:`_first_run`) after the first day that is not ok on or
    after ``frm[group]``, and whether such a day (a fall) exists."""
    fall = np.full(len(frm), ops.NONE, dtype=np.int64)
    down = ~ok & (frm[g] != ops.NONE) & (day >= frm[g])
    np.minimum.at(fall, g[down], day[down])
    return _first_run(g, day, ok, fall, run), fall != ops.NONE


def recovery_rule(
    group: np.ndarray,
    day: np.ndarray,
    anc: np.ndarray,
    platelets: np.ndarray,
    chemo_end: np.ndarray,
) -> dict[str, np.ndarray]:
    """The 002 recovery rule applied to many courses at once (the one implementation).

    Parameters
    ----------
    group : numpy.ndarray
        Course index (0 … m−1) of each row; rows sorted by course, then day, one per day.
    day : numpy.ndarray
        Day numbers (days since 1970-01-01) of the rows.
    anc, platelets : numpy.ndarray
        Counts in 10⁹/L on that day (NaN when not measured).
    chemo_end : numpy.ndarray
        Per course: day number of the last chemotherapy day (the aplasia window is searched
        from this day on).

    Returns
    -------
    dict of str to numpy.ndarray
        Per course: ``aplasia_start``, ``recovery_date``, ``neutrophil_recovery_date``,
        ``platelet_recovery_date`` (day numbers, :data:`mst.io.frame_ops.NONE` when not
        reached) and the flags ``counts_fell``, ``anc_fell``, ``platelets_fell``.
    """
    p = load("recovery")
    run = int(p["run_length_days"])
    has_a, has_p = ~np.isnan(anc), ~np.isnan(platelets)
    both = has_a & has_p
    gb, db, ab, pb = group[both], day[both], anc[both], platelets[both]
    aplasia = (ab < p["aplasia_anc_lt"]) & (pb < p["aplasia_platelets_lt"])
    ap_start = _first_run(gb, db, aplasia, chemo_end, run)
    joint = (ab > p["recovery_anc_gt"]) & (pb > p["recovery_platelets_gt"])
    rec_date, f_joint = _after_fall(gb, db, joint, ap_start, run)
    neut, f_anc = _after_fall(
        group[has_a], day[has_a], anc[has_a] > p["recovery_anc_gt"], ap_start, run
    )
    plt_date, f_plt = _after_fall(
        group[has_p], day[has_p], platelets[has_p] > p["recovery_platelets_gt"], ap_start, run
    )
    return {
        "aplasia_start": ap_start,
        "recovery_date": rec_date,
        "neutrophil_recovery_date": neut,
        "platelet_recovery_date": plt_date,
        "counts_fell": f_joint,
        "anc_fell": f_anc,
        "platelets_fell": f_plt,
    }


def _date_of(day: int) -> dt.date | None:
    return None if day == ops.NONE else dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def _day_of(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def course_recovery(
    anc: Any,
    platelets: Any,
    chemo_start: Any,
    chemo_end: Any | None = None,
    *,
    dates: Sequence[Any] | None = None,
    platelet_dates: Sequence[Any] | None = None,
    until: Any | None = None,
) -> CourseRecovery:
    """Apply the 002 recovery rule to the counts of one course.

    Parameters
    ----------
    anc, platelets : pandas.Series, dict or sequence
        Absolute neutrophil count and platelets in 10⁹/L. A date-indexed
        pandas Series or a ``{date: value}`` dict; or plain sequences with the
        dates given in ``dates`` (and ``platelet_dates`` when the platelet dates
        differ). NaN/None values are treated as missing.
    chemo_start : date or ISO string
        First chemotherapy day of the course (day 1).
    chemo_end : date or ISO string, optional
        Last chemotherapy day; the aplasia window is searched from this day
        on ("after chemotherapy"). Defaults to ``chemo_start``.
    dates, platelet_dates : sequence of dates, optional
        Dates of the values when ``anc``/``platelets`` are plain sequences.
    until : date, optional
        Ignore values after this day (e.g. the start of the next course).

    Returns
    -------
    CourseRecovery

    Raises
    ------
    mst.errors.ValidationError
        On unparseable dates, negative values, or ``chemo_end`` before ``chemo_start``.
    """
    start = _as_date(chemo_start, "chemo_start")
    end = _as_date(chemo_end, "chemo_end") if chemo_end is not None else start
    if end < start:
        raise ValidationError("chemo_end", end, f"must not be before chemo_start ({start})")
    a = _split(anc, dates, "anc")
    pl = _split(platelets, platelet_dates if platelet_dates is not None else dates, "platelets")
    stop = _as_date(until, "until") if until is not None else None
    if stop is not None:
        a = {d: v for d, v in a.items() if d <= stop}
        pl = {d: v for d, v in pl.items() if d <= stop}
    days = sorted(set(a) | set(pl))
    res = recovery_rule(
        np.zeros(len(days), dtype=np.int64),
        np.array([_day_of(d) for d in days], dtype=np.int64),
        np.array([a.get(d, np.nan) for d in days], dtype=float),
        np.array([pl.get(d, np.nan) for d in days], dtype=float),
        np.array([_day_of(end)], dtype=np.int64),
    )
    ap_start = _date_of(res["aplasia_start"][0])
    rec_date = _date_of(res["recovery_date"][0])
    neut_date = _date_of(res["neutrophil_recovery_date"][0])
    plt_date = _date_of(res["platelet_recovery_date"][0])
    fell = tuple(bool(res[k][0]) for k in ("counts_fell", "anc_fell", "platelets_fell"))
    observed = sorted(d for d in set(a) | set(pl) if d >= start)
    gaps: list[tuple[dt.date, dt.date]] = []
    for prev, nxt in itertools.pairwise(observed):
        if (nxt - prev).days > 1:
            gaps.append((prev + dt.timedelta(days=1), nxt - dt.timedelta(days=1)))
    missing_one = sorted((set(a) ^ set(pl)) & set(observed))
    for d in missing_one:  # a day with only one of the two counts cannot satisfy the joint rule
        gaps.append((d, d))
    gaps.sort()

    def days(x: dt.date | None, ref: dt.date | None) -> int | None:
        return None if x is None or ref is None else (x - ref).days

    return CourseRecovery(
        chemo_start=start,
        chemo_end=end,
        aplasia_start=ap_start,
        recovery_date=rec_date,
        neutrophil_recovery_date=neut_date,
        platelet_recovery_date=plt_date,
        recovery_days_from_aplasia=days(rec_date, ap_start),
        recovery_days_from_chemo_start=days(rec_date, start),
        neutrophil_days_from_chemo_start=days(neut_date, start),
        platelet_days_from_chemo_start=days(plt_date, start),
        neutrophil_days_from_chemo_end=days(neut_date, end),
        platelet_days_from_chemo_end=days(plt_date, end),
        gaps=tuple(gaps),
        counts_fell=fell[0],
        anc_fell=fell[1],
        platelets_fell=fell[2],
    )


def _course_counts(
    frames: CohortFrames, numbers: tuple[int, ...] | None = None,
    ix: ops.FrameIndex | None = None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Courses and their counts, as :func:`recovery_rule` takes them.

    Each course uses the patient's ``anc`` and ``platelets`` values from its start up to the
    day before the next course (by number) starts, or all later values for the last course;
    the last value given on a day counts.

    Returns
    -------
    tuple
        The selected course rows (``numbers``, default all; columns of the courses frame plus
        ``pos``, ``start``, ``end`` day numbers), then the count arrays group, day, anc,
        platelets and the per-course chemotherapy end.
    """
    from mst.cohort.endpoints import last_chemo_days

    ix = ops.FrameIndex(frames) if ix is None else ix
    courses, labs = frames.courses, frames.labs
    cpos = ix.positions("courses")
    cnum = courses["number"].to_numpy(dtype="float64", na_value=np.nan)
    order = np.lexsort((cnum, cpos))
    order = order[cpos[order] >= 0]
    cstart = ix.days("courses", "start_date")[order]
    cend = last_chemo_days(frames)[order]
    opos = cpos[order]
    sel = np.ones(len(order), dtype=bool) if numbers is None else np.isin(cnum[order], numbers)
    chosen = courses.iloc[order[sel]].reset_index(drop=True)
    chosen["pos"], chosen["start"], chosen["end"] = opos[sel], cstart[sel], cend[sel]
    # course slot of every count: the patient's last course (by number) started on or before it
    m = ix.isin("labs", "analyte", ("anc", "platelets"))
    lpos = ix.positions("labs")[m]
    lday = ix.days("labs", "date")[m]
    lval = labs["value"].to_numpy(dtype=float)[m]
    is_anc = ix.isin("labs", "analyte", ("anc",))[m]
    shift = np.int64(1) << np.int64(32)
    ckey = opos * shift + (cstart + (1 << 31))
    lkey = lpos * shift + (lday + (1 << 31))
    slot = np.searchsorted(ckey, lkey, side="right") - 1
    ok = (lpos >= 0) & (slot >= 0)
    ok[ok] &= opos[slot[ok]] == lpos[ok]
    group_of_slot = np.full(len(order), -1, dtype=np.int64)
    group_of_slot[np.flatnonzero(sel)] = np.arange(int(sel.sum()))
    g = np.where(ok, group_of_slot[np.maximum(slot, 0)], -1)
    ok &= g >= 0
    g, lday, lval, is_anc = g[ok], lday[ok], lval[ok], is_anc[ok]
    # the last value given on a day counts: keep the last row of each (course, day, analyte)
    idx = np.arange(len(g))
    o = np.lexsort((idx, is_anc, lday, g))
    g, lday, lval, is_anc = g[o], lday[o], lval[o], is_anc[o]
    last = np.ones(len(g), dtype=bool)
    last[:-1] = (g[1:] != g[:-1]) | (lday[1:] != lday[:-1]) | (is_anc[1:] != is_anc[:-1])
    g, lday, lval, is_anc = g[last], lday[last], lval[last], is_anc[last]
    key = g * shift + (lday + (1 << 31))
    uniq, inv = np.unique(key, return_inverse=True)
    anc = np.full(len(uniq), np.nan)
    plt = np.full(len(uniq), np.nan)
    anc[inv[is_anc]] = lval[is_anc]
    plt[inv[~is_anc]] = lval[~is_anc]
    ug = uniq // shift
    uday = uniq - ug * shift - (1 << 31)
    return chosen, ug, uday, anc, plt, chosen["end"].to_numpy(dtype=np.int64)


def courses_recovery(
    frames: CohortFrames,
    numbers: tuple[int, ...] | None = None,
    index: ops.FrameIndex | None = None,
) -> pd.DataFrame:
    """The 002 recovery rule for every course of a cohort (or the courses numbered ``numbers``).

    Parameters
    ----------
    frames : mst.io.frames.CohortFrames
        A validated cohort.
    numbers : tuple of int, optional
        Course numbers to evaluate (default: all).
    index : mst.io.frame_ops.FrameIndex, optional
        Positions and day numbers of ``frames`` when the caller has them.

    Returns
    -------
    pandas.DataFrame
        One row per course (ordered by patient row, then course number): ``patient_pos``
        (patient row), ``patient_id``, ``number``, ``chemo_start``, ``chemo_end``, the dates of
        :class:`CourseRecovery` (``datetime64[ns]``), the ``*_days_from_*`` durations
        (``Int64``) and the ``*_fell`` flags. Gaps are given by :func:`record_recovery` only.
    """
    chosen, g, day, anc, plt, end = _course_counts(frames, numbers, index)
    res = recovery_rule(g, day, anc, plt, end)
    start = chosen["start"].to_numpy(dtype=np.int64)

    def days(x: np.ndarray, ref: np.ndarray) -> pd.Series:
        return pd.Series(pd.array(x - ref, dtype="Int64")).where(x != ops.NONE)

    return pd.DataFrame({
        "patient_pos": chosen["pos"].to_numpy(),
        "patient_id": chosen["patient_id"].to_numpy(dtype=object),
        "number": chosen["number"].to_numpy(),
        "chemo_start": ops.to_datetime(start),
        "chemo_end": ops.to_datetime(end),
        **{k: ops.to_datetime(res[k]) for k in ("aplasia_start", "recovery_date",
                                                  "neutrophil_recovery_date",
                                                  "platelet_recovery_date")},
        "recovery_days_from_aplasia": days(res["recovery_date"], res["aplasia_start"]),
        "recovery_days_from_chemo_start": days(res["recovery_date"], start),
        "neutrophil_days_from_chemo_start": days(res["neutrophil_recovery_date"], start),
        "platelet_days_from_chemo_start": days(res["platelet_recovery_date"], start),
        "neutrophil_days_from_chemo_end": days(res["neutrophil_recovery_date"], end),
        "platelet_days_from_chemo_end": days(res["platelet_recovery_date"], end),
        "counts_fell": res["counts_fell"],
        "anc_fell": res["anc_fell"],
        "platelets_fell": res["platelets_fell"],
    })


def record_recovery(record: PatientRecord) -> dict[int, CourseRecovery]:
    """Apply :func:`course_recovery` to every course of a registry record.

    Each course uses the ``anc`` and ``platelets`` lab values from its start
    up to the day before the next course starts (or all later values for the
    last course); the aplasia window is searched from the course's last
    chemotherapy day (:attr:`mst.domain.Course.last_chemo_date`). The courses and their
    counts are selected as for the whole cohort (:func:`courses_recovery`).

    Parameters
    ----------
    record : mst.domain.PatientRecord

    Returns
    -------
    dict
        Course number → :class:`CourseRecovery`.
    """
    chosen, g, day, anc, plt, _ = _course_counts(frames_from_records([record]))
    out: dict[int, CourseRecovery] = {}
    for k, row in chosen.iterrows():
        m = g == k
        dates = [_date_of(d) for d in day[m]]
        a = {d: v for d, v in zip(dates, anc[m], strict=True) if not np.isnan(v)}
        p = {d: v for d, v in zip(dates, plt[m], strict=True) if not np.isnan(v)}
        out[int(row["number"])] = course_recovery(
            a, p, _date_of(int(row["start"])), _date_of(int(row["end"]))
        )
    return out

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

from mst.domain import PatientRecord
from mst.domain.analytes import to_canonical
from mst.errors import ValidationError
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
    days: list[dt.date], ok: dict[dt.date, bool], start: dt.date, run: int
) -> dt.date | None:
    count = 0
    first: dt.date | None = None
    prev: dt.date | None = None
    for d in days:
        if d < start:
            continue
        if ok.get(d, False) and (prev is not None and (d - prev).days == 1 and count > 0):
            count += 1
        elif ok.get(d, False):
            count, first = 1, d
        else:
            count, first = 0, None
        prev = d
        if count >= run:
            return first
    return None


def _after_fall(
    days: list[dt.date], ok: dict[dt.date, bool], start: dt.date, run: int
) -> tuple[dt.date | None, bool]:
    """First run of ``run`` consecutive ok days after the first not-ok day on/after ``start``."""
    fall = next((d for d in days if d >= start and not ok[d]), None)
    if fall is None:
        return None, False
    return _first_run(days, ok, fall, run), True


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
    p = load("recovery")
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
    run = int(p["run_length_days"])
    both = sorted(d for d in set(a) & set(pl) if d >= end)
    aplasia = {d: a[d] < p["aplasia_anc_lt"] and pl[d] < p["aplasia_platelets_lt"] for d in both}
    rec = {d: a[d] > p["recovery_anc_gt"] and pl[d] > p["recovery_platelets_gt"] for d in both}
    ap_start = _first_run(both, aplasia, end, run)
    rec_date = neut_date = plt_date = None
    fell = (False, False, False)
    if ap_start is not None:
        rec_date, f_joint = _after_fall(both, rec, ap_start, run)
        a_days = sorted(a)
        neut_date, f_anc = _after_fall(
            a_days, {d: a[d] > p["recovery_anc_gt"] for d in a_days}, ap_start, run
        )
        p_days = sorted(pl)
        plt_date, f_plt = _after_fall(
            p_days, {d: pl[d] > p["recovery_platelets_gt"] for d in p_days}, ap_start, run
        )
        fell = (f_joint, f_anc, f_plt)
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


def record_recovery(record: PatientRecord) -> dict[int, CourseRecovery]:
    """Apply :func:`course_recovery` to every course of a registry record.

    Each course uses the ``anc`` and ``platelets`` lab values from its start
    up to the day before the next course starts (or all later values for the
    last course); the aplasia window is searched from the course's last
    chemotherapy day (:attr:`mst.domain.Course.last_chemo_date`).

    Parameters
    ----------
    record : mst.domain.PatientRecord

    Returns
    -------
    dict
        Course number → :class:`CourseRecovery`.
    """
    anc: dict[dt.date, float] = {}
    plt: dict[dt.date, float] = {}
    for lab in sorted(record.labs, key=lambda x: x.date):
        if lab.analyte == "anc":
            anc[lab.date] = lab.value
        elif lab.analyte == "platelets":
            plt[lab.date] = lab.value
    courses = sorted(record.courses, key=lambda c: c.number)
    out: dict[int, CourseRecovery] = {}
    for k, c in enumerate(courses):
        stop = courses[k + 1].start_date - dt.timedelta(days=1) if k + 1 < len(courses) else None
        a = {d: v for d, v in anc.items() if d >= c.start_date and (stop is None or d <= stop)}
        p = {d: v for d, v in plt.items() if d >= c.start_date and (stop is None or d <= stop)}
        out[c.number] = course_recovery(a, p, c.start_date, c.last_chemo_date)
    return out

"""Per-patient study endpoints (seed 002 "Study endpoints", 004 §4.3).

* CR: the first response in CR, CR MRD−, CRh or CRi reached after at most two
  induction-type courses (induction, re-induction), 004 §4.3;
* early death: death within 28 days of the first chemotherapy start (day 28 counts);
* OS: diagnosis → death (event) or last follow-up (censored);
* LFS: CR → relapse or death (event) or last follow-up (censored);
* cumulative incidence of relapse (CIR) and non-relapse mortality (NRM): from CR, status
  1 = relapse first, 2 = death without relapse (competing), 0 = censored.

Relapse is a hematologic relapse after CR: a ``relapse`` clinical event or a ``relapse``
response assessment (an ``MRD_relapse`` alone is not counted, ELN 2022). When the last
follow-up date is missing, the latest dated record stands for it. The thresholds are in
``mst/data/simulate/endpoint_definitions.yaml``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml

from mst.domain import CourseKind, EventKind, PatientRecord, ResponseCategory
from mst.io import frame_ops as ops
from mst.io.frames import CohortFrames, frames_from_records

_INDUCTION_KINDS = (CourseKind.INDUCTION, CourseKind.REINDUCTION)
_CR_CATEGORIES = tuple(c.value for c in ResponseCategory if c.is_complete_remission)


@dataclass(frozen=True)
class EndpointRules:
    """Thresholds of the endpoint definitions, with their sources."""

    early_death_days: int
    max_inductions_for_cr: int
    courses_gt: int
    days_per_month: float
    age_groups: tuple[tuple[str, int, int], ...]
    age_bands: tuple[tuple[str, int, int], ...]
    sources: dict[str, str]


@lru_cache(maxsize=1)
def endpoint_rules() -> EndpointRules:
    """Load ``endpoint_definitions.yaml``."""
    text = (
        resources.files("mst.data")
        .joinpath("simulate/endpoint_definitions.yaml")
        .read_text("utf-8")
    )
    raw: dict[str, Any] = yaml.safe_load(text)

    def groups(key: str) -> tuple[tuple[str, int, int], ...]:
        return tuple((g["label"], int(g["min"]), int(g["max"])) for g in raw[key]["value"])

    return EndpointRules(
        early_death_days=int(raw["early_death_days"]["value"]),
        max_inductions_for_cr=int(raw["max_inductions_for_cr"]["value"]),
        courses_gt=int(raw["courses_gt"]["value"]),
        days_per_month=float(raw["days_per_month"]["value"]),
        age_groups=groups("age_groups"),
        age_bands=groups("age_bands"),
        sources={k: str(v["source"]) for k, v in raw.items() if isinstance(v, dict)},
    )


def _labels(ages: np.ndarray, groups: tuple[tuple[str, int, int], ...]) -> np.ndarray:
    ages = np.asarray(ages, dtype=float)
    out = np.full(len(ages), None, dtype=object)
    for label, lo, hi in reversed(groups):  # the first matching group wins
        out[(ages >= lo) & (ages <= hi)] = label
    return out


def age_groups(ages: np.ndarray | pd.Series) -> np.ndarray:
    """Seed 002 age group of each age (``None`` for a missing age); see :func:`age_group`."""
    return _labels(np.asarray(ages, dtype=float), endpoint_rules().age_groups)


def age_bands(ages: np.ndarray | pd.Series) -> np.ndarray:
    """Consensus age band of each age (``None`` for a missing age); see :func:`age_band`."""
    return _labels(np.asarray(ages, dtype=float), endpoint_rules().age_bands)


def _one(label: object, age: int) -> str:
    if label is None:  # pragma: no cover - the groups cover 0-200
        raise ValueError(f"age {age} outside every group")
    return str(label)


def age_group(age: int) -> str:
    """Seed 002 age group: ``<60``, ``60-70`` (60 and 70 included) or ``>70``."""
    return _one(age_groups(np.array([age]))[0], age)


def age_band(age: int) -> str:
    """Consensus age band (004 §3–4): ``<60``, ``60-74`` or ``>=75``."""
    return _one(age_bands(np.array([age]))[0], age)


@dataclass(frozen=True)
class Endpoints:
    """Derived endpoints of one patient (dates, flags, times in days)."""

    first_chemo_date: dt.date | None
    n_courses: int
    cr: bool
    cr_date: dt.date | None
    inductions_to_cr: int | None
    early_death: bool | None
    death: bool
    death_date: dt.date | None
    death_cause: str | None
    relapse: bool | None
    relapse_date: dt.date | None
    last_followup_date: dt.date
    os_days: int
    os_event: int
    lfs_days: int | None
    lfs_event: int | None
    crs_days: int | None
    crs_status: int | None


#: Columns of :func:`endpoints_frame`, with their dtypes (the fields of :class:`Endpoints`).
ENDPOINT_COLUMNS: dict[str, str] = {
    "first_chemo_date": "datetime64[ns]",
    "n_courses": "Int64",
    "cr": "boolean",
    "cr_date": "datetime64[ns]",
    "inductions_to_cr": "Int64",
    "early_death": "boolean",
    "death": "boolean",
    "death_date": "datetime64[ns]",
    "death_cause": "object",
    "relapse": "boolean",
    "relapse_date": "datetime64[ns]",
    "last_followup_date": "datetime64[ns]",
    "os_days": "Int64",
    "os_event": "Int64",
    "lfs_days": "Int64",
    "lfs_event": "Int64",
    "crs_days": "Int64",
    "crs_status": "Int64",
}


def last_chemo_days(frames: CohortFrames) -> np.ndarray:
    """Day number of each course's last chemotherapy day (:attr:`mst.domain.Course.last_chemo_date`:
    start + last administered day − 1; the start when no dose is recorded), in course row order."""
    courses, admins = frames.courses, frames.administrations
    start = ops.day_numbers(courses["start_date"])
    if len(courses) == 0:
        return start
    if len(admins) == 0:
        return start
    last = admins.groupby(["patient_id", "course_number"], sort=False)["day"].max()
    key = pd.MultiIndex.from_arrays([courses["patient_id"], courses["number"]])
    day = last.reindex(key).to_numpy(dtype="float64", na_value=np.nan)
    day = np.where(np.isnan(day), 1, day).astype(np.int64)
    return np.where(start == ops.NONE, ops.NONE, start + day - 1)


def _latest(lfu: np.ndarray, dated: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The last-follow-up rule: the recorded date, else the latest of the dated records.

    ``lfu`` holds each patient's last follow-up day (:data:`ops.NONE` when missing); ``dated``
    the (patient position, day) pairs of the records that count (:func:`last_known_dates`).
    """
    missing = lfu == ops.NONE
    if not missing.any():
        return lfu
    pos = np.concatenate([d[0] for d in dated])
    days = np.concatenate([d[1] for d in dated])
    keep = pos >= 0
    keep[keep] &= missing[pos[keep]] & (days[keep] != ops.NONE)
    latest = ops.group_max(len(lfu), pos[keep], days[keep])
    return np.where(missing, latest, lfu)


def _last_known_days(frames: CohortFrames, ix: ops.FrameIndex | None = None) -> np.ndarray:
    ix = ops.FrameIndex(frames) if ix is None else ix
    lfu = ix.days("patients", "last_followup_date")
    if not (lfu == ops.NONE).any():
        return lfu
    cpos = ix.positions("courses")
    dated = [(np.arange(ix.n), ix.days("patients", "diagnosis_date")),
             (cpos, ix.days("courses", "start_date")),
             (cpos, last_chemo_days(frames))]
    for name, col in (("infusions", "infused_at"), ("labs", "date"), ("events", "date"),
                      ("responses", "date")):
        dated.append((ix.positions(name), ix.days(name, col)))
    return _latest(lfu, dated)


_EPOCH = dt.date(1970, 1, 1).toordinal()


def _days_of(dates: list[dt.date]) -> tuple[np.ndarray, np.ndarray]:
    return (np.zeros(len(dates), dtype=np.int64),
            np.array([d.toordinal() - _EPOCH for d in dates], dtype=np.int64))


def last_known_dates(frames: CohortFrames) -> pd.Series:
    """Per patient (in patient row order): the last follow-up date, or the latest dated record
    (diagnosis, course starts and last chemotherapy days, infusions, labs, events, responses)
    when it is missing."""
    return ops.to_datetime(_last_known_days(frames))


def last_known_date(rec: PatientRecord) -> dt.date:
    """The last follow-up date, or the latest dated record when it is missing (the rule of
    :func:`last_known_dates`, on the dates of one record)."""
    p = rec.patient
    lfu = np.array([ops.NONE if p.last_followup_date is None
                    else p.last_followup_date.toordinal() - _EPOCH], dtype=np.int64)
    dated = [
        _days_of([p.diagnosis_date]),
        _days_of([c.start_date for c in rec.courses]),
        _days_of([c.last_chemo_date for c in rec.courses]),
        _days_of([x.infused_at.date() for x in rec.infusions]),
        _days_of([x.date for x in rec.labs]),
        _days_of([x.date for x in rec.events]),
        _days_of([x.date for x in rec.responses]),
    ]
    return dt.date.fromordinal(int(_latest(lfu, dated)[0]) + _EPOCH)


def endpoints_frame(frames: CohortFrames, index: ops.FrameIndex | None = None) -> pd.DataFrame:
    """Derive the study endpoints of every patient at once (the rules of the module docstring).

    Parameters
    ----------
    frames : mst.io.frames.CohortFrames
        A validated cohort.
    index : mst.io.frame_ops.FrameIndex, optional
        Positions and day numbers of ``frames`` when the caller has them.

    Returns
    -------
    pandas.DataFrame
        One row per patient in patient row order (RangeIndex), the columns and dtypes of
        :data:`ENDPOINT_COLUMNS`.
    """
    ix = ops.FrameIndex(frames) if index is None else index
    rules = endpoint_rules()
    p = frames.patients
    n = len(p)
    courses, responses, events = frames.courses, frames.responses, frames.events

    cpos = ix.positions("courses")
    cstart = ix.days("courses", "start_date")
    cnum = courses["number"].to_numpy(dtype="float64", na_value=np.nan)
    n_courses = np.bincount(cpos[cpos >= 0], minlength=n)
    first_course = ops.first_row(n, cpos, np.lexsort((cnum, cpos)))
    first_chemo = ops.pick(cstart, first_course, ops.NONE)

    # CR: the first CR-type response on or after the first induction-type course start counts
    # when at most `max_inductions_for_cr` induction-type courses started on or before it
    is_ind = courses["kind"].isin([k.value for k in _INDUCTION_KINDS]).to_numpy()
    ipos, istart = cpos[is_ind & (cpos >= 0)], cstart[is_ind & (cpos >= 0)]
    first_ind = ops.group_min(n, ipos, istart)
    rpos = ix.positions("responses")
    rday = ix.days("responses", "date")
    rcat = responses["category"].to_numpy(dtype=object)
    ok = rpos >= 0
    cand = ok & np.isin(rcat, _CR_CATEGORIES)
    cand[cand] &= (first_ind[rpos[cand]] != ops.NONE) & (rday[cand] >= first_ind[rpos[cand]])
    cand_day = ops.group_min(n, rpos[cand], rday[cand])
    k = np.bincount(ipos[istart <= cand_day[ipos]], minlength=n)
    has_cr = (cand_day != ops.NONE) & (k <= rules.max_inductions_for_cr)
    cr_day = np.where(has_cr, cand_day, ops.NONE)

    epos = ix.positions("events")
    eday = ix.days("events", "date")
    ekind = events["kind"].to_numpy(dtype=object)
    is_death = (ekind == EventKind.DEATH.value) & (epos >= 0)
    death_row = ops.first_row(n, np.where(is_death, epos, -1))
    died = death_row >= 0
    death_day = ops.pick(eday, death_row, ops.NONE)
    cause = np.full(n, None, dtype=object)
    if died.any():
        cause[died] = events["cause"].to_numpy(dtype=object)[death_row[died]]

    lfu = np.where(died, death_day, _last_known_days(frames, ix))
    has_course = first_chemo != ops.NONE
    early = died & (death_day - np.where(has_course, first_chemo, 0) <= rules.early_death_days)

    # relapse after CR: a relapse event or a relapse response dated after the CR
    rel_ev = (ekind == EventKind.RELAPSE.value) & (epos >= 0)
    rel_ev[rel_ev] &= eday[rel_ev] > cr_day[epos[rel_ev]]
    rel_rs = (rcat == ResponseCategory.RELAPSE.value) & ok
    rel_rs[rel_rs] &= rday[rel_rs] > cr_day[rpos[rel_rs]]
    relapse_day = ops.group_min(
        n,
        np.concatenate([epos[rel_ev], rpos[rel_rs]]),
        np.concatenate([eday[rel_ev], rday[rel_rs]]),
    )
    relapsed = has_cr & (relapse_day != ops.NONE)
    end = np.where(relapsed, relapse_day, np.where(died, death_day, lfu))
    lfs_days = np.where(has_cr, end - np.where(has_cr, cr_day, 0), 0)
    lfs_event = (relapsed | died).astype(np.int64)
    crs_status = np.where(relapsed, 1, np.where(died, 2, 0))
    diag = ix.days("patients", "diagnosis_date")

    def nullable(values: np.ndarray, mask: np.ndarray, dtype: str) -> pd.Series:
        return pd.Series(pd.array(values, dtype=dtype)).where(mask)

    return pd.DataFrame({
        "first_chemo_date": ops.to_datetime(first_chemo),
        "n_courses": pd.Series(n_courses, dtype="Int64"),
        "cr": pd.Series(has_cr, dtype="boolean"),
        "cr_date": ops.to_datetime(cr_day),
        "inductions_to_cr": nullable(k, has_cr, "Int64"),
        "early_death": nullable(early, has_course, "boolean"),
        "death": pd.Series(died, dtype="boolean"),
        "death_date": ops.to_datetime(death_day),
        "death_cause": pd.Series(cause, dtype="object"),
        "relapse": nullable(relapsed, has_cr, "boolean"),
        "relapse_date": ops.to_datetime(np.where(relapsed, relapse_day, ops.NONE)),
        "last_followup_date": ops.to_datetime(lfu),
        "os_days": pd.Series(lfu - diag, dtype="Int64"),
        "os_event": pd.Series(died.astype(np.int64), dtype="Int64"),
        "lfs_days": nullable(lfs_days, has_cr, "Int64"),
        "lfs_event": nullable(lfs_event, has_cr, "Int64"),
        "crs_days": nullable(lfs_days, has_cr, "Int64"),
        "crs_status": nullable(crs_status, has_cr, "Int64"),
    }, columns=list(ENDPOINT_COLUMNS))


def _date(value: Any) -> dt.date | None:
    return None if pd.isna(value) else value.date()


def _int(value: Any) -> int | None:
    return None if pd.isna(value) else int(value)


def _bool(value: Any) -> bool | None:
    return None if pd.isna(value) else bool(value)


def patient_endpoints(rec: PatientRecord) -> Endpoints:
    """Derive the study endpoints of one patient (:func:`endpoints_frame` of its record).

    Parameters
    ----------
    rec : mst.domain.PatientRecord
        A (consistent) patient record.

    Returns
    -------
    Endpoints
        See the module docstring for the definitions.
    """
    row = endpoints_frame(frames_from_records([rec])).iloc[0]
    return Endpoints(
        first_chemo_date=_date(row["first_chemo_date"]),
        n_courses=int(row["n_courses"]),
        cr=bool(row["cr"]),
        cr_date=_date(row["cr_date"]),
        inductions_to_cr=_int(row["inductions_to_cr"]),
        early_death=_bool(row["early_death"]),
        death=bool(row["death"]),
        death_date=_date(row["death_date"]),
        death_cause=row["death_cause"],
        relapse=_bool(row["relapse"]),
        relapse_date=_date(row["relapse_date"]),
        last_followup_date=row["last_followup_date"].date(),
        os_days=int(row["os_days"]),
        os_event=int(row["os_event"]),
        lfs_days=_int(row["lfs_days"]),
        lfs_event=_int(row["lfs_event"]),
        crs_days=_int(row["crs_days"]),
        crs_status=_int(row["crs_status"]),
    )

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

import yaml

from mst.domain import CourseKind, EventKind, PatientRecord, ResponseCategory

_INDUCTION_KINDS = (CourseKind.INDUCTION, CourseKind.REINDUCTION)


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


def _label(age: int, groups: tuple[tuple[str, int, int], ...]) -> str:
    for label, lo, hi in groups:
        if lo <= age <= hi:
            return label
    raise ValueError(f"age {age} outside every group")  # pragma: no cover - groups cover 0-200


def age_group(age: int) -> str:
    """Seed 002 age group: ``<60``, ``60-70`` (60 and 70 included) or ``>70``."""
    return _label(age, endpoint_rules().age_groups)


def age_band(age: int) -> str:
    """Consensus age band (004 §3–4): ``<60``, ``60-74`` or ``>=75``."""
    return _label(age, endpoint_rules().age_bands)


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


def last_known_date(rec: PatientRecord) -> dt.date:
    """The last follow-up date, or the latest dated record when it is missing."""
    p = rec.patient
    if p.last_followup_date is not None:
        return p.last_followup_date
    dates = [p.diagnosis_date]
    dates += [c.start_date for c in rec.courses] + [c.last_chemo_date for c in rec.courses]
    dates += [x.infused_at.date() for x in rec.infusions]
    dates += (
        [x.date for x in rec.labs] + [x.date for x in rec.events] + [x.date for x in rec.responses]
    )
    return max(dates)


def patient_endpoints(rec: PatientRecord) -> Endpoints:
    """Derive the study endpoints of one patient.

    Parameters
    ----------
    rec : mst.domain.PatientRecord
        A (consistent) patient record.

    Returns
    -------
    Endpoints
        See the module docstring for the definitions.
    """
    rules = endpoint_rules()
    p = rec.patient
    courses = sorted(rec.courses, key=lambda c: c.number)
    first_chemo = courses[0].start_date if courses else None
    induction_starts = sorted(c.start_date for c in courses if c.kind in _INDUCTION_KINDS)

    cr_date: dt.date | None = None
    inductions_to_cr: int | None = None
    if induction_starts:
        for r in sorted(rec.responses, key=lambda r: r.date):
            if r.date < induction_starts[0] or not r.category.is_complete_remission:
                continue
            k = sum(1 for s in induction_starts if s <= r.date)
            if k <= rules.max_inductions_for_cr:
                cr_date, inductions_to_cr = r.date, k
            break

    death = rec.death
    death_date = death.date if death is not None else None
    lfu = death_date if death_date is not None else last_known_date(rec)
    early = None
    if first_chemo is not None:
        early = death_date is not None and (death_date - first_chemo).days <= rules.early_death_days

    relapse_date: dt.date | None = None
    relapse: bool | None = None
    lfs_days = lfs_event = crs_days = crs_status = None
    if cr_date is not None:
        dates = [e.date for e in rec.events if e.kind is EventKind.RELAPSE and e.date > cr_date]
        dates += [
            r.date
            for r in rec.responses
            if r.category is ResponseCategory.RELAPSE and r.date > cr_date
        ]
        relapse_date = min(dates) if dates else None
        relapse = relapse_date is not None
        if relapse_date is not None:
            lfs_days, lfs_event = (relapse_date - cr_date).days, 1
            crs_days, crs_status = lfs_days, 1
        elif death_date is not None:
            lfs_days, lfs_event = (death_date - cr_date).days, 1
            crs_days, crs_status = lfs_days, 2
        else:
            lfs_days, lfs_event = (lfu - cr_date).days, 0
            crs_days, crs_status = lfs_days, 0

    return Endpoints(
        first_chemo_date=first_chemo,
        n_courses=len(courses),
        cr=cr_date is not None,
        cr_date=cr_date,
        inductions_to_cr=inductions_to_cr,
        early_death=early,
        death=death_date is not None,
        death_date=death_date,
        death_cause=death.cause.value if death is not None and death.cause is not None else None,
        relapse=relapse,
        relapse_date=relapse_date,
        last_followup_date=lfu,
        os_days=(lfu - p.diagnosis_date).days,
        os_event=int(death_date is not None),
        lfs_days=lfs_days,
        lfs_event=lfs_event,
        crs_days=crs_days,
        crs_status=crs_status,
    )

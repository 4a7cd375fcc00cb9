"""Shared builders for the monitoring tests: the seed 002 GVHD case and small records."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from mst.domain import (
    ClinicalEvent,
    Course,
    Donor,
    Infusion,
    LabResult,
    Patient,
    PatientRecord,
)

PID = "P002-GVHD"
DX = dt.date(2012, 1, 10)
# Course k starts ~3 months apart (002 Methods); infusion 24 h after the last cytarabine.
STARTS = [DX + dt.timedelta(days=5 + 90 * k) for k in range(4)]
INF4 = STARTS[3] + dt.timedelta(days=7)


def day(n: int) -> dt.date:
    """Day n after the 4th infusion."""
    return INF4 + dt.timedelta(days=n)


def lab(d: dt.date, analyte: str, value: float, unit: str) -> LabResult:
    return LabResult(patient_id=PID, date=d, analyte=analyte, value=value, unit=unit)


def ev(d: dt.date, kind: str, **kw: Any) -> ClinicalEvent:
    return ClinicalEvent(patient_id=PID, date=d, kind=kind, **kw)


def record(
    labs: list[LabResult] = (), events: list[ClinicalEvent] = (), n_courses: int = 4
) -> PatientRecord:
    courses = tuple(
        Course(
            patient_id=PID,
            number=k + 1,
            kind="induction" if k == 0 else "consolidation",
            regimen_id="IA" if k == 0 else "ID-AraC",
            start_date=STARTS[k],
        )
        for k in range(n_courses)
    )
    infusions = tuple(
        Infusion(
            patient_id=PID,
            course_number=k + 1,
            donor_id="D-daughter",
            infused_at=dt.datetime.combine(STARTS[k] + dt.timedelta(days=7), dt.time(10)),
            mnc_1e8_per_kg=3.84,
            cd34_1e6_per_kg=3.21,
            cd3_1e8_per_kg=0.76,
            product="fresh" if k == 0 else "cryopreserved",
        )
        for k in range(n_courses)
    )
    rec = PatientRecord(
        patient=Patient(
            id=PID, center_id="C1", sex="F", age_at_diagnosis=62, diagnosis="AML", diagnosis_date=DX
        ),
        donors=(Donor(id="D-daughter", patient_id=PID, relationship="child", sex="F", age=28),),
        courses=courses,
        infusions=infusions,
        labs=tuple(labs),
        events=tuple(events),
    )
    rec.check_consistency()
    return rec


def seed002_case() -> PatientRecord:
    """002 Results: chimerism negative → 7.973% → 25.809% within a week after the 4th MST,
    high fever, rash, diarrhea, severe hyperbilirubinemia; death at day 44 after the 4th MST."""
    labs = [
        lab(STARTS[3] - dt.timedelta(days=3), "donor_chimerism", 0.0, "%"),  # negative
        lab(day(0), "alt", 30, "U/L"),
        lab(day(0), "bilirubin", 0.8, "mg/dL"),
        lab(day(4), "donor_chimerism", 7.973, "%"),
        lab(day(7), "donor_chimerism", 25.809, "%"),
        lab(day(9), "alt", 210, "U/L"),
        lab(day(9), "bilirubin", 16.0, "mg/dL"),
    ]
    labs += [lab(day(n), "temperature", 39.4, "C") for n in range(3, 15)]
    events = [
        ev(day(3), "fever"),
        ev(day(5), "rash"),
        ev(day(6), "diarrhea"),
        ev(day(10), "gvhd", grade=4),
        ev(day(44), "death", cause="gvhd"),
    ]
    return record(labs, events)


@pytest.fixture
def cases() -> SimpleNamespace:
    """Builders: ``record``, ``lab``, ``ev``, ``day`` and ``seed002_case``."""
    return SimpleNamespace(
        record=record, lab=lab, ev=ev, day=day, seed002_case=seed002_case, PID=PID
    )

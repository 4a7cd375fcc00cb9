"""Immune reconstitution before vs after courses (003 Results)."""

from __future__ import annotations

import datetime as dt

import pytest

from mst.domain import Course, Donor, Infusion, LabResult, Patient, PatientRecord
from mst.monitoring.immune import immune_changes, summarize_immune

PID = "MM-01"
S1, S2 = dt.date(2023, 1, 10), dt.date(2023, 4, 10)


def _lab(d: dt.date, a: str, v: float) -> LabResult:
    return LabResult(patient_id=PID, date=d, analyte=a, value=v, unit="%")


def _record(labs: list[LabResult]) -> PatientRecord:
    courses = tuple(
        Course(patient_id=PID, number=i + 1, kind="consolidation", regimen_id="x", start_date=s)
        for i, s in enumerate((S1, S2))
    )
    infs = tuple(
        Infusion(
            patient_id=PID,
            course_number=i + 1,
            donor_id="D1",
            infused_at=dt.datetime.combine(s + dt.timedelta(days=3), dt.time(9)),
            mnc_1e8_per_kg=2.5,
            product="fresh",
        )
        for i, s in enumerate((S1, S2))
    )
    return PatientRecord(
        patient=Patient(
            id=PID,
            center_id="C1",
            sex="M",
            age_at_diagnosis=58,
            diagnosis="myeloma",
            diagnosis_date=dt.date(2022, 12, 1),
        ),
        donors=(Donor(id="D1", patient_id=PID, relationship="sibling", sex="M", age=50),),
        courses=courses,
        infusions=infs,
        labs=tuple(labs),
    )


def test_before_after_windows_and_ratio() -> None:
    labs = [
        _lab(S1 - dt.timedelta(days=31), "cd3_pct", 10),  # outside the 30-day window
        _lab(S1 - dt.timedelta(days=30), "cd3_pct", 50),  # edge: inside
        _lab(S1 - dt.timedelta(days=2), "cd4_pct", 20),
        _lab(S1 - dt.timedelta(days=2), "cd8_pct", 40),
        _lab(S1 + dt.timedelta(days=3), "cd3_pct", 99),  # infusion day: not "after"
        _lab(S1 + dt.timedelta(days=40), "cd3_pct", 60),
        _lab(S1 + dt.timedelta(days=40), "cd4_pct", 30),
        _lab(S1 + dt.timedelta(days=40), "cd8_pct", 30),
        _lab(S2 + dt.timedelta(days=1), "cd3_pct", 70),  # belongs to course 2
    ]
    rows = {(c.course_number, c.analyte): c for c in immune_changes(_record(labs))}
    assert (rows[1, "cd3_pct"].before, rows[1, "cd3_pct"].after) == (50, 60)
    assert rows[1, "cd4_cd8_ratio"].before == pytest.approx(0.5)
    assert rows[1, "cd4_cd8_ratio"].after == pytest.approx(1.0)
    assert rows[1, "cd4_cd8_ratio"].change == pytest.approx(0.5)
    assert rows[1, "nk_pct"].change is None
    assert rows[2, "cd3_pct"].before is None


def test_summary_medians() -> None:
    labs = [
        _lab(S1 - dt.timedelta(days=1), "cd3_pct", 40),
        _lab(S1 + dt.timedelta(days=20), "cd3_pct", 55),
        _lab(S2 - dt.timedelta(days=1), "cd3_pct", 50),
        _lab(S2 + dt.timedelta(days=20), "cd3_pct", 45),
    ]
    summ = {s.analyte: s for s in summarize_immune(immune_changes(_record(labs)))}
    cd3 = summ["cd3_pct"]
    assert cd3.n_pairs == 2 and cd3.n_increased == 1
    # course 1: before 40, after 50 (the last value before course 2 is also "after course 1");
    # course 2: before 50, after 45 -> medians 45, 47.5, change median (10 - 5)/2 = 2.5
    assert cd3.median_before == 45 and cd3.median_after == 47.5 and cd3.median_change == 2.5
    assert summ["nk_pct"].n_pairs == 0 and summ["nk_pct"].median_before is None

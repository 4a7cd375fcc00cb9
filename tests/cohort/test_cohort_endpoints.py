"""Per-patient endpoints on hand-built records: boundaries of every rule (002, 004 §4.3)."""

from __future__ import annotations

import datetime as dt

import pytest

from mst.cohort import age_band, age_group, patient_endpoints
from mst.cohort.endpoints import endpoint_rules
from mst.domain import (
    ClinicalEvent,
    Course,
    CourseKind,
    DeathCause,
    Diagnosis,
    EventKind,
    Patient,
    PatientRecord,
    ResponseAssessment,
    ResponseCategory,
    Sex,
)

DX = dt.date(2020, 1, 1)
PID = "C01-0001"


def d(day: int) -> dt.date:
    return DX + dt.timedelta(days=day)


def record(
    courses: list[tuple[int, str]] = ((2, "induction"),),  # type: ignore[assignment]
    responses: list[tuple[int, str]] = (),  # type: ignore[assignment]
    relapse: int | None = None,
    death: int | None = None,
    lfu: int | None = 400,
    cause: str = "relapse",
) -> PatientRecord:
    cs = tuple(
        Course(
            patient_id=PID, number=i, kind=CourseKind(kind), regimen_id="002-IA", start_date=d(day)
        )
        for i, (day, kind) in enumerate(courses, 1)
    )
    rs = tuple(
        ResponseAssessment(patient_id=PID, date=d(day), category=ResponseCategory(cat))
        for day, cat in responses
    )
    ev: list[ClinicalEvent] = []
    if relapse is not None:
        ev.append(ClinicalEvent(patient_id=PID, date=d(relapse), kind=EventKind.RELAPSE))
    if death is not None:
        ev.append(
            ClinicalEvent(
                patient_id=PID, date=d(death), kind=EventKind.DEATH, cause=DeathCause(cause)
            )
        )
        lfu = death
    p = Patient(
        id=PID,
        center_id="C01",
        sex=Sex.FEMALE,
        age_at_diagnosis=68,
        diagnosis=Diagnosis.AML,
        diagnosis_date=DX,
        last_followup_date=None if lfu is None else d(lfu),
    )
    rec = PatientRecord(patient=p, courses=cs, responses=rs, events=tuple(ev))
    rec.check_consistency()
    return rec


@pytest.mark.parametrize(
    ("start", "death", "early"),
    [
        (2, 2 + 27, True),
        (2, 2 + 28, True),  # day 28 after chemotherapy start: still early (within 4 weeks)
        (2, 2 + 29, False),
        (10, 10 + 28, True),
        (10, 10 + 29, False),
    ],
)
def test_early_death_boundary(start: int, death: int, early: bool) -> None:
    e = patient_endpoints(record(courses=[(start, "induction")], death=death))
    assert e.early_death is early
    assert e.death and e.os_event == 1 and e.os_days == death


def test_no_chemotherapy_means_early_death_undefined() -> None:
    e = patient_endpoints(record(courses=[], death=20))
    assert e.early_death is None
    assert e.first_chemo_date is None
    assert e.n_courses == 0


@pytest.mark.parametrize(
    ("courses", "responses", "cr", "inductions"),
    [
        ([(2, "induction")], [(35, "CR")], True, 1),
        ([(2, "induction")], [(35, "CR_MRD-")], True, 1),
        ([(2, "induction")], [(35, "CRh")], True, 1),
        ([(2, "induction")], [(35, "CRi")], True, 1),
        ([(2, "induction")], [(35, "MLFS")], False, None),
        ([(2, "induction")], [(35, "PR")], False, None),
        ([(2, "induction")], [(35, "refractory")], False, None),
        ([(2, "induction"), (45, "reinduction")], [(35, "PR"), (80, "CR")], True, 2),
        # a third induction-type course: a CR after it does not count (004 §4.3)
        (
            [(2, "induction"), (45, "reinduction"), (90, "reinduction")],
            [(35, "PR"), (80, "PR"), (120, "CR")],
            False,
            None,
        ),
        # CR after the second induction but before the third course starts still counts
        (
            [(2, "induction"), (45, "reinduction"), (90, "reinduction")],
            [(35, "PR"), (80, "CRi")],
            True,
            2,
        ),
        # a response before any course is not a treatment response
        ([(10, "induction")], [(5, "CR")], False, None),
    ],
)
def test_cr_definition(courses, responses, cr, inductions) -> None:  # type: ignore[no-untyped-def]
    e = patient_endpoints(record(courses=courses, responses=responses))
    assert e.cr is cr
    assert e.inductions_to_cr == inductions
    if not cr:
        assert e.lfs_days is None and e.crs_status is None and e.relapse is None


@pytest.mark.parametrize(
    ("relapse", "death", "lfu", "lfs", "lfs_event", "crs_status", "os_days"),
    [
        (200, 300, None, 200 - 35, 1, 1, 300),  # relapse then death: relapse first
        (None, 300, None, 300 - 35, 1, 2, 300),  # death without relapse: NRM
        (None, None, 400, 400 - 35, 0, 0, 400),  # alive in CR: censored
        (200, None, 400, 200 - 35, 1, 1, 400),  # relapse, alive
        (20, None, 400, 400 - 35, 0, 0, 400),  # relapse before CR is not a relapse after CR
    ],
)
def test_lfs_and_competing_risks(relapse, death, lfu, lfs, lfs_event, crs_status, os_days) -> None:  # type: ignore[no-untyped-def]
    courses = [(2, "induction")]
    rec = record(courses=courses, responses=[(35, "CR")], relapse=relapse, death=death, lfu=lfu)
    e = patient_endpoints(rec)
    assert e.cr
    assert (e.lfs_days, e.lfs_event, e.crs_status) == (lfs, lfs_event, crs_status)
    assert e.crs_days == e.lfs_days
    assert e.os_days == os_days
    assert e.relapse is (relapse is not None and relapse > 35)


def test_relapse_response_counts_as_relapse() -> None:
    rec = record(responses=[(35, "CR"), (150, "relapse")])
    e = patient_endpoints(rec)
    assert e.relapse and e.relapse_date == d(150) and e.crs_status == 1


def test_mrd_relapse_alone_is_not_a_relapse() -> None:
    e = patient_endpoints(record(responses=[(35, "CR"), (150, "MRD_relapse")]))
    assert e.relapse is False and e.crs_status == 0


def test_missing_last_followup_uses_latest_record() -> None:
    e = patient_endpoints(record(responses=[(35, "CR"), (150, "CR")], lfu=None))
    assert e.last_followup_date == d(150)
    assert e.os_days == 150 and e.os_event == 0


@pytest.mark.parametrize(
    ("age", "group", "band"),
    [
        (45, "<60", "<60"),
        (59, "<60", "<60"),
        (60, "60-70", "60-74"),
        (70, "60-70", "60-74"),
        (71, ">70", "60-74"),
        (74, ">70", "60-74"),
        (75, ">70", ">=75"),
        (85, ">70", ">=75"),
    ],
)
def test_age_groups(age: int, group: str, band: str) -> None:
    assert age_group(age) == group
    assert age_band(age) == band


def test_rules_cite_sources() -> None:
    rules = endpoint_rules()
    assert rules.early_death_days == 28
    assert rules.max_inductions_for_cr == 2
    assert "002" in rules.sources["early_death_days"]
    assert "004 §4.3" in rules.sources["max_inductions_for_cr"]

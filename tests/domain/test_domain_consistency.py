"""Cross-record rules of PatientRecord.check_consistency, at their boundaries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from mst.domain import ClinicalEvent, Course, Infusion, LabResult, PatientRecord, ResponseAssessment
from mst.errors import ConsistencyError

Make = Callable[..., PatientRecord]
D = dt.date


def _with_death(make: Make, death: D, **extra: Any) -> PatientRecord:
    rec = make()
    events = tuple(e for e in rec.events if e.kind.value not in ("death", "relapse")) + (
        ClinicalEvent(patient_id=rec.patient.id, date=death, kind="death", cause="infection"),
    )
    patient = rec.patient.model_copy(update={"last_followup_date": death})
    return rec.model_copy(update={"events": events, "patient": patient, **extra})


def test_valid_record_passes(make_record: Make) -> None:
    make_record().check_consistency()


def test_death_on_diagnosis_day_allowed_day_before_rejected(make_record: Make) -> None:
    rec = make_record()
    dx = rec.patient.diagnosis_date
    base = rec.model_copy(
        update={"courses": (), "infusions": (), "labs": (), "responses": (), "events": ()}
    )
    ok = _with_death(lambda: base, dx)
    ok.check_consistency()
    bad = _with_death(lambda: base, dx - dt.timedelta(days=1))
    with pytest.raises(ConsistencyError, match="before diagnosis"):
        bad.check_consistency()


def test_event_on_death_day_allowed_day_after_rejected(make_record: Make) -> None:
    rec = make_record()
    death = rec.death
    assert death is not None
    same_day = rec.model_copy(
        update={
            "events": rec.events
            + (ClinicalEvent(patient_id=rec.patient.id, date=death.date, kind="sepsis"),)
        }
    )
    same_day.check_consistency()
    after = rec.model_copy(
        update={
            "events": rec.events
            + (
                ClinicalEvent(
                    patient_id=rec.patient.id, date=death.date + dt.timedelta(days=1), kind="sepsis"
                ),
            )
        }
    )
    with pytest.raises(ConsistencyError, match="after death"):
        after.check_consistency()


def test_lab_after_death_rejected(make_record: Make) -> None:
    rec = make_record()
    assert rec.death is not None
    late = LabResult(
        patient_id=rec.patient.id,
        date=rec.death.date + dt.timedelta(days=1),
        analyte="anc",
        value=1.0,
        unit="10^9/L",
    )
    with pytest.raises(ConsistencyError, match="after death"):
        rec.model_copy(update={"labs": rec.labs + (late,)}).check_consistency()


@pytest.mark.parametrize(("offset", "ok"), [(0, True), (1, True), (-1, False)])
def test_infusion_not_before_course_start(make_record: Make, offset: int, ok: bool) -> None:
    rec = make_record()
    start = rec.courses[0].start_date
    inf = rec.infusions[0].model_copy(
        update={"infused_at": dt.datetime.combine(start + dt.timedelta(days=offset), dt.time(9))}
    )
    candidate = rec.model_copy(update={"infusions": (inf,)})
    if ok:
        candidate.check_consistency()
    else:
        with pytest.raises(ConsistencyError, match="before its course starts"):
            candidate.check_consistency()


def test_infusion_names_unknown_course_or_donor(make_record: Make) -> None:
    rec = make_record()
    bad_course = rec.infusions[0].model_copy(update={"course_number": 2})
    with pytest.raises(ConsistencyError, match="course 2"):
        rec.model_copy(update={"infusions": (bad_course,)}).check_consistency()
    bad_donor = rec.infusions[0].model_copy(update={"donor_id": "nobody"})
    with pytest.raises(ConsistencyError, match="donor nobody"):
        rec.model_copy(update={"infusions": (bad_donor,)}).check_consistency()


@pytest.mark.parametrize("kind", ["lab", "antibody"])
@pytest.mark.parametrize(("days_before", "ok"), [(30, True), (31, False)])
def test_work_up_may_precede_diagnosis_by_30_days(
    make_record: Make, kind: str, days_before: int, ok: bool
) -> None:
    from mst.domain import AntibodyResult

    rec = make_record()
    when = rec.patient.diagnosis_date - dt.timedelta(days=days_before)
    if kind == "lab":
        item = LabResult(
            patient_id=rec.patient.id, date=when, analyte="wbc", value=80.0, unit="10^9/L"
        )
        candidate = rec.model_copy(update={"labs": rec.labs + (item,)})
    else:
        item = AntibodyResult(patient_id=rec.patient.id, date=when, specificity="A*24:02", mfi=5e3)
        candidate = rec.model_copy(update={"antibodies": (item,)})
    if ok:
        candidate.check_consistency()
    else:
        with pytest.raises(ConsistencyError, match=rf"{kind} \d+.*before diagnosis"):
            candidate.check_consistency()


def test_course_before_diagnosis_rejected(make_record: Make) -> None:
    rec = make_record()
    course = rec.courses[0].model_copy(
        update={"start_date": rec.patient.diagnosis_date - dt.timedelta(days=1)}
    )
    with pytest.raises(ConsistencyError, match="before diagnosis"):
        rec.model_copy(update={"courses": (course,), "infusions": ()}).check_consistency()


@pytest.mark.parametrize(("gap", "ok"), [(7, True), (6, False)])
def test_next_course_starts_after_previous_chemotherapy(
    make_record: Make, gap: int, ok: bool
) -> None:
    rec = make_record()
    first = rec.courses[0]  # days 1–7: last chemo on start + 6
    second = Course(
        patient_id=rec.patient.id,
        number=2,
        kind="consolidation",
        regimen_id="002-IDAC",
        start_date=first.start_date + dt.timedelta(days=gap),
    )
    candidate = rec.model_copy(update={"courses": (first, second)})
    if ok:
        candidate.check_consistency()
    else:
        with pytest.raises(ConsistencyError, match="before course 1 has finished"):
            candidate.check_consistency()


def test_followup_must_equal_death_date(make_record: Make) -> None:
    rec = make_record()
    p = rec.patient.model_copy(update={"last_followup_date": dt.date(2021, 3, 2)})
    with pytest.raises(ConsistencyError, match="must equal the death date"):
        rec.model_copy(update={"patient": p}).check_consistency()


def test_records_after_last_followup_rejected(make_record: Make) -> None:
    rec = make_record()
    alive = rec.model_copy(
        update={
            "events": rec.events[:2],
            "patient": rec.patient.model_copy(update={"last_followup_date": D(2020, 11, 2)}),
        }
    )
    alive.check_consistency()
    earlier = alive.model_copy(
        update={"patient": rec.patient.model_copy(update={"last_followup_date": D(2020, 11, 1)})}
    )
    with pytest.raises(ConsistencyError, match="after the last follow-up"):
        earlier.check_consistency()


def test_two_deaths_rejected(make_record: Make) -> None:
    rec = make_record()
    assert rec.death is not None
    with pytest.raises(ConsistencyError, match="more than one death"):
        rec.model_copy(update={"events": rec.events + (rec.death,)}).check_consistency()


def test_child_of_other_patient_rejected(make_record: Make) -> None:
    rec = make_record()
    stray = ResponseAssessment(patient_id="C01-9999", date=D(2020, 3, 1), category="CR")
    with pytest.raises(ConsistencyError, match="belongs to patient C01-9999"):
        rec.model_copy(update={"responses": (stray,)}).check_consistency()


def test_response_category_must_fit_disease(make_record: Make) -> None:
    rec = make_record()
    vgpr = ResponseAssessment(patient_id=rec.patient.id, date=D(2020, 3, 1), category="VGPR")
    with pytest.raises(ConsistencyError, match="VGPR is not a response category for AML"):
        rec.model_copy(update={"responses": (vgpr,)}).check_consistency()


def test_duplicate_course_numbers_rejected(make_record: Make) -> None:
    rec = make_record()
    with pytest.raises(ConsistencyError, match="course numbers must be unique"):
        rec.model_copy(update={"courses": rec.courses * 2}).check_consistency()


def test_infusion_type_exported() -> None:
    assert Infusion.model_fields["mnc_1e8_per_kg"].description == "MNC × 10⁸/kg"


@pytest.mark.parametrize(
    ("mfi", "ok"), [(0.0, True), (100000.0, True), (-1.0, False), (100001.0, False)]
)
def test_antibody_mfi_range(mfi: float, ok: bool) -> None:
    from mst.domain import AntibodyResult, parse
    from mst.errors import ValidationError

    data = {"patient_id": "C01-0001", "date": "2020-01-01", "specificity": "B7", "mfi": mfi}
    if ok:
        assert parse(AntibodyResult, data).mfi == mfi
    else:
        with pytest.raises(ValidationError, match=r"antibodyresult\.mfi"):
            parse(AntibodyResult, data)

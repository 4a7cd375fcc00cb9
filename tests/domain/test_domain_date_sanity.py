"""Impossible dates are refused wherever records enter (issue #15 defect 8): after today plus
one day of tolerance, before 1900, or (labs, antibodies) before the patient's birth."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from mst.domain import (
    ClinicalEvent,
    Infusion,
    LabResult,
    Patient,
    PatientRecord,
    parse,
)
from mst.domain.models import EARLIEST_DATE, FUTURE_TOLERANCE_DAYS, date_rule_broken
from mst.errors import ConsistencyError, ValidationError

TODAY = dt.date.today()
LAST_OK = TODAY + dt.timedelta(days=FUTURE_TOLERANCE_DAYS)
FIRST_BAD = LAST_OK + dt.timedelta(days=1)


def _patient(**kw: Any) -> dict[str, Any]:
    base = {
        "id": "P1",
        "center_id": "C01",
        "sex": "F",
        "age_at_diagnosis": 50,
        "diagnosis": "AML",
        "diagnosis_date": "2020-01-10",
    }
    return {**base, **kw}


def test_rule_boundaries() -> None:
    assert date_rule_broken(LAST_OK) is None
    assert "future" in (date_rule_broken(FIRST_BAD) or "")
    assert date_rule_broken(EARLIEST_DATE) is None
    assert "1900" in (date_rule_broken(EARLIEST_DATE - dt.timedelta(days=1)) or "")
    assert date_rule_broken(dt.datetime.combine(LAST_OK, dt.time(23, 59))) is None


@pytest.mark.parametrize("day", [LAST_OK, EARLIEST_DATE])
def test_boundary_dates_accepted(day: dt.date) -> None:
    assert parse(Patient, _patient(diagnosis_date=day.isoformat())).diagnosis_date == day


@pytest.mark.parametrize(
    ("model", "data", "field"),
    [
        (Patient, _patient(diagnosis_date="2099-01-01"), "diagnosis_date"),
        (Patient, _patient(diagnosis_date="1800-01-01"), "diagnosis_date"),
        (Patient, _patient(diagnosis_date=FIRST_BAD.isoformat()), "diagnosis_date"),
        (Patient, _patient(last_followup_date=FIRST_BAD.isoformat()), "last_followup_date"),
        (
            LabResult,
            {
                "patient_id": "P1",
                "date": "2099-01-01",
                "analyte": "anc",
                "value": 1,
                "unit": "10^9/L",
            },
            "date",
        ),
        (ClinicalEvent, {"patient_id": "P1", "date": FIRST_BAD, "kind": "fever"}, "date"),
        (
            Infusion,
            {
                "patient_id": "P1",
                "course_number": 1,
                "donor_id": "D1",
                "infused_at": dt.datetime.combine(FIRST_BAD, dt.time(8)),
                "mnc_1e8_per_kg": 2.5,
                "product": "fresh",
            },
            "infused_at",
        ),
    ],
)
def test_impossible_dates_refused(model: Any, data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field) as exc:
        parse(model, data)
    assert "datetime" not in str(exc.value)


def test_nothing_before_birth() -> None:
    infant = parse(Patient, _patient(birth_date="2020-01-05", age_at_diagnosis=None))

    def lab(day: str) -> LabResult:
        return LabResult(patient_id="P1", date=day, analyte="anc", value=1.0, unit="10^9/L")

    PatientRecord(patient=infant, labs=(lab("2020-01-05"),)).check_consistency()  # birth day
    with pytest.raises(ConsistencyError, match="before birth"):
        PatientRecord(patient=infant, labs=(lab("2020-01-04"),)).check_consistency()
    with pytest.raises(ValidationError, match="birth_date"):
        parse(Patient, _patient(birth_date="2020-01-11", age_at_diagnosis=None))


def test_import_refuses_a_lab_in_2099(tmp_path: Any, small_cohort: Any) -> None:
    """The exchange import inherits the rule (one input path)."""
    import csv

    from mst.io.exchange import read_cohort, write_cohort

    src = tmp_path / "cohort.csv"
    write_cohort(small_cohort, src)
    with src.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    i = next(i for i, r in enumerate(rows) if r["record_type"] == "lab")
    rows[i]["date"] = "2099-01-01"
    with src.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(ValidationError, match=rf"row {i + 2}: .*date.*future"):
        read_cohort(src)

"""Field rules of the domain model, at their boundaries."""

from __future__ import annotations

import datetime as dt

import pytest

from mst.domain import ClinicalEvent, LabResult, Patient, completed_years, parse
from mst.domain.analytes import analyte_table, to_canonical
from mst.errors import ValidationError

BASE = {
    "id": "C01-0001",
    "center_id": "C01",
    "sex": "M",
    "age_at_diagnosis": 70,
    "diagnosis": "AML",
    "diagnosis_date": "2021-05-04",
}


@pytest.mark.parametrize(
    ("birth", "ref", "years"),
    [
        ("1950-05-04", "2020-05-04", 70),  # birthday on the reference date counts
        ("1950-05-05", "2020-05-04", 69),  # one day short
        ("1952-02-29", "2021-02-28", 68),  # leap-day birthday: not yet in a common year
        ("1952-02-29", "2021-03-01", 69),
    ],
)
def test_completed_years(birth: str, ref: str, years: int) -> None:
    assert completed_years(dt.date.fromisoformat(birth), dt.date.fromisoformat(ref)) == years


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("weight_kg", 25.0, True),
        ("weight_kg", 24.9, False),
        ("weight_kg", 250.0, True),
        ("weight_kg", 250.1, False),
        ("weight_kg", 0, False),
        ("height_cm", 100.0, True),
        ("height_cm", 99.9, False),
        ("height_cm", 230.0, True),
        ("height_cm", 230.1, False),
        ("age_at_diagnosis", 120, True),
        ("age_at_diagnosis", 121, False),
        ("age_at_diagnosis", -1, False),
    ],
)
def test_patient_ranges(field: str, value: float, ok: bool) -> None:
    data = {**BASE, field: value}
    if ok:
        assert getattr(parse(Patient, data), field) == value
    else:
        with pytest.raises(ValidationError) as exc:
            parse(Patient, data, "row 7")
        assert exc.value.field == f"row 7: patient.{field}"
        assert exc.value.value == value


def test_age_from_birth_date_and_disagreement() -> None:
    p = parse(Patient, {**BASE, "age_at_diagnosis": None, "birth_date": "1951-05-04"})
    assert p.age == 70
    with pytest.raises(ValidationError, match="completed years"):
        parse(Patient, {**BASE, "age_at_diagnosis": 69, "birth_date": "1951-05-04"})
    with pytest.raises(ValidationError, match="either birth_date or age_at_diagnosis"):
        parse(Patient, {**BASE, "age_at_diagnosis": None})


def test_eln_risk_only_for_myeloid_disease() -> None:
    parse(Patient, {**BASE, "eln_risk": "adverse"})
    with pytest.raises(ValidationError, match="eln_risk"):
        parse(Patient, {**BASE, "diagnosis": "myeloma", "eln_risk": "adverse"})


def test_followup_not_before_diagnosis() -> None:
    parse(Patient, {**BASE, "last_followup_date": "2021-05-04"})
    with pytest.raises(ValidationError, match="last_followup_date"):
        parse(Patient, {**BASE, "last_followup_date": "2021-05-03"})


LAB = {"patient_id": "C01-0001", "date": "2021-05-10"}


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "expected"),
    [
        ("anc", 1500, "/uL", 1.5),
        ("anc", 1.5, "10^3/uL", 1.5),
        ("anc", 200, "10^9/L", 200.0),  # upper bound inclusive
        ("anc", 0, "10^9/L", 0.0),
        ("hemoglobin", 9.5, "g/dL", 95.0),
        ("bilirubin", 17.1, "umol/L", 17.1 * 0.05848),
        ("donor_chimerism", 100, "%", 100.0),
    ],
)
def test_lab_units_converted(analyte: str, value: float, unit: str, expected: float) -> None:
    lab = parse(LabResult, {**LAB, "analyte": analyte, "value": value, "unit": unit})
    assert lab.value == pytest.approx(expected, rel=1e-12)
    assert lab.unit == analyte_table()[analyte].unit


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "field", "rule"),
    [
        ("anc", 200.001, "10^9/L", "value", "physiological range"),
        ("anc", -0.1, "10^9/L", "value", "physiological range"),
        ("anc", 1.0, "g/L", "unit", "must be reported in one of"),
        ("platelets", 50, "%", "unit", "must be reported in one of"),
        ("donor_chimerism", 100.5, "%", "value", "physiological range"),
        ("glucose", 5, "mmol/L", "analyte", "must be one of"),
        ("anc", "abc", "10^9/L", "value", "must be a number"),
    ],
)
def test_lab_rejections_name_field_value_rule(
    analyte: str, value: object, unit: str, field: str, rule: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        parse(LabResult, {**LAB, "analyte": analyte, "value": value, "unit": unit}, "row 3")
    assert exc.value.field == f"row 3: labresult.{field}"
    assert rule in exc.value.rule
    assert "row 3" in str(exc.value)


def test_to_canonical_rejects_nan() -> None:
    with pytest.raises(ValidationError, match="finite"):
        to_canonical("anc", float("nan"), "10^9/L")


@pytest.mark.parametrize(
    ("kind", "grade", "cause", "ok"),
    [
        ("gvhd", 1, None, True),
        ("gvhd", 4, None, True),
        ("gvhd", 0, None, False),
        ("gvhd", 5, None, False),
        ("gvhd", None, None, False),
        ("crs", 4, None, True),
        ("crs", 5, None, False),
        ("fever", None, None, True),
        ("fever", 2, None, False),
        ("death", None, "relapse", True),
        ("death", None, None, False),
        ("relapse", None, "relapse", False),
        ("nausea", None, None, True),  # 002 Supplementary Table 1
        ("vomiting", None, None, True),
        ("vomiting", 2, None, False),  # ungraded, like the other adverse events
        ("emesis", None, None, False),  # unknown kind: refused
    ],
)
def test_event_grades_and_causes(kind: str, grade: int | None, cause: str | None, ok: bool) -> None:
    data = {
        "patient_id": "C01-0001",
        "date": "2021-06-01",
        "kind": kind,
        "grade": grade,
        "cause": cause,
    }
    if ok:
        parse(ClinicalEvent, data)
    else:
        with pytest.raises(ValidationError):
            parse(ClinicalEvent, data)


def test_extra_fields_rejected() -> None:
    with pytest.raises(ValidationError, match=r"patient\.nickname"):
        parse(Patient, {**BASE, "nickname": "x"})


def test_analyte_table_every_entry_has_known_source() -> None:
    table = analyte_table()
    assert {"anc", "platelets", "donor_chimerism", "bilirubin", "il6"} <= set(table)
    for a in table.values():
        assert a.units[a.unit] == 1
        assert a.minimum < a.maximum


# Counts in 10⁹/L (002 Study endpoints): a value given in cells/µL by mistake is refused at the
# domain layer (import, web form, API) and the message names the likely unit.
@pytest.mark.parametrize(
    ("analyte", "value", "hint"),
    [("anc", 1500, "/uL"), ("platelets", 90000, "/uL"), ("anc", -0.1, None)],
)
def test_count_outside_plausible_range_names_likely_unit(
    analyte: str, value: float, hint: str | None
) -> None:
    with pytest.raises(ValidationError) as exc:
        parse(
            LabResult,
            {"patient_id": "P1", "date": "2026-12-01", "analyte": analyte, "value": value,
             "unit": "10^9/L"},
        )  # fmt: skip
    assert "physiological range" in str(exc.value)
    assert ("looks like it was reported in" in str(exc.value)) is (hint is not None)

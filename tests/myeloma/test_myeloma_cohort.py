"""Myeloma simulator (calibrated to seed 003) and the myeloma flat table."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from mst.cohort.myeloma_table import COLUMNS, build_myeloma_table, myeloma_row
from mst.domain import (
    ClinicalEvent,
    Course,
    CourseKind,
    Diagnosis,
    Donor,
    EventKind,
    Infusion,
    LabResult,
    Patient,
    PatientRecord,
    Product,
    Relationship,
    ResponseAssessment,
    ResponseCategory,
    Sex,
)
from mst.simulate.myeloma import (
    calibration_table,
    calibration_targets,
    clopper_pearson,
    myeloma_parameter_sources,
    simulate_myeloma_cohort,
)


@pytest.fixture(scope="session")
def mm_table() -> pd.DataFrame:
    cohort = simulate_myeloma_cohort(60, seed=3)
    cohort.check_consistency()
    return build_myeloma_table(cohort)


def test_table_columns_and_rules(mm_table: pd.DataFrame) -> None:
    df = mm_table
    assert list(df.columns) == list(COLUMNS) and len(df) == 60
    assert {str(df[c].dtype) for c in ("orr", "gvhd")} == {"boolean"}
    resp = df[df["orr"].fillna(False).astype(bool)]
    assert set(resp["best_response"]) <= {"PR", "VGPR", "CR", "sCR"}
    assert resp["dor_days"].notna().all() and df.loc[~df.index.isin(resp.index),
                                                       "dor_days"].isna().all()
    assert (df["pfs_days"] <= df["os_days"]).all()
    nrm = df["nrm"].fillna(False).astype(bool)
    assert not (nrm & df["progression"].fillna(False).astype(bool)).any()
    assert set(df["pre_mst_status"].dropna()) <= {"VGPR/CR", "<VGPR"}
    assert df["iss"].notna().all() and df["durie_salmon"].str.match(r"^I{1,3}[AB]$").all()
    assert (df["fever_or_crs_courses"] <= df["n_courses"]).all()


def test_patient_k_independent_of_n() -> None:
    a = simulate_myeloma_cohort(3, seed=9).records
    b = simulate_myeloma_cohort(5, seed=9).records[:3]
    assert a == b
    assert simulate_myeloma_cohort(3, seed=10).records != a


def test_every_parameter_cited_and_targets_exact() -> None:
    assert all(myeloma_parameter_sources().values())
    t = calibration_targets()
    assert t["orr"]["interval"] == pytest.approx((0.621073, 0.967929), abs=1e-6)
    assert clopper_pearson(0, 20) == pytest.approx((0.0, 0.168433), abs=1e-6)


D = dt.date(2020, 1, 1)


def _d(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


def _record(events: list[ClinicalEvent], labs: list[LabResult]) -> PatientRecord:
    pid = "P1"
    patient = Patient(id=pid, center_id="C01", sex=Sex.MALE, age_at_diagnosis=64,
                      diagnosis=Diagnosis.MYELOMA, diagnosis_date=D,
                      last_followup_date=_d(800))
    courses = (Course(patient_id=pid, number=1, kind=CourseKind.INDUCTION, regimen_id="x",
                      start_date=_d(100)),
               Course(patient_id=pid, number=2, kind=CourseKind.CONSOLIDATION,
                      regimen_id="x", start_date=_d(200)))
    donor = Donor(id="D1", patient_id=pid, relationship=Relationship.CHILD, sex=Sex.FEMALE,
                  age=30)
    inf = Infusion(patient_id=pid, course_number=1, donor_id="D1",
                   infused_at=dt.datetime(2020, 4, 11, 10), mnc_1e8_per_kg=2.5,
                   product=Product.FRESH)

    def lab(day: int, a: str, v: float, u: str) -> LabResult:
        return LabResult(patient_id=pid, date=_d(day), analyte=a, value=v, unit=u,
                         donor_id="D1" if a == "donor_chimerism" else None)

    base = [lab(0, "beta2_microglobulin", 5.5, "mg/L"), lab(0, "albumin", 35, "g/L"),
            lab(0, "ldh", 200, "U/L"), lab(0, "ldh_uln", 250, "U/L"),
            lab(0, "hemoglobin", 9.0, "g/dL"), lab(0, "calcium", 2.5, "mmol/L"),
            lab(0, "creatinine", 1.2, "mg/dL"), lab(0, "m_protein_igg", 5.5, "g/dL"),
            lab(0, "serum_m_protein", 5.5, "g/dL"), lab(0, "immunofixation", 1, "result")]
    ev = [ClinicalEvent(patient_id=pid, date=D, kind=EventKind.CYTOGENETICS, detail="gain1q"),
          ClinicalEvent(patient_id=pid, date=D, kind=EventKind.BONE_DISEASE, detail="2")]
    resp = (ResponseAssessment(patient_id=pid, date=_d(90), category=ResponseCategory.VGPR),)
    return PatientRecord(patient=patient, donors=(donor,), courses=courses, infusions=(inf,),
                         labs=tuple(base + [lab(*x) for x in labs]),
                         events=tuple(ev + events), responses=resp)


def test_record_row_staging_status_and_course_windows() -> None:
    fever = [ClinicalEvent(patient_id="P1", date=_d(130), kind=EventKind.FEVER),  # day 30
             ClinicalEvent(patient_id="P1", date=_d(231), kind=EventKind.CRS, grade=1)]  # 31
    rec = _record(fever, [(120, "serum_m_protein", 0.4, "g/dL"), (150, "serum_m_protein", 0.4,
                                                                  "g/dL")])
    rec.check_consistency()
    row = myeloma_row(rec)
    assert (row["iss"], row["r_iss"], row["msmart"]) == ("III", "II", "high")
    assert row["durie_salmon"] == "IIA" and row["r2_iss"] == "III"
    assert row["status_before_mst"] == "VGPR" and row["pre_mst_status"] == "VGPR/CR"
    assert row["fever_courses"] == 1 and row["crs_courses"] == 0  # day 31 is outside
    assert row["best_response"] == "VGPR" and row["orr"] is True
    assert row["response_date"] == _d(120) and row["time_to_response_days"] == 20
    assert row["os_days"] == 700 and row["os_event"] == 0 and row["pfs_event"] == 0


def test_chimerism_windows_and_immune_pairs() -> None:
    # first infusion on day 101: the day-14 window is days 7-21 after it (day 108 = 7)
    rec = _record([], [(108, "donor_chimerism", 0.1, "%"), (223, "donor_chimerism", 0.0, "%"),
                       (95, "cd3_pct", 60, "%"), (127, "cd3_pct", 65, "%"),
                       (128, "cd3_pct", 70, "%"),
                       (95, "cd4_pct", 20, "%"), (95, "cd8_pct", 40, "%"),
                       (129, "cd4_pct", 30, "%"), (129, "cd8_pct", 30, "%")])
    row = myeloma_row(rec)
    assert row["chimerism_d14"] is True and row["chimerism_m1"] is None
    assert row["chimerism_m3"] is None
    assert row["cd3_pre"] == 60 and row["cd3_post"] == 70  # day 27 is too early, day 28 counts
    assert row["cd4_cd8_pre"] == pytest.approx(0.5) and row["cd4_cd8_post"] == 1.0


@pytest.mark.slow
def test_calibration_at_10000_inside_003_clopper_pearson() -> None:
    rows = calibration_table(10_000, seed=2025)
    bad = [r for r in rows if not r["inside"]]
    assert not bad, bad


def test_flc_involved_chain_from_the_first_measurement() -> None:
    from mst.cohort.myeloma_table import visits

    rec = _record([], [(0, "flc_kappa", 10.0, "mg/L"), (0, "flc_lambda", 400.0, "mg/L"),
                       (130, "flc_kappa", 12.0, "mg/L"), (130, "flc_lambda", 100.0, "mg/L")])
    base, later = visits(rec)
    assert base is not None and base.involved_light_chain == "lambda"
    assert later[0].assessment().dflc == 88.0

"""The flat analysis table: one row per patient (columns documented in docs/flat_table.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from mst.cohort.endpoints import age_band, age_group, endpoint_rules, patient_endpoints
from mst.domain import Cohort, Donor, EventKind, PatientRecord
from mst.errors import ValidationError
from mst.monitoring.recovery import record_recovery

#: Column name → pandas dtype, in table order (see docs/flat_table.md).
COLUMNS: dict[str, str] = {
    "patient_id": "object",
    "center_id": "object",
    "sex": "object",
    "age": "Int64",
    "age_group": "object",
    "age_band": "object",
    "diagnosis": "object",
    "eln_risk": "object",
    "fitness": "object",
    "diagnosis_date": "datetime64[ns]",
    "year_of_diagnosis": "Int64",
    "first_chemo_date": "datetime64[ns]",
    "donor_sex": "object",
    "donor_age": "Int64",
    "donor_related": "boolean",
    "donor_relationship": "object",
    "donor_patient_sex": "object",
    "hla_mismatches_10": "Int64",
    "hla_mismatches_12": "Int64",
    "n_courses": "Int64",
    "courses_gt3": "boolean",
    "mnc_1e8_per_kg": "float64",
    "cd34_1e6_per_kg": "float64",
    "cd3_1e8_per_kg": "float64",
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
    "os_months": "float64",
    "os_event": "Int64",
    "lfs_days": "Int64",
    "lfs_months": "float64",
    "lfs_event": "Int64",
    "crs_days": "Int64",
    "crs_months": "float64",
    "crs_status": "Int64",
    "gvhd": "boolean",
    "gvhd_max_grade": "Int64",
    "crs_max_grade": "Int64",
    "aplasia_days": "Int64",
    "neutrophil_recovery_days": "Int64",
    "platelet_recovery_days": "Int64",
    "induction_regimen": "object",
    "chimerism_positive": "boolean",
    "ae_fever": "boolean",
    "ae_rash": "boolean",
    "ae_diarrhea": "boolean",
    "ae_infection": "boolean",
    "ae_sepsis": "boolean",
    "ae_cardiac_failure": "boolean",
    "ae_arrhythmia": "boolean",
    "ae_hepatotoxicity": "boolean",
    "ae_nausea": "boolean",
    "ae_vomiting": "boolean",
}

#: Adverse-event columns (002 Supplementary Table 1) and the clinical event they count.
AE_COLUMNS: dict[str, EventKind] = {
    "ae_fever": EventKind.FEVER,
    "ae_rash": EventKind.RASH,
    "ae_diarrhea": EventKind.DIARRHEA,
    "ae_infection": EventKind.INFECTION,
    "ae_sepsis": EventKind.SEPSIS,
    "ae_cardiac_failure": EventKind.CARDIAC_FAILURE,
    "ae_arrhythmia": EventKind.ARRHYTHMIA,
    "ae_hepatotoxicity": EventKind.HEPATOTOXICITY,
    "ae_nausea": EventKind.NAUSEA,
    "ae_vomiting": EventKind.VOMITING,
}

MismatchFn = Callable[[str, str], Mapping[str, int]]


def _mismatch_function() -> MismatchFn:
    from mst.donors import hla_mismatch_counts

    return hla_mismatch_counts


def _first_donor(rec: PatientRecord) -> Donor | None:
    by_id = {d.id: d for d in rec.donors}
    infusions = sorted(rec.infusions, key=lambda x: (x.course_number, x.infused_at))
    for inf in infusions:
        if inf.donor_id in by_id:
            return by_id[inf.donor_id]
    return rec.donors[0] if rec.donors else None


def _induction_recovery(rec: PatientRecord) -> dict[str, int | None]:
    """Recovery after course 1 by the 3-consecutive-days rule (002 Study endpoints)."""
    first = record_recovery(rec).get(1)
    if first is None:
        return {
            "aplasia_days": None,
            "neutrophil_recovery_days": None,
            "platelet_recovery_days": None,
        }
    return {
        "aplasia_days": first.recovery_days_from_aplasia,
        "neutrophil_recovery_days": first.neutrophil_days_from_chemo_start,
        "platelet_recovery_days": first.platelet_days_from_chemo_start,
    }


def _row(rec: PatientRecord) -> dict[str, Any]:
    rules = endpoint_rules()
    p = rec.patient
    e = patient_endpoints(rec)
    donor = _first_donor(rec)
    first_inf = min(rec.infusions, key=lambda x: (x.course_number, x.infused_at), default=None)
    gvhd_grades = [ev.grade or 0 for ev in rec.events if ev.kind is EventKind.GVHD]
    crs_grades = [ev.grade or 0 for ev in rec.events if ev.kind is EventKind.CRS]
    mm10 = mm12 = None
    if p.hla_typing and donor is not None and donor.hla_typing:
        try:
            counts = _mismatch_function()(p.hla_typing, donor.hla_typing)
        except ValidationError:
            counts = None  # incomplete or ambiguous typing: no exact x/10, x/12 count
        if counts is not None:
            mm10, mm12 = int(counts["x10"]), int(counts["x12"])
    per_month = rules.days_per_month
    first_course = min(rec.courses, key=lambda c: c.number, default=None)
    chim = [x.value for x in rec.labs if x.analyte == "donor_chimerism"]
    kinds = {ev.kind for ev in rec.events}
    return {
        "patient_id": p.id,
        "center_id": p.center_id,
        "sex": p.sex.value,
        "age": p.age,
        "age_group": age_group(p.age),
        "age_band": age_band(p.age),
        "diagnosis": p.diagnosis.value,
        "eln_risk": p.eln_risk.value if p.eln_risk is not None else None,
        "fitness": p.fitness.value if p.fitness is not None else None,
        "diagnosis_date": p.diagnosis_date,
        "year_of_diagnosis": p.diagnosis_date.year,
        "first_chemo_date": e.first_chemo_date,
        "donor_sex": donor.sex.value if donor else None,
        "donor_age": donor.age if donor else None,
        "donor_related": donor.relationship.related if donor else None,
        "donor_relationship": donor.relationship.value if donor else None,
        "donor_patient_sex": f"{donor.sex.value}->{p.sex.value}" if donor else None,
        "hla_mismatches_10": mm10,
        "hla_mismatches_12": mm12,
        "n_courses": e.n_courses,
        "courses_gt3": e.n_courses > rules.courses_gt,
        "mnc_1e8_per_kg": first_inf.mnc_1e8_per_kg if first_inf else None,
        "cd34_1e6_per_kg": first_inf.cd34_1e6_per_kg if first_inf else None,
        "cd3_1e8_per_kg": first_inf.cd3_1e8_per_kg if first_inf else None,
        "cr": e.cr,
        "cr_date": e.cr_date,
        "inductions_to_cr": e.inductions_to_cr,
        "early_death": e.early_death,
        "death": e.death,
        "death_date": e.death_date,
        "death_cause": e.death_cause,
        "relapse": e.relapse,
        "relapse_date": e.relapse_date,
        "last_followup_date": e.last_followup_date,
        "os_days": e.os_days,
        "os_months": e.os_days / per_month,
        "os_event": e.os_event,
        "lfs_days": e.lfs_days,
        "lfs_months": None if e.lfs_days is None else e.lfs_days / per_month,
        "lfs_event": e.lfs_event,
        "crs_days": e.crs_days,
        "crs_months": None if e.crs_days is None else e.crs_days / per_month,
        "crs_status": e.crs_status,
        "gvhd": bool(gvhd_grades),
        "gvhd_max_grade": max(gvhd_grades, default=0),
        "crs_max_grade": max(crs_grades, default=0),
        **_induction_recovery(rec),
        "induction_regimen": first_course.regimen_id if first_course else None,
        "chimerism_positive": None if not chim else any(v > 0 for v in chim),
        **{col: kind in kinds for col, kind in AE_COLUMNS.items()},
    }


def build_flat_table(
    cohort_or_records: Cohort | Iterable[PatientRecord],
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Build the flat analysis table, one row per patient.

    Parameters
    ----------
    cohort_or_records : mst.domain.Cohort or iterable of PatientRecord
        The patients, in the order of the rows.
        ``hla_mismatches_10``/``_12`` are computed by :func:`mst.donors.hla_mismatch_counts`
        from the patient's typing and the first-course donor's; empty when either is missing.
    progress : callable, optional
        Called as ``progress(done, total)`` every 500 patients.

    Returns
    -------
    pandas.DataFrame
        Exactly the columns of :data:`COLUMNS` (docs/flat_table.md), with those dtypes.
    """
    records = (
        cohort_or_records.records if isinstance(cohort_or_records, Cohort) else cohort_or_records
    )
    records = list(records)
    rows = []
    for k, rec in enumerate(records):
        if progress is not None and k % 500 == 0:
            progress(k, len(records))
        rows.append(_row(rec))
    if progress is not None:
        progress(len(records), len(records))
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    for col, dtype in COLUMNS.items():
        if dtype.startswith("datetime"):
            df[col] = pd.to_datetime(df[col].map(_as_timestamp)).astype(dtype)
        else:
            df[col] = df[col].astype(dtype)
    return df


def _as_timestamp(value: Any) -> Any:
    if isinstance(value, dt.date):
        return pd.Timestamp(value)
    return pd.NaT


def write_flat_table(df: pd.DataFrame, path: str | Path) -> None:
    """Write a flat table to CSV or XLSX (chosen by the suffix).

    CSV: UTF-8, ``\\n`` line ends, dates ``YYYY-MM-DD``, floats with 6 significant digits
    (``%.6g``), empty cells for missing values, booleans ``True``/``False``; the same table
    always gives the same bytes.

    Raises
    ------
    mst.errors.ValidationError
        If the suffix is neither ``.csv`` nor ``.xlsx``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = df.to_csv(
            index=False, float_format="%.6g", date_format="%Y-%m-%d", lineterminator="\n"
        )
        path.write_text(text, encoding="utf-8", newline="")
    elif suffix == ".xlsx":
        out = df.copy()
        for col in out.columns:
            if str(out[col].dtype).startswith("datetime"):
                out[col] = out[col].dt.date
            elif str(out[col].dtype) in ("boolean", "Int64"):
                out[col] = out[col].astype(object).where(out[col].notna(), None)
        with pd.ExcelWriter(path, engine="openpyxl") as writer:
            out.to_excel(writer, index=False, sheet_name="flat_table")
            wb = writer.book
            fixed = dt.datetime(2000, 1, 1)
            wb.properties.created = fixed
            wb.properties.modified = fixed
    else:
        raise ValidationError("path", str(path), "must end in .csv or .xlsx")

"""The flat analysis table: one row per patient (columns documented in docs/flat_table.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from mst.cohort.endpoints import age_bands, age_groups, endpoint_rules, endpoints_frame
from mst.domain import Cohort, EventKind, PatientRecord
from mst.errors import ValidationError
from mst.io import frame_ops as ops
from mst.io.frames import CohortFrames, check_schema, frames_from_cohort, frames_from_records

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


@lru_cache(maxsize=65536)
def _pair_mismatches(recipient: str, donor: str) -> tuple[int, int] | None:
    """x/10 and x/12 mismatch counts of one typing pair (cached: many patients share a pair)."""
    try:
        counts = _mismatch_function()(recipient, donor)
    except ValidationError:
        return None  # incomplete or ambiguous typing: no exact x/10, x/12 count
    return int(counts["x10"]), int(counts["x12"])


def first_donor_rows(frames: CohortFrames, index: ops.FrameIndex | None = None) -> np.ndarray:
    """Row (in ``frames.donors``) of each patient's first-course donor, -1 without a donor.

    The donor of the first infusion (by course number, then infusion time; ties in record
    order); without an infusion naming a recorded donor, the first recorded donor.
    """
    ix = ops.FrameIndex(frames) if index is None else index
    donors, inf = frames.donors, frames.infusions
    n = ix.n
    if len(donors) == 0:
        return np.full(n, -1, dtype=np.int64)
    fallback = ops.first_row(n, ix.positions("donors"))
    if len(inf) == 0:
        return fallback
    sep = "\x1f"
    dkey = pd.Index(donors["patient_id"].astype(str) + sep + donors["id"].astype(str))
    drow = dkey.get_indexer(inf["patient_id"].astype(str) + sep + inf["donor_id"].astype(str))
    ipos = np.where(drow >= 0, ix.positions("infusions"), -1)
    first = ops.first_row(n, ipos, _infusion_order(ix))
    return np.where(first >= 0, drow[np.maximum(first, 0)], fallback)


def _infusion_order(ix: ops.FrameIndex) -> np.ndarray:
    inf = ix.frames.infusions
    when = inf["infused_at"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    num = inf["course_number"].to_numpy(dtype="float64", na_value=np.nan)
    return np.lexsort((when, num, ix.positions("infusions")))


def hla_mismatches(frames: CohortFrames, donor_rows: np.ndarray | None = None) -> pd.DataFrame:
    """``hla_mismatches_10``/``_12`` of every patient against the first-course donor.

    Computed by :func:`mst.donors.hla_mismatch_counts` once per distinct typing pair; empty
    when either typing is missing, lacks a locus or is too ambiguous for an exact count.
    """
    p, donors = frames.patients, frames.donors
    n = len(p)
    rows = first_donor_rows(frames) if donor_rows is None else donor_rows
    mm10 = np.zeros(n, dtype=np.int64)
    mm12 = np.zeros(n, dtype=np.int64)
    known = np.zeros(n, dtype=bool)
    if len(donors):
        rt = p["hla_typing"].to_numpy(dtype=object)
        dt_ = np.where(rows >= 0, donors["hla_typing"].to_numpy(dtype=object)[np.maximum(rows, 0)],
                       None)
        for i in range(n):
            r, d = rt[i], dt_[i]
            if r and d:
                res = _pair_mismatches(r, d)
                if res is not None:
                    mm10[i], mm12[i], known[i] = res[0], res[1], True
    return pd.DataFrame({
        "hla_mismatches_10": pd.Series(pd.array(mm10, dtype="Int64")).where(known),
        "hla_mismatches_12": pd.Series(pd.array(mm12, dtype="Int64")).where(known),
    })


def _ages(p: pd.DataFrame) -> pd.Series:
    return p["age_at_diagnosis"].astype("Int64").reset_index(drop=True)


def _max_grade(ix: ops.FrameIndex, kind: EventKind) -> np.ndarray:
    ev = ix.frames.events
    n = ix.n
    m = ix.isin("events", "kind", (kind.value,))
    pos = ix.positions("events")[m]
    grade = ev["grade"].to_numpy(dtype="float64", na_value=0.0)[m].astype(np.int64)
    keep = pos >= 0
    out = ops.group_max(n, pos[keep], grade[keep], fill=-1)
    return out


def flat_table_from_frames(frames: CohortFrames) -> pd.DataFrame:
    """Build the flat analysis table, one row per patient, from a cohort's frames.

    Parameters
    ----------
    frames : mst.io.frames.CohortFrames
        A validated cohort (the exchange reader's or :func:`mst.io.frames.frames_from_cohort`'s).

    Returns
    -------
    pandas.DataFrame
        Exactly the columns of :data:`COLUMNS` (docs/flat_table.md), with those dtypes, one
        row per patient in patient row order.
    """
    from mst.monitoring.recovery import courses_recovery

    check_schema(frames)  # the frames contract (columns, dtypes) holds for every producer
    rules = endpoint_rules()
    ix = ops.FrameIndex(frames)
    p = frames.patients
    n = len(p)
    e = endpoints_frame(frames, ix)
    age = _ages(p)
    ages = age.to_numpy(dtype="float64", na_value=np.nan)
    sex = p["sex"].to_numpy(dtype=object)

    donors = frames.donors
    drow = first_donor_rows(frames, ix)
    has_donor = drow >= 0
    dsex = ops.take(donors["sex"], drow)
    drel = ops.take(donors["relationship"], drow)
    pair = np.full(n, None, dtype=object)
    if has_donor.any():
        pair[has_donor] = dsex.to_numpy(dtype=object)[has_donor] + "->" + sex[has_donor]
    mm = hla_mismatches(frames, drow)

    inf = frames.infusions
    first_inf = ops.first_row(n, ix.positions("infusions"), _infusion_order(ix))

    courses = frames.courses
    cpos = ix.positions("courses")
    cnum = courses["number"].to_numpy(dtype="float64", na_value=np.nan)
    first_course = ops.first_row(n, cpos, np.lexsort((cnum, cpos)))

    rec = courses_recovery(frames, numbers=(1,), index=ix)
    rrow = np.full(n, -1, dtype=np.int64)
    rrow[rec["patient_pos"].to_numpy(dtype=np.int64)] = np.arange(len(rec))

    labs = frames.labs
    chim = ix.isin("labs", "analyte", ("donor_chimerism",))
    lpos = ix.positions("labs")[chim]
    lval = labs["value"].to_numpy(dtype=float)[chim]
    keep = lpos >= 0
    n_chim = np.bincount(lpos[keep], minlength=n)
    n_pos = np.bincount(lpos[keep & (lval > 0)], minlength=n)

    gvhd = _max_grade(ix, EventKind.GVHD)
    crs = _max_grade(ix, EventKind.CRS)
    epos = ix.positions("events")

    def has_event(kind: EventKind) -> pd.Series:
        hit = np.zeros(n, dtype=bool)
        sel = ix.isin("events", "kind", (kind.value,)) & (epos >= 0)
        hit[epos[sel]] = True
        return pd.Series(hit, dtype="boolean")

    per_month = rules.days_per_month
    n_courses = e["n_courses"]
    diag = p["diagnosis_date"].reset_index(drop=True)
    out = {
        "patient_id": p["id"].reset_index(drop=True),
        "center_id": p["center_id"].reset_index(drop=True),
        "sex": p["sex"].reset_index(drop=True),
        "age": age,
        "age_group": pd.Series(age_groups(ages), dtype="object"),
        "age_band": pd.Series(age_bands(ages), dtype="object"),
        "diagnosis": p["diagnosis"].reset_index(drop=True),
        "eln_risk": p["eln_risk"].reset_index(drop=True),
        "fitness": p["fitness"].reset_index(drop=True),
        "diagnosis_date": diag,
        "year_of_diagnosis": pd.Series(diag.dt.year, dtype="Int64"),
        "first_chemo_date": e["first_chemo_date"],
        "donor_sex": dsex,
        "donor_age": ops.take(donors["age"], drow),
        "donor_related": pd.Series(drel.to_numpy(dtype=object) != "unrelated",
                                   dtype="boolean").where(has_donor),
        "donor_relationship": drel,
        "donor_patient_sex": pd.Series(pair, dtype="object"),
        **mm,
        "n_courses": n_courses,
        "courses_gt3": n_courses > rules.courses_gt,
        "mnc_1e8_per_kg": ops.take(inf["mnc_1e8_per_kg"], first_inf),
        "cd34_1e6_per_kg": ops.take(inf["cd34_1e6_per_kg"], first_inf),
        "cd3_1e8_per_kg": ops.take(inf["cd3_1e8_per_kg"], first_inf),
        **{c: e[c] for c in ("cr", "cr_date", "inductions_to_cr", "early_death", "death",
                             "death_date", "death_cause", "relapse", "relapse_date",
                             "last_followup_date", "os_days")},
        "os_months": e["os_days"].astype("float64") / per_month,
        "os_event": e["os_event"],
        "lfs_days": e["lfs_days"],
        "lfs_months": e["lfs_days"].astype("float64") / per_month,
        "lfs_event": e["lfs_event"],
        "crs_days": e["crs_days"],
        "crs_months": e["crs_days"].astype("float64") / per_month,
        "crs_status": e["crs_status"],
        "gvhd": pd.Series(gvhd >= 0, dtype="boolean"),
        "gvhd_max_grade": pd.Series(np.maximum(gvhd, 0), dtype="Int64"),
        "crs_max_grade": pd.Series(np.maximum(crs, 0), dtype="Int64"),
        "aplasia_days": ops.take(rec["recovery_days_from_aplasia"], rrow),
        "neutrophil_recovery_days": ops.take(rec["neutrophil_days_from_chemo_start"], rrow),
        "platelet_recovery_days": ops.take(rec["platelet_days_from_chemo_start"], rrow),
        "induction_regimen": ops.take(courses["regimen_id"], first_course),
        "chimerism_positive": pd.Series(n_pos > 0, dtype="boolean").where(n_chim > 0),
        **{col: has_event(kind) for col, kind in AE_COLUMNS.items()},
    }
    df = pd.DataFrame(out, columns=list(COLUMNS))
    for col, dtype in COLUMNS.items():
        if str(df[col].dtype) != dtype:
            df[col] = df[col].astype(dtype)
    return df


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
        Called as ``progress(done, total)`` before and after building.

    Returns
    -------
    pandas.DataFrame
        :func:`flat_table_from_frames` of the records' frames.
    """
    if isinstance(cohort_or_records, Cohort):
        frames = frames_from_cohort(cohort_or_records)
    else:
        frames = frames_from_records(cohort_or_records)
    total = len(frames.patients)
    if progress is not None:
        progress(0, total)
    df = flat_table_from_frames(frames)
    if progress is not None:
        progress(total, total)
    return df


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

"""The myeloma flat table: one row per myeloma patient (columns in docs/myeloma.md).

Staging comes from the labs and events at diagnosis (:mod:`mst.monitoring.myeloma_staging`),
response over time from the dated IMWG findings (:mod:`mst.monitoring.myeloma_course`), or,
for a patient without such findings, from the recorded response categories. Definitions and
windows are in ``mst/data/myeloma/endpoints.yaml``; times start at the first MST course.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable
from importlib import resources
from typing import Any

import pandas as pd

from mst.domain import Cohort, Diagnosis, EventKind, PatientRecord
from mst.monitoring.myeloma_course import (
    MyelomaCourse,
    MyelomaVisit,
    course_from_categories,
    course_rules,
    myeloma_course,
)
from mst.monitoring.myeloma_staging import StagingInput, stage_myeloma

COLUMNS: dict[str, str] = {
    "patient_id": "object",
    "center_id": "object",
    "sex": "object",
    "age": "Int64",
    "age_group": "object",
    "diagnosis_date": "datetime64[ns]",
    "first_mst_date": "datetime64[ns]",
    "n_courses": "Int64",
    "cycles_group": "object",
    "iss": "object",
    "r_iss": "object",
    "r2_iss": "object",
    "r2_iss_points": "float64",
    "durie_salmon": "object",
    "ds_stage": "object",
    "msmart": "object",
    "status_before_mst": "object",
    "pre_mst_status": "object",
    "best_response": "object",
    "orr": "boolean",
    "vgpr_or_better": "boolean",
    "cr_or_better": "boolean",
    "response_date": "datetime64[ns]",
    "time_to_response_days": "Int64",
    "progression": "boolean",
    "progression_date": "datetime64[ns]",
    "pfs_days": "Int64",
    "pfs_months": "float64",
    "pfs_event": "Int64",
    "os_days": "Int64",
    "os_months": "float64",
    "os_event": "Int64",
    "dor_days": "Int64",
    "dor_months": "float64",
    "dor_event": "Int64",
    "relapse_from_cr": "boolean",
    "relapse_from_cr_date": "datetime64[ns]",
    "mrd_negative": "boolean",
    "sustained_mrd_negative": "boolean",
    "fever_courses": "Int64",
    "crs_courses": "Int64",
    "fever_or_crs_courses": "Int64",
    "crs_max_grade": "Int64",
    "gvhd": "boolean",
    "gvhd_max_grade": "Int64",
    "death": "boolean",
    "death_date": "datetime64[ns]",
    "death_cause": "object",
    "nrm": "boolean",
    "chimerism_d14": "boolean",
    "chimerism_m1": "boolean",
    "chimerism_m3": "boolean",
    "chimerism_m6": "boolean",
    "cd3_pre": "float64",
    "cd3_post": "float64",
    "cd4_pre": "float64",
    "cd4_post": "float64",
    "cd4_cd8_pre": "float64",
    "cd4_cd8_post": "float64",
    "th0_pre": "float64",
    "th0_post": "float64",
}

CHIMERISM_WINDOWS = ("d14", "m1", "m3", "m6")
IMMUNE = {"cd3": "cd3_pct", "cd4": "cd4_pct", "th0": "th0_pct"}


@functools.cache
def endpoint_definitions() -> dict[str, Any]:
    """``{name: value}`` of ``mst/data/myeloma/endpoints.yaml`` (cached)."""
    text = resources.files("mst.data").joinpath("myeloma/endpoints.yaml").read_text("utf-8")
    import yaml

    raw = yaml.safe_load(text)
    return {k: v["value"] for k, v in raw.items() if isinstance(v, dict)}


def endpoint_sources() -> dict[str, str]:
    """``{name: source}`` of ``mst/data/myeloma/endpoints.yaml``."""
    import yaml

    text = resources.files("mst.data").joinpath("myeloma/endpoints.yaml").read_text("utf-8")
    return {k: v["source"] for k, v in yaml.safe_load(text).items() if isinstance(v, dict)}


def _first_mst(rec: PatientRecord) -> dt.date | None:
    return min((c.start_date for c in rec.courses), default=None)


def _labs_by_date(rec: PatientRecord) -> dict[dt.date, dict[str, float]]:
    out: dict[dt.date, dict[str, float]] = defaultdict(dict)
    for lab in sorted(rec.labs, key=lambda x: x.date):
        out[lab.date][lab.analyte] = lab.value
    return out


def staging_input(rec: PatientRecord) -> StagingInput:
    """The staging values of one record: the diagnosis work-up.

    For each analyte, the first value from 30 days before to 60 days after the diagnosis
    (and not after the first MST course) counts; cytogenetics and bone-disease events up to
    the first MST course (or 60 days after diagnosis without a course) give ``fish`` (``None``
    when no cytogenetics event is recorded) and ``bone_lesions`` (the first one).
    """
    defs = endpoint_definitions()
    p = rec.patient
    first = _first_mst(rec)
    window_end = p.diagnosis_date + dt.timedelta(days=defs["baseline_window_days"])
    limit = first or window_end
    lab_end = min(limit, window_end)
    lab_start = p.diagnosis_date - dt.timedelta(days=30)
    last: dict[str, float] = {}
    for lab in sorted(rec.labs, key=lambda x: x.date):
        if lab_start <= lab.date <= lab_end and lab.analyte not in last:
            last[lab.analyte] = lab.value
    ldh, uln = last.get("ldh"), last.get("ldh_uln")
    fish_ev = [e.detail for e in rec.events
               if e.kind is EventKind.CYTOGENETICS and e.date <= limit and e.detail]
    bone_ev = [e.detail for e in sorted(rec.events, key=lambda e: e.date)
               if e.kind is EventKind.BONE_DISEASE and e.date <= limit and e.detail
               and e.detail != "new"]
    bone: int | str | None = None
    if bone_ev:
        bone = "advanced" if bone_ev[0] == "advanced" else int(bone_ev[0])
    urine = last.get("urine_m_protein")
    has_fish_panel = any(e.kind is EventKind.CYTOGENETICS and e.date <= limit
                         for e in rec.events)
    return StagingInput(
        beta2m_mg_l=last.get("beta2_microglobulin"),
        albumin_g_dl=last.get("albumin"),
        ldh_elevated=None if ldh is None or uln is None else ldh > uln,
        ldh_u_l=ldh if uln is not None else None,
        ldh_uln_u_l=uln if ldh is not None else None,
        fish=tuple(d for d in fish_ev if d != "none") if has_fish_panel else None,
        hemoglobin_g_dl=None if "hemoglobin" not in last else last["hemoglobin"] / 10.0,
        calcium_mg_dl=last.get("calcium"),
        bone_lesions=bone,
        igg_g_dl=last.get("m_protein_igg"),
        iga_g_dl=last.get("m_protein_iga"),
        urine_light_chain_g_24h=None if urine is None else urine / 1000.0,
        creatinine_mg_dl=None if "creatinine" not in last else last["creatinine"] / 88.42,
    )


_VISIT_ANALYTES = ("serum_m_protein", "urine_m_protein", "immunofixation",
                   "marrow_plasma_cells", "flc_kappa", "flc_lambda", "mrd")


def visits(rec: PatientRecord) -> tuple[MyelomaVisit | None, list[MyelomaVisit]]:
    """Baseline (the first M-protein findings, at diagnosis) and the findings after the first
    MST; findings between diagnosis and the first MST give ``status_before_mst`` only."""
    first = _first_mst(rec)
    if first is None:
        return None, []
    new_lesions = {e.date for e in rec.events
                   if e.kind is EventKind.BONE_DISEASE and e.detail == "new" and e.date > first}
    by_date = _labs_by_date(rec)
    for d in new_lesions:
        by_date.setdefault(d, {})
    baseline: MyelomaVisit | None = None
    later: list[MyelomaVisit] = []
    involved: str | None = None  # the light chain that is higher at the first FLC measurement
    for d in sorted(by_date):
        k, lam = by_date[d].get("flc_kappa"), by_date[d].get("flc_lambda")
        if d <= first and k is not None and lam is not None and k != lam:
            involved = "kappa" if k > lam else "lambda"
            break
    for d in sorted(by_date):
        vals = by_date[d]
        if not any(a in vals for a in _VISIT_ANALYTES) and d not in new_lesions:
            continue
        ife = vals.get("immunofixation")
        v = MyelomaVisit(
            date=d,
            serum_m=vals.get("serum_m_protein"),
            urine_m=vals.get("urine_m_protein"),
            immunofixation=None if ife is None else ("positive" if ife >= 0.5 else "negative"),
            marrow_plasma_cells=vals.get("marrow_plasma_cells"),
            flc_kappa=vals.get("flc_kappa"),
            flc_lambda=vals.get("flc_lambda"),
            involved_light_chain=involved,
            new_lesion=d in new_lesions,
            mrd_pct=vals.get("mrd"),
        )
        if d <= first:
            if baseline is None and (v.serum_m is not None or v.urine_m is not None):
                baseline = v  # the diagnosis findings: responses are measured from them
        else:
            later.append(v)
    return baseline, later


def record_course(rec: PatientRecord) -> MyelomaCourse | None:
    """Response over time of a myeloma record (``None`` without an MST course).

    From the IMWG findings when a baseline M-protein and later findings are recorded,
    otherwise from the recorded response categories after the first MST.
    """
    first = _first_mst(rec)
    if first is None:
        return None
    base, later = visits(rec)
    if base is not None and later:
        return myeloma_course(base, later, start=first)
    dated = [(r.date, r.category.value) for r in rec.responses if r.date > first]
    return course_from_categories(dated, start=first)


def status_before_mst(rec: PatientRecord) -> str | None:
    """The last recorded response category before the first MST course."""
    first = _first_mst(rec)
    if first is None:
        return None
    before = [r for r in rec.responses if r.date < first]
    return max(before, key=lambda r: r.date).category.value if before else None


def _course_counts(rec: PatientRecord) -> dict[str, int]:
    window = endpoint_definitions()["course_event_window_days"]
    courses = sorted(rec.courses, key=lambda c: c.start_date)
    fever: set[int] = set()
    crs: set[int] = set()
    for e in rec.events:
        if e.kind not in (EventKind.FEVER, EventKind.CRS):
            continue
        for i, c in enumerate(courses):
            nxt = courses[i + 1].start_date if i + 1 < len(courses) else None
            if c.start_date <= e.date and (e.date - c.start_date).days <= window and (
                nxt is None or e.date < nxt
            ):
                (fever if e.kind is EventKind.FEVER else crs).add(i)
    return {"fever_courses": len(fever), "crs_courses": len(crs),
            "fever_or_crs_courses": len(fever | crs)}


def _chimerism(rec: PatientRecord) -> dict[str, bool | None]:
    wins = endpoint_definitions()["chimerism_windows"]
    first_inf = min((x.infused_at.date() for x in rec.infusions), default=None)
    out: dict[str, bool | None] = {f"chimerism_{w}": None for w in CHIMERISM_WINDOWS}
    if first_inf is None:
        return out
    for lab in rec.labs:
        if lab.analyte != "donor_chimerism":
            continue
        day = (lab.date - first_inf).days
        for w in CHIMERISM_WINDOWS:
            lo, hi = wins[w]
            if lo <= day <= hi:
                key = f"chimerism_{w}"
                out[key] = bool(out[key]) or lab.value > 0
    return out


def _immune(rec: PatientRecord) -> dict[str, float | None]:
    defs = endpoint_definitions()
    first = _first_mst(rec)
    out: dict[str, float | None] = {}
    for k in (*IMMUNE, "cd4_cd8"):
        out[f"{k}_pre"] = out[f"{k}_post"] = None
    if first is None:
        return out
    lo_post, hi_post = defs["immune_post_window_days"]
    pre_lo = first - dt.timedelta(days=defs["baseline_window_days"])
    by_date = _labs_by_date(rec)
    pre = [d for d in sorted(by_date) if pre_lo <= d <= first]
    post = [d for d in sorted(by_date) if lo_post <= (d - first).days <= hi_post]

    def pick(days: list[dt.date], analyte: str, last: bool) -> float | None:
        vals = [by_date[d][analyte] for d in days if analyte in by_date[d]]
        return (vals[-1] if last else vals[0]) if vals else None

    for when, days, last in (("pre", pre, True), ("post", post, False)):
        for k, analyte in IMMUNE.items():
            out[f"{k}_{when}"] = pick(days, analyte, last)
        ratio_days = [d for d in days if "cd4_pct" in by_date[d] and by_date[d].get("cd8_pct")]
        if ratio_days:
            d = ratio_days[-1] if last else ratio_days[0]
            out[f"cd4_cd8_{when}"] = by_date[d]["cd4_pct"] / by_date[d]["cd8_pct"]
    return out


def _last_date(rec: PatientRecord) -> dt.date:
    from mst.cohort.endpoints import last_known_date

    return last_known_date(rec)


def myeloma_row(rec: PatientRecord) -> dict[str, Any]:
    """One row of the myeloma flat table (see :data:`COLUMNS`)."""
    defs = endpoint_definitions()
    rules = course_rules()
    p = rec.patient
    per_month = defs["days_per_month"]
    first = _first_mst(rec)
    stages = stage_myeloma(staging_input(rec))
    course = record_course(rec)
    death = rec.death
    death_date = death.date if death else None
    lfu = death_date or _last_date(rec)
    n = len(rec.courses)
    status = status_before_mst(rec)
    row: dict[str, Any] = {c: None for c in COLUMNS}
    row.update({
        "patient_id": p.id,
        "center_id": p.center_id,
        "sex": p.sex.value,
        "age": p.age,
        "age_group": f"<{defs['age_cutoff']}" if p.age < defs["age_cutoff"]
        else f">={defs['age_cutoff']}",
        "diagnosis_date": p.diagnosis_date,
        "first_mst_date": first,
        "n_courses": n,
        "cycles_group": None if n == 0 else (
            f">={defs['cycles_ge']}" if n >= defs["cycles_ge"] else f"1-{defs['cycles_ge'] - 1}"),
        "iss": stages["iss"].stage,
        "r_iss": stages["r_iss"].stage,
        "r2_iss": stages["r2_iss"].stage,
        "r2_iss_points": stages["r2_iss"].points,
        "durie_salmon": stages["durie_salmon"].stage,
        "ds_stage": None if stages["durie_salmon"].stage is None
        else stages["durie_salmon"].stage[:-1],
        "msmart": stages["msmart"].stage,
        "status_before_mst": status,
        "pre_mst_status": None if status is None else (
            "VGPR/CR" if status in rules["vgpr_or_better"] else "<VGPR"),
        "death": death_date is not None,
        "death_date": death_date,
        "death_cause": death.cause.value if death is not None and death.cause else None,
        **_course_counts(rec),
        **_chimerism(rec),
        **_immune(rec),
    })
    gvhd = [e.grade or 0 for e in rec.events if e.kind is EventKind.GVHD]
    crs = [e.grade or 0 for e in rec.events if e.kind is EventKind.CRS]
    row.update({"gvhd": bool(gvhd), "gvhd_max_grade": max(gvhd, default=0),
                "crs_max_grade": max(crs, default=0)})
    if first is None or course is None:
        return row
    best = course.best_response
    prog = course.progression_date
    row.update({
        "best_response": best,
        "orr": course.responder,
        "vgpr_or_better": best in rules["vgpr_or_better"],
        "cr_or_better": best in ("CR", "sCR"),
        "response_date": course.response_date,
        "time_to_response_days": course.time_to_response_days,
        "progression": prog is not None,
        "progression_date": prog,
        "relapse_from_cr": None if course.cr_date is None
        else course.relapse_from_cr_date is not None,
        "relapse_from_cr_date": course.relapse_from_cr_date,
        "mrd_negative": None if course.sustained_mrd_negative is None
        else course.first_mrd_negative_date is not None,
        "sustained_mrd_negative": course.sustained_mrd_negative,
        "nrm": death_date is not None and (prog is None or prog > death_date),
    })
    os_days = (lfu - first).days
    pfs_end = prog if prog is not None else (death_date or lfu)
    row.update({
        "os_days": os_days, "os_months": os_days / per_month, "os_event": int(death is not None),
        "pfs_days": (pfs_end - first).days, "pfs_months": (pfs_end - first).days / per_month,
        "pfs_event": int(prog is not None or death is not None),
    })
    if course.response_date is not None:
        dor = (pfs_end - course.response_date).days
        row.update({"dor_days": dor, "dor_months": dor / per_month,
                    "dor_event": row["pfs_event"]})
    return row


def build_myeloma_table(cohort_or_records: Cohort | Iterable[PatientRecord]) -> pd.DataFrame:
    """The myeloma flat table: one row per myeloma patient (others are skipped).

    Parameters
    ----------
    cohort_or_records : Cohort or iterable of PatientRecord

    Returns
    -------
    pandas.DataFrame
        Exactly the columns of :data:`COLUMNS`, with those dtypes.
    """
    records = (cohort_or_records.records if isinstance(cohort_or_records, Cohort)
               else cohort_or_records)
    rows = [myeloma_row(r) for r in records if r.patient.diagnosis is Diagnosis.MYELOMA]
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    for col, dtype in COLUMNS.items():
        if dtype.startswith("datetime"):
            df[col] = pd.to_datetime(df[col].map(
                lambda v: pd.Timestamp(v) if isinstance(v, dt.date) else pd.NaT)).astype(dtype)
        else:
            df[col] = df[col].astype(dtype)
    return df

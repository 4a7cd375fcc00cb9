"""The myeloma panel of the patient page: staging at diagnosis and the IMWG response timeline."""

from __future__ import annotations

from typing import Any

from mst.domain import Diagnosis, PatientRecord

SYSTEM_NAMES = {"iss": "ISS", "r_iss": "R-ISS", "r2_iss": "R2-ISS",
                "durie_salmon": "Durie-Salmon", "msmart": "mSMART 3.0"}


def myeloma_panel(record: PatientRecord) -> dict[str, Any] | None:
    """Staging rows and response timeline of a myeloma patient (``None`` for other diseases)."""
    if record.patient.diagnosis is not Diagnosis.MYELOMA:
        return None
    from mst.cohort.myeloma_table import record_course, staging_input, status_before_mst
    from mst.monitoring.myeloma_staging import stage_myeloma

    stages = []
    for key, s in stage_myeloma(staging_input(record)).items():
        stage = s.stage
        if key == "r2_iss" and stage is not None:
            stage = f"{stage} ({s.points:g} point{'' if s.points == 1 else 's'})"
        stages.append({"system": SYSTEM_NAMES[key], "stage": stage,
                       "detail": s.rule if s.stage is not None else s.reason,
                       "source": s.source})
    course = record_course(record)
    out: dict[str, Any] = {"stages": stages, "status_before": status_before_mst(record),
                           "course": None}
    if course is not None:
        out["course"] = {
            "points": [{"date": p.date, "category": p.category, "confirmed": p.confirmed or "",
                        "mrd": "" if p.mrd_negative is None else (
                            "negative" if p.mrd_negative else "positive")}
                       for p in course.points],
            "best": course.best_response, "response_date": course.response_date,
            "progression_date": course.progression_date,
            "relapse_from_cr_date": course.relapse_from_cr_date,
            "sustained_mrd_negative": course.sustained_mrd_negative,
            "source": course.source,
        }
    return out

"""JSON API (documented in the OpenAPI schema at /docs); same session and scope as the pages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mst.web import services
from mst.web.deps import CurrentUser, Repo

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/patients")
def api_patients(
    user: CurrentUser,
    repo: Repo,
    q: str = "",
    center: str = "",
    diagnosis: str = "",
    status: str = "",
) -> list[dict[str, Any]]:
    """Patients visible to the user."""
    return [
        {
            **s.__dict__,
            "diagnosis_date": s.diagnosis_date.isoformat(),
            "death_date": s.death_date.isoformat() if s.death_date else None,
            "last_followup_date": s.last_followup_date.isoformat()
            if s.last_followup_date
            else None,
        }
        for s in services.patient_rows(repo, q, center, diagnosis, status)
    ]


@router.get("/patients/{patient_id}")
def api_patient(patient_id: str, user: CurrentUser, repo: Repo) -> dict[str, Any]:
    """One patient's full record (analysts: without birth date)."""
    record = repo.get_record(patient_id)
    data = record.model_dump(mode="json")
    data["patient"] = services.patient_view(record, user)
    return data


@router.get("/patients/{patient_id}/audit")
def api_audit(patient_id: str, user: CurrentUser, repo: Repo) -> list[dict[str, Any]]:
    """Audit trail of one patient."""
    return [
        {**e.__dict__, "at": e.at.isoformat()}
        for e in services.audit_entries(repo, patient_id, user)
    ]


@router.get("/me")
def api_me(user: CurrentUser) -> dict[str, Any]:
    """The logged-in user."""
    return {"username": user.username, "role": user.role.value, "center_id": user.center_id}

"""JSON API (documented in the OpenAPI schema at /docs); same session and scope as the pages."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from mst.web import services
from mst.web.deps import CurrentUser, Repo, State

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/patients", response_model=list[dict[str, Any]])
def api_patients(
    user: CurrentUser,
    repo: Repo,
    q: str = "",
    center: str = "",
    diagnosis: str = "",
    status: str = "",
) -> Response:
    """Patients visible to the user (one query)."""
    rows = [
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
    return Response(json.dumps(rows), media_type="application/json")


def _record_json(record: Any) -> dict[str, Any]:
    return {"json": json.dumps(record.model_dump(mode="json"))}


@router.get("/patients/{patient_id}", response_model=dict[str, Any])
def api_patient(patient_id: str, user: CurrentUser, state: State, repo: Repo) -> Response:
    """One patient's full record (analysts: without birth date); cached per record version."""
    cached = state.api_records.get(repo, patient_id, _record_json)
    data = json.loads(cached["json"])
    data["patient"] = services.patient_view(cached["record"], user)
    return Response(json.dumps(data), media_type="application/json")


@router.get("/patients/{patient_id}/audit", response_model=list[dict[str, Any]])
def api_audit(patient_id: str, user: CurrentUser, state: State, repo: Repo) -> Response:
    """Audit trail of one patient."""
    version = repo.record_version(patient_id)
    entries = state.outcomes.get(
        ("audit-json", patient_id, user.role.pseudonymized),
        version,
        lambda: json.dumps(
            [
                {**e.__dict__, "at": e.at.isoformat()}
                for e in services.audit_entries(repo, patient_id, user)
            ]
        ),
    )
    return Response(entries, media_type="application/json")


@router.get("/me")
def api_me(user: CurrentUser) -> dict[str, Any]:
    """The logged-in user."""
    return {"username": user.username, "role": user.role.value, "center_id": user.center_id}

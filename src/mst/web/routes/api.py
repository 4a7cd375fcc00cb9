"""JSON API (documented in the OpenAPI schema at /docs); same session and scope as the pages."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mst.web import services
from mst.web.deps import CurrentUser, Repo, State

router = APIRouter(prefix="/api", tags=["api"])

# The routes are ``async``: they answer from a cache after one indexed query, so they run on
# the event loop rather than taking a thread-pool hop each (a miss does a few more queries).


LIMIT_DOC = (
    f"Rows per page: 1 to {services.API_MAX_LIMIT} (default {services.API_DEFAULT_LIMIT})."
)
OFFSET_DOC = "Rows skipped before the page (default 0); follow the answer's `next` link."
ENTITY_DOC = "Only entries of this record type: " + ", ".join(services.AUDIT_ENTITIES) + "."
ACTION_DOC = "Only entries of this action: " + ", ".join(services.AUDIT_ACTIONS) + "."
Limit = Annotated[str | None, Query(description=LIMIT_DOC)]
Offset = Annotated[str | None, Query(description=OFFSET_DOC)]


def _summary_json(s: Any) -> dict[str, Any]:
    return {
        **s.__dict__,
        "diagnosis_date": s.diagnosis_date.isoformat(),
        "death_date": s.death_date.isoformat() if s.death_date else None,
        "last_followup_date": s.last_followup_date.isoformat() if s.last_followup_date else None,
    }


@router.get("/patients", response_model=dict[str, Any])
async def api_patients(
    request: Request,
    user: CurrentUser,
    state: State,
    repo: Repo,
    q: str = "",
    center: str = "",
    diagnosis: str = "",
    status: str = "",
    limit: Limit = None,
    offset: Offset = None,
) -> Response:
    """Patients visible to the user, one page at a time (one query per page, cached per
    registry version: a request costs one query when cached, two when not).

    The answer holds `items` (sorted by id), `total` (patients matching the filters),
    `limit`, `offset`, and the `next` and `previous` page links (`null` at either end).
    """
    page = services.PageRequest.parse(limit, offset)
    version = repo.registry_version()

    def build() -> str:
        rows, total = services.patient_page(repo, page, q, center, diagnosis, status)
        params = {"q": q, "center": center, "diagnosis": diagnosis, "status": status}
        items = [_summary_json(r) for r in rows]
        return json.dumps(page.envelope(items, total, request.url.path, params))

    # cached per center scope, filters and page, stamped with the registry version (the
    # filters are checked when the page is built: only valid ones are ever cached)
    key = ("api-patients", repo.center_scope, q, center, diagnosis, status, page)
    return Response(state.api_records.get(key, version, build), media_type="application/json")


@router.get("/patients/{patient_id}", response_model=dict[str, Any])
async def api_patient(patient_id: str, user: CurrentUser, state: State, repo: Repo) -> Response:
    """One patient's full record (analysts: without birth date).

    The JSON is built once per record version and field scope; a request then costs one
    query (the access check, which reads the version).
    """
    version = repo.record_version(patient_id)  # 404 for unknown or invisible patients

    def build() -> str:
        record = repo.get_record(patient_id)
        data = record.model_dump(mode="json")
        data["patient"] = services.patient_view(record, user)
        return json.dumps(data)

    key = ("api-record", patient_id, user.role.pseudonymized)
    return Response(state.api_records.get(key, version, build), media_type="application/json")


@router.get("/patients/{patient_id}/audit", response_model=dict[str, Any])
async def api_audit(
    patient_id: str,
    request: Request,
    user: CurrentUser,
    state: State,
    repo: Repo,
    limit: Limit = None,
    offset: Offset = None,
    entity: Annotated[str, Query(description=ENTITY_DOC)] = "",
    action: Annotated[str, Query(description=ACTION_DOC)] = "",
) -> Response:
    """Audit trail of one patient, oldest first, one page at a time (same keys as the list;
    `total` counts the entries passing the `entity` and `action` filters, which the `next`
    and `previous` links keep).

    Analysts never see birth dates, also not in the before/after content. Pages are cached
    per record version.
    """
    page = services.PageRequest.parse(limit, offset)
    where = services.AuditFilter.parse(entity, action)
    version = repo.record_version(patient_id)  # 404 for unknown or invisible patients

    def build() -> str:
        entries, total = services.audit_page(repo, patient_id, user, page, where)
        items = [{**e.__dict__, "at": e.at.isoformat()} for e in entries]
        return json.dumps(page.envelope(items, total, request.url.path, where.params()))

    key = ("audit-json", patient_id, user.role.pseudonymized, page, where)
    return Response(state.api_records.get(key, version, build), media_type="application/json")


@router.get("/me")
async def api_me(user: CurrentUser) -> dict[str, Any]:
    """The logged-in user."""
    return {"username": user.username, "role": user.role.value, "center_id": user.center_id}

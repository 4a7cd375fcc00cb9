"""Defects of issue #15: each one reproduced through the app, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from mst.domain import Patient, PatientRecord, parse
from mst.registry import open_registry

from .conftest import login

NEW_PATIENT = "C01-0100"


def add_new_patient(db_url: str) -> None:
    """A brand-new patient: no donor, no course, nothing but the diagnosis."""
    patient = parse(
        Patient,
        {
            "id": NEW_PATIENT,
            "center_id": "C01",
            "sex": "M",
            "age_at_diagnosis": 47,
            "diagnosis": "AML",
            "diagnosis_date": "2024-03-01",
        },
    )
    with open_registry(db_url, user="setup") as reg:
        reg.save_record(PatientRecord(patient=patient))


def test_every_page_with_a_brand_new_patient(client: TestClient, web_db: str) -> None:
    """Defect 1: /cohort (every grouping) and every patient page answer with a new patient."""
    add_new_patient(web_db)
    for user in ("c1", "an", "ad"):
        client.cookies.clear()
        login(client, user)
        _every_page(client)


def _every_page(client: TestClient) -> None:
    for by in ("age_group", "age_band", "courses_gt3", "donor_related", "sex", "center_id"):
        r = client.get(f"/cohort?by={by}")
        assert r.status_code == 200, (by, r.text[-500:])
        if by == "sex":  # the new patient is the only man: two groups, so Table 1 is shown
            assert "Table 1" in r.text
    for path in ("", "/plan", "/donors", "/audit"):
        assert client.get(f"/patients/{NEW_PATIENT}{path}").status_code == 200, path
    assert client.get("/patients").status_code == 200
    assert client.get(f"/api/patients/{NEW_PATIENT}").status_code == 200
    assert client.get("/cohort/table.csv").status_code == 200


def test_analyst_never_sees_birth_dates_in_the_audit(client: TestClient) -> None:
    """Defect 2: the audit trail has the record's field-level scope."""
    login(client, "an")
    api = client.get("/api/patients/C01-0001/audit").json()["items"]
    assert api and any(e["entity"] == "patient" for e in api)
    assert "birth_date" not in json.dumps(api)
    page = client.get("/patients/C01-0001/audit").text
    assert "birth_date" not in page and "1952-06-15" not in page
    client.cookies.clear()
    login(client, "c1")
    assert "1952-06-15" in json.dumps(client.get("/api/patients/C01-0001/audit").json()["items"])


def test_security_headers_docs_offline_and_favicon(client: TestClient) -> None:
    """Defects 6 and 10: headers on pages, API and exports; /docs and its schema behind login,
    Swagger UI served from this site; a favicon."""
    assert client.get("/docs", follow_redirects=False).status_code == 303
    assert client.get("/openapi.json").status_code == 401
    login(client, "c1")
    for path in ("/patients", "/api/patients/C01-0001", "/cohort/table.csv", "/docs", "/login"):
        h = client.get(path).headers
        assert "script-src 'self'" in h["content-security-policy"], path
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer" and h["cache-control"] == "no-store", path
    docs = client.get("/docs").text
    assert "cdn" not in docs.lower() and "<script>" not in docs  # no CDN, no inline script
    for asset in ("/static/swagger/swagger-ui-bundle.js", "/static/swagger/swagger-ui.css"):
        assert client.get(asset).status_code == 200
    assert client.get("/openapi.json").json()["paths"]["/api/patients"]
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"


def test_donor_ids_are_assigned_not_typed(client: TestClient) -> None:
    """Defect 7: a donor id another center uses cannot be taken (nor probed)."""
    token = login(client, "c2")
    donor = {"relationship": "sibling", "sex": "F", "age": "40", "csrf_token": token}
    # a crafted form naming C01's donor id: the id is ignored, the server assigns its own
    r = client.post("/patients/C02-0001/add/donor", data={**donor, "id": "C01-0001-D1"})
    assert r.status_code == 200
    ids = [d["id"] for d in client.get("/api/patients/C02-0001").json()["donors"]]
    assert ids == ["C02-0001-D1", "C02-0001-D2"]


def test_malformed_filters_and_crafted_values_get_422(client: TestClient) -> None:
    """Defect 9: plain 422s, never 500; regimens and HLA typing checked on the server."""
    token = login(client, "c1")
    for url, words in (
        ("/patients?status=foo", "status"),
        ("/api/patients?status=foo", "status"),
        ("/patients?diagnosis=flu", "diagnosis"),
        ("/cohort?year_from=%C2%B2", "year_from"),
        ("/cohort?year_from=20x9", "year_from"),
        ("/cohort?by=weather", "by"),
        ("/cohort?center=C02", "center"),
        ("/patients/C01-0001?lab_from=yesterday", "lab_from"),
    ):
        r = client.get(url)
        assert r.status_code == 422, url
        assert words in r.text and "Traceback" not in r.text, url
    r = client.post(
        "/patients/C01-0002/add/course",
        data={
            "csrf_token": token,
            "number": "2",
            "kind": "consolidation",
            "regimen_id": "my-own-regimen",
            "start_date": "2020-06-01",
        },
    )
    assert r.status_code == 422 and "is not a regimen of the catalog" in r.text
    r = client.post(
        "/patients/C01-0002/add/donor",
        data={
            "csrf_token": token,
            "relationship": "child",
            "sex": "M",
            "age": "30",
            "hla_typing": "A*99:99+free text",
        },
    )
    assert r.status_code == 422 and 'id="err-hla_typing"' in r.text
    assert client.get("/patients/C01-0002/plan").status_code == 200

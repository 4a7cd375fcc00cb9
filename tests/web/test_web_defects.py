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
    api = client.get("/api/patients/C01-0001/audit").json()
    assert api and any(e["entity"] == "patient" for e in api)
    assert "birth_date" not in json.dumps(api)
    page = client.get("/patients/C01-0001/audit").text
    assert "birth_date" not in page and "1952-06-15" not in page
    client.cookies.clear()
    login(client, "c1")
    assert "1952-06-15" in json.dumps(client.get("/api/patients/C01-0001/audit").json())

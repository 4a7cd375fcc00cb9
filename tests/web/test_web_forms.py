"""Forms: new patient, edits, lab results and events; messages next to the field; audit."""

from __future__ import annotations

from fastapi.testclient import TestClient

from .conftest import csrf_of, login

NEW = {
    "id": "C01-0100",
    "sex": "M",
    "age_at_diagnosis": "72",
    "diagnosis": "AML",
    "diagnosis_date": "2024-03-01",
    "eln_risk": "adverse",
    "fitness": "unfit",
    "height_cm": "175",
    "weight_kg": "80",
}


def test_new_patient_in_own_center(client: TestClient) -> None:
    token = login(client, "c1")
    r = client.post("/patients/new", data={**NEW, "csrf_token": token, "center_id": "C02"})
    assert r.status_code == 200 and "Patient C01-0100" in r.text
    assert client.get("/api/patients/C01-0100").json()["patient"]["center_id"] == "C01"


def test_invalid_field_shows_message_next_to_it(client: TestClient) -> None:
    token = login(client, "c1")
    bad = {"weight_kg": "0", "height_cm": "abc", "diagnosis_date": "2099-01-01", "sex": "X"}
    r = client.post("/patients/new", data={**NEW, **bad, "csrf_token": token})
    assert r.status_code == 422
    # every invalid field at once, in plain words, the typed values kept
    assert 'id="err-weight_kg"' in r.text and "must be at least 25" in r.text
    assert 'id="err-height_cm"' in r.text and "must be a number" in r.text
    assert 'id="err-diagnosis_date"' in r.text and "must not be in the future" in r.text
    assert 'id="err-sex"' in r.text and "Please correct 4 fields" in r.text
    assert 'value="abc"' in r.text and 'value="2099-01-01"' in r.text
    for phrase in ("Input should", "greater than or equal", "datetime.date", "Value error"):
        assert phrase not in r.text
    assert client.get("/api/patients/C01-0100").status_code == 404


def test_duplicate_id_rejected(client: TestClient) -> None:
    token = login(client, "c1")
    r = client.post("/patients/new", data={**NEW, "id": "C01-0001", "csrf_token": token})
    assert r.status_code == 422 and 'id="err-id"' in r.text


def test_edit_is_audited(client: TestClient) -> None:
    token = login(client, "c1")
    form = csrf_of(client.get("/patients/C01-0001/edit").text)
    assert form == token
    current = client.get("/api/patients/C01-0001").json()["patient"]
    data = {k: "" if v is None else str(v) for k, v in current.items()}
    data.update({"weight_kg": "58.5", "csrf_token": token})
    r = client.post("/patients/C01-0001/edit", data=data)
    assert r.status_code == 200
    audit = client.get("/api/patients/C01-0001/audit").json()["items"]
    last = audit[-1]
    assert (last["user"], last["action"], last["entity"]) == ("c1", "update", "patient")
    assert last["before"]["weight_kg"] == 61.5 and last["after"]["weight_kg"] == 58.5
    assert "58.5" in client.get("/patients/C01-0001/audit").text


def test_lab_entry_converts_units_and_rejects_bad_unit(client: TestClient) -> None:
    token = login(client, "c1")
    ok = client.post(
        "/patients/C01-0001/add/lab",
        data={
            "csrf_token": token,
            "date": "2020-02-02",
            "analyte": "anc",
            "value": "1200",
            "unit": "/uL",
        },
    )
    assert ok.status_code == 200
    labs = client.get("/api/patients/C01-0001").json()["labs"]
    assert {"date": "2020-02-02", "analyte": "anc", "value": 1.2, "unit": "10^9/L"}.items() <= next(
        lab for lab in labs if lab["date"] == "2020-02-02"
    ).items()
    bad = client.post(
        "/patients/C01-0001/add/lab",
        data={
            "csrf_token": token,
            "date": "2020-02-03",
            "analyte": "anc",
            "value": "1",
            "unit": "mg",
        },
    )
    assert bad.status_code == 422 and 'id="err-lab-unit"' in bad.text


def test_event_after_death_rejected_with_reason(client: TestClient) -> None:
    token = login(client, "c1")
    r = client.post(
        "/patients/C01-0001/add/event",
        data={"csrf_token": token, "date": "2021-03-05", "kind": "fever"},
    )
    assert r.status_code == 422 and "after death" in r.text


def test_patient_page_shows_timeline_and_charts(client: TestClient) -> None:
    login(client, "c1")
    page = client.get("/patients/C01-0001").text
    assert "Course 1 (induction, 002-IA) starts" in page
    assert "GPBSC infusion" in page and "<svg" in page and "Donor chimerism" in page


def test_list_filters(client: TestClient) -> None:
    login(client, "ad")
    assert "C02-0001" in client.get("/patients?center=C02").text
    assert "C01-0001" not in client.get("/patients?center=C02").text
    assert "3 patients" in client.get("/patients?status=dead").text
    assert "0 patients" in client.get("/patients?status=alive").text
    assert "1 patients" in client.get("/patients?q=02-0").text


def test_list_pages(client: TestClient, monkeypatch: object) -> None:
    from mst.web import services

    monkeypatch.setattr(services, "PAGE_SIZE", 2)  # type: ignore[attr-defined]
    login(client, "ad")
    first = client.get("/patients").text
    assert "patients 1–2 of more" in first and 'id="next-page"' in first
    second = client.get("/patients?page=2").text
    assert "C02-0001" in second and "C01-0001" not in second and "next-page" not in second
    assert client.get("/patients?page=0").status_code == 422

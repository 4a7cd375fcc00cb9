"""Corrections and soft deletion with a reason, forms reporting every field, alerts."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from mst.registry import open_registry

from .conftest import login
from .test_web_defects import NEW_PATIENT, add_new_patient


def _version(client: TestClient, url: str) -> str:
    m = re.search(r'name="version" value="(\d+)"', client.get(url).text)
    assert m
    return m.group(1)


def test_correct_and_delete_a_lab_with_reasons(client: TestClient, web_db: str) -> None:
    token = login(client, "c1")
    page = client.get("/patients/C01-0001?lab_analyte=anc").text
    assert 'id="lab-table"' in page and "Correct" in page
    url = "/patients/C01-0001/records/lab/1"
    form = client.get(url).text
    assert "Reason for change" in form
    stored = client.get("/api/patients/C01-0001").json()["labs"][0]
    version = _version(client, url)
    edit = {
        "csrf_token": token,
        "version": version,
        "action": "save",
        "date": stored["date"],
        "analyte": stored["analyte"],
        "value": "3.3",
        "unit": stored["unit"],
    }
    no_reason = client.post(url, data=edit)
    assert no_reason.status_code == 422 and "a reason for the change is required" in no_reason.text
    ok = client.post(url, data={**edit, "reason": "transcription error"})
    assert ok.status_code == 200
    assert client.get("/api/patients/C01-0001").json()["labs"][0]["value"] == 3.3
    stale = client.post(url, data={**edit, "value": "4.4", "reason": "again"})
    assert stale.status_code == 422 and "changed by someone else" in stale.text  # old version

    n_labs = len(client.get("/api/patients/C01-0001").json()["labs"])
    gone = client.post(
        url,
        data={
            "csrf_token": token,
            "version": _version(client, url),
            "action": "delete",
            "reason": "sample from another patient",
        },
    )
    assert gone.status_code == 200
    assert len(client.get("/api/patients/C01-0001").json()["labs"]) == n_labs - 1

    audit = client.get("/api/patients/C01-0001/audit").json()["items"]
    reasons = [(e["action"], e["reason"]) for e in audit if e["entity"] == "lab" and e["reason"]]
    assert ("update", "transcription error") in reasons
    assert any(r == "sample from another patient" and a in ("delete", "update") for a, r in reasons)
    html = client.get("/patients/C01-0001/audit").text
    assert "transcription error" in html and "sample from another patient" in html
    with open_registry(web_db, user="t") as reg:
        kept = reg.deleted_records("C01-0001")
    assert [(d.entity, d.deleted_by, d.reason) for d in kept] == [
        ("lab", "c1", "sample from another patient")
    ]
    assert kept[0].content["value"] == 3.3  # the soft-deleted row is kept


def test_child_form_lists_every_invalid_field(client: TestClient) -> None:
    token = login(client, "c1")
    r = client.post(
        "/patients/C01-0001/add/lab",
        data={
            "csrf_token": token,
            "date": "2099-01-01",
            "analyte": "anc",
            "value": "x",
            "unit": "mg",
        },
    )
    assert r.status_code == 422
    assert 'id="err-lab-date"' in r.text and 'id="err-lab-value"' in r.text
    assert 'value="x"' in r.text and "Input should" not in r.text
    blank_unit = client.post(
        "/patients/C01-0001/add/lab",
        data={"csrf_token": token, "date": "2020-02-05", "analyte": "platelets", "value": "55"},
    )
    assert blank_unit.status_code == 200  # unit defaulted to the analyte's (10^9/L)
    labs = client.get("/api/patients/C01-0001").json()["labs"]
    assert {
        "date": "2020-02-05",
        "analyte": "platelets",
        "value": 55.0,
        "unit": "10^9/L",
    }.items() <= labs[-1].items()


def test_alerts_acknowledged_then_closed_at_death(client: TestClient, web_db: str) -> None:
    add_new_patient(web_db)  # alive, diagnosed 2024-03-01
    token = login(client, "c1")
    url = f"/patients/{NEW_PATIENT}"
    event = {"csrf_token": token, "date": "2024-04-02", "kind": "gvhd", "grade": "3"}
    assert client.post(f"{url}/add/event", data=event).status_code == 200
    keys = re.findall(r'name="alert_key" value="([^"]+)"', client.get(url).text)
    assert keys == ["gvhd_event/2024-04-02"]
    bad = client.post(f"{url}/alerts/ack", data={"csrf_token": token, "alert_key": "made/up"})
    assert bad.status_code == 422
    r = client.post(
        f"{url}/alerts/ack", data={"csrf_token": token, "alert_key": keys[0], "note": "seen"}
    )
    assert r.status_code == 200 and "acknowledged by c1" in r.text and "seen" in r.text
    audit = client.get(f"/api/patients/{NEW_PATIENT}/audit").json()["items"]
    assert [(e["action"], e["user"]) for e in audit if e["entity"] == "alert"] == [("ack", "c1")]

    client.post(f"{url}/add/event", data={**event, "grade": "2", "date": "2024-05-01"})
    assert 'name="alert_key"' in client.get(url).text  # the new alert is open
    death = {"csrf_token": token, "date": "2024-05-03", "kind": "death", "cause": "gvhd"}
    patient = client.get(f"/api/patients/{NEW_PATIENT}").json()["patient"]
    edit = {k: "" if v is None else str(v) for k, v in patient.items()}
    client.post(
        f"{url}/edit", data={**edit, "last_followup_date": "2024-05-03", "csrf_token": token}
    )
    assert client.post(f"{url}/add/event", data=death).status_code == 200
    page = client.get(url).text
    assert 'id="alerts-closed"' in page and "2024-05-03 (death)" in page
    assert 'name="alert_key"' not in page  # nothing left to acknowledge after death


def test_every_record_kind_has_its_handlers_and_unknown_kinds_are_404(
    client: TestClient,
) -> None:
    """One table keys the add, correct and delete handlers by record kind."""
    from mst.web import services
    from mst.web.routes.patients import RECORD_KINDS

    assert set(RECORD_KINDS) == set(services.CHILD_FORMS)
    assert {k for k, v in RECORD_KINDS.items() if v.on_donor_page} == {"donor", "antibody"}
    assert RECORD_KINDS["lab"].added_url("P") == "/patients/P#lab"
    assert RECORD_KINDS["lab"].corrected_url("P") == "/patients/P#records"
    assert RECORD_KINDS["antibody"].added_url("P") == "/patients/P/donors"
    token = login(client, "c1")
    for url in ("/patients/C01-0001/add/labs", "/patients/C01-0001/records/labs/1"):
        r = client.post(url, data={"csrf_token": token, "reason": "x"})
        assert r.status_code == 404 and "no such record kind: labs" in r.text
    assert client.get("/patients/C01-0001/records/labs/1").status_code == 404
    # a known kind whose form is refused comes back on its own page, 422
    r = client.post("/patients/C01-0001/add/antibody", data={"csrf_token": token})
    assert r.status_code == 422 and 'id="antibody-form"' in r.text

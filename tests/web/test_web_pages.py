"""Plan, donors, recovery, alerts and cohort pages (TestClient; the browser test walks them too)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from .conftest import login

DONOR_TYPING = (
    "A*02:01+A*03:01^B*07:02+B*35:01^C*07:02+C*04:01^DRB1*15:01+DRB1*01:01"
    "^DQB1*06:02+DQB1*05:01^DPB1*04:01+DPB1*02:01"
)
PATIENT_TYPING = (
    "A*02:01+A*01:01^B*07:02+B*08:01^C*07:02+C*07:01^DRB1*15:01+DRB1*03:01"
    "^DQB1*06:02+DQB1*02:01^DPB1*04:01+DPB1*03:01"
)


def _set_typing(client: TestClient, token: str, pid: str, typing: str) -> None:
    current = client.get(f"/api/patients/{pid}").json()["patient"]
    data = {k: "" if v is None else str(v) for k, v in current.items()}
    data.update({"hla_typing": typing, "csrf_token": token})
    assert client.post(f"/patients/{pid}/edit", data=data).status_code == 200


def test_plan_page_shows_options_doses_and_calendar(client: TestClient) -> None:
    login(client, "c1")
    page = client.get("/patients/C01-0001/plan").text
    assert 'id="assessment"' in page and "004 §" in page
    planned = client.get("/patients/C01-0001/plan?start=2020-05-04&regimen=002-IDAC").text
    assert 'id="doses"' in planned and "cytarabine" in planned
    assert 'id="calendar"' in planned and "2020-05-04" in planned
    assert "GPBSC infusion: from" in planned


def test_plan_page_reports_bad_start(client: TestClient) -> None:
    login(client, "c1")
    page = client.get("/patients/C01-0001/plan?start=2019-01-01&regimen=002-IDAC").text
    assert 'id="plan-error"' in page


def test_donor_ranking_with_reasons(client: TestClient) -> None:
    token = login(client, "c1")
    assert "HLA typing" in client.get("/patients/C01-0002/donors").text
    _set_typing(client, token, "C01-0002", PATIENT_TYPING)
    r = client.post(
        "/patients/C01-0002/add/donor",
        data={
            "csrf_token": token,
            "id": "C01-0002-D2",
            "relationship": "unrelated",
            "sex": "F",
            "age": "60",
            "hla_typing": DONOR_TYPING,
        },
    )
    assert r.status_code == 200
    page = client.get("/patients/C01-0002/donors").text
    assert 'id="ranking-table"' in page
    assert "C01-0002-D2" in page and "excluded" in page  # age 60 is outside 18–55 (002)
    bad = client.post(
        "/patients/C01-0002/add/donor",
        data={
            "csrf_token": token,
            "id": "C01-0002-D3",
            "relationship": "sibling",
            "sex": "M",
            "age": "40",
            "hla_typing": "A*99:99+A*01:01",
        },
    )
    assert bad.status_code == 422 and 'id="err-hla_typing"' in bad.text


def test_antibody_makes_donor_dsa_positive(client: TestClient) -> None:
    token = login(client, "c1")
    _set_typing(client, token, "C01-0002", PATIENT_TYPING)
    client.post(
        "/patients/C01-0002/add/donor",
        data={
            "csrf_token": token,
            "id": "C01-0002-D2",
            "relationship": "child",
            "sex": "M",
            "age": "35",
            "hla_typing": DONOR_TYPING,
        },
    )
    r = client.post(
        "/patients/C01-0002/add/antibody",
        data={"csrf_token": token, "date": "2020-01-09", "specificity": "A*03:01", "mfi": "6000"},
    )
    assert r.status_code == 200
    page = client.get("/patients/C01-0002/donors").text
    assert "A*03:01 6000 MFI" in page and "excluded" in page


def test_counts_give_recovery_and_signs_give_alert(client: TestClient) -> None:
    token = login(client, "c1")
    for day, anc, plt in (
        ("2020-01-16", "0.1", "20"),
        ("2020-01-17", "0.1", "18"),
        ("2020-01-18", "0.2", "15"),
        ("2020-01-30", "0.8", "40"),
        ("2020-01-31", "1.1", "55"),
        ("2020-02-01", "1.6", "70"),
    ):
        for analyte, value in (("anc", anc), ("platelets", plt)):
            r = client.post(
                "/patients/C01-0001/add/lab",
                data={
                    "csrf_token": token,
                    "date": day,
                    "analyte": analyte,
                    "value": value,
                    "unit": "10^9/L",
                },
            )
            assert r.status_code == 200, r.text
    page = client.get("/patients/C01-0001").text
    row = re.search(r'<table class="data" id="recovery">.*?</table>', page, re.S)
    assert row and "2020-01-30" in row.group(0)
    for day, kind in (("2020-01-27", "rash"), ("2020-01-28", "diarrhea")):
        client.post(
            "/patients/C01-0001/add/event", data={"csrf_token": token, "date": day, "kind": kind}
        )
    page = client.get("/patients/C01-0001").text
    assert 'id="alerts"' in page and "GVHD" in page and "004 §2.3" in page


def test_course_and_infusion_forms(client: TestClient) -> None:
    token = login(client, "c1")
    r = client.post(
        "/patients/C01-0001/add/course",
        data={
            "csrf_token": token,
            "number": "2",
            "kind": "consolidation",
            "regimen_id": "002-IDAC",
            "start_date": "2020-04-01",
        },
    )
    assert r.status_code == 200, r.text
    early = client.post(
        "/patients/C01-0001/add/infusion",
        data={
            "csrf_token": token,
            "course_number": "2",
            "donor_id": "C01-0001-D1",
            "infused_at": "2020-03-31T10:00",
            "mnc_1e8_per_kg": "2.5",
            "product": "cryopreserved",
        },
    )
    assert early.status_code == 422 and "before its course starts" in early.text
    ok = client.post(
        "/patients/C01-0001/add/infusion",
        data={
            "csrf_token": token,
            "course_number": "2",
            "donor_id": "C01-0001-D1",
            "infused_at": "2020-04-05T10:00",
            "mnc_1e8_per_kg": "2.5",
            "product": "cryopreserved",
        },
    )
    assert ok.status_code == 200
    assert "Course 2 (consolidation, 002-IDAC) starts" in ok.text


def test_cohort_page_and_csv(client: TestClient) -> None:
    login(client, "an")
    page = client.get("/cohort").text
    assert 'id="cohort-n"' in page and "3 patients" in page
    assert 'id="os"' in page and "Number at risk" in page
    csv_text = client.get("/cohort/table.csv").text
    assert csv_text.splitlines()[0].startswith("patient_id,center_id")
    assert len(csv_text.strip().splitlines()) == 4
    login(client, "c2")
    assert "1 patients" in client.get("/cohort").text


def test_cohort_outcomes_on_a_simulated_cohort() -> None:
    from mst.cohort import build_flat_table
    from mst.simulate import simulate_cohort
    from mst.web.cohort_view import CohortFilters, cohort_outcomes

    table = build_flat_table(simulate_cohort(200, 3))
    out = cohort_outcomes(table, CohortFilters(by="age_group"))
    assert out["n"] == 200
    for panel in ("os", "lfs"):
        assert out[panel]["test"]["name"] == "log-rank" and 0 <= out[panel]["test"]["p"] <= 1
        assert out[panel]["risk"][0]["n_risk"][0] == out[panel]["risk"][0]["n_risk"][0] > 0
    for panel in ("relapse", "nrm"):
        assert out[panel]["test"]["name"] == "Gray" and out[panel]["svg"].startswith("<svg")
    assert out["table1"]["rows"] and out["table1"]["by"] == "Age group (years)"
    one_center = cohort_outcomes(table, CohortFilters(center="C02", by="courses_gt3"))
    assert one_center["n"] == int((table["center_id"] == "C02").sum())

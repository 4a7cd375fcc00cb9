"""Paging of the JSON lists (patients, audit trail): limits, links, totals, one query a page."""

from __future__ import annotations

import html as htmlmod
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from mst.domain import Cohort
from mst.errors import ValidationError
from mst.registry import open_registry
from mst.web.services import API_MAX_LIMIT

from .conftest import login
from .test_web_defects import NEW_PATIENT, add_new_patient


def test_patient_list_pages_with_total_and_links(client: TestClient, web_db: str) -> None:
    login(client, "ad")
    first = client.get("/api/patients?limit=2").json()
    assert (first["total"], first["limit"], first["offset"]) == (3, 2, 0)
    assert [p["id"] for p in first["items"]] == ["C01-0001", "C01-0002"]
    assert first["previous"] is None and first["next"] == "/api/patients?limit=2&offset=2"
    second = client.get(first["next"]).json()
    assert [p["id"] for p in second["items"]] == ["C02-0001"]
    assert second["next"] is None and second["previous"] == "/api/patients?limit=2&offset=0"
    assert second["total"] == 3
    # past the end: no rows, still the total, no next page
    beyond = client.get("/api/patients?limit=2&offset=10").json()
    assert (beyond["items"], beyond["total"], beyond["next"]) == ([], 3, None)
    # default page: everything here, within the default limit
    default = client.get("/api/patients").json()
    assert default["limit"] == 100 and len(default["items"]) == 3 and default["next"] is None
    # a patient added by another process is on the next request (cached per registry version)
    assert NEW_PATIENT not in client.get("/patients").text
    add_new_patient(web_db)
    assert client.get("/api/patients?limit=2&offset=2").json()["total"] == 4
    assert NEW_PATIENT in client.get("/patients").text


def test_links_keep_the_filters_and_totals_follow_scope(client: TestClient) -> None:
    login(client, "ad")
    page = client.get("/api/patients?center=C01&q=c01&limit=1").json()
    assert page["total"] == 2 and [p["id"] for p in page["items"]] == ["C01-0001"]
    assert page["next"] == "/api/patients?q=c01&center=C01&limit=1&offset=1"
    assert [p["id"] for p in client.get(page["next"]).json()["items"]] == ["C01-0002"]
    client.cookies.clear()
    login(client, "c2")  # a clinician of C02 counts only what they see
    own = client.get("/api/patients?limit=1").json()
    assert own["total"] == 1 and own["next"] is None


BAD_PAGING = (
    ("limit=0", "limit", f"must be from 1 to {API_MAX_LIMIT}"),
    (f"limit={API_MAX_LIMIT + 1}", "limit", f"must be from 1 to {API_MAX_LIMIT}"),
    ("limit=ten", "limit", "must be a whole number"),
    ("limit=2.5", "limit", "must be a whole number"),
    ("offset=-1", "offset", "must be a whole number"),
    ("offset=%C2%B2", "offset", "must be a whole number"),
    ("offset=99999999999999999999", "offset", "must be a whole number"),
)


def test_bad_paging_values_get_422_in_plain_words(client: TestClient) -> None:
    login(client, "c1")
    for query, field, words in BAD_PAGING:
        for url in (f"/api/patients?{query}", f"/api/patients/C01-0001/audit?{query}"):
            r = client.get(url)
            assert r.status_code == 422, url
            detail = r.json()["detail"]
            assert detail.startswith(f"{field}:") and words in detail, detail
            assert "pydantic" not in detail and "Traceback" not in detail
    # the boundary values themselves are accepted
    assert client.get("/api/patients?limit=1").json()["limit"] == 1
    assert client.get(f"/api/patients?limit={API_MAX_LIMIT}").json()["limit"] == API_MAX_LIMIT
    assert client.get("/api/patients?offset=0").status_code == 200


def test_audit_pages_join_up_to_the_whole_trail(client: TestClient) -> None:
    login(client, "an")  # analysts: pages keep the field-level scope
    whole = client.get("/api/patients/C01-0001/audit?limit=500").json()
    total = whole["total"]
    assert total == len(whole["items"]) >= 1
    pieces: list[Any] = []
    url: str | None = "/api/patients/C01-0001/audit?limit=1"
    while url:
        page = client.get(url).json()
        assert page["total"] == total and len(page["items"]) <= 1
        pieces += page["items"]
        url = page["next"]
    assert pieces == whole["items"]
    assert all("birth_date" not in (e["before"] or {}) | (e["after"] or {}) for e in pieces)
    assert client.get("/api/patients/C09-0009/audit?limit=1").status_code == 404


@contextmanager
def _data_statements(client: TestClient) -> Iterator[list[str]]:
    """The SQL statements that read data (not the session table) while the block runs."""
    engine = client.app.state.mst.engine  # type: ignore[attr-defined]
    statements: list[str] = []

    def record(_conn: Any, _cur: Any, sql: str, *_args: Any) -> None:
        if "FROM" in sql and "web_sessions" not in sql:
            statements.append(sql)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_each_page_is_one_data_query(client: TestClient) -> None:
    login(client, "ad")
    with _data_statements(client) as statements:
        for url in ("/api/patients?limit=1", "/api/patients?limit=1&offset=2"):
            statements.clear()
            assert len(client.get(url).json()["items"]) == 1
            assert len(statements) == 2, statements  # the registry version + the page
            assert "count(*) OVER" in statements[1]  # the total comes with the page
            statements.clear()
            assert len(client.get(url).json()["items"]) == 1
            assert len(statements) == 1, statements  # cached for this registry version
        statements.clear()
        client.get("/api/patients/C01-0001/audit?limit=1&offset=1")
        assert len(statements) == 2, statements  # the access check (record version) + the page
        statements.clear()
        client.get("/api/patients/C01-0001/audit?limit=1&offset=1")
        assert len(statements) == 1, statements  # cached for this record version


def test_repository_page_counts_within_scope(db_url: str, small_cohort: Cohort) -> None:
    with open_registry(db_url, user="t") as reg:
        reg.import_cohort(small_cohort)
    with open_registry(db_url, user="t", center_scope={"C01"}, migrate=False) as reg:
        rows, total = reg.patient_summary_page(1, 1)
        assert [r.id for r in rows] == ["C01-0002"] and total == 2
        assert reg.patient_summary_page(5, 7) == ([], 2)
        assert reg.patient_summary_page(5, 0, query="0002")[1] == 1
        with pytest.raises(ValidationError):
            reg.patient_summary_page(0, 0)
        entries, n = reg.audit_page("C01-0001", 1, 0)
        assert n >= 1 and len(entries) == 1


def _audit_rows(html: str) -> list[str]:
    body = html.split('<table class="data" id="audit">', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr><td>.*?</tr>", body, flags=re.S)


def _link(html: str, anchor: str) -> str | None:
    m = re.search(rf'<a href="([^"]+)" id="{anchor}">', html)
    return htmlmod.unescape(m.group(1)) if m else None


def test_audit_page_is_paged_like_the_api(client: TestClient) -> None:
    """The HTML audit page: limit/offset, total, links keeping the filters, field scope."""
    login(client, "an")  # analysts: every page keeps the record's field-level scope
    base = "/patients/C01-0001/audit"
    api = client.get(f"/api/patients/C01-0001/audit?limit={API_MAX_LIMIT}").json()
    total = api["total"]
    assert total >= 3
    whole = client.get(f"{base}?limit={API_MAX_LIMIT}").text
    assert f"entries 1–{total} of {total}" in whole and _link(whole, "next-page") is None
    rows: list[str] = []
    url: str | None = f"{base}?limit=2"
    first = True
    while url:
        r = client.get(url)
        assert r.status_code == 200, url
        assert "birth_date" not in r.text and "1952-06-15" not in r.text
        assert (_link(r.text, "previous-page") is None) == first
        first = False
        assert len(_audit_rows(r.text)) <= 2 and f"of {total}" in r.text
        rows += _audit_rows(r.text)
        url = _link(r.text, "next-page")
    assert rows == _audit_rows(whole)  # the pages join up to the whole trail, oldest first
    assert len(rows) == total
    second = client.get(f"{base}?limit=2").text
    assert _link(second, "next-page") == f"{base}?limit=2&offset=2"
    # the filters are kept in the links, and the total counts what passes them
    kept = client.get(f"{base}?entity=lab&action=insert&limit=1").text
    labs = client.get("/api/patients/C01-0001/audit?entity=lab&action=insert").json()
    assert labs["total"] >= 2 and all(e["entity"] == "lab" for e in labs["items"])
    assert f"entries 1–1 of {labs['total']}" in kept
    assert _link(kept, "next-page") == f"{base}?entity=lab&action=insert&limit=1&offset=1"
    assert labs["next"] == (
        "/api/patients/C01-0001/audit?entity=lab&action=insert&limit=100&offset=100"
        if labs["total"] > 100
        else None
    )
    assert "<option selected>lab</option>" in kept
    beyond = client.get(f"{base}?limit=2&offset={total + 5}").text
    assert _audit_rows(beyond) == [] and f"({total} in all)" in beyond
    assert _link(beyond, "next-page") is None
    # the same bad values as the API: 422 in plain words
    for query, field in (
        *((q, f) for q, f, _ in BAD_PAGING),
        ("entity=lbs", "entity"),
        ("action=drop", "action"),
    ):
        for url in (f"{base}?{query}", f"/api/patients/C01-0001/audit?{query}"):
            r = client.get(url)
            assert r.status_code == 422 and field in r.text, url
            assert "pydantic" not in r.text and "Traceback" not in r.text
    client.cookies.clear()
    login(client, "c1")  # clinicians see the identifiers, also in the paged trail
    assert "1952-06-15" in client.get(f"{base}?entity=patient").text
    assert client.get("/patients/C09-0009/audit?limit=1").status_code == 404


def test_each_audit_page_reads_one_page_of_the_trail(client: TestClient) -> None:
    login(client, "c1")
    with _data_statements(client) as statements:
        url = "/patients/C01-0001/audit?limit=1&offset=1&entity=lab"
        assert len(_audit_rows(client.get(url).text)) == 1
        trail = [s for s in statements if "FROM audit" in s and "max(" not in s]
        assert len(trail) == 1, statements  # one query for the page and its total
        assert "count(*) OVER" in trail[0] and "LIMIT" in trail[0]
        # besides: the access checks (record version: the newest audit row only) and the
        # patient's soft-deleted records — nothing else reads the trail
        assert all("max(audit.pk)" in s for s in statements if "FROM audit" in s and s not in trail)
        assert len(statements) <= 5, statements
        statements.clear()
        assert len(_audit_rows(client.get(url).text)) == 1
        assert len(statements) == 1, statements  # cached for this record version


def test_vital_status_questions_are_answered_from_an_index(client: TestClient) -> None:
    """The list's death filter and death date probe ``events(patient_id, kind, date)``."""
    from sqlalchemy import inspect

    engine = client.app.state.mst.engine  # type: ignore[attr-defined]
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("events")}
    assert indexes.get("ix_events_patient_kind") == ["patient_id", "kind", "date"]
    login(client, "ad")
    dead = client.get("/api/patients?status=dead").json()
    alive = client.get("/api/patients?status=alive").json()
    assert dead["total"] + alive["total"] == 3
    assert all(p["death_date"] for p in dead["items"])
    assert not any(p["death_date"] for p in alive["items"])

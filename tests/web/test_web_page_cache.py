"""The patient-page cache is invalidated by any change to the record, whoever makes it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from mst.domain import ClinicalEvent, Cohort
from mst.errors import NotFoundError
from mst.registry import open_registry
from mst.web.page_cache import RecordPageCache


def test_cache_hits_until_the_record_changes(db_url: str, small_cohort: Cohort) -> None:
    builds: list[int] = []

    def build(record: Any) -> dict[str, Any]:
        builds.append(len(record.events))
        return {"n_events": len(record.events)}

    cache = RecordPageCache(size=2)
    with open_registry(db_url, user="a") as reg:
        reg.import_cohort(small_cohort)
        first = cache.get(reg, "C01-0001", build)
        assert cache.get(reg, "C01-0001", build) is first and builds == [3]
        # another user's change (a separate repository, as from the CLI) invalidates
        with open_registry(db_url, user="b", migrate=False) as other:
            rec = other.get_record("C01-0001")
            extra = ClinicalEvent(patient_id="C01-0001", date=dt.date(2020, 2, 1), kind="rash")
            other.save_record(rec.model_copy(update={"events": (*rec.events, extra)}))
        assert cache.get(reg, "C01-0001", build)["n_events"] == 4 and builds == [3, 4]
        # LRU bound: a third patient evicts the least recently used one
        cache.get(reg, "C01-0002", build)
        cache.get(reg, "C02-0001", build)
        cache.get(reg, "C01-0001", build)
        assert builds == [3, 4, 3, 3, 4]


def test_cache_does_not_bypass_center_scope(db_url: str, small_cohort: Cohort) -> None:
    cache = RecordPageCache()
    with open_registry(db_url, user="admin") as reg:
        reg.import_cohort(small_cohort)
        cache.get(reg, "C01-0001", lambda r: {})
    with (
        open_registry(db_url, user="c2", center_scope={"C02"}) as scoped,
        pytest.raises(NotFoundError),
    ):
        cache.get(scoped, "C01-0001", lambda r: {})


def test_cohort_table_cache_follows_registry_changes(db_url: str, small_cohort: Cohort) -> None:
    from mst.web.page_cache import CohortTableCache

    builds: list[int] = []

    def build(frames: Any) -> int:  # the scope's frames (Repository.load_frames)
        builds.append(len(frames.patients))
        return len(frames.patients)

    cache = CohortTableCache()
    with open_registry(db_url, user="a") as reg:
        reg.import_cohort(small_cohort)
        assert cache.get(reg, build) == 3 and cache.get(reg, build) == 3 and builds == [3]
        reg.delete_patient("C01-0002")
        assert cache.get(reg, build) == 2 and builds == [3, 2]
    with open_registry(db_url, user="c2", center_scope={"C02"}) as scoped:
        assert cache.get(scoped, build) == 1  # another scope, another entry
    assert builds == [3, 2, 1]


def test_cohort_statistics_cached_and_routes_use_one_data_query(
    client: Any, web_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import event

    from mst.web import cohort_view
    from mst.web.routes import cohort as cohort_routes

    from .conftest import login
    from .test_web_defects import add_new_patient

    calls: list[int] = []
    real = cohort_view.cohort_outcomes

    def counting(table: Any, f: Any) -> Any:
        calls.append(len(table))
        return real(table, f)

    monkeypatch.setattr(cohort_routes, "cohort_outcomes", counting)
    login(client, "ad")
    assert client.get("/cohort?by=sex").status_code == 200
    assert client.get("/cohort?by=sex").status_code == 200
    assert calls == [3]  # second request: cached per scope, filters and registry version
    client.get("/patients")  # a login or a read does not change the registry version
    assert client.get("/cohort?by=sex").status_code == 200 and calls == [3]
    add_new_patient(web_db)
    assert client.get("/cohort?by=sex").status_code == 200 and calls == [3, 4]

    engine = client.app.state.mst.engine
    statements: list[str] = []

    def record(_conn: Any, _cur: Any, sql: str, *_args: Any) -> None:
        if "FROM" not in sql:  # BEGIN / COMMIT of the transaction itself
            return
        statements.append(sql.split()[0].upper() + " " + sql.split("FROM")[1].split()[0])

    event.listen(engine, "before_cursor_execute", record)
    try:
        for path in ("/api/patients", "/api/patients/C01-0001", "/patients"):
            statements.clear()
            assert client.get(path).status_code == 200
            data = [s for s in statements if "web_sessions" not in s]
            if path != "/api/patients/C01-0001":  # (a record loads table by table)
                assert len(data) == 2, (path, statements)  # the version, then the data
            statements.clear()
            assert client.get(path).status_code == 200
            data = [s for s in statements if "web_sessions" not in s]
            assert len(data) == 1, (path, statements)  # cached: the version only
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_cached_page_content_keeps_tokens_roles_and_scope_apart(client: Any) -> None:
    """Content rendered once is shared only by requests that must see the same thing."""
    from fastapi.testclient import TestClient

    from mst.web.rendering import CSRF_SLOT

    from .conftest import csrf_of, login

    def page(c: TestClient, path: str = "/patients/C01-0001") -> str:
        r = c.get(path)
        assert r.status_code == 200 and CSRF_SLOT not in r.text
        return r.text

    first, second, viewer, analyst = (TestClient(client.app) for _ in range(4))
    token1, token2 = login(first, "c1"), login(second, "c1")
    login(viewer, "v1")
    login(analyst, "an")
    html1, html2 = page(first), page(second)
    assert token1 != token2 and token1 in html1 and token2 in html2 and token1 not in html2
    assert "/records/lab/1" in html1 and 'id="lab-form"' in html1
    seen = page(viewer)
    assert "/records/lab/1" not in seen and 'id="lab-form"' not in seen  # a viewer's own page
    assert "born 1952-06-15" in html1 and "born" not in page(analyst)
    # a change by anyone is on the next request of everyone
    r = first.post(
        "/patients/C01-0001/add/lab",
        data={"csrf_token": csrf_of(html1), "date": "2020-03-01", "analyte": "anc", "value": "7.7"},
    )
    assert r.status_code == 200
    assert "7.7" in page(viewer, "/patients/C01-0001?lab_analyte=anc&lab_from=2020-03-01")
    assert "7.7" in page(analyst, "/patients/C01-0001/audit")
    assert "1952-06-15" not in page(analyst, "/patients/C01-0001/audit")
    assert "1952-06-15" in page(viewer, "/patients/C01-0001/audit")

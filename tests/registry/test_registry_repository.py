"""Repository: round trips, transactions, audit trail and center scope, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from mst.domain import ClinicalEvent, Cohort, LabResult, PatientRecord
from mst.errors import ConsistencyError, NotFoundError
from mst.registry import open_registry
from mst.registry.db import current_revision, downgrade, head_revision, make_engine

Make = Callable[..., PatientRecord]


def test_roundtrip_is_lossless(db_url: str, small_cohort: Cohort) -> None:
    with open_registry(db_url, user="alice") as reg:
        assert reg.import_cohort(small_cohort) == 3
        assert reg.load_cohort() == small_cohort
        assert reg.get_record("C01-0002") == small_cohort.records[1]


def test_migrations_upgrade_and_downgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with open_registry(db_url):
            pass
        assert current_revision(engine) == head_revision()
        downgrade(engine, "base")
        assert current_revision(engine) is None
    finally:
        engine.dispose()


def test_failed_import_leaves_database_unchanged(
    db_url: str, small_cohort: Cohort, make_record: Make
) -> None:
    with open_registry(db_url, user="alice") as reg:
        reg.import_cohort(Cohort(centers=small_cohort.centers, records=small_cohort.records[:1]))
        before_rows = reg.counts()
        before_cohort = reg.load_cohort()
        orphan = make_record("C09-0001", "C09")  # center C09 is not registered
        bad = Cohort(centers=small_cohort.centers, records=(*small_cohort.records[1:], orphan))
        with pytest.raises(ConsistencyError, match="center C09 is not registered"):
            reg.import_cohort(bad)
        assert reg.counts() == before_rows
        assert reg.load_cohort() == before_cohort


def test_inconsistent_record_is_not_written(db_url: str, small_cohort: Cohort) -> None:
    with open_registry(db_url, user="alice") as reg:
        reg.import_cohort(small_cohort)
        rec = reg.get_record("C01-0001")
        assert rec.death is not None
        late = ClinicalEvent(
            patient_id=rec.patient.id, date=rec.death.date + dt.timedelta(days=1), kind="fever"
        )
        before = reg.counts()
        with pytest.raises(ConsistencyError, match="after death"):
            reg.save_record(rec.model_copy(update={"events": (*rec.events, late)}))
        assert reg.counts() == before
        assert reg.get_record("C01-0001") == rec


def test_audit_trail_reads_back_insert_update_delete(db_url: str, small_cohort: Cohort) -> None:
    with open_registry(db_url, user="alice") as reg:
        reg.import_cohort(small_cohort)
    with open_registry(db_url, user="bob") as reg:
        rec = reg.get_record("C01-0001")
        new_weight = rec.patient.model_copy(update={"weight_kg": 59.0})
        extra_lab = LabResult(
            patient_id=rec.patient.id,
            date=dt.date(2020, 2, 1),
            analyte="anc",
            value=2.2,
            unit="10^9/L",
        )
        reg.save_record(
            rec.model_copy(update={"patient": new_weight, "labs": (*rec.labs, extra_lab)})
        )
        reg.delete_patient("C01-0002")
        log = reg.audit_log()
        patient_log = reg.audit_log(patient_id="C01-0001")
    inserts = [e for e in log if e.user == "alice" and e.action == "insert"]
    n_entities = 2 + sum(
        1
        + len(r.donors)
        + len(r.courses)
        + len(r.infusions)
        + len(r.labs)
        + len(r.events)
        + len(r.responses)
        + len(r.antibodies)
        for r in small_cohort.records
    )
    assert len(inserts) == n_entities
    update = next(e for e in log if e.user == "bob" and e.action == "update")
    assert update.entity == "patient" and update.entity_key == "C01-0001"
    assert update.before is not None and update.after is not None
    assert (update.before["weight_kg"], update.after["weight_kg"]) == (61.5, 59.0)
    lab_insert = [e for e in log if e.user == "bob" and e.action == "insert"]
    assert len(lab_insert) == 1 and lab_insert[0].after is not None
    assert lab_insert[0].after["value"] == 2.2 and lab_insert[0].before is None
    deletes = [e for e in log if e.action == "delete"]
    assert {e.patient_id for e in deletes} == {"C01-0002"}
    assert any(e.entity == "patient" and e.before is not None for e in deletes)
    assert all(e.patient_id == "C01-0001" for e in patient_log)
    assert all(isinstance(e.at, dt.datetime) for e in log)


def test_resaving_unchanged_record_writes_no_audit(db_url: str, small_cohort: Cohort) -> None:
    with open_registry(db_url, user="alice") as reg:
        reg.import_cohort(small_cohort)
        n = len(reg.audit_log())
        reg.save_record(small_cohort.records[0])
        assert len(reg.audit_log()) == n


def test_center_scope_hides_other_centers(
    db_url: str, small_cohort: Cohort, make_record: Make
) -> None:
    with open_registry(db_url, user="admin") as reg:
        reg.import_cohort(small_cohort)
    with open_registry(db_url, user="c2", center_scope={"C02"}) as reg:
        assert reg.patient_ids() == ["C02-0001"]
        assert [c.id for c in reg.centers()] == ["C02"]
        with pytest.raises(NotFoundError):
            reg.get_record("C01-0001")
        with pytest.raises(NotFoundError):
            reg.load_records(["C01-0001"])
        with pytest.raises(ConsistencyError, match="outside this user's centers"):
            reg.save_record(make_record("C01-0005"))
        with pytest.raises(NotFoundError):
            reg.delete_patient("C01-0001")


def test_unknown_patient(db_url: str) -> None:
    with open_registry(db_url) as reg, pytest.raises(NotFoundError, match="C01-4040"):
        reg.get_record("C01-4040")


def test_bulk_import_dumps_equal_pydantic_dumps(small_cohort: Cohort) -> None:
    """The import reads flat models' fields directly: the same dicts as pydantic's dumps."""
    from mst.registry.repository import _FLAT, _columns, _json

    items = [*small_cohort.centers]
    for rec in small_cohort.records:
        items += [rec.patient, *rec.donors, *rec.infusions, *rec.labs, *rec.events,
                  *rec.responses, *rec.antibodies]
        items += [a for c in rec.courses for a in c.administrations]
    assert {type(x) for x in items} == set(_FLAT)
    for x in items:
        assert _json(x) == x.model_dump(mode="json")
        assert _columns(x) == {k: (v.value if hasattr(v, "value") else v)
                               for k, v in x.model_dump().items()}


def test_audit_rows_written_in_chunks_chain_like_one_flush(
    db_url: str, small_cohort: Cohort, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk import chains and writes its audit rows every few records: same rows, same order."""
    from mst.registry import repository

    def trail(url: str) -> list[tuple[str, str, str]]:
        with open_registry(url, user="alice") as reg:
            reg.import_cohort(small_cohort)
            assert reg.verify_audit().ok
            return [(e.action, e.entity, e.entity_key) for e in reg.audit_log()]

    one_flush = trail(db_url)
    with open_registry(db_url, user="alice") as reg:
        for rec in small_cohort.records:
            reg.delete_patient(rec.patient.id)
    monkeypatch.setattr(repository, "_AUDIT_CHUNK", 1)
    chunked = trail(db_url)
    records = [x for x in one_flush if x[1] != "center"]  # centers: audited once
    assert len(records) > 3 * len(small_cohort.records)
    assert chunked[-len(records):] == records

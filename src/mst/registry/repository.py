"""The repository: the only code that queries the registry tables.

Every public write method runs in one transaction: it validates first
(field rules in :mod:`mst.domain`, cross-record rules in
:meth:`mst.domain.PatientRecord.check_consistency`), then writes the rows and
one audit row per inserted, updated or deleted entity. Any failure rolls the
whole transaction back, so the database is left exactly as before.

A repository may be scoped to a set of centers (``center_scope``): it then
neither reads nor writes patients of other centers.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, get_args, get_origin

from sqlalchemy import Engine, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from mst.domain import (
    AntibodyResult,
    Center,
    ClinicalEvent,
    Cohort,
    Course,
    Donor,
    DrugAdministration,
    Infusion,
    LabResult,
    Patient,
    PatientRecord,
    ResponseAssessment,
)
from mst.errors import ConsistencyError, NotFoundError, ValidationError
from mst.registry.audit_chain import GENESIS, ChainReport, chain_key, row_digest, verify_rows
from mst.registry.db import PG_LOCK_TIMEOUT, PG_WRITE_LOCK, WRITE_FLAG
from mst.registry.errors import integrity_error, is_busy
from mst.registry.schema import (
    AdministrationRow,
    AlertAckRow,
    AntibodyRow,
    AuditHeadRow,
    AuditRow,
    CenterRow,
    CourseRow,
    DeletedRecordRow,
    DonorRow,
    EventRow,
    InfusionRow,
    LabRow,
    PatientRow,
    ResponseRow,
)

if TYPE_CHECKING:
    from mst.io.frames import CohortFrames


@dataclass(frozen=True)
class AuditEntry:
    """One audited change, as read back from the audit table.

    Attributes
    ----------
    at : datetime.datetime
        When (UTC, naive).
    user : str
        Who made the change.
    action : str
        ``insert``, ``update`` or ``delete``.
    entity : str
        Entity type (``patient``, ``lab`` …).
    entity_key : str
        Key of the entity within its type.
    patient_id : str or None
        Patient the entity belongs to.
    before, after : dict or None
        The entity before and after the change (``None`` for insert/delete).
    """

    at: dt.datetime
    user: str
    action: str
    entity: str
    entity_key: str
    patient_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None = None


@dataclass(frozen=True)
class PatientSummary:
    """One line of the patient list."""

    id: str
    center_id: str
    sex: str
    age: int
    diagnosis: str
    diagnosis_date: dt.date
    courses: int
    death_date: dt.date | None
    last_followup_date: dt.date | None

    @property
    def alive(self) -> bool:
        """True when no death is recorded."""
        return self.death_date is None


#: The audit's JSON text: json.dumps(content, sort_keys=True), one encoder for all rows.
_SORTED = json.JSONEncoder(sort_keys=True)


def _json(model: Any) -> dict[str, Any]:
    conv = _FLAT_JSON.get(type(model))
    if conv is None:
        return model.model_dump(mode="json")  # type: ignore[no-any-return]
    out = dict(model.__dict__)  # the same dict as model_dump(mode="json"), much faster
    for k in conv:
        v = out[k]
        if v is not None:
            out[k] = _json_value(v)
    return out


def _json_value(v: Any) -> Any:
    t = type(v)
    if v is None or t is str or t is int:
        return v
    if t is float:
        return v if math.isfinite(v) else None  # pydantic's JSON mode: inf/nan -> null
    if isinstance(v, Enum):
        return v.value
    if t is dt.date or t is dt.datetime:
        return v.isoformat()
    raise TypeError(f"no JSON form for a {t.__name__}")  # pragma: no cover - new field type


def _entities(rec: PatientRecord) -> dict[tuple[str, str], dict[str, Any]]:
    """Audit view of a record: entity (type, key) → JSON-able content."""
    out: dict[tuple[str, str], dict[str, Any]] = {("patient", rec.patient.id): _json(rec.patient)}
    for d in rec.donors:
        out[("donor", d.id)] = _json(d)
    for c in rec.courses:
        out[("course", f"{c.patient_id}/course {c.number}")] = _json(c)
    for i, inf in enumerate(rec.infusions, 1):
        key = "/".join(
            (
                inf.patient_id,
                f"course {inf.course_number}",
                inf.donor_id,
                inf.infused_at.isoformat(),
            )
        )
        out[("infusion", key if ("infusion", key) not in out else f"{key}#{i}")] = _json(inf)
    for kind, items in (
        ("lab", rec.labs),
        ("event", rec.events),
        ("response", rec.responses),
        ("antibody", rec.antibodies),
    ):
        counts: dict[str, int] = {}
        for item in items:
            content = _json(item)
            base = f"{rec.patient.id}/{item.date.isoformat()}/" + "/".join(
                str(content[k])
                for k in ("analyte", "kind", "category", "specificity")
                if k in content
            )
            counts[base] = counts.get(base, 0) + 1
            out[(kind, f"{base}#{counts[base]}")] = content
    return out


class Repository:
    """Registry access for one user (and optionally a set of centers).

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Engine of an upgraded registry database.
    user : str
        Recorded as "who" in the audit table.
    center_scope : set of str, optional
        Centers this repository may read and write; ``None`` means all.
    """

    def __init__(
        self, engine: Engine, user: str, center_scope: Iterable[str] | None = None
    ) -> None:
        if not user:
            raise ValidationError("user", user, "must be a non-empty name")
        self.engine = engine
        self.user = user
        self.center_scope = frozenset(center_scope) if center_scope is not None else None

    # -- transactions -----------------------------------------------------------------
    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on any error.

        Write transactions take SQLite's write lock at once (waiting up to the busy
        timeout for another writer); audit rows added with :meth:`_audit` are chained and
        written at the end. A database that stays locked becomes
        :class:`~mst.registry.errors.RegistryBusyError`, and a constraint the database
        enforces becomes a :class:`~mst.errors.ConsistencyError` naming table and field.
        """
        try:
            with self.engine.connect() as conn:
                if write:
                    conn.info[WRITE_FLAG] = True
                try:
                    with conn.begin(), Session(bind=conn, expire_on_commit=False) as session:
                        if write and conn.dialect.name == "postgresql":
                            # writers queue one behind the other, as SQLite's write lock
                            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{PG_LOCK_TIMEOUT}'")
                            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_WRITE_LOCK})")
                        yield session
                        self._flush_audit(session)
                        session.flush()
                finally:
                    conn.info.pop(WRITE_FLAG, None)
        except OperationalError as exc:
            if is_busy(exc):
                from mst.registry.errors import RegistryBusyError

                raise RegistryBusyError() from None
            raise
        except IntegrityError as exc:
            raise integrity_error(exc) from None

    def _visible(self, center_id: str) -> bool:
        return self.center_scope is None or center_id in self.center_scope

    def _audit(
        self,
        session: Session,
        action: str,
        entity: str,
        key: str,
        patient_id: str | None,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        center_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Queue one audit row; it is chained and written when the transaction ends."""
        session.info.setdefault("mst_audit", []).append(
            {
                "at": _now(),
                "user": self.user,
                "action": action,
                "entity": entity,
                "entity_key": key,
                "patient_id": patient_id,
                "center_id": center_id,
                "before": _SORTED.encode(before) if before is not None else None,
                "after": _SORTED.encode(after) if after is not None else None,
                "reason": reason,
            }
        )

    def _flush_audit(self, s: Session) -> None:
        pending: list[dict[str, Any]] = s.info.pop("mst_audit", [])
        if not pending:
            return
        unknown = {a["patient_id"] for a in pending if a["center_id"] is None and a["patient_id"]}
        centers: dict[str, str] = {}
        ids = sorted(unknown)
        for start in range(0, len(ids), 500):
            q = select(PatientRow.id, PatientRow.center_id).where(
                PatientRow.id.in_(ids[start : start + 500])
            )
            centers.update({pid: cid for pid, cid in s.execute(q)})
        for a in pending:
            if a["center_id"] is None and a["patient_id"]:
                a["center_id"] = centers.get(a["patient_id"])
        chains = sorted({chain_key(a["center_id"]) for a in pending})
        heads = self._lock_heads(s, chains)
        for a in pending:
            chain = chain_key(a["center_id"])
            n, prev = heads[chain]
            a["chain_seq"] = n + 1
            a["prev_hash"] = prev
            a["row_hash"] = row_digest(
                a["at"], a["user"], a["action"], a["entity"], a["entity_key"],
                a["patient_id"], a["center_id"], n + 1, a["before"], a["after"], prev,
                a.get("reason"),
            )
            heads[chain] = (n + 1, a["row_hash"])
        _insert_many(s, AuditRow.__table__, pending)
        t = AuditHeadRow.__table__
        s.execute(
            update(t)
            .where(t.c.chain == bindparam("b_chain"))
            .values(n_rows=bindparam("b_n"), last_hash=bindparam("b_hash")),
            [{"b_chain": c, "b_n": heads[c][0], "b_hash": heads[c][1]} for c in chains],
        )

    def _lock_heads(self, s: Session, chains: list[str]) -> dict[str, tuple[int, str]]:
        """Current heads of these chains, created when new and locked until commit."""
        dialect = s.get_bind().dialect.name
        rows = [{"chain": c, "n_rows": 0, "last_hash": GENESIS} for c in chains]
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            s.execute(pg_insert(AuditHeadRow.__table__).on_conflict_do_nothing(), rows)
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            s.execute(sqlite_insert(AuditHeadRow.__table__).on_conflict_do_nothing(), rows)
        q = select(AuditHeadRow.chain, AuditHeadRow.n_rows, AuditHeadRow.last_hash).where(
            AuditHeadRow.chain.in_(chains)
        )
        if dialect == "postgresql":
            q = q.with_for_update()
        return {c: (int(n), h) for c, n, h in s.execute(q)}

    def verify_audit(self) -> ChainReport:
        """Recompute the audit hash chains and name the first broken row.

        Returns
        -------
        mst.registry.audit_chain.ChainReport
        """
        with self._tx() as s:
            heads = {
                c: (int(n), h)
                for c, n, h in s.execute(
                    select(AuditHeadRow.chain, AuditHeadRow.n_rows, AuditHeadRow.last_hash)
                )
            }
            t = AuditRow.__table__
            chain_expr = func.coalesce(t.c.center_id, "*")
            q = select(t).order_by(chain_expr, t.c.chain_seq, t.c.pk)
            rows = s.execute(q.execution_options(yield_per=5000))
            try:
                return verify_rows(rows, heads)
            finally:
                rows.close()

    # -- centers ----------------------------------------------------------------------
    def add_center(self, center: Center) -> None:
        """Insert or update a center (one transaction, audited)."""
        with self._tx(write=True) as s:
            self._put_center(s, center)

    def _put_center(self, s: Session, center: Center) -> None:
        if not self._visible(center.id):
            raise ConsistencyError(f"center {center.id}", "outside this user's centers")
        row = s.get(CenterRow, center.id)
        after = _json(center)
        if row is None:
            s.add(CenterRow(id=center.id, name=center.name, country=center.country))
            self._audit(s, "insert", "center", center.id, None, None, after, center.id)
        else:
            before = _json(Center(id=row.id, name=row.name, country=row.country))
            if before != after:
                row.name, row.country = center.name, center.country
                self._audit(s, "update", "center", center.id, None, before, after, center.id)

    def centers(self) -> list[Center]:
        """Centers visible to this repository, by id."""
        with self._tx() as s:
            rows = s.scalars(select(CenterRow).order_by(CenterRow.id)).all()
            return [
                Center(id=r.id, name=r.name, country=r.country) for r in rows if self._visible(r.id)
            ]

    # -- patient records --------------------------------------------------------------
    def save_record(self, record: PatientRecord, reason: str | None = None) -> None:
        """Insert a patient record or replace the stored one (one transaction, audited).

        Parameters
        ----------
        record : mst.domain.PatientRecord
            The complete record after the change.
        reason : str, optional
            Reason for the change, written to every audit row of it.

        Raises
        ------
        mst.errors.ConsistencyError
            Cross-record rule broken, unknown center, or center outside the scope.
        """
        record.check_consistency()
        with self._tx(write=True) as s:
            self._put_record(s, record, reason)

    def import_cohort(self, cohort: Cohort, progress: Callable[[int], None] | None = None,
                      *, checked: bool = False) -> int:
        """Write a whole cohort in one transaction: all of it or nothing.

        Patients new to the registry are written in bulk (one multi-row insert per table
        and chunk, audit rows too); patients already present are replaced record by
        record, with an audit row for each changed entity.

        Parameters
        ----------
        cohort : mst.domain.Cohort
            Validated centers and records (see :func:`mst.io.exchange.read_cohort`).
        progress : callable, optional
            Called with the number of records written so far (for progress bars).
        checked : bool
            The cohort comes from :func:`mst.io.exchange.read_cohort`, which ran every
            record's consistency checks already; they are not run a second time.

        Returns
        -------
        int
            Number of patient records written.

        Raises
        ------
        mst.errors.ConsistencyError
            A record breaks a cross-record rule, names an unknown center or one outside
            the scope, or a donor id already belongs to another patient of the registry.
        mst.registry.errors.RegistryBusyError
            Another writer holds the registry longer than the busy timeout.
        """
        if not checked:
            for rec in cohort.records:
                rec.check_consistency()
        with self._tx(write=True) as s:
            for c in cohort.centers:
                self._put_center(s, c)
            ids = [r.patient.id for r in cohort.records]
            existing: set[str] = set()
            for start in range(0, len(ids), 500):
                q = select(PatientRow.id).where(PatientRow.id.in_(ids[start : start + 500]))
                existing.update(s.scalars(q))
            done = 0
            fresh: list[PatientRecord] = []
            for rec in cohort.records:
                if rec.patient.id in existing:
                    self._put_record(s, rec)
                    done += 1
                    if progress is not None:
                        progress(done)
                else:
                    fresh.append(rec)
            for start in range(0, len(fresh), _BULK_CHUNK):
                chunk = fresh[start : start + _BULK_CHUNK]
                self._bulk_insert(s, chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done)
        return len(cohort.records)

    def import_frames(self, frames: CohortFrames,
                      progress: Callable[[int], None] | None = None) -> int:
        """Write validated frames in one transaction: all of it or nothing.

        The registry ends exactly as after :meth:`import_cohort` of the same cohort (every
        table, audit rows and their hash chain included), without building domain objects
        for patients new to the registry: their rows and audit rows are built column by
        column, a chunk of patients at a time (:mod:`mst.registry.frames_import`).
        Patients already present are replaced record by record, as by
        :meth:`import_cohort`.

        Parameters
        ----------
        frames : mst.io.frames.CohortFrames
            Validated frames (:func:`mst.io.exchange_frames.read_frames`: every field and
            cross-record rule checked).
        progress : callable, optional
            Called with the number of patients written so far.

        Returns
        -------
        int
            Number of patient records written.

        Raises
        ------
        mst.errors.ConsistencyError
            A patient names an unknown center or one outside the scope, or a donor id
            already belongs to another patient of the registry.
        mst.registry.errors.RegistryBusyError
            Another writer holds the registry longer than the busy timeout.
        """
        from mst.io.exchange_frames import cohort_from_frames
        from mst.registry.frames_import import FramesWriter, frames_subset

        C = frames.centers
        centers = [
            Center.model_construct(id=i, name=n, country=c)
            for i, n, c in zip(C["id"].tolist(), C["name"].tolist(), C["country"].tolist(),
                               strict=True)
        ]
        ids = frames.patients["id"].tolist()
        with self._tx(write=True) as s:
            for c in centers:
                self._put_center(s, c)
            existing: set[str] = set()
            for start in range(0, len(ids), 500):
                q = select(PatientRow.id).where(PatientRow.id.in_(ids[start : start + 500]))
                existing.update(s.scalars(q))
            done = 0
            if existing:
                for rec in cohort_from_frames(frames_subset(frames, existing, True)).records:
                    self._put_record(s, rec)
                    done += 1
                    if progress is not None:
                        progress(done)
                frames = frames_subset(frames, existing, False)
            self._flush_audit(s)  # centers and replaced records first, as import_cohort
            writer = FramesWriter(s, frames, self.user, self._visible, self._lock_heads)
            writer.check()
            writer.write(None if progress is None else lambda k: progress(done + k))
        return len(ids)

    def _bulk_insert(self, s: Session, records: list[PatientRecord]) -> None:
        """Insert records of patients not yet in the registry (multi-row inserts)."""
        from mst.registry.frames_import import check_new_patients

        check_new_patients(
            s,
            self._visible,
            ((r.patient.id, r.patient.center_id) for r in records),
            {d.id: rec.patient.id for rec in records for d in rec.donors},
        )

        def run(table: Any, rows: list[dict[str, Any]]) -> None:
            _insert_many(s, table.__table__, rows)

        run(PatientRow, [_patient_columns(r.patient) for r in records])
        run(DonorRow, [_columns(d) for r in records for d in r.donors])
        run(
            CourseRow,
            [
                {
                    "patient_id": c.patient_id,
                    "number": c.number,
                    "kind": c.kind.value,
                    "regimen_id": c.regimen_id,
                    "start_date": c.start_date,
                }
                for r in records
                for c in r.courses
            ],
        )
        pids = [r.patient.id for r in records]
        course_pk: dict[tuple[str, int], int] = {}
        for start in range(0, len(pids), 500):
            q = select(CourseRow.patient_id, CourseRow.number, CourseRow.pk).where(
                CourseRow.patient_id.in_(pids[start : start + 500])
            )
            course_pk.update({(pid, n): pk for pid, n, pk in s.execute(q)})
        run(
            AdministrationRow,
            [
                {"course_pk": course_pk[(c.patient_id, c.number)], "seq": i,
                 **a.model_dump(mode="json")}
                for r in records
                for c in r.courses
                for i, a in enumerate(c.administrations)
            ],
        )
        for table, attr in (
            (InfusionRow, "infusions"),
            (LabRow, "labs"),
            (EventRow, "events"),
            (ResponseRow, "responses"),
            (AntibodyRow, "antibodies"),
        ):
            run(
                table,
                [
                    {"seq": i, **_columns(item)}
                    for r in records
                    for i, item in enumerate(getattr(r, attr))
                ],
            )
        for k, rec in enumerate(records, 1):
            p = rec.patient
            for key, content in sorted(_entities(rec).items(), key=lambda kv: _audit_order(kv[0])):
                self._audit(s, "insert", key[0], key[1], p.id, None, content, p.center_id)
            if k % _AUDIT_CHUNK == 0:
                # Chain and write the queued audit rows now (same order, same transaction,
                # heads locked until commit): a large import never holds them all in memory.
                self._flush_audit(s)

    def _put_record(self, s: Session, record: PatientRecord, reason: str | None = None) -> None:
        p = record.patient
        if not self._visible(p.center_id):
            raise ConsistencyError(
                f"patient {p.id}", f"center {p.center_id} is outside this user's centers"
            )
        if s.get(CenterRow, p.center_id) is None:
            raise ConsistencyError(f"patient {p.id}", f"center {p.center_id} is not registered")
        existing = s.get(PatientRow, p.id)
        before: dict[tuple[str, str], dict[str, Any]] = {}
        if existing is not None:
            if not self._visible(existing.center_id):
                raise NotFoundError(f"patient {p.id} not found")
            before = _entities(self._load(s, existing))
            self._delete_children(s, p.id)
            for field, value in _patient_columns(p).items():
                setattr(existing, field, value)
        else:
            s.add(PatientRow(**_patient_columns(p)))
        s.flush()
        self._insert_children(s, record)
        after = _entities(record)
        for key in sorted(before.keys() | after.keys(), key=_audit_order):
            b, a = before.get(key), after.get(key)
            if b == a:
                continue
            action = "insert" if b is None else "delete" if a is None else "update"
            self._audit(s, action, key[0], key[1], p.id, b, a, p.center_id, reason)

    def delete_patient(self, patient_id: str) -> None:
        """Delete a patient and everything recorded for them (audited per entity)."""
        with self._tx(write=True) as s:
            row = s.get(PatientRow, patient_id)
            if row is None or not self._visible(row.center_id):
                raise NotFoundError(f"patient {patient_id} not found")
            for (entity, key), content in _entities(self._load(s, row)).items():
                self._audit(s, "delete", entity, key, patient_id, content, None, row.center_id)
            self._delete_children(s, patient_id)
            s.delete(row)

    def _delete_children(self, s: Session, patient_id: str) -> None:
        course_pks = select(CourseRow.pk).where(CourseRow.patient_id == patient_id)
        s.execute(delete(AdministrationRow).where(AdministrationRow.course_pk.in_(course_pks)))
        for table in (LabRow, InfusionRow, EventRow, ResponseRow, AntibodyRow, CourseRow, DonorRow):
            s.execute(delete(table).where(table.patient_id == patient_id))
        s.flush()

    def _insert_children(self, s: Session, rec: PatientRecord) -> None:
        for d in rec.donors:
            s.add(DonorRow(**d.model_dump()))
        s.flush()
        for c in rec.courses:
            row = CourseRow(
                patient_id=c.patient_id,
                number=c.number,
                kind=c.kind.value,
                regimen_id=c.regimen_id,
                start_date=c.start_date,
            )
            s.add(row)
            s.flush()
            for i, a in enumerate(c.administrations):
                s.add(AdministrationRow(course_pk=row.pk, seq=i, **a.model_dump(mode="json")))
        for table, items in (
            (InfusionRow, rec.infusions),
            (LabRow, rec.labs),
            (EventRow, rec.events),
            (ResponseRow, rec.responses),
            (AntibodyRow, rec.antibodies),
        ):
            s.add_all(table(seq=i, **_columns(item)) for i, item in enumerate(items))
        s.flush()

    def get_record(self, patient_id: str) -> PatientRecord:
        """Load one patient record.

        Raises
        ------
        mst.errors.NotFoundError
            Unknown patient, or a patient of a center outside the scope.
        """
        with self._tx() as s:
            row = s.get(PatientRow, patient_id)
            if row is None or not self._visible(row.center_id):
                raise NotFoundError(f"patient {patient_id} not found")
            return self._load(s, row)

    def record_version(self, patient_id: str) -> int:
        """A number that changes whenever the patient's record changes (its newest audit row).

        Lets callers cache what they derive from a record. Raises
        :class:`~mst.errors.NotFoundError` for unknown or invisible patients.
        """
        # one query: the scope check and the version together (plain rows, no ORM session:
        # the web app asks this on every request)
        with self.engine.connect() as conn:
            row = conn.execute(_RECORD_VERSION, {"pid": patient_id}).first()
        if row is None or not self._visible(row[0]):
            raise NotFoundError(f"patient {patient_id} not found")
        return int(row[1] or 0)

    def registry_version(self) -> int:
        """A number that changes whenever the registry's records change (newest audit row).

        Audit rows of logins, user accounts and alert acknowledgements do not count: they
        change no patient data.
        """
        with self.engine.connect() as conn:  # plain rows: asked on every list request
            return int(conn.execute(_REGISTRY_VERSION).scalar() or 0)

    def patient_ids(self, center_id: str | None = None) -> list[str]:
        """Ids of the visible patients (optionally of one center), sorted."""
        with self._tx() as s:
            q = select(PatientRow.id, PatientRow.center_id).order_by(PatientRow.id)
            if center_id is not None:
                q = q.where(PatientRow.center_id == center_id)
            return [pid for pid, cid in s.execute(q) if self._visible(cid)]

    def patient_summaries(
        self,
        query: str | None = None,
        center_id: str | None = None,
        diagnosis: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[PatientSummary]:
        """Visible patients with their vital status, filtered, sorted by id (one query).

        Parameters
        ----------
        query : str, optional
            Case-insensitive substring of the patient id.
        center_id, diagnosis : str, optional
            Exact filters.
        status : {"alive", "dead"}, optional
            Vital status filter.
        limit, offset : int, optional
            A page of the list (all rows by default).

        Returns
        -------
        list of PatientSummary
        """
        ids = self._matching_ids(query, center_id, diagnosis, status)
        if limit is not None:
            ids = ids.limit(limit).offset(offset)
        with self._tx() as s:
            return [_summary(r) for r in s.execute(self._summaries_of(ids.subquery()))]

    def patient_summary_page(
        self,
        limit: int,
        offset: int = 0,
        query: str | None = None,
        center_id: str | None = None,
        diagnosis: str | None = None,
        status: str | None = None,
    ) -> tuple[list[PatientSummary], int]:
        """One page of :meth:`patient_summaries` and the number of matching patients.

        One query: the page's ids and the total (a window count) come from the patient
        table alone, and only the page's rows get their death date and course count. A page
        past the end (no rows to carry the count) costs a second, counting query.

        Parameters
        ----------
        limit : int
            Rows per page (at least 1).
        offset : int
            Rows skipped (0 or more).
        query, center_id, diagnosis, status
            As :meth:`patient_summaries`.

        Returns
        -------
        (list of PatientSummary, int)
            The page and the total number of matching patients.
        """
        if limit < 1 or offset < 0:
            raise ValidationError("limit", limit, "must be at least 1 (offset at least 0)")
        ids = self._matching_ids(query, center_id, diagnosis, status)
        page = ids.add_columns(func.count().over().label("total")).limit(limit).offset(offset)
        with self._tx() as s:
            rows = list(s.execute(self._summaries_of(page.subquery())))
            if rows:
                return [_summary(r) for r in rows], int(rows[0].total)
            counted = select(func.count()).select_from(ids.order_by(None).subquery())
            return [], int(s.scalar(counted) or 0)

    def _matching_ids(
        self,
        query: str | None,
        center_id: str | None,
        diagnosis: str | None,
        status: str | None,
    ) -> Any:
        """Ids of the visible patients that pass the filters, sorted (a select to nest)."""
        if status not in (None, "", "alive", "dead"):
            raise ValidationError("status", status, "must be alive or dead")
        q = select(PatientRow.id).order_by(PatientRow.id)
        if query:
            q = q.where(func.lower(PatientRow.id).contains(query.lower(), autoescape=True))
        if center_id:
            q = q.where(PatientRow.center_id == center_id)
        if self.center_scope is not None:
            q = q.where(PatientRow.center_id.in_(sorted(self.center_scope)))
        if diagnosis:
            q = q.where(PatientRow.diagnosis == diagnosis)
        if status:
            died = (
                select(EventRow.pk)
                .where(EventRow.patient_id == PatientRow.id, EventRow.kind == "death")
                .exists()
            )
            q = q.where(died if status == "dead" else ~died)
        return q

    @staticmethod
    def _summaries_of(ids: Any) -> Any:
        """The summary columns of the patients in the subquery ``ids`` (sorted by id); its
        other columns (the total of a page) are carried along."""
        death = (
            select(func.min(EventRow.date))
            .where(EventRow.patient_id == PatientRow.id, EventRow.kind == "death")
            .scalar_subquery()
        )
        n_courses = (
            select(func.count(CourseRow.pk))
            .where(CourseRow.patient_id == PatientRow.id)
            .scalar_subquery()
        )
        extra = [c for c in ids.c if c.name != "id"]
        return (
            select(
                PatientRow.id,
                PatientRow.center_id,
                PatientRow.sex,
                PatientRow.age_at_diagnosis,
                PatientRow.diagnosis,
                PatientRow.diagnosis_date,
                PatientRow.last_followup_date,
                death.label("death_date"),
                n_courses.label("courses"),
                *extra,
            )
            .join(ids, ids.c.id == PatientRow.id)
            .order_by(PatientRow.id)
        )

    def load_records(
        self, patient_ids: Sequence[str] | None = None, center_id: str | None = None
    ) -> list[PatientRecord]:
        """Load several patient records (all visible ones by default), sorted by id.

        Parameters
        ----------
        patient_ids : sequence of str, optional
            Restrict to these patients; an unknown or invisible id raises
            :class:`~mst.errors.NotFoundError`.
        center_id : str, optional
            Restrict to one center.

        Returns
        -------
        list of mst.domain.PatientRecord
        """
        ids = self.patient_ids(center_id)
        if patient_ids is not None:
            missing = sorted(set(patient_ids) - set(ids))
            if missing:
                raise NotFoundError(f"patient {missing[0]} not found")
            wanted = set(patient_ids)
            ids = [i for i in ids if i in wanted]
        with self._tx() as s:
            return self._load_many(s, ids)

    def load_cohort(self, center_id: str | None = None) -> Cohort:
        """All visible centers and patient records as a :class:`~mst.domain.Cohort`."""
        centers = [c for c in self.centers() if center_id is None or c.id == center_id]
        return Cohort(centers=tuple(centers), records=tuple(self.load_records(center_id=center_id)))

    def load_frames(self, center_id: str | None = None) -> CohortFrames:
        """All visible centers and records as frames: :meth:`load_cohort` without objects.

        One query per table (:func:`mst.registry.frames_load.load_frames`), in one read
        transaction; equal to ``frames_from_cohort(self.load_cohort(center_id))``.

        Parameters
        ----------
        center_id : str, optional
            Only this center.

        Returns
        -------
        mst.io.frames.CohortFrames
        """
        from mst.registry.frames_load import load_frames

        with self._tx() as s:
            return load_frames(s.connection(), self.center_scope, center_id)

    def _load(self, s: Session, row: PatientRow) -> PatientRecord:
        return self._load_many(s, [row.id])[0]

    def _load_many(self, s: Session, ids: Sequence[str]) -> list[PatientRecord]:
        out: list[PatientRecord] = []
        chunk = 500
        for start in range(0, len(ids), chunk):
            out.extend(self._load_chunk(s, list(ids[start : start + chunk])))
        return out

    def _load_chunk(self, s: Session, ids: list[str]) -> list[PatientRecord]:
        # Core selects (plain row mappings, no ORM identity map): loading is the hot path
        # of the patient page.
        def rows(table: Any, where: Any, order: Any) -> list[dict[str, Any]]:
            q = select(table.__table__).where(where).order_by(*order)
            return [dict(m) for m in s.execute(q).mappings()]

        def by_patient(table: Any, order: Any) -> dict[str, list[dict[str, Any]]]:
            grouped: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
            for r in rows(table, table.patient_id.in_(ids), order):
                grouped[r["patient_id"]].append(r)
            return grouped

        def clean(r: dict[str, Any], *skip: str) -> dict[str, Any]:
            return {k: v for k, v in r.items() if k not in skip}

        patients = {r["id"]: r for r in rows(PatientRow, PatientRow.id.in_(ids), [PatientRow.id])}
        donors = by_patient(DonorRow, [DonorRow.patient_id, DonorRow.id])
        courses = by_patient(CourseRow, [CourseRow.patient_id, CourseRow.number])
        admins: dict[int, list[dict[str, Any]]] = {}
        course_pks = [c["pk"] for cs in courses.values() for c in cs]
        if course_pks:
            order = [AdministrationRow.course_pk, AdministrationRow.seq]
            for a in rows(AdministrationRow, AdministrationRow.course_pk.in_(course_pks), order):
                admins.setdefault(a["course_pk"], []).append(a)
        children = {
            t: by_patient(t, [t.patient_id, t.seq])
            for t in (InfusionRow, LabRow, EventRow, ResponseRow, AntibodyRow)
        }

        def many(model: Any, table: Any, pid: str) -> tuple[Any, ...]:
            return tuple(model.model_validate(clean(r, "pk", "seq")) for r in children[table][pid])

        records = []
        for pid in ids:
            records.append(
                PatientRecord.model_construct(
                    patient=Patient.model_validate(patients[pid]),
                    donors=tuple(Donor.model_validate(d) for d in donors[pid]),
                    courses=tuple(
                        Course.model_validate(
                            {
                                **clean(c, "pk"),
                                "administrations": [
                                    DrugAdministration.model_validate(
                                        clean(a, "pk", "course_pk", "seq")
                                    )
                                    for a in admins.get(c["pk"], [])
                                ],
                            }
                        )
                        for c in courses[pid]
                    ),
                    infusions=many(Infusion, InfusionRow, pid),
                    labs=many(LabResult, LabRow, pid),
                    events=many(ClinicalEvent, EventRow, pid),
                    responses=many(ResponseAssessment, ResponseRow, pid),
                    antibodies=many(AntibodyResult, AntibodyRow, pid),
                )
            )
        return records

    # -- audit -----------------------------------------------------------------------
    def audit_log(
        self, patient_id: str | None = None, entity: str | None = None, limit: int | None = None
    ) -> list[AuditEntry]:
        """Read audit entries back, oldest first.

        Parameters
        ----------
        patient_id : str, optional
            Only changes to this patient's records.
        entity : str, optional
            Only this entity type.
        limit : int, optional
            At most this many (the newest).

        Returns
        -------
        list of AuditEntry
        """
        with self._tx() as s:
            q = select(AuditRow).order_by(AuditRow.pk.desc())
            if patient_id is not None:
                row = s.get(PatientRow, patient_id)
                if row is not None and not self._visible(row.center_id):
                    raise NotFoundError(f"patient {patient_id} not found")
                q = q.where(AuditRow.patient_id == patient_id)
            if entity is not None:
                q = q.where(AuditRow.entity == entity)
            if limit is not None:
                q = q.limit(limit)
            rows = list(s.scalars(q))[::-1]
            return [_audit_entry(r) for r in rows]

    def audit_page(
        self,
        patient_id: str,
        limit: int,
        offset: int = 0,
        entity: str | None = None,
        action: str | None = None,
    ) -> tuple[list[AuditEntry], int]:
        """One page of a patient's audit trail (oldest first) and its number of entries.

        One query (the total is a window count); a page past the end costs a second,
        counting query. The caller checks that the patient is visible
        (:meth:`record_version`), as for :meth:`get_record`.

        Parameters
        ----------
        patient_id : str
            The patient.
        limit : int
            Entries per page (at least 1).
        offset : int
            Entries skipped, counted from the oldest.
        entity, action : str, optional
            Only entries of this entity type (``lab`` …) or action (``update`` …); the
            total counts the matching entries.

        Returns
        -------
        (list of AuditEntry, int)
        """
        if limit < 1 or offset < 0:
            raise ValidationError("limit", limit, "must be at least 1 (offset at least 0)")
        where = AuditRow.patient_id == patient_id
        if entity:
            where = where & (AuditRow.entity == entity)
        if action:
            where = where & (AuditRow.action == action)
        q = (
            select(AuditRow, func.count().over().label("total"))
            .where(where)
            .order_by(AuditRow.pk)
            .limit(limit)
            .offset(offset)
        )
        with self._tx() as s:
            rows = list(s.execute(q))
            if rows:
                return [_audit_entry(r[0]) for r in rows], int(rows[0].total)
            total = s.scalar(select(func.count()).select_from(AuditRow).where(where))
            return [], int(total or 0)

    def counts(self) -> dict[str, int]:
        """Row counts per table (for summaries and tests)."""
        tables = {
            "centers": CenterRow,
            "patients": PatientRow,
            "donors": DonorRow,
            "courses": CourseRow,
            "administrations": AdministrationRow,
            "infusions": InfusionRow,
            "labs": LabRow,
            "events": EventRow,
            "responses": ResponseRow,
            "antibodies": AntibodyRow,
            "audit": AuditRow,
        }
        with self._tx() as s:
            return {
                name: int(s.scalar(select(func.count()).select_from(t)) or 0)
                for name, t in tables.items()
            }

    # -- corrections, soft deletion, alert acknowledgements, app events -----------------
    def _visible_version(self, s: Session, patient_id: str) -> int:
        center = s.scalar(select(PatientRow.center_id).where(PatientRow.id == patient_id))
        if center is None or not self._visible(center):
            raise NotFoundError(f"patient {patient_id} not found")
        newest = s.scalar(select(func.max(AuditRow.pk)).where(AuditRow.patient_id == patient_id))
        return int(newest or 0)

    def correct_record(
        self,
        record: PatientRecord,
        reason: str,
        expected_version: int,
        deleted: Sequence[tuple[str, str, dict[str, Any]]] = (),
    ) -> None:
        """Save a corrected record, every audit row carrying the reason (one transaction).

        Parameters
        ----------
        record : mst.domain.PatientRecord
            The whole record after the correction.
        reason : str
            Why (required, like REDCap's "reason for change").
        expected_version : int
            :meth:`record_version` the user saw; a record changed since is refused.
        deleted : sequence of (entity, description, content)
            Child records removed by this change: kept in ``deleted_records`` (soft delete)
            with who, when and the reason.

        Raises
        ------
        mst.errors.ValidationError
            Empty reason.
        mst.errors.ConsistencyError
            Cross-record rule broken, or the record changed since ``expected_version``.
        """
        why = (reason or "").strip()
        if not why:
            raise ValidationError("reason", reason, "a reason for the change is required")
        record.check_consistency()
        pid = record.patient.id
        with self._tx(write=True) as s:
            if self._visible_version(s, pid) != expected_version:
                raise ConsistencyError(
                    f"patient {pid}",
                    "the record was changed by someone else since you opened it; "
                    "reload the page and enter the correction again",
                )
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            for entity, key, content in deleted:
                s.add(
                    DeletedRecordRow(
                        patient_id=pid,
                        entity=entity,
                        entity_key=key,
                        content=json.dumps(content, sort_keys=True),
                        deleted_at=now,
                        deleted_by=self.user,
                        reason=why,
                    )
                )
            self._put_record(s, record, why)

    def deleted_records(self, patient_id: str) -> list[DeletedRecord]:
        """The patient's soft-deleted child records, oldest first."""
        with self._tx() as s:
            self._visible_version(s, patient_id)
            rows = s.scalars(
                select(DeletedRecordRow)
                .where(DeletedRecordRow.patient_id == patient_id)
                .order_by(DeletedRecordRow.pk)
            )
            return [
                DeletedRecord(
                    r.entity,
                    r.entity_key,
                    json.loads(r.content),
                    r.deleted_at,
                    r.deleted_by,
                    r.reason,
                )
                for r in rows
            ]

    def acknowledge_alert(self, patient_id: str, alert_key: str, note: str | None = None) -> None:
        """Record that the user acknowledged one alert of the patient (audited, idempotent)."""
        with self._tx(write=True) as s:
            self._visible_version(s, patient_id)
            exists = s.scalar(
                select(AlertAckRow.pk).where(
                    AlertAckRow.patient_id == patient_id, AlertAckRow.alert_key == alert_key
                )
            )
            if exists is not None:
                return
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            s.add(
                AlertAckRow(
                    patient_id=patient_id,
                    alert_key=alert_key,
                    acknowledged_by=self.user,
                    acknowledged_at=now,
                    note=note or None,
                )
            )
            self._audit(
                s, "ack", "alert", alert_key, patient_id, None, {"note": note or None}, None
            )

    def alert_acks(self, patient_id: str) -> dict[str, AlertAck]:
        """Acknowledged alerts of the patient by alert key."""
        with self._tx() as s:
            self._visible_version(s, patient_id)
            rows = s.scalars(select(AlertAckRow).where(AlertAckRow.patient_id == patient_id))
            return {
                r.alert_key: AlertAck(r.alert_key, r.acknowledged_by, r.acknowledged_at, r.note)
                for r in rows
            }

    def patient_id_taken(self, patient_id: str) -> bool:
        """True when any center already uses this patient id (ids are registry-wide)."""
        with self._tx() as s:
            return s.scalar(select(PatientRow.id).where(PatientRow.id == patient_id)) is not None

    def donor_ids_with_prefix(self, prefix: str) -> list[str]:
        """Donor ids in the whole registry that start with ``prefix`` (to assign a new one)."""
        with self._tx() as s:
            rows = s.scalars(
                select(DonorRow.id).where(DonorRow.id.startswith(prefix, autoescape=True))
            )
            return list(rows)

    def audit_event(
        self,
        action: str,
        entity: str,
        key: str,
        detail: dict[str, Any] | None = None,
        center_id: str | None = None,
    ) -> None:
        """Audit something that is not a change of a record (a login, an export).

        Parameters
        ----------
        action : str
            E.g. ``"login"``, ``"export"``, ``"deidentified_export"``.
        entity : str
            What it concerns (``"user"``, ``"registry"``).
        key : str
            Its key (a user name, a file name).
        detail : dict, optional
            Stored as the row's ``after`` JSON.
        center_id : str, optional
            The center's chain; rows of no center go to the ``*`` chain.
        """
        with self._tx(write=True) as s:
            self._audit(s, action, entity, key, None, None, detail, center_id)


def _now() -> dt.datetime:
    """The audit clock: now in UTC, naive (one place, so that tests can fix it)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


#: Audit entities that are not patient data (excluded from :meth:`Repository.registry_version`).
NON_RECORD_ENTITIES = ("user", "session", "alert")

_BULK_CHUNK = 1000
#: Records whose audit rows are chained and written together during a bulk import.
_AUDIT_CHUNK = 200

#: Statements asked on every web request, built once.
_RECORD_VERSION = select(
    PatientRow.center_id,
    select(func.max(AuditRow.pk))
    .where(AuditRow.patient_id == bindparam("pid"))
    .scalar_subquery(),
).where(PatientRow.id == bindparam("pid"))
_REGISTRY_VERSION = (
    select(AuditRow.pk)
    .where(AuditRow.entity.notin_(NON_RECORD_ENTITIES))
    .order_by(AuditRow.pk.desc())
    .limit(1)
)


def _sqlite_converter(column: Any) -> Callable[[Any], Any] | None:
    """Python value → the storage format SQLAlchemy's SQLite dialect uses for the column."""
    from sqlalchemy import Date, DateTime

    if isinstance(column.type, DateTime):
        return lambda v: v.strftime("%Y-%m-%d %H:%M:%S.%f") if v is not None else None
    if isinstance(column.type, Date):
        return lambda v: v.isoformat() if v is not None else None
    return None


def _insert_many(s: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows with the driver's own bulk path (executemany / COPY).

    The rows' keys must be the same for every row. Values are the Python types of the
    columns (dates, datetimes, str enums); SQLite gets SQLAlchemy's storage format.
    """
    if not rows:
        return
    cols = list(rows[0])
    conn = s.connection()
    dbapi = conn.connection.dbapi_connection
    dialect = conn.dialect.name
    quoted = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in cols)
    name = conn.dialect.identifier_preparer.format_table(table)
    if dialect not in ("postgresql", "sqlite"):  # pragma: no cover - SQLAlchemy's own path
        s.execute(insert(table), rows)
        return
    errors = conn.dialect.dbapi
    sql = f"INSERT INTO {name} ({quoted})"
    try:
        get = operator.itemgetter(*cols) if len(cols) > 1 else (lambda r: (r[cols[0]],))
        if dialect == "postgresql":
            with dbapi.cursor() as cur, cur.copy(f"COPY {name} ({quoted}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(
                        [v.value if isinstance(v, Enum) and isinstance(v, str) else v
                         for v in get(r)]
                    )
            return
        convert = [(i, f) for i, c in enumerate(cols)
                   if (f := _sqlite_converter(table.c[c])) is not None]

        def values(r: dict[str, Any]) -> Any:
            v = get(r)
            if not convert:
                return v
            v = list(v)
            for i, f in convert:
                v[i] = f(v[i])
            return v

        cur = dbapi.cursor()
        try:
            cur.executemany(
                f"{sql} VALUES ({', '.join('?' * len(cols))})", (values(r) for r in rows)
            )
        finally:
            cur.close()
    except errors.IntegrityError as exc:  # same voice as SQLAlchemy's own errors
        raise IntegrityError(sql, None, exc) from exc
    except errors.OperationalError as exc:
        raise OperationalError(sql, None, exc) from exc

_ENTITY_ORDER = (
    "patient",
    "donor",
    "course",
    "infusion",
    "lab",
    "event",
    "response",
    "antibody",
)


@dataclass(frozen=True)
class DeletedRecord:
    """A soft-deleted child record with who deleted it, when and why."""

    entity: str
    entity_key: str
    content: dict[str, Any]
    deleted_at: dt.datetime
    deleted_by: str
    reason: str


@dataclass(frozen=True)
class AlertAck:
    """Who acknowledged an alert, when, and their note."""

    alert_key: str
    by: str
    at: dt.datetime
    note: str | None


def _audit_order(key: tuple[str, str]) -> tuple[int, str]:
    return (_ENTITY_ORDER.index(key[0]), key[1])


def _patient_columns(p: Patient) -> dict[str, Any]:
    return _columns(p)


def _columns(model: Any) -> dict[str, Any]:
    enums = _FLAT_ENUMS.get(type(model))
    if enums is None:
        data = model.model_dump()
        return {k: (v.value if hasattr(v, "value") else v) for k, v in data.items()}
    out = dict(model.__dict__)
    for k in enums:
        v = out[k]
        if v is not None:
            out[k] = v.value
    return out


def _base(annotation: Any) -> Any:
    """The type of a field without ``Optional``/``Annotated`` (``str | None`` -> ``str``)."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is not None and args:
        return _base(args[0])
    return annotation


def _is_enum(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, Enum)


#: Models whose fields are all plain values (no nested models): their ``__dict__`` is their
#: dump, read directly by the bulk import; the fields to convert for JSON (enums, floats,
#: dates) and for the tables (enums).
_FLAT = (Center, Patient, Donor, DrugAdministration, Infusion, LabResult, ClinicalEvent,
         ResponseAssessment, AntibodyResult)
_FLAT_JSON: dict[type, tuple[str, ...]] = {
    m: tuple(n for n, f in m.model_fields.items() if _base(f.annotation) not in (str, int))
    for m in _FLAT
}
_FLAT_ENUMS: dict[type, tuple[str, ...]] = {
    m: tuple(n for n, f in m.model_fields.items() if _is_enum(_base(f.annotation)))
    for m in _FLAT
}


def _summary(r: Any) -> PatientSummary:
    return PatientSummary(
        id=r.id,
        center_id=r.center_id,
        sex=r.sex,
        age=r.age_at_diagnosis,
        diagnosis=r.diagnosis,
        diagnosis_date=r.diagnosis_date,
        courses=int(r.courses or 0),
        death_date=r.death_date,
        last_followup_date=r.last_followup_date,
    )


def _audit_entry(r: AuditRow) -> AuditEntry:
    return AuditEntry(
        at=r.at,
        user=r.user,
        action=r.action,
        entity=r.entity,
        entity_key=r.entity_key,
        patient_id=r.patient_id,
        before=json.loads(r.before) if r.before is not None else None,
        after=json.loads(r.after) if r.after is not None else None,
        reason=r.reason,
    )

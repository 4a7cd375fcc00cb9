"""SQLAlchemy 2 table definitions of the registry.

The schema mirrors :mod:`mst.domain`; it is created and changed only by the
Alembic migrations in ``mst/registry/migrations`` (revision ``0001`` creates it).
Only :mod:`mst.registry.repository` queries these tables.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of the registry tables."""


class CenterRow(Base):
    """A treating center."""

    __tablename__ = "centers"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(100))


class PatientRow(Base):
    """A patient (pseudonymous id)."""

    __tablename__ = "patients"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    center_id: Mapped[str] = mapped_column(ForeignKey("centers.id"), index=True)
    sex: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    age_at_diagnosis: Mapped[int] = mapped_column(Integer)
    diagnosis: Mapped[str] = mapped_column(String(20))
    diagnosis_date: Mapped[dt.date] = mapped_column(Date)
    eln_risk: Mapped[str | None] = mapped_column(String(20))
    fitness: Mapped[str | None] = mapped_column(String(10))
    height_cm: Mapped[float | None] = mapped_column(Float)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    last_followup_date: Mapped[dt.date | None] = mapped_column(Date)
    hla_typing: Mapped[str | None] = mapped_column(Text)


class DonorRow(Base):
    """A donor of one patient."""

    __tablename__ = "donors"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_id: Mapped[str] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    relationship: Mapped[str] = mapped_column(String(20))
    sex: Mapped[str] = mapped_column(String(1))
    age: Mapped[int] = mapped_column(Integer)
    hla_typing: Mapped[str | None] = mapped_column(Text)
    kir_genotype: Mapped[str | None] = mapped_column(String(500))


class CourseRow(Base):
    """An MST course."""

    __tablename__ = "courses"
    __table_args__ = (UniqueConstraint("patient_id", "number", name="uq_course_number"),)
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    regimen_id: Mapped[str] = mapped_column(String(60))
    start_date: Mapped[dt.date] = mapped_column(Date)


class AdministrationRow(Base):
    """One administered dose within a course."""

    __tablename__ = "administrations"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    course_pk: Mapped[int] = mapped_column(ForeignKey("courses.pk", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    drug: Mapped[str] = mapped_column(String(60))
    dose: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(10))
    day: Mapped[int] = mapped_column(Integer)
    route: Mapped[str | None] = mapped_column(String(4))


class _PatientChild:
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer)


class InfusionRow(_PatientChild, Base):
    """A GPBSC infusion."""

    __tablename__ = "infusions"
    patient_id: Mapped[str] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    course_number: Mapped[int] = mapped_column(Integer)
    donor_id: Mapped[str] = mapped_column(ForeignKey("donors.id"))
    infused_at: Mapped[dt.datetime] = mapped_column(DateTime)
    mnc_1e8_per_kg: Mapped[float] = mapped_column(Float)
    cd34_1e6_per_kg: Mapped[float | None] = mapped_column(Float)
    cd3_1e8_per_kg: Mapped[float | None] = mapped_column(Float)
    product: Mapped[str] = mapped_column(String(20))


class LabRow(_PatientChild, Base):
    """A laboratory result in its analyte's canonical unit."""

    __tablename__ = "labs"
    __table_args__ = (Index("ix_labs_patient_date", "patient_id", "date"),)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    date: Mapped[dt.date] = mapped_column(Date)
    analyte: Mapped[str] = mapped_column(String(40))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20))
    donor_id: Mapped[str | None] = mapped_column(ForeignKey("donors.id"))


class EventRow(_PatientChild, Base):
    """A clinical event."""

    __tablename__ = "events"
    #: The patient list's death questions, answered from the index (migration 0006).
    __table_args__ = (Index("ix_events_patient_kind", "patient_id", "kind", "date"),)
    patient_id: Mapped[str] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    date: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(30))
    grade: Mapped[int | None] = mapped_column(Integer)
    cause: Mapped[str | None] = mapped_column(String(30))
    detail: Mapped[str | None] = mapped_column(Text)


class ResponseRow(_PatientChild, Base):
    """A response assessment."""

    __tablename__ = "responses"
    patient_id: Mapped[str] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    date: Mapped[dt.date] = mapped_column(Date)
    category: Mapped[str] = mapped_column(String(20))


class AntibodyRow(_PatientChild, Base):
    """An anti-HLA antibody (single-antigen bead) of the recipient."""

    __tablename__ = "antibodies"
    patient_id: Mapped[str] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    date: Mapped[dt.date] = mapped_column(Date)
    specificity: Mapped[str] = mapped_column(String(40))
    mfi: Mapped[float] = mapped_column(Float)


class AuditRow(Base):
    """One audited change: who, when, what, before and after (JSON text)."""

    __tablename__ = "audit"
    __table_args__ = (
        Index("ix_audit_entity", "entity", "entity_key"),
        Index("ix_audit_chain", "center_id", "chain_seq"),
    )
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    user: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(10))
    entity: Mapped[str] = mapped_column(String(30))
    entity_key: Mapped[str] = mapped_column(String(200))
    patient_id: Mapped[str | None] = mapped_column(String(64), index=True)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    #: Required reason of a correction or deletion made in the app (migration 0005).
    reason: Mapped[str | None] = mapped_column(Text)
    center_id: Mapped[str | None] = mapped_column(String(64))
    chain_seq: Mapped[int | None] = mapped_column(Integer)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str | None] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The newest row of each audit chain (per center; ``*`` for rows of no center)."""

    __tablename__ = "audit_heads"
    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    n_rows: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


class UserRow(Base):
    """A web user: login name, password hash (argon2), role and center."""

    __tablename__ = "users"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    center_id: Mapped[str | None] = mapped_column(ForeignKey("centers.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


# -- web app state and corrections (migration 0005) ----------------------------------


class WebSessionRow(Base):
    """A server-side login session: the cookie carries a random token, only its hash is kept."""

    __tablename__ = "web_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(
        ForeignKey("users.username", ondelete="CASCADE"), index=True
    )
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime)
    address: Mapped[str | None] = mapped_column(String(64))


class LoginThrottleRow(Base):
    """Consecutive failed logins of one account (``account:NAME``) or client (``address:IP``)."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[dt.datetime] = mapped_column(DateTime)
    locked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class DeletedRecordRow(Base):
    """A soft-deleted child record: its content kept, with who deleted it, when and why."""

    __tablename__ = "deleted_records"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(String(64), index=True)
    entity: Mapped[str] = mapped_column(String(30))
    entity_key: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    deleted_at: Mapped[dt.datetime] = mapped_column(DateTime)
    deleted_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)


class AlertAckRow(Base):
    """A clinician's acknowledgement of one monitoring alert of a patient."""

    __tablename__ = "alert_acks"
    __table_args__ = (UniqueConstraint("patient_id", "alert_key", name="uq_alert_ack"),)
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    alert_key: Mapped[str] = mapped_column(String(200))
    acknowledged_by: Mapped[str] = mapped_column(String(100))
    acknowledged_at: Mapped[dt.datetime] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)

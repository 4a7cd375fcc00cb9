"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 22:04:34.986456
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("entity", sa.String(length=30), nullable=False),
        sa.Column("entity_key", sa.String(length=200), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entity", ["entity", "entity_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "centers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("center_id", sa.String(length=64), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("age_at_diagnosis", sa.Integer(), nullable=False),
        sa.Column("diagnosis", sa.String(length=20), nullable=False),
        sa.Column("diagnosis_date", sa.Date(), nullable=False),
        sa.Column("eln_risk", sa.String(length=20), nullable=True),
        sa.Column("fitness", sa.String(length=10), nullable=True),
        sa.Column("height_cm", sa.Float(), nullable=True),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("last_followup_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["center_id"],
            ["centers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patients_center_id"), ["center_id"], unique=False)

    op.create_table(
        "courses",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("regimen_id", sa.String(length=60), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("patient_id", "number", name="uq_course_number"),
    )
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_courses_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "donors",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("relationship", sa.String(length=20), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("age", sa.Integer(), nullable=False),
        sa.Column("hla_typing", sa.Text(), nullable=True),
        sa.Column("kir_genotype", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("donors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_donors_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "events",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=True),
        sa.Column("cause", sa.String(length=30), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "responses",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_responses_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "administrations",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("course_pk", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("drug", sa.String(length=60), nullable=False),
        sa.Column("dose", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=4), nullable=True),
        sa.ForeignKeyConstraint(["course_pk"], ["courses.pk"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("administrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_administrations_course_pk"), ["course_pk"], unique=False
        )

    op.create_table(
        "infusions",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("course_number", sa.Integer(), nullable=False),
        sa.Column("donor_id", sa.String(length=64), nullable=False),
        sa.Column("infused_at", sa.DateTime(), nullable=False),
        sa.Column("mnc_1e8_per_kg", sa.Float(), nullable=False),
        sa.Column("cd34_1e6_per_kg", sa.Float(), nullable=True),
        sa.Column("cd3_1e8_per_kg", sa.Float(), nullable=True),
        sa.Column("product", sa.String(length=20), nullable=False),
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["donor_id"],
            ["donors.id"],
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("infusions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_infusions_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "labs",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("analyte", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("donor_id", sa.String(length=64), nullable=True),
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["donor_id"],
            ["donors.id"],
        ),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("labs", schema=None) as batch_op:
        batch_op.create_index("ix_labs_patient_date", ["patient_id", "date"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("labs", schema=None) as batch_op:
        batch_op.drop_index("ix_labs_patient_date")

    op.drop_table("labs")
    with op.batch_alter_table("infusions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_infusions_patient_id"))

    op.drop_table("infusions")
    with op.batch_alter_table("administrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_administrations_course_pk"))

    op.drop_table("administrations")
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_responses_patient_id"))

    op.drop_table("responses")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_patient_id"))

    op.drop_table("events")
    with op.batch_alter_table("donors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_donors_patient_id"))

    op.drop_table("donors")
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_courses_patient_id"))

    op.drop_table("courses")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_center_id"))

    op.drop_table("patients")
    op.drop_table("centers")
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_patient_id"))
        batch_op.drop_index("ix_audit_entity")

    op.drop_table("audit")

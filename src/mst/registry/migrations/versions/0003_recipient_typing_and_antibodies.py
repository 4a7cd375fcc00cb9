"""recipient typing and antibodies

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 22:31:51.902300
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "antibodies",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("specificity", sa.String(length=40), nullable=False),
        sa.Column("mfi", sa.Float(), nullable=False),
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("antibodies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_antibodies_patient_id"), ["patient_id"], unique=False)

    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hla_typing", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("hla_typing")

    with op.batch_alter_table("antibodies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_antibodies_patient_id"))

    op.drop_table("antibodies")

"""index of events by patient and kind (the patient list's vital-status filter and death date)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 05:40:00

The patient list asks, per patient, whether a death event exists (the ``status`` filter) and
its date (the list's status column). With only ``ix_events_patient_id`` each question read all
of a patient's events; ``(patient_id, kind, date)`` answers both from the index alone, so the
filtered list and its total stay cheap at 10,000 patients.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_patient_kind", "events", ["patient_id", "kind", "date"])


def downgrade() -> None:
    op.drop_index("ix_events_patient_kind", table_name="events")

"""hash-chained audit trail

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 23:55:00
"""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from alembic import op

from mst.registry.audit_chain import GENESIS, chain_key, row_digest

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("center_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("chain_seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_audit_chain", ["center_id", "chain_seq"], unique=False)
    op.create_table(
        "audit_heads",
        sa.Column("chain", sa.String(length=64), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain"),
    )
    _chain_existing_rows()


def _chain_existing_rows() -> None:
    """Give the rows written before this revision their center, position and hashes."""
    conn = op.get_bind()
    centers = dict(conn.execute(sa.text("SELECT id, center_id FROM patients")).all())
    rows = conn.execute(
        sa.text(
            "SELECT pk, at, \"user\", action, entity, entity_key, patient_id, before, after "
            "FROM audit ORDER BY pk"
        )
    ).all()
    for r in rows:  # patients deleted since: their center is in their own audit rows
        if r.entity == "patient" and r.patient_id not in centers:
            content = json.loads(r.after or r.before or "{}")
            if content.get("center_id"):
                centers[r.patient_id] = content["center_id"]
    heads: dict[str, tuple[int, str]] = {}
    updates = []
    for r in rows:
        center = r.entity_key if r.entity == "center" else centers.get(r.patient_id)
        chain = chain_key(center)
        n, prev = heads.get(chain, (0, GENESIS))
        at = r.at if isinstance(r.at, dt.datetime) else dt.datetime.fromisoformat(str(r.at))
        digest = row_digest(
            at, r.user, r.action, r.entity, r.entity_key, r.patient_id, center, n + 1,
            r.before, r.after, prev,
        )
        updates.append(
            {"pk": r.pk, "c": center, "s": n + 1, "p": prev, "h": digest}
        )
        heads[chain] = (n + 1, digest)
    if updates:
        conn.execute(
            sa.text(
                "UPDATE audit SET center_id = :c, chain_seq = :s, prev_hash = :p, "
                "row_hash = :h WHERE pk = :pk"
            ),
            updates,
        )
    if heads:
        conn.execute(
            sa.text("INSERT INTO audit_heads (chain, n_rows, last_hash) VALUES (:c, :n, :h)"),
            [{"c": c, "n": n, "h": h} for c, (n, h) in heads.items()],
        )


def downgrade() -> None:
    op.drop_table("audit_heads")
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_chain")
        batch_op.drop_column("row_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("chain_seq")
        batch_op.drop_column("center_id")

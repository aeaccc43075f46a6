"""Slash commands acted on, by trigger_id, so a replayed request is answered without acting twice.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "command_receipts",
        sa.Column("trigger_id", sa.String(255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("trigger_id", name=op.f("pk_command_receipts")),
    )
    op.create_index(op.f("ix_command_receipts_received_at"), "command_receipts", ["received_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_command_receipts_received_at"), table_name="command_receipts")
    op.drop_table("command_receipts")

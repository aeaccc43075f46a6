"""Each replica's heartbeat says which role its process plays: web (Slack's requests), worker (the outbox, the sync,
reminders) or both; a web replica is ready only while some worker's heartbeat is recent.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows written before roles existed are processes that played both (serve ran everything in one process).
    with op.batch_alter_table("replicas") as batch:
        batch.add_column(sa.Column("role", sa.String(length=16), nullable=False, server_default="web+worker"))


def downgrade() -> None:
    with op.batch_alter_table("replicas") as batch:
        batch.drop_column("role")

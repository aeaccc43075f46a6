"""Remember which request status each card last showed, so sync can repair cards whose update failed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("request_cards") as batch:
        batch.add_column(sa.Column("rendered_status", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("request_cards") as batch:
        batch.drop_column("rendered_status")

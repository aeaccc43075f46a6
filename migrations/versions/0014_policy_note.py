"""invite_requests.policy_note: why no policy rule may decide a request now (a rule that cannot be checked).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invite_requests") as batch:
        batch.add_column(sa.Column("policy_note", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invite_requests") as batch:
        batch.drop_column("policy_note")

"""A request's status is one of those app.core.lifecycle moves it between; the database refuses any other.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Written out as they were at this revision: a later status needs a migration of its own.
_STATUSES = ("pending", "deciding", "approved", "denied", "approved_invite_failed", "gone")


def upgrade() -> None:
    allowed = ", ".join(f"'{status}'" for status in _STATUSES)
    with op.batch_alter_table("invite_requests") as batch:
        batch.create_check_constraint(op.f("ck_invite_requests_status"), f"status IN ({allowed})")


def downgrade() -> None:
    with op.batch_alter_table("invite_requests") as batch:
        batch.drop_constraint(op.f("ck_invite_requests_status"), type_="check")

"""Unsaved request rows with plain defaults, for testing builders and rules as data."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from app.store.models import InviteRequest
from tests.support.stand_in import REQUESTER, TEAM


def request_row(**kw: Any) -> Any:
    """An unsaved InviteRequest with plain defaults; keywords replace them."""
    values: dict[str, Any] = dict(
        id="Ir0000TEST",
        team_id=TEAM,
        team_name=None,
        email="ada@example.com",
        real_name=None,
        requester_ids=[REQUESTER],
        channel_ids=[],
        invite_type="full_member",
        reason=None,
        date_created=datetime(2026, 11, 22, 9, 14, tzinfo=timezone.utc),
        date_expire=None,
        status="pending",
        decided_by=None,
        decided_at=None,
        decision_source=None,
        deny_reason=None,
        claim_action=None,
        claim_actor=None,
    )
    values.update(kw)
    return InviteRequest(**values)

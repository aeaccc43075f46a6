"""Publish a user's App Home: the approver dashboard, or a requester's own requests."""

from __future__ import annotations

import logging

from app.runtime import Runtime

log = logging.getLogger(__name__)


def publish_home(runtime: Runtime, user_id: str, notice: str | None = None) -> None:
    """Replaced by the App Home builder."""

"""Events API: a new invite request becomes a stored row and a card."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from app.core.ingest import MalformedRequest, ingest
from app.runtime import Runtime

log = logging.getLogger(__name__)


def register(app: App, runtime: Runtime) -> None:
    @app.event("invite_requested")
    def on_invite_requested(event: dict[str, Any], body: dict[str, Any]) -> None:
        """Bolt has already acked; posting the card happens on the background pool."""
        raw = event.get("invite_request") or {}
        runtime.run_later(_ingest, runtime, raw, str(body.get("team_id") or ""))


def _ingest(runtime: Runtime, raw: dict[str, Any], team_id: str) -> None:
    try:
        ingest(runtime.sessions, runtime.gateway, raw, team_id=team_id, channel=runtime.settings.INVITES_CHANNEL)
    except MalformedRequest as exc:
        log.warning("ignored an invite_requested event: %s", exc)

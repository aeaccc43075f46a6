"""team_access_granted / team_access_revoked: which workspaces the org-wide app may act in, recorded for every replica."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from slack_bolt import App

from app.core import team_access
from app.core.audit import now
from app.slack.runtime import Runtime

log = logging.getLogger(__name__)


def register(app: App, runtime: Runtime) -> None:
    @app.event("team_access_granted")
    def on_granted(event: dict[str, Any], body: dict[str, Any]) -> None:
        changed(runtime, event, body, granted=True)

    @app.event("team_access_revoked")
    def on_revoked(event: dict[str, Any], body: dict[str, Any]) -> None:
        changed(runtime, event, body, granted=False)


def changed(runtime: Runtime, event: dict[str, Any], body: dict[str, Any], *, granted: bool) -> None:
    """Recorded before the ack (one small write): should the database fail, Slack delivers the event again."""
    team_ids = [t for t in event.get("team_ids") or [] if isinstance(t, str) and t.startswith("T")]
    if not team_ids:
        log.warning("ignored a %s event naming no workspace", event.get("type"))
        return
    said_at = body.get("event_time")
    at = datetime.fromtimestamp(said_at, timezone.utc) if isinstance(said_at, int) else now()
    with runtime.sessions.begin() as session:
        moved = team_access.record(session, team_ids, granted, at)
    if not moved:
        return
    if granted:
        log.info("invitebot was added to workspace(s) %s: it tells requesters there by DM again", ", ".join(moved))
    else:
        log.warning(
            "invitebot was removed from workspace(s) %s: requesters there are not told by DM, and their cards say so",
            ", ".join(moved),
        )

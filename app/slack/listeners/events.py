"""Events API: a new invite request becomes a stored row and a card."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from app.core.ingest import MalformedRequest, ingest, locate, workspace_of
from app.core.policy.apply import enforce
from app.slack.api.gateway import SlackCallFailed
from app.slack.listeners.after_ack import ingest_later
from app.slack.runtime import Runtime

log = logging.getLogger(__name__)


def register(app: App, runtime: Runtime) -> None:
    @app.event("invite_requested")
    def on_invite_requested(event: dict[str, Any], body: dict[str, Any]) -> None:
        """Bolt has already acked; storing the request and queueing its card happen on the ingest pool."""
        raw = event.get("invite_request") or {}
        ingest_later(runtime, _ingest, runtime, raw, str(body.get("team_id") or ""))


def _ingest(runtime: Runtime, raw: dict[str, Any], outer_team_id: str) -> None:
    """Store it and queue its card, then let an enforced policy decide it; an org-wide delivery that names only the org
    (E…) has its workspace looked up first."""
    if isinstance(raw.get("team"), dict):
        runtime.workspaces.learn(raw["team"])
    team_id = workspace_of(raw, outer_team_id)
    if team_id is None and isinstance(raw.get("id"), str):
        try:
            team_ids = runtime.workspaces.ids()
        except SlackCallFailed as exc:
            log.warning("could not list the org's workspaces to place request %s: %s", raw["id"], exc.code)
            team_ids = []
        team_id = locate(runtime.gateway, team_ids, raw["id"])
        if team_id is None:
            log.warning("request %s names no workspace and no pending list shows it yet: posted without buttons", raw["id"])
    try:
        ingest(
            runtime.services,
            raw,
            team_id=team_id,
            channel=runtime.settings.routes.channel_for(team_id),
            team_name=runtime.workspaces.name_of(team_id) if team_id else None,
        )
    except MalformedRequest as exc:
        log.warning("ignored an invite_requested event: %s", exc)
        return
    enforce(runtime.services, str(raw["id"])[:32])

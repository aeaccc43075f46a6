"""User-group changes: an approver group's members as Slack says they changed, used at once."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from app.slack.listeners.after_ack import run_later
from app.slack.runtime import Runtime

log = logging.getLogger(__name__)


def register(app: App, runtime: Runtime) -> None:
    @app.event("subteam_members_changed")
    def on_members_changed(event: dict[str, Any], body: dict[str, Any]) -> None:
        """Bolt has already acked; the change waits for any read of the group in flight, so it runs after the ack."""
        run_later(runtime, None, members_changed, runtime, event, str(body.get("team_id") or ""))


def members_changed(runtime: Runtime, event: dict[str, Any], outer_team_id: str) -> None:
    group_id, team_id = event.get("subteam_id"), event.get("team_id") or outer_team_id
    if not isinstance(group_id, str) or not isinstance(team_id, str):
        log.warning("ignored a subteam_members_changed event naming no group or workspace")
        return
    added, removed = _ids(event.get("added_users")), _ids(event.get("removed_users"))
    if runtime.approvers.members_changed(group_id, team_id, added, removed):
        log.info("approver group %s in %s changed: %d added, %d removed", group_id, team_id, len(added), len(removed))


def _ids(value: Any) -> list[str]:
    return [user for user in value if isinstance(user, str)] if isinstance(value, list) else []

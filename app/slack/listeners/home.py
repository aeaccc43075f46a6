"""App Home: published on app_home_opened and after decisions; Sync now runs a reconcile pass."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from app.core import authz
from app.slack.ids import ActionId
from app.slack.jobs.home import publish_home
from app.slack.listeners.after_ack import run_later
from app.slack.listeners.surfaces import reply_to_of
from app.slack.runtime import Runtime
from app.slack.ui import home_view
from app.slack.ui.blocks import escape
from app.store.models import Source

log = logging.getLogger(__name__)

SYNC_NOT_ALLOWED = "Only invite approvers can sync with Slack. Nothing was changed."


def register(app: App, runtime: Runtime) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any]) -> None:
        """Bolt has already acked; reading the database and views.publish happen on the background pool."""
        user_id = event.get("user")
        if event.get("tab", "home") != "home" or not user_id:
            return
        run_later(runtime, None, publish_home, runtime, user_id)  # whatever failed here, the Home itself cannot say it

    @app.action(ActionId.HOME_SYNC.value)
    def on_sync_now(ack: Ack, body: dict[str, Any]) -> None:
        """Ack at once; the sync (Slack admin calls for every workspace) runs on the background pool."""
        ack()
        run_later(runtime, reply_to_of(body), sync_now, runtime, body["user"]["id"])


def sync_now(runtime: Runtime, user_id: str) -> None:
    """Sync now from the App Home: approvers only; the Home then shows the pass's summary next to the button."""
    if not authz.require(runtime.sessions, runtime.approvers, authz.Asked(user_id, "sync", source=Source.HOME.value)).allowed:
        publish_home(runtime, user_id, notice=SYNC_NOT_ALLOWED)
        return
    summary = runtime.sync()  # an unexpected failure reaches the Home with its reference (app.slack.listeners.after_ack)
    log.info("%s (started from the App Home by %s)", summary.line(), user_id)
    publish_home(runtime, user_id, notice=escape(summary.line()), near=home_view.CONFIG_BLOCK)  # by Sync now

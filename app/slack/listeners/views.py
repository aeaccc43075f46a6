"""Modal submissions: the deny reason."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from app.slack.ids import ActionId
from app.slack.listeners.actions import deny_with_reason
from app.slack.listeners.after_ack import run_later
from app.slack.listeners.surfaces import Surface
from app.slack.runtime import Runtime
from app.slack.ui import modals, replies
from app.store.models import Source

log = logging.getLogger(__name__)


def register(app: App, runtime: Runtime) -> None:
    @app.view(ActionId.DENY_REASON_MODAL.value)
    def on_deny_reason(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Validate in the ack (errors show in the modal); deny after it."""
        reason = modals.submitted_reason(view)
        if reason is None and runtime.settings.INVITES_DENY_REASON_REQUIRED:
            ack(response_action="errors", errors={modals.REASON_BLOCK: replies.REASON_REQUIRED})
            return
        try:
            context = modals.DenyContext.decode(view.get("private_metadata") or "")
        except (ValueError, KeyError, TypeError):
            ack(response_action="errors", errors={modals.REASON_BLOCK: "This form is out of date; close it and click Deny again."})
            return
        ack()
        user = body["user"]
        told = Surface(Source(context.source), context.channel).reply_to(user["id"])  # where the Deny was clicked
        run_later(runtime, told, deny_with_reason, runtime, user["id"], context, reason, user.get("team_id"))

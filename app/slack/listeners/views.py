"""Modal submissions: the deny reason."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from app import logs
from app.core.asks import Ask
from app.slack.ids import ActionId
from app.slack.jobs.answers import Surface
from app.slack.runtime import Runtime
from app.slack.ui import modals, replies
from app.store.models import Action, Source

log = logging.getLogger(__name__)


def register(app: App, runtime: Runtime) -> None:
    @app.view(ActionId.DENY_REASON_MODAL.value)
    def on_deny_reason(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Validate in the ack (errors show in the modal); write the denial down before the ack, for a worker to decide."""
        reason = modals.submitted_reason(view)
        if reason is None and runtime.settings.INVITES_DENY_REASON_REQUIRED:
            ack(response_action="errors", errors={modals.REASON_BLOCK: replies.REASON_REQUIRED})
            return
        try:
            context = modals.DenyContext.decode(view.get("private_metadata") or "")
        except (ValueError, KeyError, TypeError):
            ack(response_action="errors", errors={modals.REASON_BLOCK: "This form is out of date; close it and click Deny again."})
            return
        user = body["user"]
        source = Source(context.source)
        told = Surface(source, context.channel).reply_to(user["id"])  # where the Deny was clicked
        runtime.asks.record(
            Ask(
                context.request_id, Action.DENY, user["id"], source, told, actor_team=user.get("team_id"), reason=reason,
                channel=context.channel, log_request_id=logs.request_id.get(),
            )
        )
        ack()

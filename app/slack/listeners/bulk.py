"""Bulk decisions: "Approve all from …" / "Deny all from …" (App Home, a digest's chooser), the preview's submission,
and Cancel."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from app.core.bulk.batches import Filter
from app.slack.ids import ActionId, DomainValue
from app.slack.jobs import bulk
from app.slack.jobs.home import publish_home
from app.slack.listeners.actions import clicked_by_someone
from app.slack.runtime import Runtime
from app.slack.ui import batch_blocks, modals, replies
from app.store.models import Action, Source

log = logging.getLogger(__name__)


def register(app: App, runtime: Runtime) -> None:
    @app.action(ActionId.BULK_APPROVE.value)
    def on_bulk_approve(ack: Ack, body: dict[str, Any]) -> None:
        """Ack at once; the preview opens from the background pool, straight away (the trigger lasts 3 seconds)."""
        ack()
        if _readable(body):
            runtime.run_later(open_from_button, runtime, body, Action.APPROVE)

    @app.action(ActionId.BULK_DENY.value)
    def on_bulk_deny(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        if _readable(body):
            runtime.run_later(open_from_button, runtime, body, Action.DENY)

    @app.action(ActionId.BULK_CANCEL.value)
    def on_bulk_cancel(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        if _readable(body, needs_trigger=False):
            runtime.run_later(bulk.cancel_clicked, runtime, body)

    @app.view(ActionId.BULK_PREVIEW_MODAL.value)
    def on_preview_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Validate in the ack (a required reason shows in the modal); start after it."""
        try:
            context = batch_blocks.PreviewContext.decode(view.get("private_metadata") or "")
        except (ValueError, KeyError, TypeError):
            ack(response_action="update", view=modals.notice("This preview is out of date; close it and ask again."))
            return
        reason = modals.submitted_reason(view) if context.ask_reason else None
        required = runtime.settings.INVITES_DENY_REASON_REQUIRED
        if context.action == Action.DENY.value and context.ask_reason and reason is None and required:
            ack(response_action="errors", errors={modals.REASON_BLOCK: replies.REASON_REQUIRED})
            return
        ack()
        user = body["user"]
        runtime.run_later(bulk.confirm, runtime, user["id"], context, reason, user.get("team_id"))


def _readable(body: dict[str, Any], *, needs_trigger: bool = True) -> bool:
    ok = clicked_by_someone(body) and (not needs_trigger or isinstance(body.get("trigger_id"), str))
    if not ok:
        log.warning("ignored a bulk decision click that names no user, no button or no trigger_id")
    return ok


def open_from_button(runtime: Runtime, body: dict[str, Any], action: Action) -> None:
    """An "Approve all from …" button: on the App Home, every pending request from its domain in the workspaces the
    clicker decides; in a digest's chooser, those of the digest's workspace, the chooser becoming the preview. The
    reason is asked in the preview (required there when INVITES_DENY_REASON_REQUIRED)."""
    user = body["user"]
    try:
        value = DomainValue.decode(body["actions"][0]["value"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        log.warning("ignored a bulk click with an unreadable button value: %s", exc)
        return
    view = body["view"] if isinstance(body.get("view"), dict) else {}
    in_modal = view.get("type") == "modal" and isinstance(view.get("id"), str)
    failed = bulk.open_preview(
        runtime,
        trigger_id=body["trigger_id"],
        user_id=user["id"],
        team_id=user.get("team_id"),
        action=action,
        wanted=Filter(value.domain, (value.team,) if value.team else ()),
        source=Source.BUTTON if in_modal else Source.HOME,
        ask_reason=action is Action.DENY,
        channel=batch_blocks.chooser_channel(view) if in_modal else None,
        in_view=view["id"] if in_modal else None,
    )
    if failed is not None and not in_modal:
        publish_home(runtime, user["id"], notice=failed)

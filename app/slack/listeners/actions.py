"""Approve and Deny buttons, wherever they are shown: cards, /invites lists, the App Home."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from app import logs
from app.core import authz
from app.core.asks import Ask
from app.core.lifecycle import OPEN
from app.slack.api.gateway import SlackCallFailed
from app.slack.ids import ActionId, ButtonValue
from app.slack.jobs.answers import Surface
from app.slack.listeners.after_ack import run_later
from app.slack.listeners.surfaces import reply_to_of
from app.slack.runtime import Runtime
from app.slack.ui import blocks, modals, replies
from app.store.models import Action, InviteRequest

log = logging.getLogger(__name__)
UNREADABLE = "That button is not one invitebot can read. Nothing was changed."


def register(app: App, runtime: Runtime) -> None:
    @app.action(ActionId.APPROVE.value)
    def on_approve(ack: Ack, body: dict[str, Any]) -> None:
        """Write the click down, then ack; a worker decides (app.core.asks)."""
        if not clicked_by_someone(body):
            ack()
            log.warning("ignored an approve click that names no user or no button")
            return
        ask = ask_of_click(body, Action.APPROVE)
        if ask is None:
            ack()
            run_later(runtime, None, Surface.of(body).tell, runtime, body["user"]["id"], UNREADABLE)
            return
        runtime.asks.record(ask)
        ack()

    @app.action(ActionId.DENY.value)
    def on_deny(ack: Ack, body: dict[str, Any]) -> None:
        """Ack at once; the reason modal opens from the background pool, straight away (the trigger lasts 3 seconds).

        A slow views.open must never hold one of Bolt's few listener threads, or the acks queued behind it miss
        Slack's 3 seconds.
        """
        ack()
        if not clicked_by_someone(body) or not isinstance(body.get("trigger_id"), str):
            log.warning("ignored a deny click that names no user, no button or no trigger_id")
            return
        run_later(runtime, reply_to_of(body), open_deny_form, runtime, body)


def clicked_by_someone(body: dict[str, Any]) -> bool:
    """A click invitebot can act on names the clicker and carries an action with a value (decoded later)."""
    user, actions = body.get("user"), body.get("actions")
    return (
        isinstance(user, dict)
        and isinstance(user.get("id"), str)
        and isinstance(actions, list)
        and len(actions) > 0
        and isinstance(actions[0], dict)
        and isinstance(actions[0].get("value"), str)
    )


def ask_of_click(body: dict[str, Any], action: Action) -> Ask | None:
    """The decision a click asks for, from the payload alone; None when its button value cannot be read."""
    try:
        value = ButtonValue.decode(body["actions"][0]["value"])
    except (KeyError, IndexError, ValueError) as exc:
        log.warning("ignored a click with an unreadable button value: %s", exc)
        return None
    user_id = body["user"]["id"]
    surface = Surface.of(body)
    container = body.get("container") or {}
    clicked = None
    if surface.channel and container.get("type") == "message" and not container.get("is_ephemeral") and container.get("message_ts"):
        clicked = (surface.channel, str(container["message_ts"]))
    return Ask(
        value.request_id, action, user_id, surface.source, surface.reply_to(user_id),
        actor_team=body["user"].get("team_id"), channel=surface.channel, clicked=clicked, log_request_id=logs.request_id.get(),
    )


def open_deny_form(runtime: Runtime, body: dict[str, Any]) -> None:
    """Open the reason modal within the trigger's 3 seconds; check and fill it in afterwards."""
    surface = Surface.of(body)
    user_id = body["user"]["id"]
    try:
        value = ButtonValue.decode(body["actions"][0]["value"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        log.warning("ignored a deny click with an unreadable button value: %s", exc)
        return
    context = modals.DenyContext(value.request_id, surface.source.value, surface.channel)
    required = runtime.settings.INVITES_DENY_REASON_REQUIRED
    try:
        view_id = runtime.gateway.open_view(body["trigger_id"], modals.deny_form(context, required=required))
    except SlackCallFailed as exc:
        log.warning("could not open the deny modal: %s", exc.code)
        surface.tell(runtime, user_id, "Slack did not open the deny form in time; click Deny again.")
        return
    fill_deny_form(runtime, user_id, view_id, context, body["user"].get("team_id"))


def fill_deny_form(
    runtime: Runtime, user_id: str, view_id: str, context: modals.DenyContext, team_id: str | None = None
) -> None:
    """Replace the quick modal with the request's details, or explain why it cannot be denied."""
    with runtime.sessions() as session:
        request = session.get(InviteRequest, context.request_id)
    asked = authz.Asked(user_id, Action.DENY.value, context.request_id, context.source)
    verdict = authz.require(
        runtime.sessions, runtime.approvers, asked, workspace=request.team_id if request is not None else None, actor_team=team_id
    )
    if not verdict.allowed:
        view = modals.notice(replies.refusal(verdict, user_id))
    elif request is None:
        view = modals.notice(f"invitebot has no invite request `{context.request_id}`.")
    elif request.status not in OPEN:
        view = modals.notice(blocks.outcome_line(request) or "This request is already closed.")
    else:
        view = modals.deny_form(context, required=runtime.settings.INVITES_DENY_REASON_REQUIRED, request=request)
    try:
        runtime.gateway.update_view(view_id, view)
    except SlackCallFailed as exc:
        log.warning("could not fill in the deny modal: %s", exc.code)

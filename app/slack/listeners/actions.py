"""Approve and Deny buttons on a card."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from slack_bolt import Ack, App

from app.core import audit
from app.core.decisions import decide
from app.runtime import Runtime
from app.slack.gateway import SlackCallFailed
from app.slack.home import publish_home
from app.slack.ids import ActionId, ButtonValue
from app.store.models import Action, Source

log = logging.getLogger(__name__)

NOT_ALLOWED = "Only invite approvers can approve or deny invite requests. Nothing was changed."


def register(app: App, runtime: Runtime) -> None:
    app.action(ActionId.APPROVE.value)(_button(runtime, Action.APPROVE))
    app.action(ActionId.DENY.value)(_button(runtime, Action.DENY))


def _button(runtime: Runtime, action: Action) -> Callable[..., None]:
    def on_click(ack: Ack, body: dict[str, Any]) -> None:
        """Ack at once; the decision (a Slack admin call) runs on the background pool."""
        ack()
        runtime.run_later(handle_click, runtime, body, action)

    return on_click


def handle_click(runtime: Runtime, body: dict[str, Any], action: Action) -> None:
    """Check the clicker, decide, and tell the clicker how it went on the surface they clicked."""
    user_id = body["user"]["id"]
    surface = Surface.of(body)
    try:
        value = ButtonValue.decode(body["actions"][0]["value"])
    except (KeyError, IndexError, ValueError) as exc:
        log.warning("ignored a click with an unreadable button value: %s", exc)
        surface.tell(runtime, user_id, "That button is not one invitebot can read. Nothing was changed.")
        return
    if not runtime.approvers.allows(user_id):
        refuse(runtime, user_id, value.request_id, action.value, surface.source)
        surface.tell(runtime, user_id, NOT_ALLOWED)
        return
    outcome = decide(runtime.decider, value.request_id, action, user_id, surface.source)
    surface.tell(runtime, user_id, outcome.message)


def refuse(runtime: Runtime, user_id: str, request_id: str, action: str, source: Source) -> None:
    """Record an attempt by someone who may not decide."""
    with runtime.sessions.begin() as session:
        audit.record(session, request_id=request_id, actor_id=user_id, action=action, source=source.value, outcome="not_allowed")


@dataclass(frozen=True)
class Surface:
    """Where a click came from, and so where its answer goes: the channel (ephemeral) or the App Home."""

    source: Source
    channel: str | None = None

    @classmethod
    def of(cls, body: dict[str, Any]) -> "Surface":
        container = body.get("container") or {}
        if container.get("type") == "view":
            return cls(Source.HOME)
        return cls(Source.BUTTON, container.get("channel_id") or (body.get("channel") or {}).get("id"))

    def tell(self, runtime: Runtime, user_id: str, text: str) -> None:
        if self.source is Source.HOME:
            publish_home(runtime, user_id, notice=text)
            return
        if not self.channel:
            return
        try:
            runtime.gateway.post_ephemeral(self.channel, user_id, text=text)
        except SlackCallFailed as exc:
            log.warning("could not tell %s: %s", user_id, exc.code)

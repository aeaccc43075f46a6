"""A backlog digest's buttons: List them (the workspace's pending list, as `/invites list --team` answers) and
Decide in bulk (its email domains, each one a bulk decision of that workspace's requests)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from app.core import authz, backlog, queries
from app.core.authz import Verdict
from app.core.bulk import batches
from app.slack.api.gateway import SlackCallFailed
from app.slack.ids import ActionId
from app.slack.listeners.after_ack import run_later
from app.slack.listeners.surfaces import reply_to_of
from app.slack.runtime import Runtime
from app.slack.ui import batch_blocks, modals, replies
from app.store.models import Source

log = logging.getLogger(__name__)

CHOOSER_DOMAINS = 20  # the backlog's email domains with the most requests that get bulk buttons


def register(app: App, runtime: Runtime) -> None:
    @app.action(ActionId.DIGEST_LIST.value)
    def on_list(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        run_later(runtime, reply_to_of(body), list_backlog, runtime, body)

    @app.action(ActionId.DIGEST_BULK.value)
    def on_bulk(ack: Ack, body: dict[str, Any]) -> None:
        """Ack at once; the modal opens from the background pool within the trigger's 3 seconds."""
        ack()
        run_later(runtime, reply_to_of(body), choose_in_bulk, runtime, body)


def _clicked(body: dict[str, Any]) -> tuple[str, str | None, str] | None:
    """The clicker, their workspace and the digest's workspace id; None for a click invitebot did not make."""
    user, actions = body.get("user") or {}, body.get("actions") or []
    team_id = actions[0].get("value") if actions and isinstance(actions[0], dict) else None
    if not isinstance(user.get("id"), str) or not isinstance(team_id, str) or not team_id.startswith("T"):
        log.warning("ignored a digest click that names no user or no workspace")
        return None
    return user["id"], user.get("team_id"), team_id


def _checked(runtime: Runtime, body: dict[str, Any], action: str) -> tuple[str, str, Verdict] | None:
    """The clicker, the digest's workspace, and whether the clicker decides that workspace's requests (a refusal audited)."""
    clicked = _clicked(body)
    if clicked is None:
        return None
    user_id, user_team, team_id = clicked
    asked = authz.Asked(user_id, action, source=Source.BUTTON.value)
    return user_id, team_id, authz.require(runtime.sessions, runtime.approvers, asked, workspace=team_id, actor_team=user_team)


def list_backlog(runtime: Runtime, body: dict[str, Any]) -> None:
    """The first page of the workspace's pending requests, to the clicker alone (its pager works as the command's)."""
    clicked, url = _checked(runtime, body, "list"), body.get("response_url")
    if clicked is None or not isinstance(url, str):
        return
    user_id, team_id, verdict = clicked
    if verdict.allowed:
        with runtime.reads() as session:
            requests, total = queries.pending(session, team=team_id, offset=0, limit=replies.LIST_PAGE_SIZE)
        label = runtime.workspaces.name_of(team_id) or team_id
        text, page = f"{total} pending invite requests", replies.pending_page(requests, total=total, offset=0, team=team_id, label=label)
    else:
        text, page = replies.digest_refusal(verdict, user_id, replies.NOT_ALLOWED_TO_LIST), None
    try:
        runtime.gateway.respond(url, text=text, blocks=page)
    except SlackCallFailed as exc:
        log.warning("could not list the backlog of %s: %s", team_id, exc.code)


def choose_in_bulk(runtime: Runtime, body: dict[str, Any]) -> None:
    """A modal of the backlog's email domains, each with Approve all and Deny all: a click turns it into that domain's
    preview in the digest's workspace (app.slack.listeners.bulk)."""
    clicked, trigger_id = _checked(runtime, body, "bulk"), body.get("trigger_id")
    if clicked is None or not isinstance(trigger_id, str):
        return
    user_id, team_id, verdict = clicked
    if verdict.allowed:
        with runtime.reads() as session:
            found = backlog.read(session, team_id)
            domains = batches.busiest_domains(session, CHOOSER_DOMAINS, teams=frozenset({team_id}), at_least=1)
        channel = (body.get("container") or {}).get("channel_id")
        view = batch_blocks.backlog_chooser(replies.bulk_choose_head(found), domains, team_id, replies.bulk_how(found), channel)
    else:
        view = modals.explanation("Decide in bulk", replies.digest_refusal(verdict, user_id, replies.NOT_ALLOWED_IN_BULK))
    try:
        runtime.gateway.open_view(trigger_id, view)
    except SlackCallFailed as exc:
        log.warning("could not open the bulk chooser: %s", exc.code)

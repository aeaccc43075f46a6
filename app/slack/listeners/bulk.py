"""Bulk decisions: "Approve all from …" / "Deny all from …" (App Home, a digest's chooser, `/invites approve|deny
--domain`), the preview modal opened and filled in, its confirmation, and Cancel. app.core.bulk.batches holds the
batch; every item goes through decide(); app.slack.jobs.bulk posts the progress."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from app.core.authz import NOT_ALLOWED_OUTCOME, Verdict
from app.core.bulk import batches
from app.core.bulk.batches import Answer, Filter
from app.core.outbox import GiveUp, Retry
from app.slack.api.gateway import SlackCallFailed
from app.slack.ids import ActionId, BatchValue, DomainValue
from app.slack.jobs.answers import tell
from app.slack.jobs.bulk import filter_words, progress_channel
from app.slack.jobs.home import publish_home
from app.slack.listeners.actions import clicked_by_someone
from app.slack.listeners.after_ack import run_later
from app.slack.listeners.surfaces import reply_to_of
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
            run_later(runtime, reply_to_of(body), open_from_button, runtime, body, Action.APPROVE)

    @app.action(ActionId.BULK_DENY.value)
    def on_bulk_deny(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        if _readable(body):
            run_later(runtime, reply_to_of(body), open_from_button, runtime, body, Action.DENY)

    @app.action(ActionId.BULK_CANCEL.value)
    def on_bulk_cancel(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        reply_to = reply_to_of(body)
        if _readable(body, needs_trigger=False) and reply_to is not None:
            run_later(runtime, reply_to, cancel_clicked, runtime, body, reply_to)

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
            ack(response_action="errors", errors={modals.REASON_BLOCK: replies.BULK_REASON_REQUIRED})
            return
        ack()
        user = body["user"]
        run_later(runtime, context.reply_to(user["id"]), confirm, runtime, user["id"], context, reason, user.get("team_id"))


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
    failed = open_preview(
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


def _refusal_words(verdict: Verdict | None, user_id: str, plain: str) -> str:
    if verdict is None or (verdict.outcome == NOT_ALLOWED_OUTCOME and verdict.group is None):
        return plain
    return replies.refusal(verdict, user_id)


def refusal_words(found: batches.Preview, user_id: str) -> str:
    """Why a preview was refused, in the sentence the person reads."""
    if found.answer is Answer.REASON_REQUIRED:
        return replies.BULK_REASON_NEEDED
    return _refusal_words(found.verdict, user_id, replies.BULK_NOT_ALLOWED)


def open_preview(
    runtime: Runtime,
    *,
    trigger_id: str,
    user_id: str,
    team_id: str | None,
    action: Action,
    wanted: Filter,
    source: Source,
    reason: str | None = None,
    ask_reason: bool = False,
    channel: str | None = None,
    checked: bool = False,
    in_view: str | None = None,
) -> str | None:
    """Open the preview within the trigger's 3 seconds, then write the batch and show exactly what it would decide.

    `checked`: the caller has already asked batches.refusal() (a slash command answers its refusals itself).
    `in_view`: the modal the click came from (a digest's chooser), which becomes the preview instead of a new one.
    Returns a sentence for the person when Slack did not open the modal; every other answer is in the modal.
    """
    try:
        if in_view is None:
            view_id = runtime.gateway.open_view(trigger_id, batch_blocks.loading(action.value))
        else:
            view_id = in_view
            runtime.gateway.update_view(view_id, batch_blocks.loading(action.value))
    except SlackCallFailed as exc:
        log.warning("could not open the bulk preview: %s", exc.code)
        return replies.BULK_PREVIEW_FAILED
    services = runtime.services
    refused = None if checked else batches.refusal(
        services, action, wanted, user_id, source, reason, actor_team=team_id, ask_reason=ask_reason
    )
    words = filter_words(runtime, wanted)
    if refused is not None:
        view = batch_blocks.notice(action.value, refusal_words(refused, user_id))
    else:
        found = batches.preview(services, action, wanted, user_id, source, reason, actor_team=team_id)
        if found.batch_id is None:
            view = batch_blocks.notice(action.value, replies.bulk_nothing(action.value, words, found.elsewhere))
        else:
            context = batch_blocks.PreviewContext(found.batch_id, action.value, source.value, ask_reason, channel)
            per_minute = runtime.settings.INVITES_ADMIN_CALLS_PER_MINUTE
            view = batch_blocks.preview_modal(
                context,
                head=replies.bulk_preview_head(action.value, words, found.total, per_minute),
                first=found.first,
                total=found.total,
                reason=found.reason,
                required=runtime.settings.INVITES_DENY_REASON_REQUIRED,
            )
    try:
        runtime.gateway.update_view(view_id, view)
    except SlackCallFailed as exc:
        log.warning("could not fill in the bulk preview: %s", exc.code)
    return None


def confirm(
    runtime: Runtime, user_id: str, context: batch_blocks.PreviewContext, reason: str | None, team_id: str | None = None
) -> None:
    """The preview was submitted: start exactly what it listed (start() checks the person again), and say so."""
    change = batches.start(runtime.services, context.batch_id, user_id, actor_team=team_id, reason=reason)
    batch = change.batch
    if change.answer is Answer.STARTED and batch is not None:
        words = filter_words(runtime, Filter.from_json(batch.filters))
        text = replies.bulk_started(batch.action, words, batch.total, progress_channel(runtime, batch.id))
    elif change.answer is Answer.REFUSED:
        text = _refusal_words(change.verdict, user_id, replies.BULK_NOT_ALLOWED)
    elif change.answer is Answer.REASON_REQUIRED:
        text = replies.BULK_REASON_NEEDED
    elif change.answer is Answer.NOT_YOURS and batch is not None:
        text = replies.bulk_not_yours(batch.actor_id)
    elif change.answer is Answer.ALREADY and batch is not None:
        text = replies.bulk_already(batch.action, batch.state)
    else:
        text = replies.BULK_GONE
    _tell(runtime, context.reply_to(user_id), text)


def cancel_clicked(runtime: Runtime, body: dict[str, Any], reply_to: dict[str, str]) -> None:
    """Cancel on the progress message: approvers only (decide()'s check), audited either way; the clicker is told at `reply_to`."""
    user = body["user"]
    try:
        value = BatchValue.decode(body["actions"][0]["value"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        log.warning("ignored a bulk cancel click with an unreadable button value: %s", exc)
        _tell(runtime, reply_to, "That button is not one invitebot can read. Nothing was changed.")
        return
    change = batches.cancel(runtime.services, value.batch_id, user["id"], Source.BUTTON, actor_team=user.get("team_id"))
    batch = change.batch
    if change.answer is Answer.CANCELLED and batch is not None and change.counts is not None:
        text = replies.bulk_cancelled(batch.action, dict(change.counts.by))
    elif change.answer is Answer.REFUSED:
        text = _refusal_words(change.verdict, user["id"], replies.BULK_CANCEL_NOT_ALLOWED)
    elif change.answer is Answer.ALREADY and batch is not None:
        text = replies.bulk_already(batch.action, batch.state)
    else:
        text = replies.BULK_GONE
    _tell(runtime, reply_to, text)


def _tell(runtime: Runtime, reply_to: dict[str, str], text: str) -> None:
    try:
        tell(runtime, reply_to, text)
    except (Retry, GiveUp):
        pass  # told at once, not as an outbox job: the failure was logged


# -- the progress message -------------------------------------------------------------------------------------------

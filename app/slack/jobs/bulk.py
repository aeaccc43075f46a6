"""Bulk decisions on Slack's side: the preview modal opened and filled in, its confirmation, Cancel, and the progress
message (the `batch_progress` outbox job). app.core.bulk.batches holds the batch itself; every item goes through decide()."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update

from app.core.authz import NOT_ALLOWED_OUTCOME, Verdict
from app.core.bulk import batches
from app.core.bulk import items as batch_items
from app.core.bulk.batches import Answer, Filter
from app.core.outbox import RUNNING, GiveUp, Job, Retry
from app.slack.api.failures import job_failure
from app.slack.api.gateway import SlackCallFailed
from app.slack.ids import BatchValue
from app.slack.jobs.answers import tell
from app.slack.runtime import Runtime
from app.slack.ui import batch_blocks, replies
from app.store.dml import changed
from app.store.models import Action, Batch, BatchItem, InviteRequest, OutboxJob, Source

log = logging.getLogger(__name__)


def register_jobs(runtime: Runtime) -> None:
    """The feeder (core) and the progress message (here) as outbox jobs."""
    runtime.outbox.handle(
        "batch",
        lambda job: batches.feed(runtime.decider, job),
        on_give_up=lambda job, error: batches.give_up_feeding(runtime.decider, job, error),
    )
    runtime.outbox.handle("batch_progress", lambda job: show_progress(runtime, job))


def filter_words(runtime: Runtime, wanted: Filter) -> str:
    """example.com in Alpha Corp (multi-channel guests): the filter as people read it, workspaces by name."""
    names = [runtime.workspaces.name_of(team) or team for team in wanted.teams]
    return replies.bulk_filter_words(wanted.domain, names, wanted.types)


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
    decider = runtime.decider
    refused = None if checked else batches.refusal(
        decider, action, wanted, user_id, source, reason, actor_team=team_id, ask_reason=ask_reason
    )
    words = filter_words(runtime, wanted)
    if refused is not None:
        view = batch_blocks.notice(action.value, refusal_words(refused, user_id))
    else:
        found = batches.preview(decider, action, wanted, user_id, source, reason, actor_team=team_id)
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
    change = batches.start(runtime.decider, context.batch_id, user_id, actor_team=team_id, reason=reason)
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


def cancel_clicked(runtime: Runtime, body: dict[str, Any]) -> None:
    """Cancel on the progress message: approvers only (decide()'s check), audited either way; the clicker is told."""
    user = body["user"]
    channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get("id") or ""
    reply_to = {"surface": "ephemeral", "channel": channel, "user": user["id"]}
    try:
        value = BatchValue.decode(body["actions"][0]["value"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        log.warning("ignored a bulk cancel click with an unreadable button value: %s", exc)
        _tell(runtime, reply_to, "That button is not one invitebot can read. Nothing was changed.")
        return
    change = batches.cancel(runtime.decider, value.batch_id, user["id"], Source.BUTTON, actor_team=user.get("team_id"))
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


def show_progress(runtime: Runtime, job: Job) -> None:
    """Post the batch's progress message, or bring it up to date: counts, time left, then the summary."""
    batch_id = int(job.payload["batch"])
    with runtime.reads() as session:
        busy = session.scalar(
            select(OutboxJob.id).where(
                OutboxJob.key == batch_items.progress_key(batch_id), OutboxJob.state == RUNNING, OutboxJob.id != job.id
            ).limit(1)
        )
        if busy is not None:  # one render at a time, so an older one never lands after a newer one
            raise Retry("progress_busy", 0.5, pace=(batch_items.PROGRESS_PACE, str(batch_id)))
        found = batches.progress(session, batch_id, runtime.decider.pace)
    if found is None or found.batch.state == batches.PREVIEW:
        return
    batch = found.batch
    title = replies.bulk_title(batch.action, filter_words(runtime, found.wanted), batch.actor_id)
    text = replies.bulk_progress(
        title,
        batch.action,
        dict(found.counts.by),
        found.counts.total,
        state=batch.state,
        seconds_left=found.seconds_left,
        cancelled_by=found.cancelled_by,
        stopped_because=found.stopped_because,
        finished=found.finished,
    )
    message = batch_blocks.progress_message(text, batch.id, batch.action, running=found.running)
    if batch.progress_ts is not None and batch.channel:
        try:
            runtime.gateway.update_message(batch.channel, batch.progress_ts, text=text, blocks=message)
        except SlackCallFailed as exc:
            log.warning("could not update the progress of bulk decision %s: %s", batch_id, exc.code)
            raise _failed(runtime, exc, batch.channel) from exc
        return
    _post_progress(runtime, batch_id, text, message, orphaned=batch.channel is not None)


def _post_progress(runtime: Runtime, batch_id: int, text: str, message: list[dict[str, Any]], *, orphaned: bool) -> None:
    """The first render posts the message, once: the channel is reserved on the row before posting, and given back when
    the post failed so that it is tried again. `orphaned`: reserved by a render that is no longer running (its process
    died before it recorded the ts), so this one posts."""
    channel = progress_channel(runtime, batch_id)
    with runtime.sessions.begin() as session:
        free = Batch.channel.is_not(None) if orphaned else Batch.channel.is_(None)
        reserved = changed(
            session,
            update(Batch).where(Batch.id == batch_id, Batch.progress_ts.is_(None), free).values(channel=channel)
        )
    if not reserved:
        raise Retry("progress_post_in_flight", 0.5, pace=(batch_items.PROGRESS_PACE, str(batch_id)))
    try:
        ts = runtime.gateway.post_message(channel, text=text, blocks=message)
    except SlackCallFailed as exc:
        # Also when the answer was lost (it may have been posted): a second message is better than none.
        with runtime.sessions.begin() as session:
            session.execute(update(Batch).where(Batch.id == batch_id, Batch.progress_ts.is_(None)).values(channel=None))
        log.warning("could not post the progress of bulk decision %s in %s: %s", batch_id, channel, exc.code)
        raise _failed(runtime, exc, channel) from exc
    with runtime.sessions.begin() as session:
        session.execute(update(Batch).where(Batch.id == batch_id).values(progress_ts=ts))


def progress_channel(runtime: Runtime, batch_id: int) -> str:
    """Where the progress message goes: the workspace's own channel (INVITES_ROUTES) when every item is of one
    workspace, else INVITES_CHANNEL."""
    with runtime.reads() as session:
        teams = session.scalars(
            select(InviteRequest.team_id).join(BatchItem, BatchItem.request_id == InviteRequest.id)
            .where(BatchItem.batch_id == batch_id).distinct().limit(2)
        ).all()
    routes = runtime.settings.routes
    return routes.channel_for(teams[0]) if len(teams) == 1 else routes.default


def _failed(runtime: Runtime, exc: SlackCallFailed, channel: str) -> Exception:
    return job_failure(exc, (runtime.decider.post_pace, channel))

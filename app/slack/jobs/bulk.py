"""A bulk decision's outbox jobs: the feeder (app.core.bulk.batches) and its progress message, posted once and kept
up to date. The preview, its confirmation and Cancel are app.slack.listeners.bulk's."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update

from app.core.bulk import batches
from app.core.bulk import items as batch_items
from app.core.bulk.batches import Filter
from app.core.outbox import RUNNING, Job, Retry
from app.slack.api.failures import job_failure
from app.slack.api.gateway import SlackCallFailed
from app.slack.runtime import Runtime
from app.slack.ui import batch_blocks, replies
from app.store.dml import changed
from app.store.models import Batch, BatchItem, InviteRequest, OutboxJob

log = logging.getLogger(__name__)


def register_jobs(runtime: Runtime) -> None:
    """The feeder (core) and the progress message (here) as outbox jobs."""
    runtime.outbox.handle(
        "batch",
        lambda job: batches.feed(runtime.services, job),
        on_give_up=lambda job, error: batches.give_up_feeding(runtime.services, job, error),
    )
    runtime.outbox.handle("batch_progress", lambda job: show_progress(runtime, job))


def filter_words(runtime: Runtime, wanted: Filter) -> str:
    """example.com in Alpha Corp (multi-channel guests): the filter as people read it, workspaces by name."""
    names = [runtime.workspaces.name_of(team) or team for team in wanted.teams]
    return replies.bulk_filter_words(wanted.domain, names, wanted.types)


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
        found = batches.progress(session, batch_id, runtime.services.pace)
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
    return job_failure(exc, (runtime.services.post_pace, channel))

"""The `ask` job: decide() for a click or a Deny form that a web process wrote down before its ack, then the asker's
answer when it is known at once (one that waits for Slack's answer is the `answer` job's)."""

from __future__ import annotations

from app import logs
from app.core.asks import Ask
from app.core.decisions import decide
from app.core.outbox import Job
from app.slack.jobs.answers import Surface, logged, tell_unexpected
from app.slack.runtime import Runtime


def run_ask(runtime: Runtime, job: Job) -> None:
    """Decide once: a failure is told to the asker with its log reference, never tried again (decide() may have claimed)."""
    ask = Ask.from_payload(job.payload)
    if ask.log_request_id:
        logs.request_id.set(ask.log_request_id)  # the web process's lines for this click and the worker's share an id
    try:
        outcome = decide(
            runtime.services,
            ask.request_id,
            ask.action,
            ask.actor_id,
            ask.source,
            ask.reason,
            actor_team=ask.actor_team,
            reply_to=ask.reply_to,
            clicked=ask.clicked,
            with_claim=job.complete,  # the ask is done once its claim is committed: never decided twice
        )
        Surface(ask.source, ask.channel).answer(runtime, ask.actor_id, outcome)
    except (KeyboardInterrupt, SystemExit):
        raise  # the process is stopping
    except BaseException as error:  # noqa: BLE001 - expected failures are worded where they happen; this is the rest
        job.completed = False  # marked done in a transaction that may have rolled back: the outbox deletes it (again)
        tell_unexpected(runtime, ask.reply_to, logged(error, f"deciding {ask.action.value} of {ask.request_id}"))


def tell_lost(runtime: Runtime, ask: Ask, error: BaseException) -> None:
    """The ask could not be written down (app.core.asks): the asker hears so, with the log's reference, from the
    background pool (never from the writer, which other asks wait for)."""
    told = logs.request_id.set(ask.log_request_id)  # the writer's thread serves every ask: this line is this one's
    try:
        ref = logged(error, f"writing down {ask.action.value} of {ask.request_id}")
        runtime.background.submit(tell_unexpected, runtime, ask.reply_to, ref)
    finally:
        logs.request_id.reset(told)

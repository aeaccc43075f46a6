"""Every kind of outbox job and the Slack work that carries it out, registered in one place."""

from __future__ import annotations

from app.core.decisions import give_up_decision
from app.slack.jobs import bulk, notices
from app.slack.jobs.answers import answer, tell_requester
from app.slack.jobs.cards import update_card
from app.slack.jobs.decisions import run_decision
from app.slack.jobs.digest import update_digest
from app.slack.jobs.home import publish_home
from app.slack.runtime import Runtime


def register(runtime: Runtime) -> None:
    """Give each kind of outbox job its worker."""
    outbox = runtime.outbox
    outbox.handle(
        "decide",
        lambda job: run_decision(runtime, job),
        on_give_up=lambda job, error: give_up_decision(runtime.decider, job, error),
    )
    outbox.handle("card", lambda job: update_card(runtime, job))
    outbox.handle("answer", lambda job: answer(runtime, job))
    outbox.handle("notify", lambda job: tell_requester(runtime.sessions, runtime.gateway, runtime.decider.post_pace, job))
    outbox.handle("home", lambda job: publish_home(runtime, str(job.payload["user"])))
    outbox.handle("digest", lambda job: update_digest(runtime, job))

    notices.register(runtime)
    bulk.register_jobs(runtime)



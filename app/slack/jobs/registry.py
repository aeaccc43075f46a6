"""Every kind of outbox job and the Slack work that carries it out, registered in one place."""

from __future__ import annotations

from app.core.asks import ASK
from app.core.outbox import Outbox
from app.core.services import Services
from app.core.settle import give_up_decision
from app.routes import Routes
from app.slack.api.gateway import SlackGateway
from app.slack.jobs import bulk, notices
from app.slack.jobs.answers import answer, tell_requester
from app.slack.jobs.asks import run_ask
from app.slack.jobs.cards import give_back_card, post_card, update_card
from app.slack.jobs.channel_hold import ChannelHold
from app.slack.jobs.decisions import run_decision
from app.slack.jobs.digest import give_back_digest, post_digest, update_digest
from app.slack.jobs.home import publish_home
from app.slack.runtime import Runtime


def register(runtime: Runtime) -> None:
    """Give each kind of outbox job its worker."""
    outbox = runtime.outbox
    outbox.handle(ASK, lambda job: run_ask(runtime, job))
    outbox.handle(
        "decide",
        lambda job: run_decision(runtime, job),
        on_give_up=lambda job, error: give_up_decision(runtime.services, job, error),
    )
    outbox.handle("answer", lambda job: answer(runtime, job))
    outbox.handle("home", lambda job: publish_home(runtime, str(job.payload["user"])))
    settings = runtime.settings
    register_cards(outbox, runtime.services, runtime.gateway, settings.INVITES_ADMIN_CALLS_PER_MINUTE, settings.routes)

    notices.register(runtime)
    bulk.register_jobs(runtime)


def register_cards(outbox: Outbox, services: Services, gateway: SlackGateway, per_minute: int, routes: Routes) -> None:
    """What a sync pass owes Slack (cards, digests, requesters' DMs), so `invitebot sync` does these jobs too; a card
    showing a decision queued behind the admin-call pace cites `per_minute`. Posts wait while their channel is held
    (`routes` names the setting to fix)."""
    hold = ChannelHold(services, routes)
    posting = hold.wrap(lambda job: post_card(services, gateway, job))
    outbox.handle("post_card", posting, on_give_up=lambda job, _: give_back_card(services, job))
    outbox.handle("card", lambda job: update_card(services.sessions, gateway, per_minute, job))
    digesting = hold.wrap(lambda job: post_digest(services, gateway, job))
    outbox.handle("post_digest", digesting, on_give_up=lambda job, _: give_back_digest(services, job))
    outbox.handle("digest", lambda job: update_digest(services.sessions, gateway, job))
    outbox.handle("notify", lambda job: tell_requester(services.sessions, gateway, services.post_pace, job))

"""Build the Bolt app: signature checks, acks and routing are Bolt's; listeners are ours."""

from __future__ import annotations

import logging
from typing import Any, Callable

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.request.payload_utils import is_event, is_slash_command, is_view_submission
from slack_sdk import WebClient

from app.core.outbox import GiveUp, Retry
from app.metrics import TURNED_AWAY
from app.slack.api.gateway import SlackCallFailed
from app.slack.api.token_health import BOT
from app.slack.jobs import answers
from app.slack.jobs.answers import tell
from app.slack.listeners import (
    actions,
    after_ack,
    bulk,
    commands,
    digest,
    events,
    home,
    installation,
    payloads,
    team_access,
    usergroups,
    views,
)
from app.slack.listeners.surfaces import reply_to_of
from app.slack.runtime import Runtime
from app.slack.ui import modals, replies
from app.store.db import shown

log = logging.getLogger(__name__)
# Bolt authorizes neither of these (the tokens may be gone); they must reach their listeners whatever the tokens say.
NO_TOKEN_EVENTS = frozenset({"tokens_revoked", "app_uninstalled"})
DATABASE_NOT_WRITABLE = "invitebot could not record this — its database is not writable; nothing was decided."


def build_app(runtime: Runtime) -> App:
    settings = runtime.settings
    secret = settings.SLACK_SIGNING_SECRET
    app = App(
        # Tokens come from authorize(); this client only lends Bolt its base URL (and Socket Mode its transport).
        client=WebClient(base_url=settings.SLACK_API_URL),
        # Over HTTP every request is verified; Socket Mode has no signatures (the connection is authenticated).
        signing_secret=secret.get_secret_value() if secret else "",
        request_verification_enabled=secret is not None,
        before_authorize=_while_unable_to_act(runtime),
        authorize=_authorize(runtime),
        # Listeners run in the request's own thread: each only acks and hands its work to a pool or the outbox, so the
        # ack never waits for a free listener thread behind queued work.
        process_before_response=True,
        logger=_quiet_bolt_logger(),
    )
    for listeners in (events, actions, commands, views, home, installation, team_access, usergroups, digest, bulk):
        listeners.register(app, runtime)
    app.error(_on_error(runtime))
    # Bolt's own authorization would call auth.test on the first request, before its ack; do it now instead.
    runtime.token_check.warm(runtime.gateway)
    return app


def _quiet_bolt_logger() -> logging.Logger:
    """Bolt's loggers from WARNING only: at INFO it logs whole request bodies (unverified ones included).

    Bolt copies this logger's level to every logger it makes; left to itself it copies the root logger's INFO.
    """
    bolt_logger = logging.getLogger("slack_bolt.App")
    bolt_logger.setLevel(max(bolt_logger.getEffectiveLevel(), logging.WARNING))
    if _not_token_unused not in bolt_logger.filters:
        bolt_logger.addFilter(_not_token_unused)
    return bolt_logger


def _not_token_unused(record: logging.LogRecord) -> bool:
    """Bolt reads SLACK_BOT_TOKEN from the environment whatever it is given, then warns at every start that the client we
    pass wins over it. Tokens come from authorize() by design: that warning says nothing an operator can act on."""
    return record.getMessage() != warning_client_prioritized_and_token_skipped()



def _authorize(runtime: Runtime) -> Callable[..., AuthorizeResult]:
    bot_token = runtime.settings.SLACK_BOT_TOKEN.get_secret_value()

    def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> AuthorizeResult:
        """The bot identity auth.test gave (at start-up or since): no Web API call per request."""
        identity = runtime.token_check.identity(BOT)
        if identity is None:  # Slack has not answered yet; Bolt needs only the token to go on
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=bot_token, user_id=user_id)
        return AuthorizeResult(
            enterprise_id=identity.enterprise_id,
            team_id=identity.team_id,
            bot_user_id=identity.user_id,
            bot_id=identity.bot_id,
            bot_token=bot_token,
            user_id=user_id,
        )

    return authorize


def _while_unable_to_act(runtime: Runtime) -> Callable[..., BoltResponse]:
    health = runtime.token_check
    write_check = runtime.write_check

    def before_authorize(req: BoltRequest, body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse:
        """While Slack rejects the bot token, or the database takes no writes, answer so that nothing is lost.

        Either way the work a request asks for cannot be done (or not recorded), so it is turned away (see
        _turn_away) before any listener acks it; the token is checked first, since its fix is the reinstall.
        Before both, a payload without what its listener reads is answered here, once (app.slack.listeners.payloads):
        this runs ahead of Bolt's own middleware and matchers, which read some of those fields too.
        """
        malformed = payloads.problem(body)
        if malformed is not None:
            return payloads.refuse(body, malformed)
        event = body.get("event") if is_event(body) else None
        event_type = event.get("type") if isinstance(event, dict) else None
        if body.get("type") == "url_verification" or event_type in NO_TOKEN_EVENTS:
            return next()
        health.ensure_bot_identity(runtime.gateway)
        if health.rejection(BOT) is not None:
            return _turn_away(runtime, req, body, health.sentence(BOT), health.problem(BOT) or "")
        if not write_check.writable():
            problem = f"the database {shown(runtime.engine.url)} does not take writes"
            return _turn_away(runtime, req, body, DATABASE_NOT_WRITABLE, problem)
        return next()

    return before_authorize


def _turn_away(runtime: Runtime, req: BoltRequest, body: dict[str, Any], sentence: str, problem: str) -> BoltResponse:
    """Events get a 503 (over Socket Mode: no ack), so Slack delivers them again later; commands, clicks and
    modal submissions are answered with what is wrong."""
    if is_event(body):
        TURNED_AWAY.labels(kind="event").inc()
        how = "left the envelope unacknowledged" if req.mode == "socket_mode" else "answered HTTP 503"
        event = body["event"] if isinstance(body["event"], dict) else {}
        log.warning(
            "%s for the %s event %s, so Slack delivers it again later: %s",
            how,
            event.get("type"),
            body.get("event_id"),
            problem,
        )
        return BoltResponse(status=503, body=sentence)
    if is_slash_command(body):
        TURNED_AWAY.labels(kind="command").inc()
        return BoltResponse(status=200, body=sentence)
    TURNED_AWAY.labels(kind="interaction").inc()
    response_url = req.context.response_url
    reply_to = reply_to_of(body)
    if response_url:  # needs no token
        after_ack.run_later(runtime, None, _tell, runtime, response_url, sentence)
    elif is_view_submission(body):
        return BoltResponse(status=200, body={"response_action": "update", "view": modals.notice(sentence)})
    elif reply_to is not None:  # a click in the App Home has no response_url: the Home shows the sentence
        after_ack.run_later(runtime, None, _tell_where, runtime, reply_to, sentence)
    return BoltResponse(status=200, body="")


def _on_error(runtime: Runtime) -> Callable[..., BoltResponse | None]:
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        """A listener or middleware failed before the ack: logged and told as after it (app.slack.listeners.after_ack).

        A command is answered in its ack and a modal shows the sentence; a click hears it where it was made, after the
        ack; an event keeps Bolt's HTTP 500 (over Socket Mode: no ack), so Slack delivers it again.
        """
        ref = answers.logged(error, "before the ack")
        sentence = replies.unexpected(ref)
        if is_event(body):
            return None
        if is_slash_command(body):
            return BoltResponse(status=200, body=sentence)
        if is_view_submission(body):
            return BoltResponse(status=200, body={"response_action": "update", "view": modals.notice(sentence)})
        reply_to = reply_to_of(body)
        if reply_to is not None:
            try:
                after_ack.run_later(runtime, None, answers.tell_unexpected, runtime, reply_to, ref)
            except RuntimeError:  # the pools have shut down: nobody is left to tell them
                log.warning("could not tell %s of the failure with ref %s: shutting down", reply_to.get("user"), ref)
        return BoltResponse(status=200, body="")

    return on_error


def _tell_where(runtime: Runtime, reply_to: dict[str, str], text: str) -> None:
    try:
        tell(runtime, reply_to, text)
    except (Retry, GiveUp):
        log.warning("could not tell %s why nothing was done", reply_to.get("user"))  # tell() logged Slack's answer


def _tell(runtime: Runtime, response_url: str, text: str) -> None:
    try:
        runtime.gateway.respond(response_url, text=text)
    except SlackCallFailed as exc:
        log.warning("could not tell the clicker why nothing was done: %s", exc.code)

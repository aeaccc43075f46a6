"""tokens_revoked and app_uninstalled: Slack says our tokens are gone, so /readyz fails and on-call hears why."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from app.metrics import TOKEN_REVOCATIONS
from app.slack.api.token_health import ADMIN, BOT, ENV_NAMES
from app.slack.listeners.after_ack import run_later
from app.slack.runtime import Runtime

log = logging.getLogger(__name__)


def register(app: App, runtime: Runtime) -> None:
    @app.event("tokens_revoked")
    def on_tokens_revoked(event: dict[str, Any]) -> None:
        """`tokens.oauth` lists users whose user tokens were revoked, `tokens.bot` the bot users whose were."""
        TOKEN_REVOCATIONS.labels(event="tokens_revoked").inc()
        tokens = event.get("tokens") or {}
        users = {str(user) for user in tokens.get("oauth") or []}
        if tokens.get("bot"):
            _revoked(runtime, BOT, "token_revoked", "tokens_revoked event")
        if not users:
            return
        admin = runtime.token_check.identity(ADMIN)
        if admin is None:  # not asked yet: auth.test names the admin token's user (or fails, if revoked)
            run_later(runtime, None, _check_admin, runtime, users)
        elif admin.user_id in users:
            _revoked(runtime, ADMIN, "token_revoked", "tokens_revoked event")
        else:
            log.info("Slack revoked user tokens of %d user(s); SLACK_ADMIN_TOKEN's user is not among them", len(users))

    @app.event("app_uninstalled")
    def on_app_uninstalled() -> None:
        TOKEN_REVOCATIONS.labels(event="app_uninstalled").inc()
        log.error("invitebot was uninstalled from the org: Slack revoked both of its tokens")
        for kind in (BOT, ADMIN):
            _revoked(runtime, kind, "app_uninstalled", "app_uninstalled event")


def _revoked(runtime: Runtime, kind: str, code: str, seen_on: str) -> None:
    log.error("Slack revoked %s (%s)", ENV_NAMES[kind], seen_on)
    runtime.token_check.reject(kind, code, seen_on)


def _check_admin(runtime: Runtime, users: set[str]) -> None:
    runtime.gateway.admin_token_problem()  # a revoked token is marked rejected by the answer itself
    admin = runtime.token_check.identity(ADMIN)
    if admin is not None and admin.user_id in users:
        _revoked(runtime, ADMIN, "token_revoked", "tokens_revoked event")

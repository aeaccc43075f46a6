"""What Slack last said about our two tokens: whose they are (auth.test) and whether Slack now rejects them.

Fed by every Web API call (through the observer make_client is given), the periodic check in the sync loop, and
the tokens_revoked / app_uninstalled events. Bolt's authorization reads the bot identity from here, so no request
waits for an auth.test; /readyz and the guard in app.slack.bolt read the rejections.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from app.metrics import TOKEN_REJECTED
from app.slack.api.client import CallObserver
from app.slack.api.gateway import SlackGateway

log = logging.getLogger(__name__)

BOT, ADMIN = "bot", "admin"
ENV_NAMES = {BOT: "SLACK_BOT_TOKEN", ADMIN: "SLACK_ADMIN_TOKEN"}
# Slack's answers that mean the token itself is no good (any method); anything else is about one call.
REJECTING_CODES = frozenset(
    {"invalid_auth", "token_revoked", "token_expired", "account_inactive", "not_authed", "not_allowed_token_type"}
)
FIXES = {
    BOT: (
        "An org admin must reinstall invitebot on the org, then put its Bot User OAuth Token (xoxb-) in "
        "SLACK_BOT_TOKEN and restart invitebot."
    ),
    ADMIN: (
        "An org admin or owner must reinstall invitebot on the org, then put their User OAuth Token (xoxp-) in "
        "SLACK_ADMIN_TOKEN and restart invitebot."
    ),
}
_WHAT = {BOT: "bot token", ADMIN: "admin token"}


@dataclass(frozen=True)
class Identity:
    """Who a token acts as, from auth.test."""

    user_id: str | None
    bot_id: str | None
    team_id: str | None
    enterprise_id: str | None

    @classmethod
    def from_auth_test(cls, data: dict[str, Any]) -> Identity:
        return cls(data.get("user_id"), data.get("bot_id"), data.get("team_id"), data.get("enterprise_id"))


@dataclass(frozen=True)
class Rejection:
    code: str  # Slack's error code (or the event that told us)
    seen_on: str  # the Web API method that answered it, or the event


@dataclass
class _Token:
    answered: bool = False  # has auth.test answered at all (ok or an error)?
    error: str | None = None  # the latest auth.test answer's error; None when it was accepted
    identity: Identity | None = None
    rejection: Rejection | None = None


class TokenHealth:
    """The latest auth.test answer and any rejection, per token; safe to use from every thread."""

    def __init__(self) -> None:
        self._tokens = {BOT: _Token(), ADMIN: _Token()}
        self._lock = threading.Lock()
        self._retried = False  # the one extra start-up try (ensure_bot_identity)
        for kind in (BOT, ADMIN):
            TOKEN_REJECTED.labels(token=kind).set(0)

    # -- feeding it ------------------------------------------------------------------------------

    def observer(self, kind: str) -> CallObserver:
        """What make_client calls after every Web API call made with this token."""

        def observe(method: str, error: str | None, data: dict[str, Any] | None) -> None:
            if method == "auth.test":
                with self._lock:
                    token = self._tokens[kind]
                    token.answered, token.error = True, error
                    if error is None:
                        token.identity = Identity.from_auth_test(data or {})
                if error is None:
                    self.accept(kind)
                elif error not in REJECTING_CODES:
                    log.warning("auth.test of %s failed: %s", ENV_NAMES[kind], error)
            if error in REJECTING_CODES:
                self.reject(kind, error, method)

        return observe

    def reject(self, kind: str, code: str, seen_on: str) -> None:
        """Slack no longer takes this token (an error code, or a revocation event)."""
        with self._lock:
            token = self._tokens[kind]
            was = token.rejection
            token.rejection = Rejection(code, seen_on)
        TOKEN_REJECTED.labels(token=kind).set(1)
        if was is None:
            log.error("Slack rejects %s: %s (%s). %s", ENV_NAMES[kind], code, seen_on, FIXES[kind])

    def accept(self, kind: str) -> None:
        """auth.test accepted the token: whatever rejected it before is over."""
        with self._lock:
            token = self._tokens[kind]
            was, token.rejection = token.rejection, None
        TOKEN_REJECTED.labels(token=kind).set(0)
        if was is not None:
            log.warning("Slack accepts %s again (it had answered %s)", ENV_NAMES[kind], was.code)

    def warm(self, gateway: SlackGateway) -> None:
        """At start-up: one auth.test of the bot token, so no request from Slack pays for it."""
        gateway.bot_token_problem()  # recorded by the observer; when Slack was unreachable, see ensure_bot_identity

    def ensure_bot_identity(self, gateway: SlackGateway) -> None:
        """When start-up could not reach Slack, the first request tries auth.test once more (and only once)."""
        with self._lock:
            token = self._tokens[BOT]
            if token.identity is not None or token.rejection is not None or self._retried:
                return
            self._retried = True
        gateway.bot_token_problem()

    def run(self, gateway: SlackGateway) -> None:
        """The periodic check: auth.test of both tokens, bot first; the observer records each answer."""
        gateway.token_problems()

    # -- reading it --------------------------------------------------------------------------------

    def identity(self, kind: str) -> Identity | None:
        with self._lock:
            return self._tokens[kind].identity

    def rejection(self, kind: str) -> Rejection | None:
        with self._lock:
            return self._tokens[kind].rejection

    def problem(self, kind: str) -> str | None:
        """For on-call: the token, Slack's code, where it was seen, and the fix; None when nothing is wrong."""
        with self._lock:
            token = self._tokens[kind]
            rejection, error = token.rejection, token.error
        if rejection is not None:
            return f"{ENV_NAMES[kind]}: {rejection.code} ({rejection.seen_on}). {FIXES[kind]}"
        if error is not None:
            return f"{ENV_NAMES[kind]}: {error} (auth.test)"
        return None

    def sentence(self, kind: str = BOT) -> str:
        """For the person in Slack whose click or command cannot be carried out."""
        rejection = self.rejection(kind)
        code = f" ({rejection.code})" if rejection else ""
        return (
            f"invitebot cannot act right now: Slack no longer accepts its {_WHAT[kind]}{code}, so nothing was done. "
            f"{FIXES[kind]}"
        )

    def readiness(self) -> dict[str, Any]:
        """checks.tokens of /readyz: ok only once Slack has accepted both tokens and rejects neither."""
        problems = [p for kind in (BOT, ADMIN) if (p := self.problem(kind))]
        with self._lock:
            unchecked = [kind for kind, token in self._tokens.items() if not token.answered]
        if problems:
            return {"ok": False, "detail": "; ".join(problems)}
        if unchecked:
            return {"ok": False, "detail": "not checked yet"}
        return {"ok": True, "detail": "accepted"}

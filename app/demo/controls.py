"""The demo's controls for what happens in Slack itself (a new invite request, a decision outside invitebot, a fault)
and for invitebot's policy (shadow or enforce, which takes a restart)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Callable

from app.demo import policy_file, seed
from app.demo.bot import BotStartFailed, DemoBot
from app.demo.feed import ChangeFeed
from app.demo.params import Answer, BadRequest, bot_answer, text
from app.demo.screen import Screens
from app.sandbox import FakeSlack, SlackSender

INVITE_TYPES = ("full_member", "restricted", "ultra_restricted")
DECIDE_METHODS = ("admin.inviteRequests.approve", "admin.inviteRequests.deny")
SLOW, SLOW_SECONDS = "slow", 3.0
FAULTS = {  # kind -> (Slack error, how many calls fail, words for the page); "slow" delays every call instead
    "ratelimited": ("ratelimited", 1, "HTTP 429 with Retry-After: 2 (invitebot waits, then retries)"),
    "internal_error": ("internal_error", 1, "internal_error once (invitebot retries and succeeds)"),
    "internal_error_x3": ("internal_error", 3, "internal_error 3 times (retries run out; the clicker is told)"),
    SLOW: (SLOW, 0, f"slowly: {SLOW_SECONDS:g} seconds for every call, until disarmed"),
}
_EMAIL = re.compile(r"^[^@\s<>|]+@[^@\s<>|]+\.[^@\s<>|]+$")


class Controls:
    """Things that happen in Slack itself, outside anyone's client; invitebot hears of them as it would in production."""

    def __init__(
        self,
        fake: FakeSlack,
        sender: SlackSender,
        screens: Screens,
        feed: ChangeFeed,
        person: Callable[[str], seed.Person],
        bot: DemoBot,
        policy: Path,
    ) -> None:
        self.fake, self.sender, self.screens, self.feed, self.person = fake, sender, screens, feed, person
        self.bot, self.policy = bot, policy

    def new_request(self, body: dict[str, Any]) -> Answer:
        """Someone asks to invite a person: the request exists in Slack, and Slack sends invite_requested."""
        user = self.person(text(body, "user"))
        email = text(body, "email", limit=254).strip()
        if not _EMAIL.match(email):
            raise BadRequest("Enter an email address, like ada@example.com.")
        invite_type = text(body, "invite_type")
        if invite_type not in INVITE_TYPES:
            raise BadRequest(f"invite_type must be one of {', '.join(INVITE_TYPES)}")
        team_id = text(body, "team_id")
        known = {c: t for c, _, t in seed.CHANNELS}
        if team_id not in {t for t, _, _ in seed.TEAMS}:
            raise BadRequest("unknown workspace")
        channels = body.get("channel_ids") or []
        if not isinstance(channels, list) or any(known.get(c) != team_id for c in channels):
            raise BadRequest("pick channels of that workspace")
        if invite_type != "full_member" and not channels:
            raise BadRequest("A guest needs at least one channel.")
        if invite_type == "ultra_restricted" and len(channels) != 1:
            raise BadRequest("A single-channel guest gets exactly one channel.")
        item = self.fake.add_invite_request(
            team_id=team_id,
            email=email,
            invite_type=invite_type,
            requester_ids=[user.id],
            channel_ids=list(channels),
            real_name=text(body, "real_name", required=False, limit=200).strip() or None,
            request_reason=text(body, "reason", required=False, limit=3000).strip() or None,
            date_expire=int(time.time()) + 30 * 86400 if invite_type != "full_member" else None,
        )
        self.screens.remember_request(item)
        reply = self.sender.invite_requested(item)
        return 200, {**bot_answer(reply), "request_id": item["id"]}

    def decide_outside(self, body: dict[str, Any]) -> Answer:
        """An org admin approves or denies in Slack's own admin pages; invitebot learns it at its next sync."""
        action = text(body, "action")
        if action not in ("approve", "deny"):
            raise BadRequest("action must be approve or deny")
        try:
            self.fake.decide_outside(text(body, "request_id"), action, seed.SLACK_ADMIN)
        except ValueError as exc:
            return 409, {"ok": False, "error": str(exc)}
        return 200, {"ok": True}

    def fault(self, body: dict[str, Any]) -> Answer:
        """The next calls of admin.inviteRequests.approve and/or .deny answer with the chosen Slack error (or slowly)."""
        kind = text(body, "kind")
        if kind not in FAULTS:
            raise BadRequest(f"kind must be one of {', '.join(FAULTS)}")
        error, times, words = FAULTS[kind]
        for method in _methods(body):
            if kind == SLOW:
                self.screens.set_slow(method, SLOW_SECONDS)
                self.fake.set_latency(method, SLOW_SECONDS)
            else:
                self.fake.fail_next(method, error, times=times, retry_after=2 if error == "ratelimited" else None)
        self.feed.bump()
        return 200, {"ok": True, "armed": words}

    def disarm(self, body: dict[str, Any]) -> Answer:
        """Take back what `fault` armed on admin.inviteRequests.approve and/or .deny (both when no methods are given)."""
        methods = _methods(body)
        for method in methods:
            self.fake.clear_faults(method)
            if self.screens.slow(method):
                self.fake.set_latency(method, 0.0)
                self.screens.set_slow(method, 0.0)
        self.feed.bump()
        return 200, {"ok": True, "disarmed": methods}

    def policy_mode(self, body: dict[str, Any]) -> Answer:
        """Rewrite the policy file's mode and restart invitebot, which reads the file only as it starts."""
        mode = text(body, "mode")
        if mode not in policy_file.MODES:
            raise BadRequest(f"mode must be one of {', '.join(policy_file.MODES)}")
        policy_file.set_mode(self.policy, mode)
        try:
            self.sender.bot_url = self.bot.restart()
        except BotStartFailed as exc:
            return 502, {"ok": False, "error": str(exc)}
        finally:
            self.screens.set_policy_mode(mode)
            self.feed.bump()
        return 200, {"ok": True, "mode": mode}


def _methods(body: dict[str, Any]) -> list[str]:
    methods = body.get("methods") or list(DECIDE_METHODS)
    if not isinstance(methods, list) or any(m not in DECIDE_METHODS for m in methods):
        raise BadRequest(f"methods must be among {', '.join(DECIDE_METHODS)}")
    return list(dict.fromkeys(methods))

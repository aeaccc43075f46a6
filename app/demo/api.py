"""The demo page's JSON API: what a person does in Slack becomes what Slack sends the bot, correctly signed."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from app.demo import policy_file, seed
from app.demo.bot import DemoBot
from app.demo.controls import FAULTS, INVITE_TYPES, Controls
from app.demo.feed import ChangeFeed
from app.demo.params import Answer, BadRequest, bot_answer, text
from app.demo.screen import Screens
from app.sandbox import FakeSlack, SlackSender

log = logging.getLogger(__name__)
LONG_POLL_SECONDS = 25.0
_CHANNEL_WORD = re.compile(r"(?<![\w<])#([a-z0-9][a-z0-9_-]*)")
_USER_WORD = re.compile(r"(?<![\w<])@([a-z0-9][a-z0-9._-]*)")


@dataclass(frozen=True)
class Download:
    """A file's bytes for the browser: its name and Slack's mimetype for it."""

    name: str
    mimetype: str
    content: bytes


class DemoApi:
    """Handlers for /api/*: reads from the stand-in, writes through SlackSender or FakeSlack's seeding and faults."""

    def __init__(
        self, fake: FakeSlack, sender: SlackSender, screens: Screens, feed: ChangeFeed, bot: DemoBot, policy: Path
    ) -> None:
        self.fake, self.sender, self.screens, self.feed = fake, sender, screens, feed
        self.channel = screens.channel
        self.people = {p.id: p for p in seed.PEOPLE}
        controls = Controls(fake, sender, screens, feed, self._person, bot, policy)
        self.posts: dict[str, Callable[[dict[str, Any]], Answer]] = {
            "click": self.click,
            "click_ephemeral": self.click_ephemeral,
            "click_home": self.click_home,
            "click_modal": self.click_modal,
            "home_opened": self.home_opened,
            "slash": self.slash,
            "submit_view": self.submit_view,
            "close_view": self.close_view,
            "leave": self.leave,
            "request": controls.new_request,
            "decide_outside": controls.decide_outside,
            "fault": controls.fault,
            "disarm": controls.disarm,
            "policy_mode": controls.policy_mode,
        }

    # reading

    def org(self) -> Answer:
        """Who and what exists: for the user picker, the controls, and turning ids into names."""
        users = [
            {"id": user.id, "name": user.name, "real_name": user.real_name}
            for user_id in [self.fake.bot_user_id, seed.TOKEN_OWNER, *self.people]
            if (user := self.fake.user(user_id)) is not None
        ]
        return 200, {
            "enterprise": self.fake.enterprise_name,
            "teams": [{"id": t, "name": n, "domain": d} for t, n, d in seed.TEAMS],
            "channels": [{"id": c, "name": n, "team_id": t} for c, n, t in seed.CHANNELS],
            "approvals_channel": self.channel,
            "users": users,
            "people": [p.as_json() for p in seed.PEOPLE],
            "usergroups": [{"id": seed.APPROVER_GROUP, "handle": seed.APPROVER_GROUP_HANDLE}],
            "bot_user_id": self.fake.bot_user_id,
            "slack_admin": seed.SLACK_ADMIN,
            "invite_types": list(INVITE_TYPES),
            "faults": [{"kind": kind, "words": words} for kind, (_, _, words) in FAULTS.items()],
            "policy_modes": list(policy_file.MODES),
        }

    def state(self, user_id: str, since: str, timeout: float = LONG_POLL_SECONDS) -> Answer:
        """The user's screen; with `since`, wait (long poll) until it differs from that version."""
        self._person(user_id)
        deadline = time.monotonic() + timeout
        while True:
            seen = self.feed.version()
            state = self.screens.state(user_id)
            remaining = deadline - time.monotonic()
            if state["version"] != since or remaining <= 0 or self.feed.closed:
                return 200, state
            self.feed.wait_past(seen, remaining)

    def file(self, user_id: str, file_id: str) -> Answer | Download:
        """A shared file's bytes, for a person whose page shows the conversation it was shared in (else 403)."""
        self._person(user_id)
        found = self.screens.file(user_id, file_id)
        if found is None:
            return 404, {"ok": False, "error": "no such file"}
        if not found["visible"]:
            return 403, {"ok": False, "error": "that file is not in a conversation this person can see"}
        return Download(found["name"], found["mimetype"], found["content"])

    def post(self, name: str, body: dict[str, Any]) -> Answer:
        """Run the action `name`; the page's mistakes are 400, a button no longer on show 409, a silent bot 502."""
        handler = self.posts.get(name)
        if handler is None:
            return 404, {"ok": False, "error": f"no such action: {name}"}
        try:
            return handler(body)
        except BadRequest as exc:
            return 400, {"ok": False, "error": str(exc)}
        except AssertionError as exc:  # the sender refused: that button is not on show (any more)
            return 409, {"ok": False, "error": str(exc).split(":", 1)[0]}
        except OSError as exc:  # invitebot did not answer at all
            log.warning("could not reach invitebot for %s: %s", name, exc)
            return 502, {"ok": False, "error": f"invitebot did not answer: {exc}"}

    # what a person does in Slack: each is sent to the bot exactly as Slack sends it

    def click(self, body: dict[str, Any]) -> Answer:
        """A button on a card in the channel, clicked on the message as this person's screen shows it."""
        user = self._person(text(body, "user"))
        message = body.get("as_seen")
        if not isinstance(message, dict) or not isinstance(message.get("blocks"), list) or "ts" not in message:
            raise BadRequest("as_seen must be the message as shown")
        reply = self.sender.click(
            user_id=user.id, channel=self.channel, message_ts=str(message["ts"]), action_id=text(body, "action_id"),
            as_seen=message,
        )
        return 200, bot_answer(reply)

    def click_ephemeral(self, body: dict[str, Any]) -> Answer:
        """A button in one of this person's ephemeral messages (a /invites answer): no message copy, a fresh response_url."""
        user = self._person(text(body, "user"))
        blocks = self.screens.ephemeral_blocks(user.id, text(body, "ephemeral_id"))
        if blocks is None:
            raise BadRequest("no such ephemeral message")
        self.screens.clicked_ephemeral(user.id, text(body, "ephemeral_id"), len(self.fake.response_posts()))
        reply = self.sender.click_ephemeral(
            user_id=user.id, channel=self.channel, blocks=blocks, action_id=text(body, "action_id"),
            block_id=text(body, "block_id", required=False) or None,
        )
        return 200, bot_answer(reply)

    def click_home(self, body: dict[str, Any]) -> Answer:
        """A button on this person's App Home, as published."""
        user = self._person(text(body, "user"))
        reply = self.sender.click_in_home(
            user_id=user.id, action_id=text(body, "action_id"), value=text(body, "value"), team_id=user.team_id
        )
        return 200, bot_answer(reply)

    def click_modal(self, body: dict[str, Any]) -> Answer:
        """A button in the modal this person has open (such as a digest's "Approve all from …")."""
        user = self._person(text(body, "user"))
        view_id = text(body, "view_id")
        if self.screens.modal_view(user.id, view_id) is None:
            raise BadRequest("that modal is not open")
        reply = self.sender.click_in_modal(
            user_id=user.id, view_id=view_id, action_id=text(body, "action_id"), value=text(body, "value"),
            team_id=user.team_id,
        )
        return 200, bot_answer(reply)

    def home_opened(self, body: dict[str, Any]) -> Answer:
        """The Home tab was opened: Slack sends app_home_opened each time."""
        user = self._person(text(body, "user"))
        return 200, bot_answer(self.sender.app_home_opened(user.id, team_id=user.team_id))

    def slash(self, body: dict[str, Any]) -> Answer:
        """`/invites …` typed in the approvals channel; an answer in the ack itself shows as an ephemeral."""
        user = self._person(text(body, "user"))
        line = text(body, "text", limit=4000).strip()
        command, _, rest = line.partition(" ")
        if command != "/invites":
            raise BadRequest("Only /invites commands reach invitebot here. Try /invites help.")
        reply = self.sender.slash(
            text=self._escape_links(rest.strip()), user_id=user.id, channel_id=self.channel, team_id=user.team_id
        )
        answer = bot_answer(reply)
        ack = answer["body"]
        if isinstance(ack, dict) and (ack.get("text") or ack.get("blocks")):
            self.screens.add_ack(user.id, str(ack.get("text") or ""), ack.get("blocks"))
        elif isinstance(ack, str) and ack.strip():
            self.screens.add_ack(user.id, ack, None)
        elif not answer["ok"]:
            self.screens.add_ack(user.id, f'/invites failed with the error "http_{reply.status}"', None)
        self.feed.bump()
        return 200, answer

    def submit_view(self, body: dict[str, Any]) -> Answer:
        """Submit the open modal with what was typed; the stand-in acts on the bot's ack as Slack does (closes it, shows
        errors under its inputs, updates, pushes or clears)."""
        user = self._person(text(body, "user"))
        view_id = text(body, "view_id")
        view = self.screens.modal_view(user.id, view_id)
        if view is None:
            raise BadRequest("that modal is not open")
        typed = body["values"] if isinstance(body.get("values"), dict) else {}
        reply = self.sender.submit_view(user_id=user.id, view=view, values=_view_values(view, typed), team_id=user.team_id)
        return 200, bot_answer(reply)

    def close_view(self, body: dict[str, Any]) -> Answer:
        """Cancel (or Back) closes the view on top, × the whole stack; invitebot asks for no view_closed event. A modal
        that is no longer on show (closed twice, or changed meanwhile) is left as it is."""
        user = self._person(text(body, "user"))
        self.fake.close_modal(user.id, text(body, "view_id"), everything=body.get("everything") is True)
        return 200, {"ok": True}

    def leave(self, body: dict[str, Any]) -> Answer:
        """The page stops showing this person (another is picked in "Viewing as"): like leaving their laptop, the modal
        they had open closes, as if they closed it themselves."""
        user = self._person(text(body, "user"))
        self.fake.close_every_modal(user.id)
        return 200, {"ok": True}

    # helpers

    def _person(self, user_id: str) -> seed.Person:
        person = self.people.get(user_id)
        if person is None:
            raise BadRequest("pick someone from the user picker")
        return person

    def _escape_links(self, line: str) -> str:
        """What Slack sends: typed &, <, > escaped; with "escape channels, users, and links" on, #name and @name as links."""
        channels = {n: c for c, n, _ in seed.CHANNELS}
        users = {p.name: p.id for p in seed.PEOPLE}
        line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # as Slack does with typed text
        line = _CHANNEL_WORD.sub(lambda m: f"<#{channels[m[1]]}|{m[1]}>" if m[1] in channels else m[0], line)
        return _USER_WORD.sub(lambda m: f"<@{users[m[1]]}|{m[1]}>" if m[1] in users else m[0], line)


def _view_values(view: dict[str, Any], typed: dict[str, Any]) -> dict[str, Any]:
    """view.state.values as Slack builds it from the modal's input blocks and what was typed into them."""
    values: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        element = block.get("element") or {}
        if block.get("type") != "input" or element.get("type") != "plain_text_input":
            continue
        given = (typed.get(block.get("block_id")) or {}) if isinstance(typed.get(block.get("block_id")), dict) else {}
        typed_value = given.get(element.get("action_id"))
        value = typed_value[: element.get("max_length") or 3000] if isinstance(typed_value, str) and typed_value else None
        values[block["block_id"]] = {element["action_id"]: {"type": "plain_text_input", "value": value}}
    return values

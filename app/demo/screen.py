"""What one person's Slack client shows, built from the stand-in plus what only a client would remember."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from app.demo import policy_file
from app.sandbox import FakeSlack
from app.sandbox.web_api import direct_message_channel_id

_DECIDE_VERBS = {"admin.inviteRequests.approve": "approve", "admin.inviteRequests.deny": "deny"}


def ts_key(ts: str) -> tuple[int, int]:
    """Order Slack timestamps exactly ("1732240000.000100"), without float rounding."""
    seconds, _, micros = str(ts).partition(".")
    return int(seconds or 0), int(micros or 0)


@dataclass
class ClientSide:
    """Things Slack's client (not its API) holds: when ephemerals arrived, ack replies."""

    ephemeral_ts: list[str] = field(default_factory=list)  # per index of FakeSlack.ephemerals()
    acks: list[dict[str, Any]] = field(default_factory=list)  # slash-command answers given in the ack itself
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)  # request id -> what the demo created
    slow: dict[str, float] = field(default_factory=dict)  # method -> the latency the demo set on it
    clicked: list[tuple[str, str, int]] = field(default_factory=list)  # (user, ephemeral id, response posts before)


class Screens:
    """Per-user state for the page: the approvals channel with ephemerals, App Home, DMs, the modal the stand-in shows."""

    def __init__(self, fake: FakeSlack, channel: str) -> None:
        self.fake = fake
        self.channel = channel
        self._lock = threading.Lock()
        self._client = ClientSide()
        self._policy_mode = policy_file.STARTING_MODE

    # the client's own memory

    def observe(self) -> None:
        """Stamp newly arrived ephemerals with the time they showed up, so they sit between messages correctly."""
        count = len(self.fake.ephemerals())
        with self._lock:
            while len(self._client.ephemeral_ts) < count:
                self._client.ephemeral_ts.append(self.fake.next_ts())

    def add_ack(self, user_id: str, text: str, blocks: list[dict[str, Any]] | None) -> None:
        with self._lock:
            entry = {"user": user_id, "text": text, "blocks": blocks or [], "ts": self.fake.next_ts()}
            self._client.acks.append(entry)

    def modal_view(self, user_id: str, view_id: str) -> dict[str, Any] | None:
        """The modal `user_id` sees, as it stands now in the stand-in, when it is `view_id`."""
        shown = self.fake.open_modal(user_id)
        return shown["view"] if shown is not None and shown["view_id"] == view_id else None

    def remember_request(self, item: dict[str, Any]) -> None:
        with self._lock:
            self._client.requests[item["id"]] = {
                "id": item["id"],
                "email": item["email"],
                "real_name": item.get("real_name"),
                "team_id": item["team"]["id"],
            }

    def set_slow(self, method: str, seconds: float) -> None:
        """Remember the latency the demo set on `method` (the stand-in has no way to read it back); 0 is none."""
        with self._lock:
            if seconds > 0:
                self._client.slow[method] = seconds
            else:
                self._client.slow.pop(method, None)

    def set_policy_mode(self, mode: str) -> None:
        """The mode the demo last wrote into invitebot's policy file."""
        with self._lock:
            self._policy_mode = mode

    def slow(self, method: str) -> float:
        with self._lock:
            return self._client.slow.get(method, 0.0)

    def clicked_ephemeral(self, user_id: str, ephemeral_id: str, posts_before: int) -> None:
        """A button in an ephemeral was clicked: an answer with replace_original takes that message's place."""
        with self._lock:
            self._client.clicked.append((user_id, ephemeral_id, posts_before))

    def ephemeral_blocks(self, user_id: str, ephemeral_id: str) -> list[dict[str, Any]] | None:
        """The blocks of one of the user's ephemeral messages (by the id the page was given)."""
        for item in self._ephemerals(user_id):
            if item["id"] == ephemeral_id:
                return item["blocks"]
        return None

    def file(self, user_id: str, file_id: str) -> dict[str, Any] | None:
        """A shared file as the stand-in holds it, with `visible`: whether it is in a conversation this person's page shows
        (the approvals channel, their direct messages with the app); None when no such file was shared."""
        try:
            found = self.fake.uploaded_file(file_id)
        except KeyError:
            return None
        if not found["shared_in"] or found["content"] is None:
            return None
        shown = {self.channel, direct_message_channel_id(user_id)}
        return {**found, "visible": bool(shown & set(found["shared_in"]))}

    # the page's view

    def state(self, user_id: str) -> dict[str, Any]:
        """Everything the page shows for `user_id`, with a version that changes whenever any of it does."""
        self.observe()
        items = [{"kind": "message", "ts": m["ts"], "message": m} for m in self.fake.messages(self.channel)]
        items.extend(self._ephemerals(user_id))
        items.sort(key=lambda item: ts_key(item["ts"]))
        with self._lock:
            requests = [dict(r) for r in self._client.requests.values()]
            policy_mode = self._policy_mode
        asked = self._decide_calls()
        for request in requests:
            request["status"] = self.fake.invite_request_status(request["id"])
            request["slack_calls"] = asked.get(request["id"], {})
        body = {
            "user": user_id,
            "channel": {"id": self.channel, "items": items},
            "home": self.fake.home_view(user_id),
            "dms": self.fake.direct_messages(user_id),
            "modal": self.fake.open_modal(user_id),
            "requests": requests,
            "faults": self._armed(),
            "policy": {"mode": policy_mode},
        }
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]
        return {"version": digest, **body}

    def _ephemerals(self, user_id: str) -> list[dict[str, Any]]:
        every = self.fake.ephemerals()
        with self._lock:
            stamps = list(self._client.ephemeral_ts)
            acks = [(n, a) for n, a in enumerate(self._client.acks) if a["user"] == user_id]
        shown = [
            {"kind": "ephemeral", "id": f"e{n}", "ts": stamps[n] if n < len(stamps) else self.fake.next_ts(),
             "text": e["text"], "blocks": e["blocks"], "via": e["via"]}
            for n, e in enumerate(every)
            if e["user"] == user_id and e["channel"] == self.channel
        ]
        shown.extend(
            {"kind": "ephemeral", "id": f"a{n}", "ts": a["ts"], "text": a["text"], "blocks": a["blocks"], "via": "ack"}
            for n, a in acks
        )
        return self._replaced(user_id, shown)

    def _replaced(self, user_id: str, shown: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Apply replace_original / delete_original answers to the ephemeral whose button was clicked, as Slack's client does.

        The stand-in records such an answer as a new ephemeral (it has no message to replace); it is matched to the
        click by content: the first replacing response_url post after the click.
        """
        with self._lock:
            clicked = [(eid, before) for user, eid, before in self._client.clicked if user == user_id]
        if not clicked:
            return shown
        posts = self.fake.response_posts()
        by_id = {item["id"]: item for item in shown}
        for eid, before in clicked:
            post = next((p for p in posts[before:] if p.get("replace_original") or p.get("delete_original")), None)
            old = by_id.get(eid)
            if post is None or old is None:
                continue
            if not post.get("delete_original"):
                new = next(
                    (
                        item
                        for item in shown
                        if item["via"] == "response_url"
                        and ts_key(item["ts"]) > ts_key(old["ts"])
                        and (item["text"], item["blocks"]) == (post.get("text") or "", post.get("blocks") or [])
                    ),
                    None,
                )
                if new is None:
                    continue
                new["ts"] = old["ts"]
            shown.remove(old)
            del by_id[eid]
        return shown

    def _decide_calls(self) -> dict[str, dict[str, int]]:
        """How often Slack was asked to approve or deny each request (a decision must be asked for once)."""
        asked: dict[str, dict[str, int]] = {}
        for method, verb in _DECIDE_VERBS.items():
            for call in self.fake.calls(method):
                request_id = call.params.get("invite_request_id")
                if isinstance(request_id, str):
                    counts = asked.setdefault(request_id, {})
                    counts[verb] = counts.get(verb, 0) + 1
        return asked

    def _armed(self) -> list[dict[str, Any]]:
        """What the demo's controls armed and is not used up yet: the stand-in's queued faults, then any slowness."""
        with self._lock:
            slow = dict(self._client.slow)
        armed = [
            {**fault, "words": f"{fault['error']} on {_short(fault['method'])} ({_calls(fault['left'])} left)"}
            for fault in self.fake.armed_faults()
        ]
        armed.extend(
            {"method": method, "error": "slow", "seconds": seconds,
             "words": f"a {seconds:g}-second wait on every {_short(method)} (until disarmed)"}
            for method, seconds in sorted(slow.items())
        )
        return armed


def _short(method: str) -> str:
    return method.removeprefix("admin.inviteRequests.")


def _calls(count: int) -> str:
    return f"{count} call" if count == 1 else f"{count} calls"

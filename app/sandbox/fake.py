"""FakeSlack: the stand-in's public face for tests and the demo: lifecycle, seeding, faults and observation."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

from app.sandbox import modal_stack
from app.sandbox.socket_mode import SocketModeServer
from app.sandbox.state import (
    Call,
    Channel,
    Fault,
    InviteRequest,
    RateLimits,
    ResponseUrl,
    SlackState,
    Team,
    Trigger,
    User,
    Usergroup,
    snapshot,
)
from app.sandbox.web_api import ApiError, SlackServer, build_view, direct_message_channel_id

T = TypeVar("T")


class FakeSlack:
    """Slack's Web API and Socket Mode on 127.0.0.1 with an inspectable, seedable world behind it."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-sandbox-bot",
        admin_token: str = "xoxp-sandbox-admin",
        bot_user_id: str = "W0BOTUSER1",
        admin_user_id: str = "W0ADMIN001",
        enterprise_id: str = "E0SANDBOX",
        app_id: str = "A0INVITEBOT",
        app_token: str = "xapp-sandbox-app",
    ) -> None:
        self.bot_token, self.admin_token, self.app_token = bot_token, admin_token, app_token
        self.bot_user_id, self.admin_user_id = bot_user_id, admin_user_id
        self.enterprise_id, self.app_id = enterprise_id, app_id
        self._state = SlackState(bot_token, admin_token, bot_user_id, admin_user_id, enterprise_id, app_id, app_token)
        # auth.test and users.info answer for the token owners even before a test seeds them.
        self._state.users[bot_user_id] = User(bot_user_id, "invitebot", enterprise_id, "invitebot", is_bot=True)
        self._state.users[admin_user_id] = User(admin_user_id, "sandbox-admin", enterprise_id, "Sandbox Admin")
        self._server: SlackServer | None = None
        self._thread: threading.Thread | None = None
        self._socket: SocketModeServer | None = None

    # lifecycle

    def start(self) -> FakeSlack:
        self._state.upload_dir = tempfile.mkdtemp(prefix="fake-slack-uploads-")
        self._server = SlackServer(self._state)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-slack", daemon=True
        )
        self._thread.start()
        self._socket = SocketModeServer(self._state).start()
        return self

    def stop(self) -> None:
        if self._socket is not None:
            self._socket.stop()
            self._socket = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join()
            self._server = self._thread = None
        if self._state.upload_dir:
            shutil.rmtree(self._state.upload_dir, ignore_errors=True)
            self._state.upload_dir = ""

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    @property
    def enterprise_name(self) -> str:
        return self._state.enterprise_name

    # seeding

    def add_team(self, team_id: str, name: str, domain: str) -> None:
        self._mutate(lambda s: s.teams.__setitem__(team_id, Team(team_id, name, domain)))

    def add_user(self, user_id: str, *, name: str, team_id: str, real_name: str | None = None) -> None:
        user = User(user_id, name, team_id, real_name if real_name is not None else name)
        self._mutate(lambda s: s.users.__setitem__(user_id, user))

    def add_local_id(self, global_id: str, local_id: str, *, team_id: str) -> None:
        """A user from before the workspace joined the org: a local U… id there besides the global W… id."""
        self._mutate(lambda s: s.local_ids.__setitem__(local_id, (global_id, team_id)))

    def add_channel(self, channel_id: str, *, name: str, team_id: str | None = None, bot_member: bool = True) -> None:
        """`bot_member=False`: the bot was never invited, so posting there fails as Slack's does."""
        self._mutate(lambda s: s.channels.__setitem__(channel_id, Channel(channel_id, name, team_id, bot_member=bot_member)))

    def archive_channel(self, channel_id: str) -> None:
        """Someone archives the channel: posts answer is_archived, edits is_inactive, conversations.info tells."""
        self._mutate(lambda s: setattr(s.channels[channel_id], "is_archived", True))

    def add_usergroup(self, usergroup_id: str, *, team_id: str, handle: str, user_ids: list[str]) -> None:
        """A workspace's user group (`team_id` T…), or an org-level IdP group (`team_id` the org's enterprise_id)."""
        group = Usergroup(usergroup_id, team_id, handle, list(user_ids))
        self._mutate(lambda s: s.usergroups.__setitem__(usergroup_id, group))

    def add_invite_request(
        self,
        *,
        team_id: str,
        email: str,
        invite_type: str = "full_member",
        requester_ids: list[str] | None = None,
        channel_ids: list[str] | None = None,
        real_name: str | None = None,
        request_reason: str | None = None,
        date_created: int | None = None,
        date_expire: int | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Create a pending request; return it as the invite_requested event carries it (with `team`)."""
        with self._state.lock:
            team = self._state.teams.get(team_id)
            if team is None:
                raise KeyError(f"seed team {team_id} with add_team() first")
            request = InviteRequest(
                id=request_id or self._unused_request_id(),
                team_id=team_id,
                email=email,
                invite_type=invite_type,
                requester_ids=list(requester_ids or []),
                channel_ids=list(channel_ids or []),
                real_name=real_name,
                request_reason=request_reason,
                date_created=date_created if date_created is not None else int(time.time()),
                date_expire=date_expire,
            )
            self._state.requests[request.id] = request
            self._state.changed()
            return {**request.item(), "team": {"id": team.id, "name": team.name, "domain": team.domain}}

    def decide_outside(self, request_id: str, action: str, actor_id: str) -> None:
        """An admin approves or denies in Slack's own admin pages, outside the bot."""
        error = self._state.decide(request_id, action, actor_id)
        if error:
            raise ValueError(f"cannot {action} {request_id}: {error}")

    def remove_request(self, request_id: str) -> None:
        self._mutate(lambda s: s.requests.pop(request_id))

    # faults

    def fail_next(
        self,
        method: str,
        error: str = "",
        *,
        times: int = 1,
        status: int | None = None,
        retry_after: int | None = None,
        wire: str | None = None,
    ) -> None:
        """The next `times` calls of `method` answer `error`; "ratelimited" defaults to HTTP 429 + Retry-After.

        `wire` breaks the answer itself instead: "html_502" (a proxy's HTML error page; the method is not run) or
        "truncated" (the method runs, its 200 JSON answer is cut short). drop_answer() loses an answer altogether.
        """
        if wire not in (None, "html_502", "truncated"):
            raise ValueError(f"wire is html_502 or truncated, not {wire!r}")
        if status is None:
            status = 429 if error == "ratelimited" else 502 if wire == "html_502" else 200
        fault = Fault(error or wire or "", status, retry_after if retry_after is not None else 1, times, wire)
        self._mutate(lambda s: s.faults.setdefault(method, []).append(fault))

    def drop_answer(self, method: str, *, times: int = 1) -> None:
        """The next `times` calls of `method` are carried out, then the connection closes before any answer is sent."""
        self._mutate(lambda s: s.dropped_answers.__setitem__(method, s.dropped_answers.get(method, 0) + times))

    def clear_faults(self, method: str | None = None) -> None:
        """Disarm what fail_next queued and is not used up yet: for `method`, or for every method."""
        self._mutate(lambda s: s.faults.pop(method, None) if method is not None else s.faults.clear())

    def armed_faults(self) -> list[dict[str, Any]]:
        """What fail_next queued and is not used up yet, in the order each method will answer with it."""
        return self._copy(
            lambda s: [
                {"method": method, "error": f.error, "status": f.status, "left": f.remaining}
                for method, faults in s.faults.items()
                for f in faults
                if f.remaining > 0
            ]
        )

    def enforce_rate_limits(self, *, tier2_per_minute: int = 20, messages_per_second: float = 1.0) -> None:
        """Answer 429 + Retry-After like Slack: Tier 2 per method per workspace, messages per channel."""
        limits = RateLimits(tier2_per_minute=tier2_per_minute, messages_per_second=messages_per_second)
        self._mutate(lambda s: setattr(s, "rate_limits", limits))

    def hold_method(self, method: str, seconds: float) -> None:
        """Slack rate-limits `method` for `seconds` from now: every call meanwhile answers HTTP 429 with the whole seconds
        left as Retry-After (counting down, as Slack's does), and is not carried out."""
        until = time.monotonic() + seconds
        self._mutate(lambda s: s.held_until.__setitem__(method, until))

    def revoke_token(self, kind: str) -> None:
        """From now on every call with the bot or admin token answers token_revoked (auth.test included)."""
        token = self._token(kind)
        self._mutate(lambda s: s.revoked.add(token))

    def restore_token(self, kind: str) -> None:
        """Undo revoke_token: Slack takes the token again (as after a reinstall that kept it)."""
        token = self._token(kind)
        self._mutate(lambda s: s.revoked.discard(token))

    def set_team_access(self, team_ids: list[str], *, granted: bool) -> None:
        """An org admin adds the org-wide app to workspaces, or removes it: the bot may (not) post or publish there."""
        self._mutate(lambda s: s.no_access.difference_update(team_ids) if granted else s.no_access.update(team_ids))

    def set_latency(self, method: str, seconds: float) -> None:
        self._mutate(lambda s: s.latency.__setitem__(method, seconds))

    def calls_in_progress(self, method: str) -> int:
        """Calls of `method` that have arrived and are held back by set_latency: Slack is working on them."""
        return self._copy(lambda s: s.in_progress.get(method, 0))

    # hand-outs for the sender

    def new_response_url(self, *, channel: str, user: str, message_ts: str | None = None, kind: str = "actions") -> str:
        """A hooks.slack.com stand-in on this server (under /actions/E…/ or /commands/E…/ as for an org-wide install).

        With message_ts it can replace or delete that message.
        """
        hook_id = self._state.new_id("", 24).lower()
        self._mutate(lambda s: s.response_urls.__setitem__(hook_id, ResponseUrl(channel, user, message_ts, s.now())))
        number = self._state.new_id("", 12)
        return f"{self.base_url}/{kind}/{self.enterprise_id}/{number}/{hook_id}"

    def advance_clock(self, seconds: float) -> None:
        """Slack's clock moves on by `seconds`: a response_url handed out more than 30 minutes before then has expired."""
        self._mutate(lambda s: setattr(s, "clock_offset", s.clock_offset + seconds))

    def issue_trigger_id(self, *, age: float = 0.0, user_id: str | None = None) -> str:
        """A trigger_id views.open accepts for 3 s; `age` pretends it was issued that many seconds ago.

        `user_id`: the person whose click or command it comes with; the modal it opens is theirs to see.
        """
        trigger_id = f"{int(time.time())}.{self._state.new_id('', 9)}.{self._state.new_id('', 32).lower()}"
        trigger = Trigger(issued_at=time.monotonic() - age, user_id=user_id)
        self._mutate(lambda s: s.triggers.__setitem__(trigger_id, trigger))
        return trigger_id

    def user(self, user_id: str) -> User | None:
        return self._copy(lambda s: s.users.get(user_id))

    def team(self, team_id: str) -> Team | None:
        return self._copy(lambda s: s.teams.get(team_id))

    def channel(self, channel_id: str) -> Channel | None:
        return self._copy(lambda s: s.channels.get(channel_id))

    # observation

    def calls(self, method: str | None = None) -> list[Call]:
        return self._copy(lambda s: [c for c in s.calls if method in (None, c.method)])

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Current messages of a channel, oldest first."""
        return self._copy(lambda s: [{**m, "channel": channel} for m in s.messages.get(channel, {}).values()])

    def messages_with_metadata(self, channel: str, event_type: str, **payload: Any) -> list[dict[str, Any]]:
        """Messages of a channel carrying `metadata` of this event_type whose event_payload has these values."""
        return [
            m
            for m in self.messages(channel)
            if (m.get("metadata") or {}).get("event_type") == event_type
            and all((m["metadata"].get("event_payload") or {}).get(k) == v for k, v in payload.items())
        ]

    def direct_messages(self, user_id: str) -> list[dict[str, Any]]:
        """What the app has said to a user in their direct-message conversation with it."""
        return self.messages(direct_message_channel_id(user_id))

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        found = self._copy(lambda s: s.messages.get(channel, {}).get(ts))
        if found is None:
            raise KeyError(f"no message {ts} in {channel}")
        return {**found, "channel": channel}

    def ephemerals(self, *, channel: str | None = None, user: str | None = None) -> list[dict[str, Any]]:
        return self._copy(
            lambda s: [e for e in s.ephemerals if channel in (None, e["channel"]) and user in (None, e["user"])]
        )

    def response_posts(self) -> list[dict[str, Any]]:
        return self._copy(lambda s: s.response_posts)

    def uploaded_file(self, file_id: str) -> dict[str, Any]:
        """A file uploaded through files.getUploadURLExternal: name, title, type, the bytes received, where it was shared."""
        found = self._copy(lambda s: s.files.get(file_id))
        if found is None:
            raise KeyError(file_id)
        content = Path(found.path).read_bytes() if found.path else None
        return {
            "id": found.id, "name": found.filename, "title": found.title, "content": content, "shared_in": found.shared_in,
            **found.kind(),
        }

    def next_ts(self) -> str:
        """A fresh message timestamp, as Slack would give an ephemeral message."""
        return self._state.next_ts()

    def invites(self) -> list[dict[str, Any]]:
        """Invitations sent directly with admin.users.invite."""
        return self._copy(lambda s: s.invites)

    def invite_request_status(self, request_id: str) -> str:
        """One of pending, approved, denied, or missing (never seeded or removed)."""
        request = self._copy(lambda s: s.requests.get(request_id))
        return request.status if request is not None else "missing"

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        return self._copy(lambda s: s.home_views.get(user_id))

    def modal(self, view_id: str) -> dict[str, Any]:
        """A modal as the user sees it now (after any views.update)."""
        found = self._copy(lambda s: s.views.get(view_id))
        if found is None:
            raise KeyError(view_id)
        return found

    def views_opened(self) -> list[dict[str, Any]]:
        return self._copy(lambda s: s.views_opened)

    def open_modal(self, user_id: str) -> dict[str, Any] | None:
        """The modal the person sees (the top of their stack), as it stands: its view, the errors under its inputs,
        and how many views are stacked; None when they have none open."""

        def read(state: SlackState) -> dict[str, Any] | None:
            shown = modal_stack.top(state, user_id)
            if shown is None:
                return None
            depth = modal_stack.depth(state, user_id)
            return {"view_id": shown.view_id, "view": state.views[shown.view_id], "errors": shown.errors, "depth": depth}

        return self._copy(read)

    def close_modal(self, user_id: str, view_id: str, *, everything: bool = False) -> bool:
        """The person closes the modal they see: Cancel (or Back) the top view, `everything` (×) the whole stack.

        False when `view_id` is not what they see. Slack tells the app only for a view with notify_on_close.
        """
        with self._state.lock:
            closed = modal_stack.close(self._state, user_id, view_id, everything=everything)
            self._state.changed()
            return closed

    def close_every_modal(self, user_id: str) -> None:
        """The person's Slack client goes away: whatever modal they had open is gone."""
        with self._state.lock:
            shown = modal_stack.top(self._state, user_id)
            if shown is not None:
                modal_stack.close(self._state, user_id, shown.view_id, everything=True)
                self._state.changed()

    def answer_submission(self, user_id: str, view_id: str, ack: Any) -> None:
        """Act on the app's ack of a view_submission as Slack does (modal_stack.answer_submission)."""

        def build(given: Any, new_id: str) -> dict[str, Any]:
            return build_view(self._state, given, "modal", new_id, None)

        with self._state.lock:
            try:
                modal_stack.answer_submission(self._state, user_id, view_id, ack, build)
            except ApiError:
                pass  # a view Slack refuses: the person keeps the modal they had
            self._state.changed()

    # Socket Mode

    def socket_connected(self) -> bool:
        """Whether the app holds a Socket Mode connection (one that has been sent its hello)."""
        return self._started_socket().connected()

    def deliver_socket(
        self, kind: str, payload: dict[str, Any], timeout: float = 3.0, *, retry_attempt: int = 0, retry_reason: str = ""
    ) -> dict[str, Any]:
        """Send one envelope (events_api, interactive or slash_commands) to the app; return its ack's payload.

        AssertionError when no app is connected, or when no ack with the envelope's id came within `timeout`
        (Slack's 3 seconds).
        """
        return self._started_socket().deliver(kind, payload, timeout, retry_attempt, retry_reason)

    def wait_for(self, predicate: Callable[[], T | None], timeout: float = 10.0, message: str = "") -> T:
        """Return predicate()'s first truthy value, re-checked on every change; AssertionError on timeout."""
        return self._state.wait_for(predicate, timeout, message)

    # internals

    def _token(self, kind: str) -> str:
        tokens = {"bot": self.bot_token, "admin": self.admin_token}
        if kind not in tokens:
            raise ValueError(f"kind is 'bot' or 'admin', not {kind!r}")
        return tokens[kind]

    def _started_socket(self) -> SocketModeServer:
        if self._socket is None:
            raise RuntimeError("FakeSlack is not started")
        return self._socket

    def _mutate(self, change: Callable[[SlackState], object]) -> None:
        with self._state.lock:
            change(self._state)
            self._state.changed()

    def _copy(self, read: Callable[[SlackState], T]) -> T:
        with self._state.lock:
            return snapshot(read(self._state))

    def _unused_request_id(self) -> str:
        while (request_id := self._state.new_id("Ir", 9)) in self._state.requests:
            pass
        return request_id


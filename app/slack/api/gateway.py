"""The only code that calls Slack's Web API; expected Slack errors come back as values, not exceptions.

Every message leaves through app.slack.ui.limits.within, so none is longer than Slack takes.
"""

from __future__ import annotations

import json
import threading
import time
from ssl import SSLContext
from typing import Any, BinaryIO, Iterator
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.http_retry import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from app.core.authz import USERGROUP_CACHE_SECONDS
from app.core.ports import CallResult, DecisionRecord, SlackCallFailed
from app.slack.api.client import (
    DECISION_MAX_RETRY_AFTER,
    MAX_ERROR_CODE,
    SLACK_ERROR_CODE,
    UPLOAD_REFUSED,
    WIRE_ERRORS,
    BoundedRateLimitRetryHandler,
    CountedWebClient,
    error_code,
    never_sent,
    retry_after_of,
    without_rate_limit_waits,
)
from app.slack.ui.limits import within

ADMIN_PAGE_LIMIT = 1000
TEAMS_PAGE_LIMIT = 100  # admin.teams.list takes 1–100 (openapi.json)
MESSAGES_PAGE = 200  # messages per conversations.history / .replies page (Slack serves up to 999 and 1000)


class PostUnconfirmed(SlackCallFailed):
    """chat.postMessage was sent but its answer was lost: Slack may or may not have posted the message."""


def _decision_record(item: dict[str, Any], actor_key: str, action: str) -> DecisionRecord | None:
    """One item of a decided list as a record; None for an item without a request id."""
    request_id = (item.get("invite_request") or {}).get("id")
    if not request_id:
        return None
    return DecisionRecord(request_id, action, (item.get(actor_key) or {}).get("actor_id"))


class SlackGateway:
    """Admin calls with the org admin's user token; messaging calls with the bot token."""

    def __init__(self, admin: WebClient, bot: WebClient) -> None:
        self._admin = admin
        self._bot = bot
        self._lock = threading.Lock()
        self._admin_user_id: str | None = None
        self._group_cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._org_ids: dict[str, str] = {}  # a user's id as given -> its org-wide id; ids never change
        self._caller: WebClient | None = None
        self._posting: WebClient | None = None

    # -- admin.inviteRequests.* -------------------------------------------------------------

    def decide(self, action: str, request_id: str, team_id: str) -> CallResult:
        """approve or deny one request in its own workspace; a 429 comes back at once, with its Retry-After."""
        client = self._call_client()
        method = client.admin_inviteRequests_approve if action == "approve" else client.admin_inviteRequests_deny
        try:
            method(invite_request_id=request_id, team_id=team_id)
        except WIRE_ERRORS as exc:
            return CallResult(error_code(exc), retry_after_of(exc))
        return CallResult()

    def _call_client(self) -> WebClient:
        """The admin client without any rate-limit wait: the outbox re-queues a decision Slack asks to wait."""
        with self._lock:
            if self._caller is None:
                self._caller = without_rate_limit_waits(self._admin)
            return self._caller

    def _poster(self) -> WebClient:
        """The bot client without rate-limit waits, for posts: their retries take the channel's next slot instead."""
        with self._lock:
            if self._posting is None:
                self._posting = without_rate_limit_waits(self._bot)
            return self._posting

    def _decision_client(self) -> WebClient:
        """The admin client with its rate-limit handler swapped for one that refuses Retry-After waits over the bound."""
        with self._lock:
            client: WebClient | None = getattr(self, "_decider", None)
            if client is None:
                admin = self._admin
                handlers = [h for h in admin.retry_handlers if not isinstance(h, RateLimitErrorRetryHandler)]
                bounds = [h.max_wait for h in admin.retry_handlers if isinstance(h, BoundedRateLimitRetryHandler)]
                handlers.append(BoundedRateLimitRetryHandler(max_wait=min([DECISION_MAX_RETRY_AFTER, *bounds]), max_retry_count=2))
                client = CountedWebClient(
                    token=admin.token,
                    base_url=admin.base_url,
                    timeout=admin.timeout,
                    observer=getattr(admin, "_observer", None),
                    retry_handlers=handlers,
                )
                self._decider = client
            return client

    def invite(
        self,
        *,
        team_id: str,
        email: str,
        channel_ids: list[str],
        guest: str | None,
        expires_ts: int | None,
        message: str | None,
    ) -> CallResult:
        """Invite someone directly (admin.users.invite); guest is None, "multi" or "single"."""
        try:
            self._admin.admin_users_invite(
                team_id=team_id,
                email=email,
                channel_ids=channel_ids,
                is_restricted=guest == "multi" or None,
                is_ultra_restricted=guest == "single" or None,
                guest_expiration_ts=str(expires_ts) if expires_ts else None,
                custom_message=message,
            )
        except WIRE_ERRORS as exc:
            return CallResult(error_code(exc))
        return CallResult()

    def channel_workspaces(self, channel_id: str) -> frozenset[str] | None:
        """The workspaces a channel belongs to (conversations.info); None for an org-wide channel or one Slack would not
        describe, which admin.users.invite then judges itself."""
        try:
            channel = self._bot.conversations_info(channel=channel_id).get("channel") or {}
        except WIRE_ERRORS:
            return None
        if channel.get("is_org_shared"):
            return None
        teams = {str(t) for t in channel.get("shared_team_ids") or []} | {str(channel.get("context_team_id") or "")}
        return frozenset(t for t in teams if t) or None

    def pending_requests(self, team_id: str) -> Iterator[dict[str, Any]]:
        """Every pending request of a workspace, following cursors; raises SlackCallFailed."""
        yield from self._paged("admin.inviteRequests.list", "invite_requests", {"team_id": team_id, "limit": ADMIN_PAGE_LIMIT})

    def decisions(
        self, team_id: str, *, within_decision: bool = False, wanted: set[str] | None = None
    ) -> dict[str, DecisionRecord]:
        """Slack's record of decided requests in a workspace, by request id; raises SlackCallFailed.

        `within_decision`: asked while a claim is held, so long rate-limit waits are refused as for decide().
        `wanted`: only these ids matter, so no further page is read once all of them are found (None reads every page);
        the other records read on the way come back too.
        """
        client = self._decision_client() if within_decision else self._admin
        found: dict[str, DecisionRecord] = {}
        missing = None if wanted is None else set(wanted)
        if missing is not None and not missing:
            return found
        for record in self._decided(team_id, client):
            found.setdefault(record.request_id, record)
            if missing is not None:
                missing.discard(record.request_id)
                if not missing:
                    break  # the lists are read lazily: stopping here reads no further page
        return found

    def _decided(self, team_id: str, client: WebClient) -> Iterator[DecisionRecord]:
        """approved.list, then denied.list, page by page as the caller asks for more."""
        for method, key, actor_key, action in (  # method, the answer's key, the key naming who decided, the action
            ("admin.inviteRequests.approved.list", "approved_requests", "approved_by", "approve"),
            ("admin.inviteRequests.denied.list", "denied_requests", "denied_by", "deny"),
        ):
            for item in self._paged(method, key, {"team_id": team_id, "limit": ADMIN_PAGE_LIMIT}, client):
                record = _decision_record(item, actor_key, action)
                if record is not None:
                    yield record

    def token_problems(self) -> list[str]:
        """auth.test for both tokens; an empty list when Slack accepts them."""
        problems = []
        for name, client in (("SLACK_BOT_TOKEN", self._bot), ("SLACK_ADMIN_TOKEN", self._admin)):
            code = self._probe(client, "auth.test", {})
            if code:
                problems.append(f"{name}: {code}")
        return problems

    def bot_token_problem(self) -> str | None:
        return self._probe(self._bot, "auth.test", {})

    def admin_token_problem(self) -> str | None:
        return self._probe(self._admin, "auth.test", {})

    def listing_problem(self, team_id: str) -> str | None:
        """Can the admin token list one workspace's invite requests?"""
        return self._probe(self._admin, "admin.inviteRequests.list", {"team_id": team_id, "limit": 1})

    def posting_problem(self, channel: str) -> str | None:
        """Post a short notice in the channel and remove it again: proves the bot may post there."""
        try:
            posted = self._bot_call("chat.postMessage", channel=channel, text="invitebot doctor: checking that I can post here.")
            self._bot_call("chat.delete", channel=posted["channel"], ts=posted["ts"])
        except SlackCallFailed as exc:
            return exc.code
        return None

    def upload_problem(self) -> str | None:
        """May the bot upload files (files:write)? Asks for an upload URL and never uses it: Slack discards the file."""
        return self._probe(self._bot, "files.getUploadURLExternal", {"filename": "invitebot-doctor.txt", "length": 1})

    def blocks_problem(self, blocks: list[dict[str, Any]]) -> str | None:
        """Ask Slack's blocks.validate whether it would take these blocks: its error code, or None when it would.

        Only for a slack_sdk whose WebClient has blocks_validate; nothing is posted.
        """
        try:
            self._bot.blocks_validate(blocks=blocks)
        except WIRE_ERRORS as exc:
            return error_code(exc)
        return None

    @staticmethod
    def _probe(client: WebClient, method: str, params: dict[str, Any]) -> str | None:
        try:
            client.api_call(method, params=params)
        except WIRE_ERRORS as exc:
            return error_code(exc)
        return None

    def admin_user_id(self) -> str | None:
        """Who Slack will name as the decider of our own calls (the admin token's user)."""
        with self._lock:
            if self._admin_user_id is None:
                try:
                    self._admin_user_id = self._admin.auth_test().get("user_id")
                except WIRE_ERRORS:
                    return None
            return self._admin_user_id

    def _paged(
        self, method: str, key: str, params: dict[str, Any], client: WebClient | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of an admin list (with the admin client unless given another), following next_cursor; raises SlackCallFailed."""
        cursor: str | None = None
        while True:
            try:
                page = (client or self._admin).api_call(method, params={**params, "cursor": cursor} if cursor else params)
            except WIRE_ERRORS as exc:
                raise SlackCallFailed(method, error_code(exc))
            yield from page.get(key) or []
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    # -- bot calls ------------------------------------------------------------------------

    def post_message(
        self,
        channel: str,
        *,
        text: str,
        blocks: list[dict[str, Any]],
        metadata: dict[str, Any] | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """Post a message (with Slack message `metadata`, if given; a reply in `thread_ts`'s thread, if given); returns its ts.

        Raises PostUnconfirmed when the request went out and no answer came back (posted or not, nobody knows), and
        SlackCallFailed for every other failure, after which nothing was posted. A 429 is not waited out here: the
        caller posts again at the channel's next free slot (with its Retry-After), so retries keep to the pace.
        """
        params = {"channel": channel, "text": text, "blocks": within(blocks), "metadata": metadata, "thread_ts": thread_ts}
        try:
            answer = self._poster().api_call("chat.postMessage", json={k: v for k, v in params.items() if v is not None})
            return str(answer["ts"])
        except (SlackClientError, OSError) as exc:
            code = error_code(exc)
            if code == "network_error" and not never_sent(exc):
                raise PostUnconfirmed("chat.postMessage", code) from exc
            raise SlackCallFailed("chat.postMessage", code, retry_after_of(exc)) from exc
        except (ValueError, KeyError, TypeError) as exc:  # Slack answered, but not readably (a body cut short): maybe posted
            raise PostUnconfirmed("chat.postMessage", "network_error") from exc

    def messages_since(self, channel: str, oldest: float, *, thread_ts: str | None = None) -> Iterator[dict[str, Any]]:
        """The messages of a conversation posted after `oldest` (a Unix time), newest first, or of one thread (its parent,
        then its replies), each with its Slack message `metadata`; page by page as the caller reads on. A user id as
        `channel` reads the app's direct message with that user. Raises SlackCallFailed (a 429 is not waited out)."""
        client = self._poster()
        if channel[:1] in ("U", "W"):
            channel = self.direct_message_channel(channel)
        cursor: str | None = None
        method = "conversations.replies" if thread_ts else "conversations.history"
        while True:
            window: dict[str, Any] = {"oldest": f"{oldest:.6f}", "include_all_metadata": True, "limit": MESSAGES_PAGE, "cursor": cursor}
            try:
                if thread_ts:
                    page = client.conversations_replies(channel=channel, ts=thread_ts, **window)
                else:
                    page = client.conversations_history(channel=channel, **window)
            except WIRE_ERRORS as exc:
                raise SlackCallFailed(method, error_code(exc), retry_after_of(exc)) from exc
            yield from page.get("messages") or []
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    def direct_message_channel(self, user_id: str) -> str:
        """The id of the app's direct message with a user (conversations.open); raises SlackCallFailed."""
        return str(self._bot_call("conversations.open", users=user_id)["channel"]["id"])

    def permalink(self, channel: str, ts: str) -> str:
        """A link that opens one message (chat.getPermalink); raises SlackCallFailed."""
        try:
            return str(self._bot.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except WIRE_ERRORS as exc:
            raise SlackCallFailed("chat.getPermalink", error_code(exc)) from exc

    def update_message(self, channel: str, ts: str, *, text: str, blocks: list[dict[str, Any]]) -> None:
        self._bot_call("chat.update", channel=channel, ts=ts, text=text, blocks=within(blocks))

    def post_ephemeral(self, channel: str, user: str, *, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        self._bot_call("chat.postEphemeral", channel=channel, user=user, text=text, blocks=blocks and within(blocks))

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        """Open a modal; returns its view id so it can be filled in afterwards."""
        return str(self._bot_call("views.open", trigger_id=trigger_id, view=view)["view"]["id"])

    def update_view(self, view_id: str, view: dict[str, Any]) -> None:
        self._bot_call("views.update", view_id=view_id, view=view)

    def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        self._bot_call("views.publish", user_id=user_id, view=view)

    def respond(self, response_url: str, *, text: str, blocks: list[dict[str, Any]] | None = None, replace: bool = False) -> None:
        """Answer a slash command or button through its response_url (ephemeral unless replacing the original)."""
        try:
            response = WebhookClient(response_url, timeout=10).send(
                text=text, blocks=blocks and within(blocks), response_type="ephemeral", replace_original=replace
            )
        except (OSError, ValueError) as exc:
            raise SlackCallFailed("response_url", "network_error") from exc
        if response.status_code != 200:
            body = (response.body or "").strip()  # a code (used_url, no_service, ...), as text or as {"error": ...}
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            code = parsed.get("error") if isinstance(parsed, dict) else body
            if not (isinstance(code, str) and len(code) <= MAX_ERROR_CODE and SLACK_ERROR_CODE.fullmatch(code)):
                code = f"http_{response.status_code}"
            raise SlackCallFailed("response_url", code)

    def usergroup_members(self, usergroup_id: str, team_id: str) -> frozenset[str]:
        """Members of a user group in its workspace (an org-level token must name it), cached briefly for bursts of clicks."""
        key = f"{usergroup_id}@{team_id}"
        now = time.monotonic()
        with self._lock:
            cached = self._group_cache.get(key)
            if cached and now - cached[0] < USERGROUP_CACHE_SECONDS:
                return cached[1]
        try:
            users = frozenset(self._bot.usergroups_users_list(usergroup=usergroup_id, team_id=team_id).get("users") or [])
        except WIRE_ERRORS as exc:
            raise SlackCallFailed("usergroups.users.list", error_code(exc))
        with self._lock:
            self._group_cache[key] = (now, users)
        return users

    def org_user_id(self, user_id: str, team_id: str) -> str:
        """The org-wide (W…) id of a user known by a workspace-local U… id: users.info's enterprise_user.id."""
        with self._lock:
            if user_id in self._org_ids:
                return self._org_ids[user_id]
        try:
            user = self._bot.users_info(user=user_id, team_id=team_id).get("user") or {}
        except WIRE_ERRORS as exc:
            raise SlackCallFailed("users.info", error_code(exc))
        org_id = str((user.get("enterprise_user") or {}).get("id") or user.get("id") or user_id)
        with self._lock:
            self._org_ids[user_id] = org_id
        return org_id

    def workspaces(self) -> list[dict[str, Any]]:
        """Every workspace of the Enterprise org (admin.teams.list, paged); raises SlackCallFailed."""
        return list(self._paged("admin.teams.list", "teams", {"limit": TEAMS_PAGE_LIMIT}))

    # -- files ------------------------------------------------------------------------------

    def send_file(self, user_id: str, *, filename: str, file: BinaryIO, length: int, title: str, comment: str) -> str:
        """Share a file in the app's direct message with a user, read from `file` (`length` bytes from where it stands)
        a block at a time; returns that conversation's id.

        conversations.open, then Slack's external upload: files.getUploadURLExternal, the bytes POSTed to the
        upload_url it gives, files.completeUploadExternal into the conversation. (slack_sdk's files_upload_v2 reads the
        whole file into memory first, so it is not used.) Raises SlackCallFailed with Slack's code, or UPLOAD_REFUSED
        when the upload URL would not take the bytes.
        """
        channel = str(self._bot_call("conversations.open", users=user_id)["channel"]["id"])
        try:
            upload = self._bot.files_getUploadURLExternal(filename=filename, length=length)
        except WIRE_ERRORS as exc:
            raise SlackCallFailed("files.getUploadURLExternal", error_code(exc)) from exc
        try:
            status = _post_file(str(upload["upload_url"]), file, length, timeout=self._bot.timeout, ssl=self._bot.ssl)
        except HTTPError as exc:
            raise SlackCallFailed("upload_url", UPLOAD_REFUSED) from exc
        except OSError as exc:
            raise SlackCallFailed("upload_url", "network_error") from exc
        if status != 200:
            raise SlackCallFailed("upload_url", UPLOAD_REFUSED)
        shared: list[dict[str, str | None]] = [{"id": str(upload["file_id"]), "title": title}]
        try:
            self._bot.files_completeUploadExternal(files=shared, channel_id=channel, initial_comment=comment)
        except WIRE_ERRORS as exc:
            raise SlackCallFailed("files.completeUploadExternal", error_code(exc)) from exc
        return channel

    def _bot_call(self, method: str, **params: Any) -> Any:
        json_params = {k: v for k, v in params.items() if v is not None}
        try:
            return self._bot.api_call(method, json=json_params)
        except WIRE_ERRORS as exc:
            raise SlackCallFailed(method, error_code(exc))



UPLOAD_BLOCK = 64 * 1024  # bytes of a file sent at a time


def _post_file(url: str, file: BinaryIO, length: int, *, timeout: int, ssl: SSLContext | None) -> int:
    """POST `length` bytes of `file` to an upload URL as they are read, a block at a time; the HTTP status."""

    def blocks() -> Iterator[bytes]:
        left = length
        while left > 0 and (block := file.read(min(UPLOAD_BLOCK, left))):
            left -= len(block)
            yield block

    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
    with urlopen(Request(url, data=blocks(), headers=headers, method="POST"), timeout=timeout, context=ssl) as answer:
        return int(answer.status)

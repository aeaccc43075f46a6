"""The only code that calls Slack's Web API; expected Slack errors come back as values, not exceptions."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.error import HTTPError, URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, RetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import (
    BackoffRetryIntervalCalculator,
    FixedValueRetryIntervalCalculator,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

from app.metrics import SLACK_CALLS, SLACK_RATE_LIMITED
from app.slack.errors import known_codes
from app.slack.token_health import CallObserver

ADMIN_PAGE_LIMIT = 1000
TEAMS_PAGE_LIMIT = 100  # admin.teams.list takes 1–100 (openapi.json)
USERGROUP_CACHE_SECONDS = 60.0
_TRANSIENT_BODY_CODES = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
_SLACK_ERROR_CODE = re.compile(r"[a-z][a-z0-9_.]*")  # what Slack puts in "error": invalid_auth, ratelimited, ...


class TransientErrorRetryHandler(RetryHandler):
    """Retries Slack's passing failures: 5xx answers and the documented transient error codes."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None:
            return False
        if response.status_code in (500, 502, 503, 504):
            return True
        return isinstance(response.body, dict) and response.body.get("error") in _TRANSIENT_BODY_CODES


class RateLimitedBodyRetryHandler(RetryHandler):
    """chat.postMessage's own limit can answer HTTP 200 with `rate_limited` (no Retry-After): nothing was posted, so wait
    a second and send it again."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 200 or not isinstance(response.body, dict):
            return False
        if response.body.get("error") not in ("rate_limited", "ratelimited"):
            return False
        SLACK_RATE_LIMITED.labels(method=request.url.rsplit("/", 1)[-1]).inc()
        return True


# Calls that do their work again when repeated: a retry after a lost answer could post a second card.
_NOT_REPEATABLE = frozenset({"chat.postMessage", "files.completeUploadExternal"})


def _never_sent(error: Exception | None) -> bool:
    """The request never went out (the host was not found, or refused the connection): Slack cannot have acted on it."""
    return isinstance(error, URLError) and isinstance(error.reason, (ConnectionRefusedError, socket.gaierror))


class SafeConnectionErrorRetryHandler(ConnectionErrorRetryHandler):
    """slack_sdk's retry for dropped connections, except that a call in _NOT_REPEATABLE is retried only when it never
    left: once it was sent, a reset or a lost answer says nothing about whether Slack did it."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        return request.url.rsplit("/", 1)[-1] not in _NOT_REPEATABLE or _never_sent(error)


class CountedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (waits for Retry-After), counting each 429 for /metrics."""

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        SLACK_RATE_LIMITED.labels(method=request.url.rsplit("/", 1)[-1]).inc()
        super().prepare_for_next_attempt(state=state, request=request, response=response, error=error)


# The longest Retry-After a decision job waits out in place while reading Slack's decided lists; approve and deny
# themselves never wait (their outbox job goes back in the queue until the workspace's pace and Slack allow).
DECISION_MAX_RETRY_AFTER = 20.0


class BoundedRateLimitRetryHandler(CountedRateLimitRetryHandler):
    """Waits out a 429 only when its Retry-After is at most `max_wait` seconds; a longer one is answered as ratelimited."""

    def __init__(self, *, max_wait: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_wait = max_wait

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error) or response is None:
            return False
        values = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), None) or ["1"]
        try:
            return float(values[0]) <= self.max_wait
        except (TypeError, ValueError):
            return False


class CountedWebClient(WebClient):
    """A WebClient that counts every call by method and result for /metrics, and tells its observer each outcome."""

    def __init__(self, *args: Any, observer: CallObserver | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._observer = observer

    def api_call(self, api_method: str, **kwargs: Any) -> Any:  # type: ignore[override]
        try:
            response = super().api_call(api_method, **kwargs)
        except Exception as exc:  # every failed call is counted: Slack's answers, and the wire's (URLError, timeouts, ...)
            code = _error_code(exc)
            SLACK_CALLS.labels(method=api_method, result=code).inc()
            if isinstance(exc, SlackApiError) and exc.response.status_code == 429:
                SLACK_RATE_LIMITED.labels(method=api_method).inc()
            self._observe(api_method, code, None)
            raise
        SLACK_CALLS.labels(method=api_method, result="ok").inc()
        self._observe(api_method, None, response.data if isinstance(response.data, dict) else {})
        return response

    def _observe(self, method: str, error: str | None, data: dict[str, Any] | None) -> None:
        if self._observer is not None:
            self._observer(method, error, data)


def make_client(token: str, api_url: str, *, timeout: int = 15, observer: CallObserver | None = None) -> WebClient:
    """A WebClient that waits out 429s, retries dropped connections and Slack's transient errors, a bounded number of times.

    A chat.postMessage whose answer was lost is not sent again (Slack may have posted it): the caller hears PostUnconfirmed.

    `observer` hears every call's outcome (method, Slack's error code or None, the answer): token health listens.
    """
    return CountedWebClient(
        token=token,
        base_url=api_url,
        timeout=timeout,
        observer=observer,
        retry_handlers=[
            SafeConnectionErrorRetryHandler(max_retry_count=2),
            CountedRateLimitRetryHandler(max_retry_count=3),
            TransientErrorRetryHandler(
                max_retry_count=2, interval_calculator=BackoffRetryIntervalCalculator(backoff_factor=0.25)
            ),
            RateLimitedBodyRetryHandler(max_retry_count=3, interval_calculator=FixedValueRetryIntervalCalculator(1.0)),
        ],
    )


@dataclass(frozen=True)
class CallResult:
    """What one Web API call came to: ok, or a Slack error code (our own 'network_error'/'http_error' for the wire)."""

    error: str | None = None
    retry_after: float | None = None  # ratelimited: the seconds Slack asked us to wait

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class DecisionRecord:
    """A decision as Slack's approved/denied lists report it."""

    request_id: str
    action: str  # "approve" | "deny"
    actor_id: str | None


class SlackCallFailed(Exception):
    """A non-decision call failed; carries the Slack error code."""

    def __init__(self, method: str, code: str, retry_after: float | None = None) -> None:
        super().__init__(f"{method} failed: {code}")
        self.method = method
        self.code = code
        self.retry_after = retry_after  # ratelimited: the seconds Slack asked us to wait


class PostUnconfirmed(SlackCallFailed):
    """chat.postMessage was sent but its answer was lost: Slack may or may not have posted the message."""


MAX_ERROR_CODE = 48
UPLOAD_REFUSED = "upload_refused"  # a file's upload URL answered with an HTTP error: the file was not shared
# What a call to Slack can raise besides a Slack answer: slack_sdk's errors, the wire's (URLError, resets, timeouts),
# and a 200 whose body is cut short (json.JSONDecodeError, a ValueError).
_WIRE_ERRORS = (SlackClientError, OSError, ValueError)


def _error_code(exc: Exception) -> str:
    """Slack's error code, or our own label for a failure on the wire; at most MAX_ERROR_CODE characters.

    'http_error': an answer that carries no Slack error code (a proxy's HTML 502 or plain-text error, an empty 500;
    slack_sdk puts its own sentence about a non-JSON body where the code would be), or a 5xx whose code is none Slack
    documents (a proxy's own JSON). 'network_error': no usable answer at all (refused, reset, timed out, or a body cut
    short so it is not JSON). All are bounded, so they can be metric labels and audit outcomes.
    """
    if isinstance(exc, SlackApiError):
        response = exc.response
        if response.status_code == 429:
            return "ratelimited"
        data = response.data if isinstance(response.data, dict) else {}
        error = data.get("error")
        if not (isinstance(error, str) and len(error) <= MAX_ERROR_CODE and _SLACK_ERROR_CODE.fullmatch(error)):
            return "http_error"
        if response.status_code >= 500 and error not in known_codes():
            return "http_error"
        return error
    return "network_error"


def _decision_record(item: dict[str, Any], actor_key: str, action: str) -> DecisionRecord | None:
    """One item of a decided list as a record; None for an item without a request id."""
    request_id = (item.get("invite_request") or {}).get("id")
    if not request_id:
        return None
    return DecisionRecord(request_id, action, (item.get(actor_key) or {}).get("actor_id"))


def _without_rate_limit_waits(client: WebClient) -> WebClient:
    """A copy of a client that answers a 429 at once instead of waiting it out."""
    return CountedWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        observer=getattr(client, "_observer", None),
        retry_handlers=[h for h in client.retry_handlers if not isinstance(h, RateLimitErrorRetryHandler)],
    )


def _retry_after(exc: Exception) -> float | None:
    """The Retry-After of a 429, in seconds (1 when Slack gave none readable)."""
    if not isinstance(exc, SlackApiError) or exc.response.status_code != 429:
        return None
    values = {k.lower(): v for k, v in (exc.response.headers or {}).items()}.get("retry-after")
    value = values[0] if isinstance(values, list) and values else values
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0


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
        except _WIRE_ERRORS as exc:
            return CallResult(_error_code(exc), _retry_after(exc))
        return CallResult()

    def _call_client(self) -> WebClient:
        """The admin client without any rate-limit wait: the outbox re-queues a decision Slack asks to wait."""
        with self._lock:
            if self._caller is None:
                self._caller = _without_rate_limit_waits(self._admin)
            return self._caller

    def _poster(self) -> WebClient:
        """The bot client without rate-limit waits, for posts: their retries take the channel's next slot instead."""
        with self._lock:
            if self._posting is None:
                self._posting = _without_rate_limit_waits(self._bot)
            return self._posting

    def _decision_client(self) -> WebClient:
        """The admin client with its rate-limit handler swapped for one that refuses Retry-After waits over the bound."""
        with self._lock:
            client: WebClient | None = getattr(self, "_decider", None)
            if client is None:
                admin = self._admin
                handlers = [h for h in admin.retry_handlers if not isinstance(h, RateLimitErrorRetryHandler)]
                handlers.append(BoundedRateLimitRetryHandler(max_wait=DECISION_MAX_RETRY_AFTER, max_retry_count=2))
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
        except _WIRE_ERRORS as exc:
            return CallResult(_error_code(exc))
        return CallResult()

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
        except _WIRE_ERRORS as exc:
            return _error_code(exc)
        return None

    @staticmethod
    def _probe(client: WebClient, method: str, params: dict[str, Any]) -> str | None:
        try:
            client.api_call(method, params=params)
        except _WIRE_ERRORS as exc:
            return _error_code(exc)
        return None

    def admin_user_id(self) -> str | None:
        """Who Slack will name as the decider of our own calls (the admin token's user)."""
        with self._lock:
            if self._admin_user_id is None:
                try:
                    self._admin_user_id = self._admin.auth_test().get("user_id")
                except _WIRE_ERRORS:
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
            except _WIRE_ERRORS as exc:
                raise SlackCallFailed(method, _error_code(exc))
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
        params = {"channel": channel, "text": text, "blocks": blocks, "metadata": metadata, "thread_ts": thread_ts}
        try:
            answer = self._poster().api_call("chat.postMessage", json={k: v for k, v in params.items() if v is not None})
            return str(answer["ts"])
        except (SlackClientError, OSError) as exc:
            code = _error_code(exc)
            if code == "network_error" and not _never_sent(exc):
                raise PostUnconfirmed("chat.postMessage", code) from exc
            raise SlackCallFailed("chat.postMessage", code, _retry_after(exc)) from exc
        except (ValueError, KeyError, TypeError) as exc:  # Slack answered, but not readably (a body cut short): maybe posted
            raise PostUnconfirmed("chat.postMessage", "network_error") from exc

    def permalink(self, channel: str, ts: str) -> str:
        """A link that opens one message (chat.getPermalink); raises SlackCallFailed."""
        try:
            return str(self._bot.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except _WIRE_ERRORS as exc:
            raise SlackCallFailed("chat.getPermalink", _error_code(exc)) from exc

    def update_message(self, channel: str, ts: str, *, text: str, blocks: list[dict[str, Any]]) -> None:
        self._bot_call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)

    def post_ephemeral(self, channel: str, user: str, *, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        self._bot_call("chat.postEphemeral", channel=channel, user=user, text=text, blocks=blocks)

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
                text=text, blocks=blocks, response_type="ephemeral", replace_original=replace
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
            readable = isinstance(code, str) and len(code) <= MAX_ERROR_CODE and _SLACK_ERROR_CODE.fullmatch(code)
            raise SlackCallFailed("response_url", code if readable else f"http_{response.status_code}")

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
        except _WIRE_ERRORS as exc:
            raise SlackCallFailed("usergroups.users.list", _error_code(exc))
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
        except _WIRE_ERRORS as exc:
            raise SlackCallFailed("users.info", _error_code(exc))
        org_id = str((user.get("enterprise_user") or {}).get("id") or user.get("id") or user_id)
        with self._lock:
            self._org_ids[user_id] = org_id
        return org_id

    def workspaces(self) -> list[dict[str, Any]]:
        """Every workspace of the Enterprise org (admin.teams.list, paged); raises SlackCallFailed."""
        return list(self._paged("admin.teams.list", "teams", {"limit": TEAMS_PAGE_LIMIT}))

    # -- files ------------------------------------------------------------------------------

    def send_file(self, user_id: str, *, filename: str, content: bytes, title: str, comment: str) -> str:
        """Share a file in the app's direct message with a user; returns that conversation's id.

        conversations.open, then slack_sdk's files_upload_v2: files.getUploadURLExternal, the bytes POSTed to the
        upload_url it gives, files.completeUploadExternal into the conversation. Raises SlackCallFailed with Slack's
        code, or UPLOAD_REFUSED when the upload URL would not take the bytes.
        """
        channel = str(self._bot_call("conversations.open", users=user_id)["channel"]["id"])
        try:
            self._bot.files_upload_v2(channel=channel, filename=filename, content=content, title=title, initial_comment=comment)
        except SlackApiError as exc:
            raise SlackCallFailed(str(exc.response.api_url).rsplit("/", 1)[-1], _error_code(exc)) from exc
        except (HTTPError, SlackRequestError) as exc:
            raise SlackCallFailed("upload_url", UPLOAD_REFUSED) from exc
        except _WIRE_ERRORS as exc:
            raise SlackCallFailed("files_upload_v2", "network_error") from exc
        return channel

    def _bot_call(self, method: str, **params: Any) -> Any:
        json_params = {k: v for k, v in params.items() if v is not None}
        try:
            return self._bot.api_call(method, json=json_params)
        except _WIRE_ERRORS as exc:
            raise SlackCallFailed(method, _error_code(exc))


"""Slack's Web API clients as invitebot configures them: retry handlers that never repeat a call Slack may have carried
out, 429s counted and bounded, and every call's answer shown to an observer (token health)."""

from __future__ import annotations

import re
import socket
from typing import Any, Callable
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, RetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import (
    BackoffRetryIntervalCalculator,
    FixedValueRetryIntervalCalculator,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from app.metrics import SLACK_CALLS, SLACK_RATE_LIMITED
from app.slack.api.errors import known_codes

# (Web API method, Slack's error code or None when ok, the answer's data when ok)
CallObserver = Callable[[str, "str | None", "dict[str, Any] | None"], None]

_TRANSIENT_BODY_CODES = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
SLACK_ERROR_CODE = re.compile(r"[a-z][a-z0-9_.]*")  # what Slack puts in "error": invalid_auth, ratelimited, ...


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


def never_sent(error: Exception | None) -> bool:
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
        return request.url.rsplit("/", 1)[-1] not in _NOT_REPEATABLE or never_sent(error)


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

    def api_call(self, api_method: str, **kwargs: Any) -> Any:
        try:
            response = super().api_call(api_method, **kwargs)
        except Exception as exc:  # every failed call is counted: Slack's answers, and the wire's (URLError, timeouts, ...)
            code = error_code(exc)
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


def make_client(
    token: str, api_url: str, *, timeout: int = 15, max_retry_after: float = 60.0, observer: CallObserver | None = None
) -> WebClient:
    """A WebClient that waits out 429s, retries dropped connections and Slack's transient errors, a bounded number of times.

    A 429 is waited out in place only when its Retry-After is at most `max_retry_after` seconds (INVITES_MAX_RETRY_AFTER);
    a longer one comes back as `ratelimited` at once, so no thread (a sync pass, an outbox worker) sleeps for an hour.
    A chat.postMessage whose answer was lost is not sent again (Slack may have posted it): the caller hears PostUnconfirmed.
    `timeout` (SLACK_API_TIMEOUT) is how long one answer is waited for before it counts as lost.

    `observer` hears every call's outcome (method, Slack's error code or None, the answer): token health listens.
    """
    return CountedWebClient(
        token=token,
        base_url=api_url,
        timeout=timeout,
        observer=observer,
        retry_handlers=[
            SafeConnectionErrorRetryHandler(max_retry_count=2),
            BoundedRateLimitRetryHandler(max_wait=max_retry_after, max_retry_count=3),
            TransientErrorRetryHandler(
                max_retry_count=2, interval_calculator=BackoffRetryIntervalCalculator(backoff_factor=0.25)
            ),
            RateLimitedBodyRetryHandler(max_retry_count=3, interval_calculator=FixedValueRetryIntervalCalculator(1.0)),
        ],
    )


MAX_ERROR_CODE = 48
UPLOAD_REFUSED = "upload_refused"  # a file's upload URL answered with an HTTP error: the file was not shared
# What a call to Slack can raise besides a Slack answer: slack_sdk's errors, the wire's (URLError, resets, timeouts),
# and a 200 whose body is cut short (json.JSONDecodeError, a ValueError).
WIRE_ERRORS = (SlackClientError, OSError, ValueError)


def error_code(exc: Exception) -> str:
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
        if not (isinstance(error, str) and len(error) <= MAX_ERROR_CODE and SLACK_ERROR_CODE.fullmatch(error)):
            return "http_error"
        if response.status_code >= 500 and error not in known_codes():
            return "http_error"
        return error
    return "network_error"


def without_rate_limit_waits(client: WebClient) -> WebClient:
    """A copy of a client that answers a 429 at once instead of waiting it out."""
    return CountedWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        observer=getattr(client, "_observer", None),
        retry_handlers=[h for h in client.retry_handlers if not isinstance(h, RateLimitErrorRetryHandler)],
    )


def retry_after_of(exc: Exception) -> float | None:
    """The Retry-After of a 429, in seconds (1 when Slack gave none readable)."""
    if not isinstance(exc, SlackApiError) or exc.response.status_code != 429:
        return None
    values = {k.lower(): v for k, v in (exc.response.headers or {}).items()}.get("retry-after")
    value = (values[0] if values else None) if isinstance(values, list) else values
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0

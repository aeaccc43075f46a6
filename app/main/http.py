"""The WSGI app: Bolt at /slack/events, plus /healthz, /readyz and /metrics for the platform and on-call."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta
from typing import Any, Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import BoltRequest
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.request import payload_utils
from sqlalchemy.orm import Session, sessionmaker

from app import logs
from app.core import outbox, queries
from app.core.audit import now
from app.metrics import ACK_LATENCY, IN_FLIGHT, OUTBOX_DEAD, OUTBOX_JOBS
from app.routes import Routes
from app.slack.bolt import build_app
from app.slack.jobs import cards
from app.slack.runtime import Runtime
from app.store import health
from app.store.db import database_answers
from app.store.health import WriteCheck

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
# Slack's payloads are a few kilobytes; anything near this is not from Slack, and is refused before it is read.
MAX_BODY_BYTES = 1_000_000
# Slack's signatures are valid for 5 minutes (Bolt checks the same).
SIGNATURE_MAX_AGE = 5 * 60
_BOLT_EXTRACTS = tuple(
    getattr(payload_utils, name)
    for name in ("to_event", "to_message", "to_command", "to_action", "to_options", "to_shortcut", "to_view", "to_step")
)
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def create_wsgi_app(runtime: Runtime) -> WsgiApp:
    runtime.settings.require("SLACK_SIGNING_SECRET")
    secret = runtime.settings.SLACK_SIGNING_SECRET.get_secret_value().encode()  # type: ignore[union-attr]
    write_check = runtime.write_check
    slack = SlackRequestHandler(build_app(runtime), path=EVENTS_PATH)
    IN_FLIGHT.set_function(runtime.in_flight.count)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == EVENTS_PATH:
            logs.new_request_id()
            started = time.perf_counter()
            try:
                if method != "POST":
                    return slack(environ, start_response)  # Bolt's own answer to anything else
                admitted = _admit(environ, secret)
                if isinstance(admitted, _Refused):
                    return _answer(start_response, admitted.status, "text/plain; charset=utf-8", admitted.why.encode() + b"\n")
                answer = slack.app.dispatch(admitted)  # what SlackRequestHandler does, with the request parsed once
                response = WsgiHttpResponse(status=answer.status, headers=answer.headers, body=answer.body)
                start_response(response.status, response.get_headers())
                return response.get_body()
            finally:
                ACK_LATENCY.observe(time.perf_counter() - started)
        if method not in ("GET", "HEAD"):
            return _answer(start_response, "405 Method Not Allowed", "text/plain; charset=utf-8", b"method not allowed\n")
        if path == "/healthz":
            healthy = write_check.probe()  # a real write, answered within 1.5 s whatever the database does
            body = b"ok\n" if healthy else f"the database does not take writes: {write_check.reason}\n".encode()
            return _answer(start_response, "200 OK" if healthy else "503 Service Unavailable", "text/plain; charset=utf-8", body)
        if path == "/readyz":
            report = readiness(runtime, write_check)
            body = json.dumps(report, indent=2).encode()
            status = "200 OK" if report["ready"] else "503 Service Unavailable"
            return _answer(start_response, status, "application/json", body)
        if path == "/metrics":
            if database_answers(runtime.engine):
                outbox_health(runtime.reads, runtime.settings.routes)  # the outbox gauges are read from the database when scraped
            return _answer(start_response, "200 OK", CONTENT_TYPE_LATEST, generate_latest())
        return _answer(start_response, "404 Not Found", "text/plain; charset=utf-8", b"not found\n")

    return application


class _Refused(Exception):
    def __init__(self, status: str, why: str) -> None:
        super().__init__(why)
        self.status, self.why = status, why


def _admit(environ: dict[str, Any], secret: bytes) -> BoltRequest | _Refused:
    """Read the body (bounded in size and time) and check it came from Slack and parses, before Bolt sees it.

    Returns the request as Bolt's WSGI adapter would build it (parsed once: a click's form-encoded payload is the
    costliest part of its ack), or the refusal: its HTTP status and a short reason. Nothing about a refused body is
    logged but its size, so an unsigned request can neither fill the log nor the memory, and garbage gets a 4xx
    instead of a traceback.
    """
    try:
        body = _read_body(environ)
        if not _signed_by_slack(environ, body, secret):
            raise _Refused("401 Unauthorized", "invalid request")
        return _parsed_as_bolt_would(environ, body)
    except _Refused as refused:
        log.warning("refused a request to %s: %s (%s)", EVENTS_PATH, refused.why, refused.status)
        return refused


def _read_body(environ: dict[str, Any]) -> bytes:
    """At most MAX_BODY_BYTES. `serve`'s front end (app.main.front_end) has read it whole, within its deadline, already."""
    declared = (environ.get("CONTENT_LENGTH") or "").strip()
    if declared:
        if not declared.isdigit():
            raise _Refused("400 Bad Request", "unreadable Content-Length")
        wanted = int(declared)
        if wanted > MAX_BODY_BYTES:
            raise _Refused("413 Content Too Large", f"a body of {wanted} bytes is more than {MAX_BODY_BYTES}")
    elif environ.get("wsgi.input_terminated"):  # chunked: read until it ends, or until it is too large
        wanted = MAX_BODY_BYTES + 1
    else:
        return b""
    try:
        body = environ["wsgi.input"].read(wanted)
    except Exception as exc:  # noqa: BLE001 - the client went away mid-body
        raise _Refused("400 Bad Request", f"the body could not be read ({type(exc).__name__})") from None
    if len(body) > MAX_BODY_BYTES:
        raise _Refused("413 Content Too Large", f"the body grew past {MAX_BODY_BYTES} bytes")
    if declared and len(body) < wanted:
        raise _Refused("400 Bad Request", "the body ended before its Content-Length")
    return bytes(body)


def _signed_by_slack(environ: dict[str, Any], body: bytes, secret: bytes) -> bool:
    """Slack's v0 signature over the raw bytes, with a recent timestamp (one value, digits only)."""
    timestamp = (environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or "").strip()
    signature = (environ.get("HTTP_X_SLACK_SIGNATURE") or "").strip()
    if not timestamp.isdigit() or not signature.startswith("v0="):
        return False
    if abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE:
        return False
    expected = "v0=" + hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def _parsed_as_bolt_would(environ: dict[str, Any], body: bytes) -> BoltRequest:
    """Bolt parses JSON (or form fields with a JSON `payload`) and expects an object; anything else is a 400."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused("400 Bad Request", "the body is not UTF-8") from None
    headers = WsgiHttpRequest(environ).get_headers()
    headers["content-length"] = str(len(body))
    query = environ.get("QUERY_STRING", "")
    if not text:
        return BoltRequest(body=text, query=query, headers=headers)
    try:
        request = BoltRequest(body=text, query=query, headers=headers)  # parses the body, and reads Bolt's context from it
    except ValueError:
        raise _Refused("400 Bad Request", "the body is not the JSON or form Slack sends") from None
    except (AttributeError, IndexError, KeyError, TypeError):
        raise _Refused("400 Bad Request", "the payload is not a JSON object Slack sends") from None
    if not isinstance(request.body, dict):
        raise _Refused("400 Bad Request", "the payload is not a JSON object")
    try:  # what Bolt extracts from every request before any listener runs (its listener arguments)
        for extract in _BOLT_EXTRACTS:
            extract(request.body)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        raise _Refused("400 Bad Request", "the payload lacks what Slack always sends") from None
    return request


def readiness(runtime: Runtime, write_check: WriteCheck | None = None) -> dict[str, Any]:
    """Ready means this replica can serve Slack now: the database takes writes, Slack accepts both tokens, the
    approvals channel takes cards, and some worker process runs to do what Slack's requests ask.

    The sync and the outbox are background work, shown under `background` but never failing readiness: a workspace
    the sync cannot read, or one person's undeliverable DM, is not a reason to take every replica out of service. The
    worker is shown there too, and is the exception: with none running, no click is decided and no card is posted.
    """
    database = database_answers(runtime.engine)
    writable = database and (write_check or runtime.write_check).probe()
    detail = "takes writes" if writable else "answers, but does not take writes" if database else "unavailable"
    unavailable = {"ok": False, "detail": "database unavailable"}
    checks = {
        "database": {"ok": writable, "detail": detail},
        "tokens": runtime.token_check.readiness(),
        "approvals_channel": approvals_channel(runtime.reads, runtime.settings.routes) if database else unavailable,
    }
    background = {
        "worker": worker_health(runtime.reads) if database else unavailable,
        "sync": sync_health(runtime) if database else unavailable,
        "outbox": outbox_health(runtime.reads, runtime.settings.routes) if database else unavailable,
    }
    ready = all(check["ok"] for check in checks.values()) and background["worker"]["ok"]
    return {"ready": ready, "checks": checks, "background": background}


def worker_health(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """Whether a process taking outbox jobs (`invitebot work`, serve's own, or `socket`) wrote its heartbeat lately."""
    moment = now()
    with sessions() as session:
        count, latest = health.workers_seen(session, moment)
    within = int(health.WORKER_SEEN_WITHIN.total_seconds())
    if count:
        return {"ok": True, "detail": f"{count} worker process{'' if count == 1 else 'es'} seen in the last {within} s"}
    since = f" (the last one at {latest.isoformat()})" if latest is not None else ""
    return {
        "ok": False,
        "detail": f"no worker process has been seen for {within} s{since}: clicks are acked but nothing is done in Slack "
        "until `invitebot work` (or `invitebot serve` without --no-worker) runs against this database",
    }


def sync_health(runtime: Runtime) -> dict[str, Any]:
    """The latest sync, any replica's: clean and recent enough (three intervals)."""
    with runtime.reads() as session:
        last = queries.last_sync(session)
    if last is None:
        return {"ok": False, "detail": "no sync has run yet"}
    if now() - last.finished_at > timedelta(seconds=3 * runtime.settings.INVITES_SYNC_INTERVAL):
        return {"ok": False, "detail": f"last sync finished {last.finished_at.isoformat()}, too long ago"}
    return {"ok": last.errors == 0, "detail": f"{last.summary} at {last.finished_at.isoformat()}"}


DEAD_JOBS_SHOWN = timedelta(hours=1)


def approvals_channel(sessions: sessionmaker[Session], routes: Routes) -> dict[str, Any]:
    """Not ready while a card's post or update failed for good in the last hour because of its channel (archived, gone,
    the bot not in it); `invitebot outbox --retry-failed` or `--drop-failed` clears it once the channel is fixed."""
    refused = outbox.failed(sessions, since=now() - DEAD_JOBS_SHOWN, kinds=cards.CHANNEL_JOBS, errors=cards.CHANNEL_ERRORS)
    if not refused:
        return {"ok": True, "detail": "no card refused by its channel in the last hour"}
    latest = refused[-1]
    where = str(latest.payload.get("channel"))
    advice = cards.fix(latest.kind, latest.last_error, routes.setting_of(where))
    return {"ok": False, "detail": f"{where}: {outbox.describe(latest)} — {advice}"}


def outbox_health(sessions: sessionmaker[Session], routes: Routes) -> dict[str, Any]:
    """Jobs by state (also for /metrics), and the latest one given up for good; ok while none was in the last hour."""
    report = outbox.health(sessions, since=now() - DEAD_JOBS_SHOWN)
    for state, count in report.counts.items():
        OUTBOX_JOBS.labels(state=state).set(count)
    OUTBOX_DEAD.clear()
    for (kind, error), count in report.dead_by_cause.items():
        OUTBOX_DEAD.labels(kind=kind, error=error).set(count)
    detail = f"{report.counts['queued']} queued, {report.counts['running']} running, {report.counts['dead']} failed for good"
    latest = report.latest_dead
    if latest is not None:
        detail += f"; latest failure: {outbox.describe(latest)}"
        advice = cards.fix(latest.kind, latest.last_error, routes.setting_of(str(latest.payload.get("channel"))))
        detail += f" — {advice}" if advice else ""
    return {"ok": report.recent_dead == 0, "detail": detail}


def _answer(start_response: Callable[..., Any], status: str, content_type: str, body: bytes) -> Iterable[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]

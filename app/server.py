"""The WSGI app: Bolt at /slack/events, plus /healthz, /readyz and /metrics for the platform and on-call."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any, Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.wsgi import SlackRequestHandler

from app import logs
from app.core import queries
from app.core.audit import now
from app.metrics import ACK_LATENCY, IN_FLIGHT
from app.runtime import Runtime
from app.slack.bolt import build_app
from app.store.db import database_answers

EVENTS_PATH = "/slack/events"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def create_wsgi_app(runtime: Runtime) -> WsgiApp:
    runtime.settings.require("SLACK_SIGNING_SECRET")
    slack = SlackRequestHandler(build_app(runtime), path=EVENTS_PATH)
    IN_FLIGHT.set_function(runtime.in_flight.count)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == EVENTS_PATH:
            logs.new_request_id()
            started = time.perf_counter()
            try:
                return slack(environ, start_response)
            finally:
                ACK_LATENCY.observe(time.perf_counter() - started)
        if method not in ("GET", "HEAD"):
            return _answer(start_response, "405 Method Not Allowed", "text/plain; charset=utf-8", b"method not allowed\n")
        if path == "/healthz":
            healthy = database_answers(runtime.engine)
            body = b"ok\n" if healthy else b"database unavailable\n"
            return _answer(start_response, "200 OK" if healthy else "503 Service Unavailable", "text/plain; charset=utf-8", body)
        if path == "/readyz":
            checks = readiness(runtime)
            ready = all(check["ok"] for check in checks.values())
            body = json.dumps({"ready": ready, "checks": checks}, indent=2).encode()
            return _answer(start_response, "200 OK" if ready else "503 Service Unavailable", "application/json", body)
        if path == "/metrics":
            return _answer(start_response, "200 OK", CONTENT_TYPE_LATEST, generate_latest())
        return _answer(start_response, "404 Not Found", "text/plain; charset=utf-8", b"not found\n")

    return application


def readiness(runtime: Runtime) -> dict[str, dict[str, Any]]:
    """Ready means: the database answers, Slack accepted both tokens, and the latest sync (any replica's) was clean."""
    database = database_answers(runtime.engine)
    tokens = runtime.token_check.readiness()
    sync: dict[str, Any] = {"ok": False, "detail": "database unavailable"}
    if database:
        with runtime.sessions() as session:
            last = queries.last_sync(session)
        stale_after = timedelta(seconds=3 * runtime.settings.INVITES_SYNC_INTERVAL)
        if last is None:
            sync = {"ok": False, "detail": "no sync has run yet"}
        elif now() - last.finished_at > stale_after:
            sync = {"ok": False, "detail": f"last sync finished {last.finished_at.isoformat()}, too long ago"}
        else:
            sync = {"ok": last.errors == 0, "detail": f"{last.summary} at {last.finished_at.isoformat()}"}
    return {"database": {"ok": database, "detail": "answers" if database else "unavailable"}, "tokens": tokens, "sync": sync}


def _answer(start_response: Callable[..., Any], status: str, content_type: str, body: bytes) -> Iterable[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]

"""The WSGI app: Bolt at /slack/events, plus /healthz for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from slack_bolt.adapter.wsgi import SlackRequestHandler

from app.runtime import Runtime
from app.slack.bolt import build_app
from app.store.db import database_answers

EVENTS_PATH = "/slack/events"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def create_wsgi_app(runtime: Runtime) -> WsgiApp:
    slack = SlackRequestHandler(build_app(runtime), path=EVENTS_PATH)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == EVENTS_PATH:
            return slack(environ, start_response)
        if path == "/healthz" and method in ("GET", "HEAD"):
            healthy = database_answers(runtime.engine)
            return _plain(start_response, "200 OK" if healthy else "503 Service Unavailable", "ok\n" if healthy else "database unavailable\n")
        return _plain(start_response, "404 Not Found", "not found\n")

    return application


def _plain(start_response: Callable[..., Any], status: str, body: str) -> Iterable[bytes]:
    data = body.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))])
    return [data]

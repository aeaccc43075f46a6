"""`invitebot serve`: gunicorn (one web process, app.main.front_end's buffering worker) in front of the WSGI app, and,
unless told not to, one `invitebot work` process beside it (app.main.worker_child) for the outbox, sync and reminders."""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger as GunicornLogger

from app.config import Settings
from app.main.container import build_runtime, database_options
from app.main.front_end import Limits
from app.main.http import create_wsgi_app
from app.main.token_loop import TokenLoop
from app.main.worker_child import WorkerChild
from app.store.db import make_engine
from app.store.health import Role
from app.store.migrate import upgrade_to_head

log = logging.getLogger(__name__)


class _Gunicorn(BaseApplication):
    """Embeds gunicorn so `invitebot serve` needs no separate config file."""

    def __init__(self, settings: Settings, options: dict[str, Any], limits: Limits, worker: WorkerChild | None) -> None:
        self._settings = settings
        self._options = options
        self.limits = limits  # read by the worker (app.main.front_end.BufferingWorker)
        self._worker = worker
        self._runtime: Any = None
        self._tokens: Any = None
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)
        self.cfg.set("worker_exit", self._on_worker_exit)

    def load(self) -> Any:
        """Runs in the web process, after fork: threads and connections are made here. It plays the web role only: the
        jobs its requests write are done by worker processes."""
        self._runtime = build_runtime(self._settings)
        self._runtime.start(Role.WEB)
        self._tokens = TokenLoop(self._runtime)
        self._tokens.start()
        return create_wsgi_app(self._runtime)

    def run(self) -> None:
        try:
            _Arbiter(self, self._worker).run()
        except RuntimeError as exc:  # as gunicorn's own run() reports a master that cannot start
            print(f"\nError: {exc}\n", file=sys.stderr, flush=True)
            sys.exit(1)

    def _on_worker_exit(self, _server: Any, _worker: Any) -> None:
        if self._tokens is not None:
            self._tokens.stop()
        if self._runtime is not None:
            self._runtime.close()


class _Arbiter(Arbiter):
    """gunicorn's master, which also keeps the worker process running, and stops it once the web process has stopped
    (so the decisions the web process queued as it stopped are still taken)."""

    def __init__(self, app: _Gunicorn, worker: WorkerChild | None) -> None:
        self._worker = worker
        super().__init__(app)

    def manage_workers(self) -> None:
        super().manage_workers()
        if self._worker is not None:
            self._worker.keep_alive()

    def reap_workers(self) -> None:
        if self._worker is not None:
            self._worker.reap()  # before gunicorn's waitpid(-1) takes its status
        super().reap_workers()

    def stop(self, graceful: bool = True) -> None:
        if self._worker is not None:
            self._worker.stopping()
        super().stop(graceful)
        if self._worker is not None:
            self._worker.stop(self.cfg.graceful_timeout)


class _JsonLogs(GunicornLogger):
    """gunicorn's error and access logs as invitebot's own JSON lines: its handlers go, its records reach the root logger."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True


def _announce(server: Any) -> None:
    """Log the bound address (useful with --port 0); the message keeps the form start-up scripts look for."""
    for listener in server.LISTENERS:
        host, port = listener.sock.getsockname()[:2]
        log.info("invitebot listening on http://%s:%s", host, port)


def _cannot_listen(host: str, port: int) -> str | None:
    """Why gunicorn could not bind host:port (as it binds: SO_REUSEADDR), or None when it can. Asked first, because
    gunicorn retries a busy port for five seconds, logging each try, and then exits 1."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def serve_forever(settings: Settings, host: str, port: int, *, worker: bool = True) -> int:
    """Serve until stopped, with a worker process beside the web process unless `worker` is False; 2, with one line on
    stderr, when host:port cannot be listened on."""
    problem = _cannot_listen(host, port)
    if problem is not None:
        print(f"invitebot: cannot listen on {host}:{port}: {problem}; choose another --port (0 picks a free one)", file=sys.stderr)
        return 2
    engine = make_engine(settings.DATABASE_URL, database_options(settings).for_migrations())
    upgrade_to_head(engine)
    engine.dispose()
    limits = Limits(connections=settings.INVITES_HTTP_CONNECTIONS, per_client=settings.INVITES_HTTP_CLIENT_CONNECTIONS)
    options = {
        "bind": f"{host}:{port}",
        "workers": 1,
        # Reads each request whole, within deadlines, before a thread runs the app: slow clients hold no thread.
        "worker_class": "app.main.front_end.BufferingWorker",
        "worker_connections": limits.connections,
        "timeout": 60,
        "graceful_timeout": 30,
        "accesslog": None,
        "logger_class": _JsonLogs,
        # No control socket (gunicornc): its default path, ~/.gunicorn/gunicorn.ctl, is one per host shared by every
        # gunicorn there, and under a home that does not exist (the image's /nonexistent) each start logs a failure.
        "control_socket_disable": True,
        "when_ready": _announce,
    }
    _Gunicorn(settings, options, limits, WorkerChild() if worker else None).run()
    return 0

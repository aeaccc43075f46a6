"""PostgreSQL connections that end in an error, never a hang, when the server or the network stops answering."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors
from sqlalchemy import URL

from app.store.db import DatabaseOptions

# Slack's clicks wait for their work; a server that went silent (a failover, a black-holed host) must fail them in
# seconds. statement_timeout ends work the server is doing; the TCP settings end a connection whose packets go unanswered;
# the answer deadline below ends a wait for a server that keeps the connection open but never replies.


def connect_args(connect_timeout: int, statement_timeout: int | None, network_timeout: int) -> dict[str, Any]:
    """libpq's options for the timeouts: `statement_timeout` also bounds waiting for a lock, and a transaction left
    idle that long (its client gone) is ended by the server, releasing its row locks."""
    args: dict[str, Any] = {
        "connect_timeout": connect_timeout,
        "keepalives": 1,
        "keepalives_idle": max(1, network_timeout // 2),
        "keepalives_interval": max(1, network_timeout // 6),
        "keepalives_count": 3,
        "tcp_user_timeout": network_timeout * 1000,
    }
    if statement_timeout is not None:
        ms = statement_timeout * 1000
        args["options"] = f"-c statement_timeout={ms} -c lock_timeout={ms} -c idle_in_transaction_session_timeout={ms}"
    return args


def connection_class(answer_within: float | None) -> type[psycopg.Connection[Any]]:
    """A psycopg Connection that waits at most `answer_within` seconds for any answer from the server, then closes
    itself (SQLAlchemy takes a closed connection as a disconnect, and drops it from the pool)."""

    class AnswerDeadline(psycopg.Connection[Any]):
        def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
            try:
                return super().wait(gen, interval=interval, timeout=timeout if timeout is not None else answer_within)
            except errors._WaitTimeout:  # psycopg's own: the wait ran out, the protocol is midway
                self.pgconn.finish()
                raise psycopg.OperationalError(f"the database server did not answer within {answer_within:g} seconds") from None

    return AnswerDeadline


def listener(url: URL, options: DatabaseOptions) -> psycopg.Connection[Any]:
    """An autocommit connection of its own for LISTEN: it waits for notifications as long as it likes (no answer
    deadline), while keepalives still end it when the server or the network goes away."""
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    args = connect_args(options.connect_timeout, None, options.network_timeout)
    return psycopg.connect(conninfo, autocommit=True, **{k: v for k, v in args.items() if k not in url.query})

"""Structured JSON logs: one object per line, a request id per Slack request, and never a token or an email."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import threading
import uuid
from datetime import datetime, timezone
from types import TracebackType

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_TOKEN = re.compile(r"\bx(?:ox[abpre]|app)-[A-Za-z0-9-]+")
_EMAIL = re.compile(r"\b[^@\s\"'<>|]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")


def new_request_id() -> str:
    """Start a request: everything logged on its behalf, in any thread it hands work to, carries this id."""
    value = uuid.uuid4().hex[:16]
    request_id.set(value)
    return value


def redact(text: str) -> str:
    """Tokens are never logged; emails lose their local part (the domain still helps on-call)."""
    return _EMAIL.sub(r"***@\1", _TOKEN.sub("[token]", text))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        current = request_id.get()
        if current:
            entry["request_id"] = current
        reference = getattr(record, "ref", None)  # an unexpected failure's, as the person who met it was told
        if reference:
            entry["ref"] = reference
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure(level: int = logging.INFO) -> None:
    """JSON lines on stderr for the whole process; noisy libraries only from WARNING.

    Python's warnings and uncaught exceptions (in any thread) become log lines too, so nothing plain reaches stderr.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("alembic", "slack_sdk", "slack_bolt", "urllib3", "gunicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    logging.getLogger("app").critical("uncaught exception", exc_info=(kind, error, trace))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("app").error(
        "uncaught exception in thread %s", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback)
    )

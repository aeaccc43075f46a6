"""The demo's HTTP server: the page's static files and its JSON API, on 127.0.0.1 only."""

from __future__ import annotations

import json
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

from app.demo.api import DemoApi, Download
from app.demo.download import content_disposition
from app.demo.params import BadRequest

STATIC = Path(__file__).parent / "static"
FILES = {  # URL path -> (file, content type); nothing else under static/ is served
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/mrkdwn.js": ("mrkdwn.js", "text/javascript; charset=utf-8"),
    "/blockkit.js": ("blockkit.js", "text/javascript; charset=utf-8"),
    "/files.js": ("files.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
SECURITY_HEADERS = {
    # The page builds its DOM from Slack text with textContent only; this keeps any slip from running code too.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
SHARED_FILES = "/api/files/"  # + a file id, ?user=<who downloads it>
MAX_BODY = 64 * 1024
DRAIN_SECONDS = 10.0
# The browser went away (a tab closed or reloaded) before its answer was written: nobody is left to tell.
CLIENT_GONE = (BrokenPipeError, ConnectionResetError)


class _Handler(BaseHTTPRequestHandler):
    server: DemoServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        with self.server.answering():
            self._get()

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        with self.server.answering():
            self._post()

    def _get(self) -> None:
        url = urlsplit(self.path)
        if not self._local_host():
            return
        if url.path == "/api/org":
            self._json(*self.server.api.org())
        elif url.path == "/api/state":
            query = parse_qs(url.query)
            user = (query.get("user") or [""])[0]
            since = (query.get("since") or [""])[0]
            try:
                self._json(*self.server.api.state(user, since))
            except ValueError as exc:
                self._json(400, {"ok": False, "error": str(exc)})
        elif url.path.startswith(SHARED_FILES):
            self._file(url.path[len(SHARED_FILES) :], (parse_qs(url.query).get("user") or [""])[0])
        elif url.path in FILES:
            name, content_type = FILES[url.path]
            self._send(200, (STATIC / name).read_bytes(), content_type)
        else:
            self._json(404, {"ok": False, "error": "not found"})

    def _post(self) -> None:
        url = urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True  # the unread body would otherwise be taken for the next request
            self._json(413, {"ok": False, "error": f"send a JSON body of at most {MAX_BODY} bytes"})
            return
        raw = self.rfile.read(length)
        if not self._local_host():
            return
        if not url.path.startswith("/api/"):
            self._json(404, {"ok": False, "error": "not found"})
            return
        # JSON only: a form on another site cannot send this content type without the browser asking first.
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            self._json(415, {"ok": False, "error": "send application/json"})
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._json(400, {"ok": False, "error": "the body must be a JSON object"})
            return
        self._json(*self.server.api.post(url.path[len("/api/") :], body))

    def _file(self, file_id: str, user: str) -> None:
        """A file shared in Slack, downloaded by one person of the demo."""
        try:
            answer = self.server.api.file(user, file_id)
        except BadRequest as exc:
            self._json(400, {"ok": False, "error": str(exc)})
            return
        if isinstance(answer, Download):
            headers = {"Content-Disposition": content_disposition(answer.name)}
            self._send(200, answer.content, answer.mimetype, headers)
        else:
            self._json(*answer)

    def _local_host(self) -> bool:
        """Only answer requests addressed to this machine by name (no DNS-rebinding through another host name)."""
        port = self.server.server_address[1]
        if self.headers.get("Host") in (f"127.0.0.1:{port}", f"localhost:{port}"):
            return True
        self._json(421, {"ok": False, "error": "use http://127.0.0.1:%d/" % port})
        return False

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode(), "application/json; charset=utf-8")

    def _send(self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in {**(headers or {}), **SECURITY_HEADERS}.items():
            self.send_header(name, value)
        try:
            self.end_headers()
            self.wfile.write(payload)
        except CLIENT_GONE:  # a long poll outlives its tab: its answer has no reader
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep the terminal for the URL
        pass


class DemoServer(ThreadingHTTPServer):
    """ThreadingHTTPServer on 127.0.0.1:`port` (0 picks a free one) serving the page and DemoApi."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, port: int, api: DemoApi | None = None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.api: DemoApi = api  # type: ignore[assignment]  # set before start()
        self._thread: threading.Thread | None = None
        self._answering = 0  # requests read and not answered yet (idle keep-alive connections are not counted)
        self._answered = threading.Condition()

    @contextmanager
    def answering(self) -> Iterator[None]:
        with self._answered:
            self._answering += 1
        try:
            yield
        finally:
            with self._answered:
                self._answering -= 1
                self._answered.notify_all()

    def drain(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Wait until every request being answered is (long polls end as soon as the change feed closes)."""
        with self._answered:
            return self._answered.wait_for(lambda: self._answering == 0, timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that disconnected (read or write) is no error worth a traceback; anything else still is."""
        if isinstance(sys.exc_info()[1], CLIENT_GONE):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def start(self) -> DemoServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2}, name="demo-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None

"""The gunicorn worker `invitebot serve` runs: one asyncio loop reads every request whole, within deadlines, before a
request thread runs the WSGI app, so a slow or stalled client holds a socket for seconds and never a thread.

gunicorn's threaded worker hands a connection to a thread as soon as a byte arrives and then reads the headers with no
deadline: a few dozen clients that stop mid-header take every thread. Here a thread only ever sees a complete request.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import socket
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import unquote

import h11
from gunicorn.workers.base import Worker

from app.metrics import HTTP_CUT

log = logging.getLogger(__name__)
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
TICK = 1.0  # seconds between heartbeats to gunicorn's arbiter (and looks at whether to stop)
WRITE_SECONDS = 10.0  # an answer the client does not take within this is dropped with its connection
ACCEPT_PAUSE = 0.1  # seconds before accepting again after accept() failed (no file descriptor left, say)
LINGER_SECONDS = 1.0  # after a refusal, how long what the client still sends is read and dropped before closing


@dataclass(frozen=True)
class Limits:
    """What one client may hold of the front end."""

    # From the connection (or the previous answer on it) to the end of the headers: the keep-alive wait is this too.
    header_seconds: float = 5.0
    # From the end of the headers to the end of the body; Slack gives up on an answer 3 seconds after sending.
    body_seconds: float = 3.0
    # Slack's payloads are a few kilobytes: anything near these is not from Slack.
    max_body: int = 1_000_000
    max_header: int = 16 * 1024
    connections: int = 1000  # open connections in all; more are answered 503 and closed
    per_client: int = 100  # open connections from one address (0: no limit); more are answered 503 and closed
    threads: int = 32  # requests the WSGI app runs at once


class _Cut(Exception):
    """The request is refused before the app sees it: its HTTP status, and why in a word (the metric's label)."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status, self.why = status, why


class FrontEnd:
    """Connections in, whole requests to the app's threads; each thread writes its own answer, so an answer never waits
    for the loop's turn at the GIL."""

    def __init__(self, app: WsgiApp, limits: Limits) -> None:
        self.app, self.limits = app, limits
        self._threads = ThreadPoolExecutor(limits.threads, thread_name_prefix="invitebot-request")
        self._per_client: Counter[str] = Counter()
        self._warned: set[str] = set()
        self._open = 0
        self._busy = 0  # requests in the app now
        self._serving: set[asyncio.Task[Any]] = set()
        self.stopping = False

    async def accept(self, listener: socket.socket) -> None:
        """Take connections from `listener` until stopped; each is served by a task of its own."""
        loop = asyncio.get_running_loop()
        listener.setblocking(False)
        while True:
            try:
                sock, peer = await loop.sock_accept(listener)
            except OSError as error:  # out of file descriptors, say: the connections already open still finish
                log.warning("could not accept a connection: %s", error)
                await asyncio.sleep(ACCEPT_PAUSE)
                continue
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # an answer goes out in one write, at once
            task = loop.create_task(self._connection(sock, peer))
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)

    async def stop(self, grace: float) -> None:
        """Take no more requests, let those in the app answer (for up to `grace` seconds), then close every connection."""
        self.stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._busy and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for task in list(self._serving):
            task.cancel()
        await asyncio.gather(*self._serving, return_exceptions=True)

    def close(self) -> None:
        self._threads.shutdown(wait=True)

    async def _connection(self, sock: socket.socket, peer: Any) -> None:
        peer = peer if isinstance(peer, tuple) else (str(peer), 0)
        client = str(peer[0])
        if self.stopping or not self._admit(client):
            await _send_and_close(sock, _answer(503))
            return
        try:
            await self._serve(sock, peer)
        except (ConnectionError, OSError, TimeoutError):
            pass  # the client went away, or did not take its answer
        finally:
            self._open -= 1
            self._per_client[client] -= 1
            if self._per_client[client] <= 0:
                del self._per_client[client]
                self._warned.discard(client)
            sock.close()

    def _admit(self, client: str) -> bool:
        limits = self.limits
        if self._open >= limits.connections:
            HTTP_CUT.labels(why="connections").inc()
            return False
        if limits.per_client and self._per_client[client] >= limits.per_client:
            HTTP_CUT.labels(why="per_client").inc()
            if client not in self._warned:  # once until its count falls to zero, not once a connection
                self._warned.add(client)
                log.warning("%s holds %d connections, the most one address may; more are refused", client, limits.per_client)
            return False
        self._open += 1
        self._per_client[client] += 1
        return True

    async def _serve(self, sock: socket.socket, peer: tuple[Any, ...]) -> None:
        """Requests on one connection, one at a time, until either side closes it."""
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_header)
        loop = asyncio.get_running_loop()
        sockname = sock.getsockname()
        while not self.stopping:
            reading = "headers"
            try:
                async with asyncio.timeout(self.limits.header_seconds) as deadline:
                    request = await _next(conn, sock)
                    if not isinstance(request, h11.Request):
                        return  # closed between requests
                    reading = "body"
                    deadline.reschedule(loop.time() + self.limits.body_seconds)
                    body = await self._body(conn, sock, request)
            except TimeoutError:
                if reading == "headers":
                    HTTP_CUT.labels(why="header_timeout").inc()
                    return  # no request, or part of one: nothing worth an answer
                await self._cut(sock, peer, _Cut(408, "body_timeout"))
                return
            except h11.RemoteProtocolError as error:
                HTTP_CUT.labels(why="malformed").inc()
                await _send_and_close(sock, _answer(error.error_status_hint))
                return
            except _Cut as cut:
                await self._cut(sock, peer, cut)
                return
            environ = _environ(request, body, peer, sockname)
            self._busy += 1
            try:
                again = await loop.run_in_executor(self._threads, self._answer_in_thread, sock, conn, request, environ)
            finally:
                self._busy -= 1
            if not again:
                return
            conn.start_next_cycle()

    async def _body(self, conn: h11.Connection, sock: socket.socket, request: h11.Request) -> bytes:
        """The whole body, at most max_body bytes (the caller holds the deadline)."""
        declared = dict(request.headers).get(b"content-length")
        if declared is not None and int(declared) > self.limits.max_body:
            raise _Cut(413, "too_large")
        if conn.they_are_waiting_for_100_continue:
            await asyncio.get_running_loop().sock_sendall(sock, conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        chunks: list[bytes] = []
        size = 0
        while not isinstance(event := await _next(conn, sock), h11.EndOfMessage):
            if not isinstance(event, h11.Data):
                raise h11.RemoteProtocolError("the body ended early", error_status_hint=400)
            size += len(event.data)
            if size > self.limits.max_body:
                raise _Cut(413, "too_large")
            chunks.append(bytes(event.data))
        return b"".join(chunks)

    async def _cut(self, sock: socket.socket, peer: tuple[Any, ...], cut: _Cut) -> None:
        HTTP_CUT.labels(why=cut.why).inc()
        log.debug("cut a request from %s: %s", peer[0], cut.why)
        await _send_and_close(sock, _answer(cut.status))

    def _answer_in_thread(self, sock: socket.socket, conn: h11.Connection, request: h11.Request, environ: dict[str, Any]) -> bool:
        """Run the app and write its answer (the loop leaves the socket alone meanwhile); True if the connection stays."""
        status, headers, content = self._call(environ)
        code, _, reason = status.partition(" ")
        data = conn.send(h11.Response(status_code=int(code), headers=headers, reason=reason))
        data += (b"" if request.method == b"HEAD" else conn.send(h11.Data(data=content))) + conn.send(h11.EndOfMessage())
        again = conn.our_state is h11.DONE and conn.their_state is h11.DONE
        sock.settimeout(WRITE_SECONDS)
        try:
            sock.sendall(data)
            if not again:
                sock.shutdown(socket.SHUT_WR)  # a client reading until the end has its answer now
        finally:
            sock.setblocking(False)
        return again

    def _call(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        """Run the WSGI app; the answer is small, so it is gathered whole."""
        started: list[Any] = []
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            started[:] = [status, headers]
            return chunks.append

        try:
            result = self.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:  # noqa: BLE001 - the app answers its own failures; this is a bug in it
            log.exception("the app failed on %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
            return "500 Internal Server Error", [("Content-Type", "text/plain; charset=utf-8")], b"internal error\n"
        status, headers = started
        content = b"".join(chunks)
        if not any(name.lower() == "content-length" for name, _ in headers):
            headers = [*headers, ("Content-Length", str(len(content)))]
        return status, headers, content


async def _next(conn: h11.Connection, sock: socket.socket) -> Any:
    """h11's next event, reading from the socket as it needs."""
    loop = asyncio.get_running_loop()
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(await loop.sock_recv(sock, 64 * 1024))


async def _send_and_close(sock: socket.socket, data: bytes) -> None:
    """A last answer, then the end of the connection: what the client was still sending is read (for at most
    LINGER_SECONDS) before the socket closes, or the close would reset the connection and could lose the answer."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(WRITE_SECONDS):
            await loop.sock_sendall(sock, data)
        sock.shutdown(socket.SHUT_WR)
        async with asyncio.timeout(LINGER_SECONDS):
            while await loop.sock_recv(sock, 64 * 1024):
                pass
    except (ConnectionError, OSError, TimeoutError):
        pass
    sock.close()


def _answer(status: int) -> bytes:
    """A short plain-text answer before the connection closes, whatever state the request was left in."""
    body = f"{HTTPStatus(status).phrase.lower()}\n".encode()
    return (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def _environ(request: h11.Request, body: bytes, peer: tuple[Any, ...], sockname: tuple[Any, ...]) -> dict[str, Any]:
    """PEP 3333's environ for a request read whole (so CONTENT_LENGTH is what was read, chunked or not)."""
    path, _, query = request.target.decode("latin-1").partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method.decode("ascii"),
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(path, encoding="latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": str(sockname[0]),
        "SERVER_PORT": str(sockname[1]),
        "SERVER_PROTOCOL": "HTTP/" + request.http_version.decode("ascii"),
        "REMOTE_ADDR": str(peer[0]),
        "REMOTE_PORT": str(peer[1]),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in request.headers:  # h11 gives names in lower case
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        if "_" in name or name in ("content-length", "transfer-encoding"):
            continue  # X_Slack_Signature would pass for X-Slack-Signature; the body's length is the one read
        key = name.upper().replace("-", "_")
        key = key if key == "CONTENT_TYPE" else "HTTP_" + key
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


class BufferingWorker(Worker):
    """gunicorn's worker for FrontEnd: the arbiter still starts it, watches its heartbeat and stops it."""

    def run(self) -> None:
        limits: Limits = getattr(self.app, "limits", Limits())
        front = FrontEnd(self.wsgi, limits)
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve(front, loop))
        finally:
            front.close()
            loop.close()

    async def _serve(self, front: FrontEnd, loop: asyncio.AbstractEventLoop) -> None:
        # gunicorn's listeners wrap the sockets they listen on
        accepting = [loop.create_task(front.accept(getattr(listener, "sock", listener))) for listener in self.sockets]
        woken = asyncio.Event()

        def signalled() -> None:  # gunicorn's handlers set self.alive; the signal's byte (set_wakeup_fd) wakes the loop
            _drain(self.PIPE[0])
            woken.set()

        loop.add_reader(self.PIPE[0], signalled)
        while self.alive and self.ppid == os.getppid():
            self.notify()
            try:
                async with asyncio.timeout(TICK):
                    await woken.wait()
            except TimeoutError:
                pass
            woken.clear()
        for task in accepting:
            task.cancel()
        await front.stop(self.cfg.graceful_timeout)  # answers already being worked on still go out
        loop.remove_reader(self.PIPE[0])


def _drain(fd: int) -> None:
    """Empty the wake-up pipe, so the loop is not woken again for the same signal."""
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass

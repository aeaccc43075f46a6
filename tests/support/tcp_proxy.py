"""A TCP proxy in front of PostgreSQL that a test can cut: refuse (a clean outage) or stop answering (a black hole)."""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.engine import make_url


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a server; `black_hole()` keeps every connection open and forwards nothing more,
    `refuse()` closes every connection and refuses new ones, `restore()` forwards again."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._mode = "forward"
        self._pairs: list[tuple[socket.socket, socket.socket | None]] = []
        self._held: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, name="test-proxy", daemon=True).start()

    def url(self, database_url: str) -> str:
        return make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def black_hole(self) -> None:
        with self._lock:
            self._mode = "black_hole"

    def refuse(self) -> None:
        with self._lock:
            self._mode = "refuse"
            pairs, self._pairs = self._pairs, []
            held, self._held = self._held, []
        for client, server in pairs:
            _close(client, server)
        _close(*held)

    def restore(self) -> None:
        """Forward again; connections open through the outage are closed (what they sent is lost, as in a failover)."""
        with self._lock:
            self._mode = "forward"
            pairs, self._pairs = self._pairs, []
            held, self._held = self._held, []
        for client, server in pairs:
            _close(client, server)
        _close(*held)

    def close(self) -> None:
        self._closed = True
        self.refuse()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                mode = self._mode
                if mode == "black_hole":
                    self._held.append(client)  # accepted, never answered
                    continue
            if mode == "refuse":
                _close(client)
                continue
            try:
                server = socket.create_connection(self._target, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._pairs.append((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                with self._lock:
                    silent = self._mode == "black_hole"
                if not silent:
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source, sink)


def _close(*sockets: socket.socket | None) -> None:
    for sock in sockets:
        if sock is None:
            continue
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


@contextmanager
def proxy_to(database_url: str) -> Iterator[TcpProxy]:
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        yield proxy
    finally:
        proxy.close()

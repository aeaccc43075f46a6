"""Clients that never finish a request (half stop mid-header, half mid-body), each opened again when the server cuts it."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

PACE = 0.5  # seconds between the bytes each slow client sends: the attack's pace, not a synchronisation
LIFETIME = 120.0  # they stop by themselves after this, whatever the test does


class SlowClients:
    """`count` connections to `address`, spread over `sources` (other loopback addresses than the test's own requests)."""

    def __init__(self, address: tuple[str, int], count: int, sources: tuple[str, ...] = ("127.0.0.2",)) -> None:
        self.address, self.count, self.sources = address, count, sources
        self.reopened = 0
        self._stop = threading.Event()
        self._sockets: list[socket.socket | None] = []
        self._thread = threading.Thread(target=self._keep_slow, daemon=True)

    def __enter__(self) -> "SlowClients":
        self._sockets = [self._open(n) for n in range(self.count)]
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in self._sockets:
            if sock is not None:
                sock.close()

    def _open(self, n: int) -> socket.socket | None:
        try:
            sock = socket.create_connection(self.address, timeout=5, source_address=(self.sources[n % len(self.sources)], 0))
            if n % 2 == 0:  # headers that never end
                sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n")
            else:  # a body that never arrives whole
                sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
        except OSError:
            return None
        sock.setblocking(False)
        return sock

    def _keep_slow(self) -> None:
        ends = time.monotonic() + LIFETIME
        while not self._stop.wait(PACE) and time.monotonic() < ends:
            for n, sock in enumerate(self._sockets):
                if sock is None or not _still_open(sock, b"X-Slow: 1\r\n" if n % 2 == 0 else b" "):
                    if sock is not None:
                        sock.close()
                    self._sockets[n] = self._open(n)
                    self.reopened += 1


def _still_open(sock: socket.socket, more: bytes) -> bool:
    """Send one more piece; False once the server has answered (a 408) or closed the connection."""
    try:
        sock.send(more)
        sock.recv(4096)
    except BlockingIOError:
        return True  # nothing from the server: it is still waiting for us
    except OSError:
        return False
    return False  # an answer (a 408) or the end of the connection

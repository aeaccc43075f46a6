"""How one process tells the others on the same SQLite file, at once, that it wrote an outbox job.

Each worker keeps a datagram socket (Linux's abstract namespace: no file, no limit on the database's path) and an empty
file naming it in a folder beside the database file (`invitebot.db.wake/`); a process that commits a job sends an
empty datagram to every socket named there. SQLite has no NOTIFY, and without this a worker would hear of a job only
at its next look (app.store.wakeup). The name of a socket whose process is gone is removed by the next ring; where a
socket cannot be made (another system, a read-only folder) the worker only looks, as before.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import secrets
import socket
import threading
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".wake"
_sender: socket.socket | None = None
_sender_lock = threading.Lock()


def folder(database: str | None) -> Path | None:
    """The doorbells' folder of a SQLite database file; None for an in-memory database."""
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(os.path.abspath(database) + SUFFIX)


def ring(database: str | None) -> None:
    """Wake every worker on this database now (called after a commit that wrote a job); never raises."""
    where = folder(database)
    if where is None:
        return
    try:
        names = [entry.name for entry in os.scandir(where)]
    except OSError:
        return  # no worker has a doorbell: they look on their own
    try:
        sender = _sending_socket()
    except OSError as exc:  # no socket to send from (a process out of descriptors): the workers look on their own
        log.debug("could not ring the doorbells in %s: %s", where, exc)
        return
    for name in names:
        try:
            sender.sendto(b"", _address(where, name))
        except (ConnectionRefusedError, FileNotFoundError):
            _remove(str(where / name))  # its process is gone
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ENOBUFS):  # a full queue: that worker is woken already
                log.debug("could not ring %s: %s", name, exc)


def _address(where: Path, name: str) -> str:
    """A doorbell's socket, in the abstract namespace: the database's folder (hashed) and the doorbell's name."""
    return "\0invitebot-" + hashlib.sha256(str(where).encode()).hexdigest()[:16] + "-" + name


class Doorbell:
    """This worker's socket beside the database: `wait` returns at a ring, or after its timeout."""

    def __init__(self, database: str | None) -> None:
        self._marker: Path | None = None
        self._address: str | None = None
        self._socket: socket.socket | None = None
        where = folder(database)
        if where is None:
            return
        name = f"{os.getpid()}-{secrets.token_hex(3)}"
        try:
            bell = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            bell.bind(_address(where, name))
            where.mkdir(exist_ok=True)
            (where / name).touch()
        except OSError as exc:
            log.info("no doorbell for new outbox jobs in %s (%s): looking every 50 ms", where, exc)
            return
        self._marker, self._address, self._socket = where / name, _address(where, name), bell

    @property
    def rings(self) -> bool:
        """It has a socket: rings reach it (else `wait` only waits)."""
        return self._socket is not None

    def wait(self, timeout: float) -> bool:
        """Until a ring (True, every ring waiting is taken with it) or `timeout` seconds (False)."""
        if self._socket is None:
            threading.Event().wait(timeout)
            return False
        self._socket.settimeout(timeout)
        try:
            self._socket.recv(1)
        except (socket.timeout, OSError):
            return False
        self._socket.setblocking(False)
        try:
            while True:
                self._socket.recv(1)
        except OSError:
            return True

    def interrupt(self) -> None:
        """Ring this doorbell only (its worker is stopping: its wait ends now)."""
        if self._address is not None:
            try:
                _sending_socket().sendto(b"", self._address)
            except OSError:
                pass  # closed already, or its queue is full: either way its wait is over

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
        if self._marker is not None:
            _remove(str(self._marker))


def _sending_socket() -> socket.socket:
    global _sender
    with _sender_lock:
        if _sender is None:
            _sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            _sender.setblocking(False)
        return _sender


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

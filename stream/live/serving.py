"""A threaded HTTP server that its clients cannot hold: caps and deadlines per connection.

``http.server`` gives each connection a thread and waits on it forever; an
idle or trickling client then holds a thread and a file descriptor each, and
enough of them lock everyone out. :class:`Server` bounds all of it (see
:class:`Limits`) and logs clients that go away at debug level only, instead
of printing a traceback for each.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import ThreadingHTTPServer

log = logging.getLogger("dreamstream.stream.live")


@dataclass(frozen=True)
class Limits:
    """What one preview lets its viewers hold (each bounds threads and file descriptors).

    Attributes:
        request_timeout: seconds for a request line and headers to arrive.
        write_timeout: seconds a write may wait for a viewer to read; then it is dropped.
        connections: allowed connections in all (as many more may wait for their request).
        per_client: allowed connections from one address (likewise).
        streams: MJPEG streams in all.
        streams_per_client: MJPEG streams from one address.
    """

    request_timeout: float = 10.0
    write_timeout: float = 5.0
    connections: int = 32
    per_client: int = 8
    streams: int = 8
    streams_per_client: int = 2


class Slots:
    """Counted places for a kind of use, at most ``total`` in all and ``each`` per address."""

    def __init__(self, total: int, each: int):
        self.total, self.each = total, each
        self._lock = threading.Lock()
        self._held: Counter[str] = Counter()

    def take(self, client: str) -> bool:
        """Take a place for ``client``; ``False`` when a cap is reached."""
        with self._lock:
            if sum(self._held.values()) >= self.total or self._held[client] >= self.each:
                return False
            self._held[client] += 1
            return True

    def give_back(self, client: str) -> None:
        with self._lock:
            self._held[client] -= 1
            if self._held[client] <= 0:
                del self._held[client]

    def held(self) -> int:
        with self._lock:
            return sum(self._held.values())


class Waiting:
    """Connections whose request has not been allowed yet, oldest first, each with a deadline.

    At most ``total`` in all and ``each`` per address; a new connection over a
    cap pushes out the oldest waiting one (of its own address when that cap is
    reached), so connections that never show a token cannot keep a token
    holder's connection from being read.
    """

    def __init__(self, total: int, each: int):
        self.total, self.each = total, each
        self._lock = threading.Lock()
        self._entries: dict[socket.socket, tuple[str, float]] = {}  # -> (address, deadline)
        self._deadlines: set[socket.socket] = set()  # those whose request is still unread

    def add(self, request: socket.socket, client: str, deadline: float) -> list[socket.socket]:
        """Count ``request`` as waiting; returns the connections pushed out to make room."""
        with self._lock:
            pushed = []
            mine = [r for r, (c, _) in self._entries.items() if c == client]
            if len(mine) >= self.each:
                pushed.append(mine[0])
            elif len(self._entries) >= self.total:
                pushed.append(next(iter(self._entries)))
            for old in pushed:
                self._drop(old)
            self._entries[request] = (client, deadline)
            self._deadlines.add(request)
            return pushed

    def request_read(self, request: socket.socket) -> None:
        with self._lock:
            self._deadlines.discard(request)

    def remove(self, request: socket.socket) -> bool:
        """Stop counting ``request``; ``False`` if it was not waiting (pushed out, or gone)."""
        with self._lock:
            return self._drop(request)

    def late(self, now: float) -> list[socket.socket]:
        """Remove and return the connections whose request did not arrive by its deadline."""
        with self._lock:
            late = [r for r in self._deadlines if self._entries[r][1] < now]
            for request in late:
                self._drop(request)
            return late

    def held(self) -> int:
        with self._lock:
            return len(self._entries)

    def _drop(self, request: socket.socket) -> bool:
        self._deadlines.discard(request)
        return self._entries.pop(request, None) is not None


def _cut(request: socket.socket) -> None:
    try:
        request.shutdown(socket.SHUT_RDWR)  # its handler's read or write returns at once
    except OSError:
        pass


class Server(ThreadingHTTPServer):
    """One thread per connection, with caps on connections and a deadline per request.

    A connection is *waiting* until its request is read and allowed (see
    :class:`Waiting`: over a cap, the oldest waiting connection is cut), then
    *admitted*: only allowed requests count toward ``Limits.connections`` and
    ``Limits.per_client``, and one over those caps gets a 503. The serving
    loop (every ``poll_interval``) cuts connections whose request has not
    arrived in ``request_timeout``, so a client that trickles bytes cannot hold
    a thread either.
    """

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address, handler, limits: Limits):
        self.limits, self.refused, self.pushed_out = limits, 0, 0
        self.waiting = Waiting(limits.connections, limits.per_client)
        self.connections = Slots(limits.connections, limits.per_client)
        self._admitted: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, handler)

    def verify_request(self, request, client_address) -> bool:
        deadline = time.monotonic() + self.limits.request_timeout
        pushed = self.waiting.add(request, client_address[0], deadline)
        self.pushed_out += len(pushed)
        for old in pushed:
            _cut(old)
        return True

    def request_read(self, request) -> None:
        """The handler has its request: the request deadline no longer applies."""
        self.waiting.request_read(request)

    def admit(self, request, client: str) -> bool:
        """Count an allowed request toward the connection caps; ``False`` when they are full."""
        if not self.waiting.remove(request):
            return False  # pushed out meanwhile: its socket is already cut
        if self.connections.take(client):
            with self._lock:
                self._admitted.add(request)
            return True
        self.refused += 1  # its handler answers 503, within write_timeout
        return False

    def service_actions(self) -> None:
        for request in self.waiting.late(time.monotonic()):
            _cut(request)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.waiting.remove(request)
            with self._lock:
                admitted = request in self._admitted
                self._admitted.discard(request)
            if admitted:
                self.connections.give_back(client_address[0])

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):  # the viewer went away or stalled
            log.debug("preview: %s: %s", client_address[0], error)
        else:
            log.warning("preview: request from %s failed: %r", client_address[0], error)


class Server6(Server):
    address_family = socket.AF_INET6

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

_REFUSED = b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass(frozen=True)
class Limits:
    """What one preview lets its viewers hold (each bounds threads and file descriptors).

    Attributes:
        request_timeout: seconds for a request line and headers to arrive.
        write_timeout: seconds a write may wait for a viewer to read; then it is dropped.
        connections: open connections in all.
        per_client: open connections from one address.
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


class Server(ThreadingHTTPServer):
    """One thread per connection, with caps on connections and a deadline per request.

    A connection over a cap gets a bare 503 and is closed before any thread is
    made. The serving loop (every ``poll_interval``) shuts the sockets of
    connections whose request has not arrived in ``request_timeout``, so a
    client that trickles bytes cannot hold a thread either.
    """

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address, handler, limits: Limits):
        self.limits, self.refused = limits, 0
        self.connections = Slots(limits.connections, limits.per_client)
        self._waiting: dict[socket.socket, float] = {}  # request not read yet -> its deadline
        self._lock = threading.Lock()
        super().__init__(address, handler)

    def verify_request(self, request, client_address) -> bool:
        if self.connections.take(client_address[0]):
            with self._lock:
                self._waiting[request] = time.monotonic() + self.limits.request_timeout
            return True
        self.refused += 1
        try:  # a bare answer that never blocks: the socket is closed right after
            request.setblocking(False)
            request.send(_REFUSED)
        except OSError:
            pass
        return False

    def request_read(self, request) -> None:
        """The handler has its request: the request deadline no longer applies."""
        with self._lock:
            self._waiting.pop(request, None)

    def service_actions(self) -> None:
        now = time.monotonic()
        with self._lock:
            late = [r for r, deadline in self._waiting.items() if deadline < now]
            for request in late:
                del self._waiting[request]
        for request in late:
            try:
                request.shutdown(socket.SHUT_RDWR)  # its handler's read returns at once
            except OSError:
                pass

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.request_read(request)
            self.connections.give_back(client_address[0])

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):  # the viewer went away or stalled
            log.debug("preview: %s: %s", client_address[0], error)
        else:
            log.warning("preview: request from %s failed: %r", client_address[0], error)


class Server6(Server):
    address_family = socket.AF_INET6

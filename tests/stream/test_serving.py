"""The preview cannot be held by its clients: deadlines, caps, slow readers, quiet logs.

Hostile clients come from 127.0.0.2 (Linux routes all of 127/8 to loopback),
well-behaved ones from 127.0.0.1, so per-address caps can be told apart.
Every loop here stops itself at a deadline.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from dreamstream.stream.live.preview import PreviewServer
from dreamstream.stream.live.serving import Limits

TOKEN = "s3cret"
HOSTILE = "127.0.0.2"


def connect(port: int, source: str = HOSTILE, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket()
    if rcvbuf:  # a small receive buffer fills after a few KB: the reader is slow at once
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def reset(sock: socket.socket) -> None:
    """Close with a TCP reset, as a browser tab that is killed does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def frame_status(port: int, token: str | None = TOKEN) -> int:
    url = f"http://127.0.0.1:{port}/frame.jpg" + (f"?token={token}" if token else "")
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Publisher:
    """Publishes fresh noise pictures (big JPEGs) until stopped or a deadline passes."""

    def __init__(self, server: PreviewServer, seconds: float = 20.0, size=(240, 320)):
        self.server, self.size = server, size
        self.stop, self.deadline = threading.Event(), time.monotonic() + seconds
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        rng = np.random.default_rng(0)
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            self.server.publish(rng.integers(0, 256, (*self.size, 3), dtype=np.uint8))
            time.sleep(0.01)

    def __enter__(self) -> Publisher:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5)


@pytest.fixture
def preview(request):
    limits = getattr(request, "param", Limits())
    server = PreviewServer("127.0.0.1", 0, token=TOKEN, limits=limits).start()
    server.publish(np.zeros((24, 32, 3), np.uint8))
    yield server
    server.close()


@pytest.mark.parametrize("preview", [Limits(request_timeout=0.4)], indirect=True)
def test_incomplete_requests_are_cut_at_the_deadline(preview):
    threads = threading.active_count()
    partial = [connect(preview.port) for _ in range(5)]
    for sock in partial:
        sock.sendall(b"GET /frame.jpg HTTP/1.0\r\n")  # never the blank line that ends it
    trickle, begin = connect(preview.port), time.monotonic()
    try:
        while time.monotonic() - begin < 3:  # one byte at a time: each read succeeds
            trickle.sendall(b"X")
            time.sleep(0.05)
    except OSError:
        pass  # cut by the server
    assert time.monotonic() - begin < 1.5
    for sock in partial:
        sock.settimeout(2)
        assert sock.recv(100) == b""  # closed by the server without an answer
        sock.close()
    trickle.close()
    assert wait_until(lambda: threading.active_count() <= threads, 3)
    assert frame_status(preview.port) == 200


@pytest.mark.parametrize("preview", [Limits(connections=6, per_client=3)], indirect=True)
def test_idle_connections_over_a_cap_push_out_the_oldest_and_others_are_still_served(preview):
    idle = [connect(preview.port) for _ in range(5)]  # connect and say nothing
    assert wait_until(lambda: preview.pushed_out == 2, 2)
    answers = []
    for sock in idle:
        sock.setblocking(False)
        try:
            answers.append(sock.recv(100))
        except BlockingIOError:
            answers.append(None)  # still held open, waiting for a request
    assert answers == [b"", b"", None, None, None]  # the two oldest were cut, unanswered
    assert frame_status(preview.port) == 200  # another address is not locked out
    for sock in idle:
        sock.close()


@pytest.mark.parametrize(
    "preview", [Limits(connections=6, per_client=3, streams_per_client=8)], indirect=True
)
def test_allowed_connections_over_a_cap_get_a_503(preview):
    request = f"GET /stream.mjpg?token={TOKEN} HTTP/1.0\r\n\r\n".encode()
    with Publisher(preview):
        viewers = [connect(preview.port) for _ in range(4)]
        answers = []
        for sock in viewers:
            sock.sendall(request)
            sock.settimeout(3)
            answers.append(sock.recv(100)[:12])
        assert answers == [b"HTTP/1.0 200"] * 3 + [b"HTTP/1.0 503"]
        assert preview.refused == 1 and preview.streams.held() == 3
        for sock in viewers:
            sock.close()


LIMITS = Limits(write_timeout=0.3, streams=3, streams_per_client=2)


@pytest.mark.parametrize("preview", [LIMITS], indirect=True)
def test_slow_stream_readers_are_dropped_and_others_keep_watching(preview):
    request = f"GET /stream.mjpg?token={TOKEN} HTTP/1.0\r\n\r\n".encode()
    with Publisher(preview):
        slow = [connect(preview.port, rcvbuf=4096) for _ in range(2)]
        for sock in slow:
            sock.sendall(request)  # and never read
        assert wait_until(lambda: preview.streams.held() == 2, 3)
        third = connect(preview.port)
        third.sendall(request)
        third.settimeout(3)
        assert third.recv(100).startswith(b"HTTP/1.0 503")  # two streams per address
        third.close()
        viewer, parts = connect(preview.port, source="127.0.0.1"), 0
        viewer.sendall(request)
        viewer.settimeout(3)
        begin = time.monotonic()
        while time.monotonic() - begin < 1.5:
            parts += viewer.recv(1 << 20).count(b"--dreamstreamframe")
        assert parts >= 10  # the watching viewer kept getting frames
        assert wait_until(lambda: preview.dropped == 2, 3)  # both non-readers were dropped
        again = connect(preview.port)
        again.sendall(request)
        again.settimeout(3)
        assert again.recv(100).startswith(b"HTTP/1.0 200")  # their slots are free again
        for sock in (*slow, viewer, again):
            sock.close()


def test_a_viewer_that_leaves_while_the_picture_is_still_frees_its_slot(preview):
    viewer = connect(preview.port, source="127.0.0.1")
    viewer.sendall(f"GET /stream.mjpg?token={TOKEN} HTTP/1.0\r\n\r\n".encode())
    viewer.settimeout(3)
    got = b""
    while b"--dreamstreamframe" not in got:  # the headers may come in a packet of their own
        got += viewer.recv(4096)
    assert preview.streams.held() == 1
    reset(viewer)  # gone, and no new picture will come to fail a write (a paused output)
    assert wait_until(lambda: preview.streams.held() == 0, 2)


def hostile_client(port: int, kind: int, deadline: float) -> None:
    """One kind of misbehaviour, repeated until ``deadline``."""
    good = f"GET /stream.mjpg?token={TOKEN} HTTP/1.0\r\n\r\n".encode()
    while time.monotonic() < deadline:
        try:
            sock = connect(port, rcvbuf=4096)
            sock.settimeout(1)
            if kind == 0:  # a request, then gone before the answer
                sock.sendall(b"GET /frame.jpg HTTP/1.0\r\n\r\n")
            elif kind == 1:  # half a request, abandoned
                sock.sendall(b"GET /stream.mj")
            elif kind == 2:  # a stream read a little, then a reset
                sock.sendall(good)
                sock.recv(2000)
            elif kind == 3:  # a stream never read, held for a while
                sock.sendall(good)
                time.sleep(0.3)
            reset(sock)
        except OSError:
            pass  # refused or cut: that is the server defending itself


@pytest.mark.parametrize(
    "preview", [Limits(request_timeout=0.3, write_timeout=0.3, per_client=6)], indirect=True
)
def test_soak_on_loopback_leaves_nothing_held_and_prints_no_traceback(preview, capfd, caplog):
    caplog.set_level(logging.DEBUG, logger="dreamstream")
    threads, fds = threading.active_count(), open_fds()
    deadline = time.monotonic() + 2.0
    clients = [
        threading.Thread(target=hostile_client, args=(preview.port, k % 4, deadline), daemon=True)
        for k in range(12)
    ]
    with Publisher(preview, seconds=10):
        for client in clients:
            client.start()
        served = 0
        while time.monotonic() < deadline:
            served += frame_status(preview.port) == 200
            time.sleep(0.05)
        for client in clients:
            client.join(5)
            assert not client.is_alive()
    assert served >= 10  # the token holder was served throughout
    assert wait_until(lambda: threading.active_count() <= threads, 3)
    assert wait_until(lambda: preview.streams.held() == 0 and open_fds() <= fds, 3)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Error" not in err, err[-2000:]
    # The server logs through logging, which capfd never sees: viewers going away are
    # debug lines, never warnings, and no record carries a traceback.
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert not loud, [r.getMessage() for r in loud][:5]
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # they were logged, quietly


def crowd(port: int, addresses: list[str], deadline: float, held: list) -> None:
    """Connections from ``addresses`` that never send a request, kept while the server keeps
    them and replaced as soon as it closes or refuses one; every third asks without the token.
    """
    import select

    k = 0
    while time.monotonic() < deadline:
        source = addresses[k % len(addresses)]
        k += 1
        try:
            sock = connect(port, source)
            if k % 3 == 0:
                sock.sendall(b"GET /frame.jpg HTTP/1.0\r\n\r\n")
        except OSError:
            time.sleep(0.01)
            continue
        held.append(sock)
        answered, _, _ = select.select(held, [], [], 0.005)
        for gone in answered:  # refused, answered or cut: its place is taken again
            held.remove(gone)
            gone.close()


def test_tokenless_clients_from_many_addresses_cannot_lock_the_token_holder_out(preview):
    """Issue 21, fault 5: 60 loopback addresses reconnecting kept the token holder out."""
    addresses = [f"127.0.0.{10 + i}" for i in range(60)]
    deadline, held = time.monotonic() + 4.0, [[] for _ in range(4)]
    threads = [
        threading.Thread(target=crowd, args=(preview.port, addresses[i::4], deadline, held[i]))
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    assert wait_until(lambda: preview.pushed_out > 0, 5)  # every waiting place is taken
    served = [frame_status(preview.port) for _ in range(10)]
    for thread in threads:
        thread.join(10)
    for sock in (s for group in held for s in group):
        sock.close()
    assert served == [200] * 10, served

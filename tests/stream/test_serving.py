"""The preview cannot be held by its clients: deadlines, caps, slow readers, quiet logs.

Hostile clients come from 127.0.0.2 (Linux routes all of 127/8 to loopback),
well-behaved ones from 127.0.0.1, so per-address caps can be told apart.
Every loop here stops itself at a deadline.
"""

from __future__ import annotations

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
def test_connection_caps_refuse_the_excess_and_others_are_still_served(preview):
    idle = [connect(preview.port) for _ in range(5)]  # connect and say nothing
    time.sleep(0.5)
    answers = []
    for sock in idle:
        sock.setblocking(False)
        try:
            answers.append(sock.recv(100))
        except BlockingIOError:
            answers.append(None)  # still held open, waiting for a request
    assert answers.count(None) == 3 and preview.refused == 2
    assert all(a is None or a.startswith(b"HTTP/1.0 503") for a in answers), answers
    assert frame_status(preview.port) == 200  # another address is not locked out
    for sock in idle:
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
def test_soak_on_loopback_leaves_nothing_held_and_prints_no_traceback(preview, capfd):
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

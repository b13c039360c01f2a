"""A tiny HTTP preview of live mode's output: an MJPEG stream and a page that shows it.

It serves the current output picture and nothing else: ``/`` (a page),
``/stream.mjpg`` (``multipart/x-mixed-replace`` JPEGs, one per new output
frame) and ``/frame.jpg`` (the current picture); every other path is 404 and
no file is ever read. It binds to loopback unless told otherwise; binding to
any other address needs a token, which every request must then carry as
``?token=...`` or an ``Authorization: Bearer ...`` header (compared in
constant time). Without a token, requests whose ``Host`` is not a loopback
name are refused, so a web page elsewhere cannot read the feed through DNS
rebinding.

A viewer cannot hold the server: the request line and headers must arrive
within ``Limits.request_timeout`` s, a write that cannot go out within
``Limits.write_timeout`` s drops that viewer (a stream that is not read holds
its slot only that long), at most ``Limits.connections`` allowed connections
are open (``Limits.per_client`` from one address) and at most
``Limits.streams`` MJPEG streams (``Limits.streams_per_client`` from one
address); an allowed request over a cap gets a 503. A request is allowed
once it shows the token (or, without one, a loopback ``Host``); until then a
connection counts only among the waiting ones (as many again), where a new
connection over a cap cuts the oldest: clients without the token cannot take
a place a token holder needs. Viewers that go away are logged at debug
level only.

Pictures given to :meth:`PreviewServer.publish` are ``uint8`` ``HxWx3`` **RGB**.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import logging
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.stream.live import controlpage
from dreamstream.stream.live.serving import Limits, Server, Server6, Slots

log = logging.getLogger("dreamstream.stream.live")

JPEG_QUALITY = 80
BOUNDARY = "dreamstreamframe"
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>dreamstream live</title>
<style>body{{margin:0;background:#111;color:#ccc;font:14px sans-serif}}
img{{display:block;max-width:100vw;max-height:95vh;margin:auto}}</style></head>
<body><img src="/stream.mjpg{query}" alt="dreamstream live preview">
<p style="text-align:center">dreamstream live preview</p></body></html>
"""


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT``, ``PORT`` or ``[::1]:PORT`` as ``(host, port)``; host defaults
    to 127.0.0.1.

    Raises:
        InputError: not an address with a port 0-65535.
    """
    host, sep, port = str(text).rpartition(":")
    if not sep:
        host, port = "", text
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InputError(f"--serve must be HOST:PORT with a port 0-65535, got {text!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an IP) only reaches this machine."""
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Latest:
    """The current picture, JPEG-encoded once per version, shared by all clients."""

    def __init__(self):
        self.cond = threading.Condition()
        self.version = 0
        self._image: np.ndarray | None = None
        self._jpeg: bytes | None = None
        self._jpeg_version = -1

    def put(self, rgb: np.ndarray) -> None:
        with self.cond:
            self._image, self.version = rgb, self.version + 1
            self.cond.notify_all()

    def jpeg(self) -> tuple[int, bytes | None]:
        """``(version, jpeg bytes)`` of the current picture (``None`` before the first)."""
        with self.cond:
            image, version = self._image, self.version
            if image is None or version == self._jpeg_version:
                return version, self._jpeg
        ok, data = cv2.imencode(
            ".jpg",
            np.ascontiguousarray(image[:, :, ::-1]),
            [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY],
        )
        with self.cond:  # encode outside the lock: publishers never wait on a client
            if ok and version > self._jpeg_version:
                self._jpeg, self._jpeg_version = data.tobytes(), version
            return self._jpeg_version, self._jpeg


class PreviewServer:
    """Serves the latest published picture over HTTP on a daemon thread.

    Args:
        host: address to bind; anything but loopback needs ``token``.
        port: port to bind (0: any free port; see ``port`` after construction).
        token: secret that every request must carry, or ``None``.
        control: a :class:`~.control.Control`: serves the control page and its
            JSON routes (:mod:`.controlpage`) too; ``None``: the preview only.

    Attributes:
        url: the page's address (with the token's query when one is set).
        port: the port actually bound.

    Raises:
        InputError: a non-loopback address without a token, or the port cannot be bound.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        token: str | None = None,
        limits: Limits = Limits(),  # noqa: B008 -- frozen, so one shared default is safe
        control=None,
    ):
        if not is_loopback(host) and not token:
            raise InputError(f"--serve {host}:{port} is not loopback: it needs --serve-token")
        self.token, self.loopback, self.limits = token or None, is_loopback(host), limits
        self.latest = _Latest()
        self.control = control
        self.closing = threading.Event()
        self.streams = Slots(limits.streams, limits.streams_per_client)
        self.dropped = 0  # stream viewers dropped for not reading
        handler = type("Handler", (_Handler,), {"preview": self, "timeout": limits.write_timeout})
        server = Server if ":" not in host else Server6
        try:
            self._httpd = server((host, port), handler, limits)
        except OSError as exc:
            raise InputError(f"--serve {host}:{port}: cannot listen ({exc.strerror})") from None
        self.host, self.port = host, self._httpd.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}/"  # never the token: this is printed
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            name="preview",
            kwargs={"poll_interval": 0.2},
            daemon=True,
        )

    def start(self) -> PreviewServer:
        """Start serving on a daemon thread."""
        self._thread.start()
        return self

    def publish(self, rgb: np.ndarray) -> None:
        """Make ``rgb`` (uint8 HxWx3 RGB) the current picture; it is encoded only if watched."""
        self.latest.put(rgb)

    def close(self) -> None:
        """Stop serving, end open streams and free the port."""
        self.closing.set()
        with self.latest.cond:
            self.latest.cond.notify_all()
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def refused(self) -> int:
        """Allowed requests answered 503 because a connection cap was reached."""
        return self._httpd.refused

    @property
    def pushed_out(self) -> int:
        """Connections cut before their request was allowed, to make room for newer ones."""
        return self._httpd.pushed_out

    def allowed(self, query: str, headers) -> bool:
        """Whether a request with this query string and headers may see the preview."""
        if self.token is None:  # loopback only (see __init__): refuse foreign Host names
            name = _host_name(headers.get("Host") or "")
            return not name or is_loopback(name)
        given = parse_qs(query).get("token", [""])[0]
        scheme, _, credentials = (headers.get("Authorization") or "").strip().partition(" ")
        if scheme.lower() == "bearer":  # auth schemes are case-insensitive (RFC 9110 11.1)
            given = credentials.strip()
        return hmac.compare_digest(given.encode(), self.token.encode())


def _host_name(host: str) -> str:
    """The name part of a ``Host`` header (``[::1]:80`` -> ``::1``, ``a:80`` -> ``a``)."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.split(":", 1)[0].strip().lower()


class _Handler(BaseHTTPRequestHandler):
    """GET only; three paths; everything checked against the token first."""

    preview: PreviewServer
    server_version = "dreamstream-preview"
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args) -> None:  # noqa: A002 -- the base class's name
        pass  # an installation's log should not fill with one line per request

    def do_GET(self) -> None:  # noqa: N802 -- http.server's name
        self.server.request_read(self.request)
        parts = urlsplit(self.path)
        if not self.preview.allowed(parts.query, self.headers):
            self.send_error(403, "a valid token is needed")  # it never counted toward a cap
            return
        if not self.server.admit(self.request, self.client_address[0]):
            self.send_error(503, "too many connections")
            return
        route = {
            "/": self._page,
            "/index.html": self._page,
            "/frame.jpg": self._frame,
            "/stream.mjpg": self._stream,
        }.get(parts.path)
        if route is None and controlpage.handle(self, parts, "GET"):
            return
        if route is None:
            self.send_error(404)
            return
        route(parts.query)

    def do_POST(self) -> None:  # noqa: N802
        self.server.request_read(self.request)
        parts = urlsplit(self.path)
        if self.preview.control is None or parts.path != "/api/control":
            self.send_error(405)
        elif not self.preview.allowed(parts.query, self.headers):
            self.send_error(403, "a valid token is needed")
        elif not self.server.admit(self.request, self.client_address[0]):
            self.send_error(503, "too many connections")
        else:
            controlpage.handle(self, parts, "POST")  # a change for the control (controlpage)

    def do_PUT(self) -> None:  # noqa: N802
        self.server.request_read(self.request)
        self.send_error(405)

    do_DELETE = do_PUT

    def _page(self, query: str) -> None:
        token = self.preview.token
        suffix = "?token=" + html.escape(token, quote=True) if token else ""
        page = PAGE.format(query=suffix).encode()
        controlpage.respond(self, 200, "text/html; charset=utf-8", page)

    def _frame(self, query: str) -> None:
        _, data = self.preview.latest.jpeg()
        if data is None:
            self.send_error(503, "no frame yet")
            return
        controlpage.respond(self, 200, "image/jpeg", data)

    def _stream(self, query: str) -> None:
        client, slots = self.client_address[0], self.preview.streams
        if not slots.take(client):
            self.send_error(503, "too many viewers")
            return
        try:
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self._stream_parts()
        except TimeoutError:  # a write waited write_timeout: a viewer that does not read
            self.preview.dropped += 1
            log.debug("preview: dropped a viewer at %s that stopped reading", client)
        except ConnectionError:
            log.debug("preview: a viewer at %s went away", client)
        finally:
            self.close_connection = True
            slots.give_back(client)

    def _viewer_left(self) -> bool:
        """Whether the viewer closed its end (readable, with nothing to read)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _stream_parts(self) -> None:
        latest, closing, sent = self.preview.latest, self.preview.closing, -1
        while not closing.is_set():
            with latest.cond:
                if latest.version == sent:
                    latest.cond.wait(0.5)
            version, data = latest.jpeg()
            if data is None or version == sent:
                if self._viewer_left():  # no write would tell us while the picture is still
                    return
                continue
            head = (
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
            ).encode()
            self.wfile.write(head + data + b"\r\n")
            self.wfile.flush()
            sent = version
            time.sleep(0.01)  # caps a viewer at ~100 parts/s whatever the output rate

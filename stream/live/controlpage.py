"""The control page of live mode, and the JSON routes it (or any client) uses.

Served by the preview server (:mod:`.preview`, same token rules):

- ``GET /control``: the page: the live picture, the look list, the current
  mode's sliders, pause/reset/fullscreen and live readouts; it works on a
  phone's browser (one column, large touch targets);
- ``GET /api/state``: the loop's state as JSON (see :func:`.control.snapshot`);
- ``POST /api/control`` with a JSON object body (``{"strength": 0.6}``), or
  ``GET /api/control?strength=0.6``: queue changes for the next frame
  (see :mod:`.control`); answers the checked changes, or 400 with the reason.

The handlers only write into the :class:`~.control.Control`; the loop applies
the changes at its next frame, so a request never waits on the loop. Changes
coming from another web site are refused (``Origin`` or ``Sec-Fetch-Site``
naming another site): a page elsewhere cannot steer the piece through the
visitor's browser, token or not.
"""

from __future__ import annotations

import json
import time
from importlib import resources
from urllib.parse import parse_qsl, urlsplit

from dreamstream.core.errors import InputError

MAX_BODY = 4096  # bytes of a change request; a change is a few dozen
ROUTES = ("/control", "/api/state", "/api/control")


def handle(handler, parts, method: str) -> bool:
    """Answer a control route on the preview's request ``handler``; False: not one of ours.

    Args:
        handler: the preview's ``BaseHTTPRequestHandler`` (``handler.preview`` is the
            :class:`~.preview.PreviewServer`, its ``control`` the queue to write into).
        parts: the request's ``urlsplit`` path.
        method: ``"GET"`` or ``"POST"``.
    """
    preview = handler.preview
    if preview.control is None or parts.path not in ROUTES:
        return False
    if method == "POST" and parts.path != "/api/control":
        handler.send_error(405)
    elif not preview.allowed(parts.query, handler.headers):
        handler.send_error(403, "a valid token is needed")
    elif parts.path == "/control":
        respond(handler, 200, "text/html; charset=utf-8", page(preview.token))
    elif parts.path == "/api/state":
        respond(handler, 200, "application/json", state_body(preview.control))
    else:
        _change(handler, parts.query, method)
    return True


def _change(handler, query: str, method: str) -> None:
    """Queue the changes asked for (the loop applies them at its next frame)."""
    body = None
    if method == "POST":
        length = handler.headers.get("Content-Length") or ""
        if not length.isdigit() or int(length) > MAX_BODY:
            handler.send_error(413 if length.isdigit() else 411)
            return
        body = _read_body(handler, int(length), handler.preview.limits.request_timeout)
    status, answer = submit(handler.preview.control, method, query, handler.headers, body)
    respond(handler, status, "application/json", answer)


def _read_body(handler, size: int, seconds: float) -> bytes:
    """``size`` bytes of body within ``seconds``: a trickling client cannot hold a thread."""
    deadline, parts = time.monotonic() + seconds, []
    while size > 0:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request body came too slowly")
        handler.connection.settimeout(left)
        part = handler.rfile.read1(size)
        if not part:
            raise ConnectionError("the client went away mid-body")
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def respond(handler, status: int, kind: str, body: bytes) -> None:
    """Send ``body`` as a whole, uncached response (the preview's routes answer alike)."""
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Cache-Control", "no-store")
    handler.end_headers()
    handler.wfile.write(body)


def page(token: str | None) -> bytes:
    """The control page, with the token (if any) for its own requests."""
    text = resources.files("dreamstream.stream.live").joinpath("control.html").read_text("utf-8")
    # As a JSON string inside a script: "</" is escaped so a token cannot end the script.
    literal = json.dumps(token or "").replace("</", "<\\/")
    return text.replace("__TOKEN__", literal).encode("utf-8")


def state_body(control) -> bytes:
    """``GET /api/state``: the loop's last published state."""
    return json.dumps(control.state()).encode()


def cross_site(headers) -> bool:
    """Whether a request was sent by a page of another site (its browser says so)."""
    fetch_site = (headers.get("Sec-Fetch-Site") or "").strip().lower()
    if fetch_site in ("cross-site", "same-site"):
        return True
    origin = (headers.get("Origin") or "").strip()
    if not origin:
        return False
    host = (headers.get("Host") or "").strip().lower()
    return origin == "null" or urlsplit(origin).netloc.lower() != host


def changes_of(method: str, query: str, headers, body: bytes | None) -> dict:
    """The changes a request asks for: its JSON body (POST) or its query (GET).

    Raises:
        InputError: a body that is not a JSON object, or no change at all.
    """
    if method == "POST":
        kind = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "application/json":  # a plain form post from elsewhere cannot pass
            raise InputError("changes are posted as application/json")
        try:
            changes = json.loads(body or b"")
        except (ValueError, UnicodeDecodeError):
            raise InputError("the body is not JSON") from None
        if not isinstance(changes, dict):
            raise InputError('the body must be a JSON object such as {"strength": 0.6}')
        return changes
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "token"]
    if not pairs:
        raise InputError("no change given, e.g. /api/control?strength=0.6")
    return {k: (v if v != "" else None) for k, v in pairs}


def submit(control, method: str, query: str, headers, body: bytes | None) -> tuple[int, bytes]:
    """Queue a request's changes; (HTTP status, JSON body) to answer."""
    if cross_site(headers):
        return 403, json.dumps({"error": "changes from another site are refused"}).encode()
    try:
        accepted = control.submit(changes_of(method, query, headers, body))
    except InputError as exc:
        return 400, json.dumps({"error": str(exc)}).encode()
    return 200, json.dumps({"accepted": accepted}).encode()

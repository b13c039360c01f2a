"""Whether a window can be opened, found out without opening one.

OpenCV's Qt window aborts the whole process (exit 134) when ``DISPLAY`` is
unset or names an X server that does not answer, and the pip wheels carry
only Qt's X11 (``xcb``) platform, so a Wayland session needs XWayland's
``DISPLAY`` too. So before anything loads, :func:`display_problem` checks that
``DISPLAY`` is set and that an X server accepts a connection on its socket
(a local ``/tmp/.X11-unix/XN`` socket, its abstract twin, or TCP port
6000 + N for ``host:N``), and that this OpenCV was built with a GUI at all.
Nothing here imports a framework or opens a window.
"""

from __future__ import annotations

import os
import re
import socket
import sys

X11_SOCKETS = "/tmp/.X11-unix"  # where local X servers listen (X{N})
X11_TCP_BASE = 6000  # display N listens on TCP port 6000 + N
_DISPLAY = re.compile(r"^(?P<host>[^:]*):(?P<number>\d+)(?:\.\d+)?$")
_PROBE_TIMEOUT_S = 0.5
# Qt platforms that need no display server; a user who sets one asked for it.
_HEADLESS_QT = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb")


def display_problem() -> str | None:
    """Why no window can be opened here, or ``None`` when one can.

    Returns:
        A short reason such as ``"DISPLAY is not set"`` or
        ``"no X server answers at DISPLAY=:99"``; ``None`` off Linux (the
        platform's own window system is assumed) or when a display answers.
    """
    if not sys.platform.startswith("linux"):
        return None
    if not _opencv_has_gui():
        return "this OpenCV build has no window support (opencv-python-headless?)"
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in _HEADLESS_QT:
        return None
    display = os.environ.get("DISPLAY", "")
    if not display:
        return "DISPLAY is not set"
    if not x_server_answers(display):
        return f"no X server answers at DISPLAY={display}"
    return None


def x_server_answers(display: str) -> bool:
    """Whether an X server accepts a connection for ``display`` (``:0``, ``host:10.0``).

    Only the connection is tried; an X server that then refuses us (no
    authorisation) is left for the window to report.
    """
    match = _DISPLAY.match(display.strip())
    if match is None:
        return False
    host, number = match["host"], int(match["number"])
    if host in ("", "unix"):
        path = f"{X11_SOCKETS}/X{number}"
        return _connects(socket.AF_UNIX, path) or _connects(socket.AF_UNIX, "\0" + path)
    try:
        infos = socket.getaddrinfo(host, X11_TCP_BASE + number, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return any(_connects(family, address) for family, _, _, _, address in infos)


def _connects(family: int, address) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(_PROBE_TIMEOUT_S)
        try:
            probe.connect(address)
        except OSError:
            return False
    return True


def _opencv_has_gui() -> bool:
    """Whether this OpenCV was built with a window backend (headless wheels are not)."""
    import cv2

    info = cv2.getBuildInformation()
    match = re.search(r"^\s*GUI:\s*(\S+)", info, re.MULTILINE)
    return match is None or match[1].upper() not in ("NONE", "NO")

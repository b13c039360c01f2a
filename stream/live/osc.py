"""OSC input for live mode (``--osc HOST:PORT``): the control page's changes as OSC messages.

Each address is a control's name (see :mod:`.control`), its first argument the
value; the address space mirrors the page:

=====================  ==============================================
``/look i``            pick look i (0-based)
``/next``, ``/previous``  the next / previous look
``/cycle [0|1]``       cycling off / on (no argument: toggle)
``/period f``          the cycle's period in seconds
``/pause [0|1]``       pause off / on (no argument: toggle)
``/reset``             drop the carried dream / styled history
``/fullscreen``        toggle the window's fullscreen
``/overlay [0|1]``     the fps/latency overlay
``/blend f``           dream: carry strength 0-1
``/steps i``           dream: ascent steps per carried frame 0-50
``/layers s``          dream: a preset's layers (``deep``, ``eyes``...)
``/style s|i``         style: 0-25 or a blend ``3:0.5,12:0.5``
``/strength f``        style: strength 0-1
``/temporal f``        style: temporal weight 0-1
``/mask s``            ``none``, ``person``, ``background`` or (dreams) ``saliency``
``/react [0|1]``       react to motion off / on (no argument: toggle)
``/rise f``, ``/fall f``  react's rise and fall times, 0.05-60 s
``/attract f``         attract mode after f quiet seconds; 0: off
=====================  ==============================================

Every address also answers under ``/dreamstream`` (``/dreamstream/next``), for
senders that prefix their messages. A trigger (``/next``, ``/previous``,
``/reset``, ``/fullscreen``) sent with a 0 argument is ignored: a button
controller sends 1 on press and 0 on release. Messages only queue a change
(:meth:`.control.Control.submit`): the server never waits on the loop. Needs
python-osc (``pip install 'dreamstream[live]'``).
"""

from __future__ import annotations

import logging
import socket
import threading

from dreamstream.core.errors import InputError
from dreamstream.stream.live.control import NAMES, TRIGGERS
from dreamstream.stream.live.preview import is_loopback, parse_address

log = logging.getLogger("dreamstream.stream.live")
PREFIX = "/dreamstream"


def need(module: str, extra: str, package: str):
    """Import an optional package, or InputError naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(
            f"{package} is not installed: pip install 'dreamstream[{extra}]'"
        ) from None


def parse_osc_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (host default 127.0.0.1) for ``--osc``."""
    try:
        return parse_address(text)
    except InputError:
        raise InputError(f"--osc must be HOST:PORT with a port 0-65535, got {text!r}") from None


class OscServer:
    """Receives OSC over UDP on a daemon thread and queues the changes on ``control``.

    Args:
        control: the :class:`~.control.Control` to write into.
        host, port: where to listen (port 0: any free port; see ``port``).

    Raises:
        InputError: python-osc missing, or the address cannot be bound.
    """

    def __init__(self, control, host: str = "127.0.0.1", port: int = 9000):
        need("pythonosc", "live", "python-osc")
        from pythonosc.dispatcher import Dispatcher
        from pythonosc.osc_server import BlockingOSCUDPServer

        self.control = control
        self.received = self.rejected = 0
        self.last_error: str | None = None
        dispatcher = Dispatcher()
        for name in NAMES:
            for address in (f"/{name}", f"{PREFIX}/{name}"):
                dispatcher.map(address, self._on_message, name)
        dispatcher.set_default_handler(self._on_unknown)
        server = BlockingOSCUDPServer
        if ":" in host:  # an IPv6 address needs a server of that family
            server = type("Osc6", (BlockingOSCUDPServer,), {"address_family": socket.AF_INET6})
        try:
            self._server = server((host, port), dispatcher)
        except OSError as exc:
            raise InputError(f"--osc {host}:{port}: cannot listen ({exc.strerror})") from None
        self.host, self.port = host, self._server.server_address[1]
        self.loopback = is_loopback(host)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="osc",
            daemon=True,
        )

    def start(self) -> OscServer:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop listening and free the port."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def _on_message(self, address: str, names: list, *args) -> None:
        name = names[0]
        value = args[0] if args else None
        if name in TRIGGERS and args and not value:
            return  # a button's release
        try:
            self.control.submit({name: value})
        except InputError as exc:
            self.rejected += 1
            self.last_error = f"{address}: {exc}"
            log.debug("osc: %s", self.last_error)
            return
        self.received += 1

    def _on_unknown(self, address: str, *args) -> None:
        self.rejected += 1
        self.last_error = f"unknown OSC address {address}"
        log.debug("osc: %s", self.last_error)

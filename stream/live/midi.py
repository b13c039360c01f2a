"""MIDI input for live mode (``--midi PORT [--midi-map FILE]``): knobs, faders and pads.

A small TOML mapping file says what each controller (CC) and note does; each
entry names a control of :mod:`.control` (the page's and OSC's names)::

    [cc.1]              # controller 1, any channel: 0-127 -> 0-1
    control = "strength"
    [cc.7]
    control = "steps"
    min = 0             # 0-127 -> min-max (default 0-1; whole numbers for steps, look)
    max = 10
    [cc.64]             # a toggle on a CC: on at 64 and above
    control = "pause"
    [note.36]           # a pad: next look
    control = "next"
    [note.40]
    control = "look"
    value = 2           # a fixed value (without one: a trigger fires, a toggle flips,
    channel = 10        # a number takes the velocity); channel 1-16 (default: any)

Without ``--midi-map`` :data:`DEFAULT_MAPPING` applies. Messages only queue
changes (:meth:`.control.Control.submit`), on the reader's own thread. Needs
mido with python-rtmidi for a real port (``pip install 'dreamstream[midi]'``);
any mido input port works, which is how the tests feed it.
"""

from __future__ import annotations

import logging
import threading
import tomllib
from pathlib import Path

from dreamstream.core.errors import InputError
from dreamstream.stream.live.control import NAMES, TOGGLES, TRIGGERS, check_change

log = logging.getLogger("dreamstream.stream.live")

POLL_S = 0.005  # how often the reader looks at its port: a few ms of added latency at most
WHOLE = ("look", "steps")  # controls that take whole numbers
DEFAULT_MAPPING = {
    "cc": {
        1: {"control": "strength"},
        2: {"control": "temporal"},
        3: {"control": "blend"},
        4: {"control": "steps", "min": 0, "max": 10},
    },
    "note": {
        59: {"control": "previous"},
        60: {"control": "next"},
        62: {"control": "pause"},
        64: {"control": "reset"},
        65: {"control": "cycle"},
    },
}
_KEYS = {"control", "min", "max", "value", "channel"}


def _entry(where: str, raw) -> dict:
    """One checked mapping entry."""
    if not isinstance(raw, dict) or set(raw) - _KEYS or "control" not in raw:
        raise InputError(f"{where} must be a table with control (and min, max, value, channel)")
    name = raw["control"]
    if name not in NAMES:
        raise InputError(f"{where}: unknown control {name!r}; known: {', '.join(NAMES)}")
    entry = {"control": name, "min": raw.get("min", 0), "max": raw.get("max", 1)}
    for key in ("min", "max"):
        if not isinstance(entry[key], int | float) or isinstance(entry[key], bool):
            raise InputError(f"{where}: {key} must be a number, got {entry[key]!r}")
    channel = raw.get("channel")
    if channel is not None and (not isinstance(channel, int) or not 1 <= channel <= 16):
        raise InputError(f"{where}: channel must be 1-16, got {channel!r}")
    entry["channel"] = channel
    if "value" in raw:
        entry["value"] = check_change(name, raw["value"])
    return entry


def check_mapping(mapping: dict, origin: str = "the MIDI mapping") -> dict:
    """``{"cc": {number: entry}, "note": {number: entry}}`` checked, numbers as ints.

    Raises:
        InputError: an unknown section, number, control or key, naming where.
    """
    if set(mapping) - {"cc", "note"}:
        raise InputError(f"{origin}: sections are [cc.N] and [note.N], got {sorted(mapping)}")
    checked: dict = {"cc": {}, "note": {}}
    for kind in ("cc", "note"):
        for number, raw in mapping.get(kind, {}).items():
            if not str(number).isdigit() or not 0 <= int(number) <= 127:
                raise InputError(f"{origin}: [{kind}.{number}]: the number must be 0-127")
            checked[kind][int(number)] = _entry(f"{origin}: [{kind}.{number}]", raw)
    return checked


def load_mapping(path: str | None) -> dict:
    """The mapping in TOML file ``path`` (``None``: :data:`DEFAULT_MAPPING`), checked."""
    if path is None:
        return check_mapping(DEFAULT_MAPPING)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--midi-map {path}: cannot read it ({exc.strerror})") from None
    try:
        mapping = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"--midi-map {path}: not TOML ({exc})") from None
    return check_mapping(mapping, f"--midi-map {path}")


def change_for(mapping: dict, message) -> dict | None:
    """The change a mido message asks for under ``mapping``, or ``None``."""
    if message.type == "control_change":
        entry, level = mapping["cc"].get(message.control), message.value
    elif message.type == "note_on" and message.velocity > 0:  # velocity 0 is a release
        entry, level = mapping["note"].get(message.note), message.velocity
    else:
        return None
    if entry is None or (entry["channel"] and entry["channel"] != message.channel + 1):
        return None
    name = entry["control"]
    if "value" in entry:
        return {name: entry["value"]}
    if name in TRIGGERS:
        return {name: True} if level >= 64 or message.type == "note_on" else None
    if name in TOGGLES:
        return {name: None} if message.type == "note_on" else {name: int(level >= 64)}
    value = entry["min"] + (entry["max"] - entry["min"]) * level / 127
    return {name: round(value) if name in WHOLE else round(value, 4)}


class MidiInput:
    """Reads a mido input port on a daemon thread and queues the mapped changes.

    Args:
        port: an open mido input port (closed by :meth:`close`).
        mapping: a checked mapping (:func:`load_mapping`).
        control: the :class:`~.control.Control` to write into.
    """

    def __init__(self, port, mapping: dict, control):
        self.port, self.mapping, self.control = port, mapping, control
        self.name = getattr(port, "name", "") or ""
        self.received = self.rejected = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="midi", daemon=True)

    @classmethod
    def open(cls, name: str, mapping: dict, control) -> MidiInput:
        """Open the input port called ``name`` (or the only one containing it).

        Raises:
            InputError: mido or python-rtmidi missing, or no such port (the ports are listed).
        """
        from dreamstream.stream.live.osc import need

        mido = need("mido", "midi", "mido")
        need("rtmidi", "midi", "python-rtmidi")
        try:
            names = mido.get_input_names()
        except Exception as exc:  # noqa: BLE001 -- no MIDI system (no ALSA sequencer...)
            raise InputError(f"--midi {name}: no MIDI system here ({exc})") from None
        matches = [n for n in names if n == name] or [n for n in names if name in n]
        if len(matches) != 1:
            found = ", ".join(repr(n) for n in names) or "none"
            what = "no such MIDI input" if not matches else "more than one MIDI input matches"
            raise InputError(f"--midi {name}: {what}; inputs: {found}")
        return cls(mido.open_input(matches[0]), mapping, control)

    def start(self) -> MidiInput:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(1.0)
        self.port.close()

    def handle(self, message) -> None:
        """Queue the change one mido message maps to (others are ignored)."""
        change = change_for(self.mapping, message)
        if change is None:
            return
        try:
            self.control.submit(change)
        except InputError as exc:
            self.rejected += 1
            log.debug("midi: %s", exc)
            return
        self.received += 1

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                for message in self.port.iter_pending():
                    self.handle(message)
            except Exception:  # noqa: BLE001 -- a device pulled out must not end the show
                log.warning("midi: reading %s failed; trying again in a second", self.name)
                self._stop.wait(1.0)
            self._stop.wait(POLL_S)

"""Live mode's remote-control options: the control page, OSC and MIDI, set up from the CLI.

The control page needs ``--serve`` (it is served by the preview server, with
its token rules); ``--osc`` and ``--midi`` start their own listeners. All of
them write into one :class:`~.control.Control` that the loop reads once per
frame.
"""

from __future__ import annotations

from dreamstream.core.errors import InputError


def add_arguments(parser) -> None:
    """Add ``--osc``, ``--midi`` and ``--midi-map`` to ``parser``."""
    add = parser.add_argument
    add(
        "--osc",
        metavar="HOST:PORT",
        help="take OSC messages on this UDP address, e.g. 127.0.0.1:9000 (/look 3, /next, "
        "/strength 0.6, /pause 1...; see docs/live-control.md; needs dreamstream[live])",
    )
    add(
        "--midi",
        metavar="PORT",
        help="take MIDI from this input port (a name, or part of one; needs dreamstream[midi])",
    )
    add(
        "--midi-map",
        metavar="FILE",
        help="TOML file mapping MIDI controllers and notes to controls (with --midi)",
    )


def check(args) -> None:
    """Reject bad remote-control options before anything is opened."""
    from dreamstream.stream.live.osc import parse_osc_address

    if getattr(args, "osc", None):
        parse_osc_address(args.osc)
    if getattr(args, "midi_map", None) and not getattr(args, "midi", None):
        raise InputError("--midi-map needs --midi PORT")
    if getattr(args, "midi", None):
        from dreamstream.stream.live.midi import load_mapping

        load_mapping(args.midi_map)


def wanted(args) -> bool:
    """Whether any remote control is asked for (the page comes with --serve)."""
    return bool(args.serve or getattr(args, "osc", None) or getattr(args, "midi", None))


def start(args, control, say) -> list:
    """Start the OSC and MIDI listeners asked for; returns them (each has ``close()``)."""
    started = []
    try:
        if getattr(args, "osc", None):
            from dreamstream.stream.live.osc import OscServer, parse_osc_address

            osc = OscServer(control, *parse_osc_address(args.osc)).start()
            started.append(osc)
            where = "" if osc.loopback else " (not loopback: anyone on the network can steer)"
            say(f"OSC on udp://{osc.host}:{osc.port}{where}")
        if getattr(args, "midi", None):
            from dreamstream.stream.live.midi import MidiInput, load_mapping

            midi = MidiInput.open(args.midi, load_mapping(args.midi_map), control).start()
            started.append(midi)
            say(f"MIDI from {midi.name!r}")
    except Exception:
        for part in started:
            part.close()
        raise
    return started

"""OSC (real UDP packets over loopback) and MIDI (mido messages through an in-memory port)."""

from __future__ import annotations

import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.live.control import Control
from dreamstream.stream.live.midi import MidiInput, change_for, check_mapping, load_mapping
from dreamstream.stream.live.osc import OscServer, need, parse_osc_address
from tests.stream.test_live_control import Running, wait_for

mido = pytest.importorskip("mido", reason="mido is in the test extra")
udp_client = pytest.importorskip("pythonosc.udp_client", reason="python-osc is in the test extra")


@pytest.fixture
def running():
    run = Running()
    yield run
    run.close()


def test_osc_packets_steer_the_running_loop(running):
    osc = OscServer(running.control, "127.0.0.1", 0).start()
    try:
        client = udp_client.SimpleUDPClient("127.0.0.1", osc.port)
        client.send_message("/strength", 0.25)
        client.send_message("/dreamstream/temporal", 0.5)  # the prefixed form
        state = running.settled(lambda s: s["settings"]["temporal"] == 0.5, "the OSC sliders")
        assert state["settings"]["strength"] == 0.25 and state["look"] == 0
        client.send_message("/next", 1)
        state = running.settled(lambda s: s["look"] == 1, "the next look")
        assert state["label"] == "style 7" and state["settings"]["strength"] == 1.0  # its own
        client.send_message("/next", 0)  # a button's release: ignored
        client.send_message("/pause", [])  # no argument: toggle
        state = running.settled(lambda s: s["paused"], "paused by OSC")
        assert state["look"] == 1
        client.send_message("/pause", 0)
        client.send_message("/look", 0)
        running.settled(lambda s: not s["paused"] and s["look"] == 0, "look 0, running")
        client.send_message("/strength", 3.0)  # out of range
        client.send_message("/volume", 1)  # not ours
        wait_for(lambda: osc.rejected == 2, what="two refusals")
        assert "strength must be a number between 0 and 1" in osc.last_error or "volume" in (
            osc.last_error
        )
        assert osc.received == 6
    finally:
        osc.close()


def test_osc_address_and_port_errors():
    assert parse_osc_address("127.0.0.1:9000") == ("127.0.0.1", 9000)
    assert parse_osc_address(":9001") == ("127.0.0.1", 9001)
    with pytest.raises(InputError, match="--osc must be HOST:PORT"):
        parse_osc_address("127.0.0.1:nine")
    first = OscServer(Control(), "127.0.0.1", 0)
    try:
        with pytest.raises(InputError, match=f"--osc 127.0.0.1:{first.port}: cannot listen"):
            OscServer(Control(), "127.0.0.1", first.port)
    finally:
        first.close()


def test_a_missing_package_names_its_extra():
    with pytest.raises(InputError, match=r"^python-osc is not installed: pip install "):
        need("dreamstream_no_such_module", "live", "python-osc")


MAPPING = """
[cc.1]
control = "strength"
[cc.7]
control = "steps"
min = 0
max = 10
[cc.64]
control = "pause"
[note.36]
control = "next"
[note.40]
control = "look"
value = 0
channel = 10
"""


def test_midi_mapping_file_and_messages(tmp_path):
    path = tmp_path / "map.toml"
    path.write_text(MAPPING)
    mapping = load_mapping(str(path))
    cc = mido.Message("control_change", control=1, value=127)
    assert change_for(mapping, cc) == {"strength": 1.0}
    assert change_for(mapping, cc.copy(value=0)) == {"strength": 0.0}
    assert change_for(mapping, mido.Message("control_change", control=7, value=64)) == {"steps": 5}
    assert change_for(mapping, mido.Message("control_change", control=64, value=100)) == {
        "pause": 1
    }
    assert change_for(mapping, mido.Message("note_on", note=36, velocity=90)) == {"next": True}
    assert change_for(mapping, mido.Message("note_on", note=36, velocity=0)) is None  # release
    assert change_for(mapping, mido.Message("note_off", note=36)) is None
    pad = mido.Message("note_on", note=40, velocity=90, channel=9)  # channel 10 on the wire: 9
    assert change_for(mapping, pad) == {"look": 0}
    assert change_for(mapping, pad.copy(channel=0)) is None  # another channel
    assert change_for(mapping, mido.Message("control_change", control=99, value=5)) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[cc.1]\ncontrol = "volume"', r"\[cc.1\]: unknown control 'volume'"),
        ('[cc.200]\ncontrol = "next"', r"\[cc.200\]: the number must be 0-127"),
        ('[pad.1]\ncontrol = "next"', "sections are"),
        ('[note.1]\ncontrol = "look"\nvalue = -2', "look must be a number"),
        ('[note.1]\ncontrol = "next"\nchannel = 17', "channel must be 1-16"),
        ("[note.1\n", "not TOML"),
    ],
)
def test_bad_midi_mappings_say_where(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_mapping(str(path))
    with pytest.raises(InputError, match="cannot read it"):
        load_mapping(str(tmp_path / "none.toml"))


def test_midi_through_an_in_memory_port_steers_the_loop(running):
    port = mido.ports.EchoPort()  # mido's in-memory port: what is sent comes back in
    midi = MidiInput(port, check_mapping({"cc": {1: {"control": "strength"}}}), running.control)
    midi.start()
    try:
        # Bytes as a controller sends them: CC 1 on channel 1, value 0.
        port.send(mido.Message.from_bytes([0xB0, 1, 0]))
        state = running.settled(lambda s: s["settings"]["strength"] == 0.0, "strength from MIDI")
        assert state["look"] == 0 and midi.received == 1
        port.send(mido.Message("note_on", note=60, velocity=100))  # not mapped here
        port.send(mido.Message("control_change", control=1, value=127))
        running.settled(lambda s: s["settings"]["strength"] == 1.0, "strength back to 1")
        assert midi.received == 2
    finally:
        midi.close()
    assert port.closed


def test_opening_a_midi_port_that_is_not_there_is_an_input_error():
    with pytest.raises(InputError, match="--midi no-such-port: "):
        MidiInput.open("no-such-port", load_mapping(None), Control())

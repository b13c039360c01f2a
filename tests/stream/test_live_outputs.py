"""Live outputs into other tools: a network stream read back on loopback, a virtual camera."""

from __future__ import annotations

import socket
import sys
import threading
import time
import types
from fractions import Fraction

import av
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream import cli
from dreamstream.stream.io import Frame, check_output, open_sink
from dreamstream.stream.io.netstream import StreamSink
from dreamstream.stream.io.vcam import VirtualCameraSink

W, H, N = 96, 64, 40


def free_port(kind=socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def picture(i: int) -> np.ndarray:
    """A frame whose left half's red level says its number (survives H.264 well)."""
    image = np.zeros((H, W, 3), np.uint8)
    image[:, : W // 2, 0] = 40 + 4 * i
    image[:, W // 2 :, 2] = 200
    return image


def read_stream(url: str, frames: list, ready: threading.Event) -> None:
    """Decode the MPEG-TS at ``url`` into ``frames`` until N arrive or 5 s pass without data."""
    with av.open(url + "?timeout=5000000&fifo_size=100000", "r", format="mpegts", timeout=8) as c:
        ready.set()
        for frame in c.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) >= N:
                return


def test_udp_stream_round_trip_on_loopback():
    url = f"udp://127.0.0.1:{free_port()}"
    check_output(url, None, False)  # a valid stream output passes the early checks
    got, ready = [], threading.Event()
    reader = threading.Thread(target=read_stream, args=(url, got, ready), daemon=True)
    reader.start()
    ready.wait(5)
    time.sleep(0.3)  # the reader's socket is bound once av.open has returned
    sink = open_sink(url, fps=25, time_base=Fraction(1, 1000))
    assert isinstance(sink, StreamSink) and sink.format == "mpegts"
    with sink:
        for i in range(N):
            sink.write(Frame(picture(i), i, 40 * i, Fraction(1, 1000)))
            time.sleep(0.01)  # a live pace: the loopback socket buffer never overflows
    reader.join(10)
    assert sink.frames_written == N
    assert len(got) >= N - 2, len(got)  # UDP may lose a datagram; loopback rarely does
    assert all(f.shape == (H, W, 3) for f in got)
    reds = [float(f[:, : W // 4, 0].mean()) for f in got]
    assert np.all(np.diff(reds) > 0), reds  # in order, each frame its own
    assert abs(float(got[-1][:, -W // 4 :, 2].mean()) - 200) < 12


def test_stream_frames_of_another_size_are_resized_and_pts_rise():
    sink = StreamSink(f"udp://127.0.0.1:{free_port()}", fps=Fraction(25))
    with sink:
        sink.write(Frame(picture(0), 0, 0, Fraction(1, 1000)))
        sink.write(Frame(np.zeros((H * 2, W * 2, 3), np.uint8), 1, 0, Fraction(1, 1000)))
    assert sink.size == (W, H) and sink.frames_written == 2  # same pts: bumped, not refused


def test_a_reader_that_stops_reading_stops_the_stream_not_the_caller():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills at once
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    held = []
    threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()
    sink = StreamSink(f"tcp://127.0.0.1:{server.getsockname()[1]}", timeout=0.5)
    noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    begun = time.monotonic()
    with pytest.raises(InputError, match="stalled for 0.5 s"):
        for i in range(500):  # noise: every frame is a large packet that nobody reads
            sink.write(Frame(np.roll(noise, i, axis=1), i, 40 * i, Fraction(1, 1000)))
    closing = time.monotonic()
    sink.close()
    assert time.monotonic() - closing < 0.5 and time.monotonic() - begun < 30
    server.close()


def test_unreachable_rtmp_server_is_one_line_exit_2(capsys, tmp_path):
    port = free_port(socket.SOCK_STREAM)  # closed again: nothing listens there
    clip = tmp_path / "c.mp4"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(3):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(picture(i)[:48, :64], "rgb24")))
        out.mux(stream.encode(None))
    url = f"rtmp://127.0.0.1:{port}/live/key"
    begun = time.monotonic()
    argv = ["live", str(clip), "--mode", "style", "--no-window", "-o", url]
    status = cli.main(argv)
    err = capsys.readouterr().err
    assert status == 2 and time.monotonic() - begun < 10
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "cannot connect" in lines[0] and url in lines[0], err


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("http://127.0.0.1:8000/x", "outputs take udp://"),
        ("udp://127.0.0.1", "needs a host and a port"),
        ("udp://no-such-host.invalid:5000", "cannot resolve"),
    ],
)
def test_bad_stream_outputs_are_refused_early(spec, needle):
    with pytest.raises(InputError, match=needle):
        check_output(spec, None, False)


def test_a_protocol_this_ffmpeg_lacks_is_named():
    try:
        av.open("srt://127.0.0.1:9", "r", timeout=0.5).close()
    except av.error.ProtocolNotFoundError:
        with pytest.raises(InputError, match="no srt:// protocol"):
            check_output("srt://127.0.0.1:9000", None, False)
        return
    except (av.error.FFmpegError, OSError):
        pass
    pytest.skip("this PyAV's FFmpeg has SRT")


def test_vcam_without_pyvirtualcam_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)  # as if not installed
    with pytest.raises(InputError, match=r"pip install 'dreamstream\[vcam\]'"):
        check_output("vcam", None, False)


def test_vcam_without_a_backend_is_one_line():
    pytest.importorskip("pyvirtualcam")
    try:
        check_output("vcam:/dev/video99", None, False)
    except InputError as exc:
        assert str(exc).startswith("-o vcam: no virtual camera") and "\n" not in str(exc)
    else:
        pytest.skip("a virtual camera device exists here")


def test_vcam_sink_sends_rgb_frames_at_the_first_size(monkeypatch):
    sent, opened = [], []

    class Camera:  # pyvirtualcam.Camera's interface, recording what it is given
        def __init__(self, width, height, fps, fmt, device):
            opened.append((width, height, fps, fmt, device))

        def send(self, image):
            sent.append(image)

        def close(self):
            opened.append("closed")

    fake = types.SimpleNamespace(Camera=Camera, PixelFormat=types.SimpleNamespace(RGB="RGB"))
    monkeypatch.setitem(sys.modules, "pyvirtualcam", fake)
    sink = open_sink("vcam:/dev/video7", fps=30)
    assert isinstance(sink, VirtualCameraSink)
    with sink:
        sink.write(Frame(picture(0), 0))
        sink.write(Frame(np.zeros((H * 2, W * 2, 3), np.uint8), 1))
    probe = [(320, 240, 25.0, "RGB", "/dev/video7"), "closed"]  # check_output's, at opening
    assert opened == probe + [(W, H, 30.0, "RGB", "/dev/video7"), "closed"]
    assert [s.shape for s in sent] == [(H, W, 3), (H, W, 3)]
    assert np.array_equal(sent[0], picture(0))

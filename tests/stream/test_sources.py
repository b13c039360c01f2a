"""Sources: tiny media made here (PyAV/OpenCV), read back through open_source."""

from __future__ import annotations

import functools
import http.server
import re
import socket
import threading
import time
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.io import Frame, open_source, parse_position, read_image, to_rgb8

W, H, N = 64, 48, 20


def marked_image(i: int, w: int = W, h: int = H) -> np.ndarray:
    """RGB frame with a white block in the top-left corner and red = 10 * i."""
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, : w // 4] = 255
    img[h // 2 :, w // 4 :, 0] = 10 * i
    return img


def make_clip(path, n=N, w=W, h=H, rotation=0, audio=True, video=True, options=None, noise=False):
    """Write an H.264 clip at 25 fps, optionally with a 440 Hz AAC track.

    ``noise`` makes every frame random, so each takes a similar share of the file.
    """
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options=options or {}) as out:
        if video:
            vs = out.add_stream("libx264", rate=25)
            vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
            if rotation:
                vs.set_display_rotation(rotation)
        if audio:
            aus = out.add_stream("aac", rate=44100)
            aus.layout = "mono"
        if video:
            for i in range(n):
                img = rng.integers(0, 256, (h, w, 3), np.uint8) if noise else marked_image(i, w, h)
                out.mux(vs.encode(av.VideoFrame.from_ndarray(img, "rgb24")))
        if audio:
            t = np.arange(44100 * n // 25) / 44100
            wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            for k in range(0, wave.shape[1], 1024):
                frame = av.AudioFrame.from_ndarray(wave[:, k : k + 1024], "fltp", "mono")
                frame.sample_rate, frame.pts, frame.time_base = 44100, k, Fraction(1, 44100)
                out.mux(aus.encode(frame))
            out.mux(aus.encode(None))
        if video:
            out.mux(vs.encode(None))
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("media") / "clip.mp4")


# ---------------------------------------------------------------- video files


def test_video_frames_keep_size_rate_and_timestamps(clip):
    with open_source(clip) as src:
        assert (src.kind, src.size, src.fps, src.count, src.has_audio) == (
            "video",
            (W, H),
            25,
            N,
            True,
        )
        frames = list(src)
    assert len(frames) == N == src.frames_read and not src.truncated
    assert all(f.image.dtype == np.uint8 and f.image.shape == (H, W, 3) for f in frames)
    assert [f.index for f in frames] == list(range(N))
    times = [f.time for f in frames]
    assert times[0] == 0 and np.allclose(np.diff(times), 0.04)
    # RGB order: the red channel carries 10 * index, green and blue stay dark there.
    assert abs(int(frames[10].image[-5, -5, 0]) - 100) <= 6
    assert frames[10].image[-5, -5, 1] < 10


def test_rotation_metadata_is_applied(tmp_path):
    path = make_clip(tmp_path / "rot.mp4", n=3, rotation=90, audio=False)
    with av.open(str(path)) as c:
        assert next(c.decode(video=0)).rotation == 90  # the file really carries it
    with open_source(path) as src:
        image = next(iter(src)).image
        assert src.size == (H, W)
    # 90 degrees counter-clockwise: the top-left white block moves to the bottom-left.
    assert image.shape == (W, H, 3)
    assert image[-3, 3].min() > 200 and image[3, 3].max() < 50


@pytest.mark.parametrize(
    ("options", "indices"),
    [
        ({"start": 5, "end": 15}, list(range(5, 15))),
        ({"start": "0.2s", "frames": 3}, [5, 6, 7]),
        ({"end": "00:00:00.4"}, list(range(10))),
        ({"start": "8", "end": "0.4s"}, [8, 9]),
    ],
)
def test_start_end_frames_trim(clip, options, indices):
    with open_source(clip, **options) as src:
        got = [f.index for f in src]
        assert src.count == len(indices)
    assert got == indices


def test_trim_times_for_audio(clip):
    with open_source(clip, start=5, frames=10) as src:
        assert src.start_time == pytest.approx(0.2) and src.end_time == pytest.approx(0.6)


def test_width_resizes_keeping_aspect_even(clip):
    with open_source(clip, width=32) as src:
        assert src.size == (32, 24)
        assert next(iter(src)).image.shape == (24, 32, 3)
    with pytest.raises(InputError, match="33"):
        open_source(clip, width=33)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10", (10, None)), ("2.5s", (None, 2.5)), ("00:01:02.5", (None, 62.5)), ("1:30", (None, 90))],
)
def test_parse_position(text, expected):
    pos = parse_position(text)
    assert (pos.index, pos.seconds) == expected


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"start": "soon"}, "soon"),
        ({"start": -1}, "-1"),
        ({"start": 10, "end": 5}, "end"),
        ({"frames": 0}, "frames"),
    ],
)
def test_bad_options_raise(clip, kwargs, word):
    with pytest.raises(InputError, match=word):
        open_source(clip, **kwargs)


def test_start_past_the_end_is_refused_when_the_count_is_exact(clip, tmp_path):
    with pytest.raises(InputError, match=f"start {N} is past the end .*clip.mp4 \\({N} frames"):
        open_source(clip, start=N)
    with pytest.raises(InputError, match="start 0.8s is past the end"):
        open_source(clip, start="0.8s")  # frame 20 at 25 fps
    with open_source(clip, start=N - 1) as src:
        assert [f.index for f in src] == [N - 1]
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"{i}.png"), marked_image(i))
    with pytest.raises(InputError, match="start 2 is past the end"):
        open_source(tmp_path, start=2)


def test_iterates_once(clip):
    with open_source(clip, frames=1) as src:
        list(src)
        with pytest.raises(RuntimeError):
            iter(src)


# ---------------------------------------------------------------- bad video input


def test_missing_empty_text_and_audio_only(tmp_path):
    with pytest.raises(InputError, match="nope.mp4"):
        open_source(tmp_path / "nope.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        open_source(tmp_path / "empty.mp4")
    (tmp_path / "text.mp4").write_text("not a video\n" * 50)
    with pytest.raises(InputError, match="text.mp4"):
        open_source(tmp_path / "text.mp4")
    make_clip(tmp_path / "sound.m4a", video=False)
    with pytest.raises(InputError, match="no video stream"):
        open_source(tmp_path / "sound.m4a")


@pytest.mark.parametrize(
    ("name", "options"), [("t.mkv", None), ("t.mp4", {"movflags": "faststart"})]
)
def test_truncated_video_decodes_what_it_can(tmp_path, name, options):
    whole = make_clip(tmp_path / name, audio=False, options=options, noise=True).read_bytes()
    cut = tmp_path / f"cut_{name}"
    cut.write_bytes(whole[: len(whole) * 6 // 10])
    with open_source(cut) as src:
        frames = list(src)  # must not raise on the damaged tail
    assert 0 < len(frames) == src.frames_read < N
    assert src.truncated and "truncated" in src.warning


def make_vfr_clip(path, pts_ms=(0, 40, 80, 1000, 1040, 2000, 2040, 3000, 3040, 3080)):
    """A variable-frame-rate MKV: bursts of frames at 25 fps with second-long holds."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for pts in pts_ms:
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (H, W, 3), np.uint8), "rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_a_valid_variable_rate_mkv_is_not_called_truncated(tmp_path, caplog):
    with open_source(make_vfr_clip(tmp_path / "vfr.mkv")) as src:
        frames = list(src)
    assert [f.pts for f in frames] == [0, 40, 80, 1000, 1040, 2000, 2040, 3000, 3040, 3080]
    assert not src.truncated and src.warning is None and caplog.records == []


def test_damaged_video_data_is_reported_once_with_a_count(tmp_path, caplog):
    whole = make_clip(tmp_path / "n.mkv", n=30, audio=False, noise=True)
    with av.open(str(whole)) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    data, rng = bytearray(whole.read_bytes()), np.random.default_rng(1)
    for pos, size in packets[5:]:  # garbage inside each packet, the container left intact
        data[pos + 4 : pos + size - 4] = rng.integers(0, 256, size - 8, np.uint8).tobytes()
    damaged = tmp_path / "damaged.mkv"
    damaged.write_bytes(bytes(data))
    with open_source(damaged) as src:
        list(src)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1, said
    match = re.fullmatch(
        r".*damaged\.mkv: skipped damaged video data (\d+) times \(first: .+\)", said[0]
    )
    assert match and int(match[1]) >= 10, said
    assert src.truncated and src.warning == said[0]


def test_tiny_video_frames_are_allowed(tmp_path):
    path = make_clip(tmp_path / "tiny.mp4", n=3, w=2, h=2, audio=False)
    with open_source(path) as src:
        assert [f.image.shape for f in src] == [(2, 2, 3)] * 3


# ---------------------------------------------------------------- images


def test_folder_sorted_numerically_with_bit_depths_gray_and_alpha(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    gray16 = np.full((8, 8), 65535, np.uint16)
    gray16[:4] = 257 * 100
    bgra = np.zeros((8, 8, 4), np.uint8)
    bgra[..., 2], bgra[..., 3] = 200, 128  # red at half opacity
    cv2.imwrite(str(folder / "f10.png"), bgra)
    cv2.imwrite(str(folder / "f2.png"), gray16)
    cv2.imwrite(str(folder / "f1.png"), np.full((8, 8, 3), (255, 0, 0), np.uint8))  # blue (BGR)
    (folder / "notes.txt").write_text("ignored")
    with open_source(folder) as src:
        assert (src.kind, src.count, src.fps) == ("images", 3, 25)
        blue, gray, red = (f.image for f in src)
    assert tuple(blue[0, 0]) == (0, 0, 255)
    assert tuple(gray[0, 0]) == (100, 100, 100) and tuple(gray[-1, -1]) == (255, 255, 255)
    assert tuple(red[0, 0]) == (100, 0, 0)  # 200 * 128/255 over black


def test_pattern_single_image_and_fps_option(tmp_path):
    for i in (3, 1, 12):
        cv2.imwrite(str(tmp_path / f"{i:05d}.png"), np.full((6, 10, 3), i, np.uint8))
    with open_source(tmp_path / "%05d.png", start=1, fps=12) as src:
        assert src.fps == 12 and src.count == 2
        assert [int(f.image[0, 0, 0]) for f in src] == [3, 12]
    with open_source(tmp_path / "00012.png") as one:
        assert one.kind == "image" and [f.index for f in one] == [0]
    with pytest.raises(InputError, match="no images"):
        open_source(tmp_path / "x%03d.png")


def test_one_pixel_image_and_unreadable_image(tmp_path):
    cv2.imwrite(str(tmp_path / "dot.png"), np.zeros((1, 1, 3), np.uint8))
    with open_source(tmp_path / "dot.png") as src:
        assert src.size == (1, 1)
    (tmp_path / "bad.png").write_text("nope")
    with pytest.raises(InputError, match="bad.png"):
        open_source(tmp_path / "bad.png")


def test_a_damaged_png_gets_one_line_and_libpng_says_nothing(tmp_path, capfd):
    ok, data = cv2.imencode(
        ".png", np.random.default_rng(0).integers(0, 256, (48, 64, 3), np.uint8)
    )
    whole = data.tobytes()
    damaged = bytearray(whole)
    damaged[100:140] = bytes(40)  # inside the image data: its chunk's CRC no longer matches
    (tmp_path / "crc.png").write_bytes(bytes(damaged))
    (tmp_path / "cut.png").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "whole.png").write_bytes(whole)
    capfd.readouterr()
    with pytest.raises(InputError) as info:
        read_image(tmp_path / "crc.png")
    assert str(info.value) == f"cannot read image: {tmp_path / 'crc.png'} (damaged IDAT chunk)"
    with pytest.raises(InputError, match="cut.png"):
        read_image(tmp_path / "cut.png")
    assert read_image(tmp_path / "whole.png").shape == (48, 64, 3)
    cv2.imwrite(str(tmp_path / "photo.jpg"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "named.png").write_bytes((tmp_path / "photo.jpg").read_bytes())
    assert read_image(tmp_path / "named.png").shape == (8, 8, 3)  # content decides, not the name
    assert capfd.readouterr().err == ""  # libpng printed no line of its own


def test_to_rgb8_rejects_float_images():
    with pytest.raises(InputError, match="float32"):
        to_rgb8(np.zeros((2, 2, 3), np.float32))


# ---------------------------------------------------------------- cameras and URLs


def test_missing_camera_fails_fast():
    began = time.monotonic()
    with pytest.raises(InputError, match="camera:97"):
        open_source("camera:97")
    assert time.monotonic() - began < 10


class FakeCamera:
    """Stands in for ``cv2.VideoCapture``: reports one size, delivers frames of another."""

    def __init__(self, reported, delivered):
        self.reported, self.delivered, self.released = reported, delivered, False

    def isOpened(self):  # noqa: N802 -- OpenCV's name
        return True

    def get(self, prop):
        return {
            cv2.CAP_PROP_FRAME_WIDTH: self.reported[0],
            cv2.CAP_PROP_FRAME_HEIGHT: self.reported[1],
        }.get(prop, 0.0)

    def read(self):
        w, h = self.delivered
        return True, np.zeros((h, w, 3), np.uint8)

    def release(self):
        self.released = True


def _fake_cameras(monkeypatch, reported, delivered):
    """Every camera opened from now on is a FakeCamera; returns the list of those made."""
    from dreamstream.stream.io import camera

    made = []

    def open_camera(device):
        made.append(FakeCamera(reported, delivered))
        return made[-1]

    monkeypatch.setattr(camera.cv2, "VideoCapture", open_camera)
    return made


def test_camera_over_the_pixel_limit_is_refused_before_a_frame_is_read(monkeypatch):
    made = _fake_cameras(monkeypatch, (640, 480), (640, 480))
    with open_source("camera:0", frames=1, max_pixels=640 * 480) as src:
        assert [f.image.shape for f in src] == [(480, 640, 3)]
    with pytest.raises(
        InputError, match=r"camera:0 are 640x480 \(307200 pixels\), over the limit of 1000"
    ):
        open_source("camera:0", max_pixels=1000)
    assert made[-1].released


def test_live_capture_applies_the_pixel_limit_to_cameras_and_files(monkeypatch, clip):
    from dreamstream.stream.io.playback import capture_opener

    _fake_cameras(monkeypatch, (64, 48), (4000, 3000))  # a camera that changed its mode
    capture = capture_opener("camera:0", max_pixels=10_000)()
    with pytest.raises(InputError, match="4000x3000"):
        capture.read()
    with pytest.raises(InputError, match="over the limit of 100 pixels"):
        capture_opener(str(clip), max_pixels=100)()


@pytest.fixture()
def http_server(clip):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=clip.parent)
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_url_source_reads_over_http(http_server):
    with open_source(f"{http_server}/clip.mp4", frames=4) as src:
        frames = list(src)
        assert src.kind == "url" and src.path is None
    assert [f.index for f in frames] == [0, 1, 2, 3] and isinstance(frames[0], Frame)


def test_url_timeout_raises(tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts connections but never answers
    began = time.monotonic()
    with pytest.raises(InputError, match="127.0.0.1"):
        open_source(f"http://127.0.0.1:{silent.getsockname()[1]}/x.mp4", timeout=0.5)
    silent.close()
    assert time.monotonic() - began < 5

"""Sinks: round trips through open_source/open_sink on tiny clips made here."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.io import Frame, check_output, open_sink, open_source, sink_options, window
from dreamstream.stream.io import specs as outputs

W, H, N = 64, 48, 20


def make_clip(path, n=N, w=W, h=H):
    """Write an H.264 clip at 25 fps with a 440 Hz mono AAC track of the same length."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        aus = out.add_stream("aac", rate=44100)
        aus.layout = "mono"
        for i in range(n):
            img = np.full((h, w, 3), 10 * i, np.uint8)
            out.mux(vs.encode(av.VideoFrame.from_ndarray(img, "rgb24")))
        wave = np.sin(np.arange(44100 * n // 25) * 2 * np.pi * 440 / 44100)[None]
        wave = (0.3 * wave).astype(np.float32)
        for k in range(0, wave.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(wave[:, k : k + 1024], "fltp", "mono")
            frame.sample_rate, frame.pts, frame.time_base = 44100, k, Fraction(1, 44100)
            out.mux(aus.encode(frame))
        out.mux(aus.encode(None))
        out.mux(vs.encode(None))
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("media") / "clip.mp4")


def probe(path):
    """(frames decoded, fps, video seconds, audio seconds or None, comment tag)."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        audio = None
        if c.streams.audio:
            a = c.streams.audio[0]
            audio = sum(f.samples for f in c.decode(a)) / a.sample_rate
            c.seek(0)
        count = sum(1 for _ in c.decode(vs))
        seconds = float(vs.duration * vs.time_base) if vs.duration else c.duration / 1e6
        return count, vs.average_rate, seconds, audio, c.metadata


def render(src_path, out_path, stop_after=None, **source_options):
    with open_source(src_path, **source_options) as src:
        with open_sink(out_path, **sink_options(src), metadata={"mode": "test", "crf": 18}) as sink:
            for frame in src:
                if frame.index == stop_after:
                    raise KeyboardInterrupt
                sink.write(Frame(255 - frame.image, frame.index, frame.pts, frame.time_base))
    return out_path


def leftovers(folder):
    return [p.name for p in folder.iterdir() if "partial" in p.name]


# ---------------------------------------------------------------- video files


def test_round_trip_keeps_frames_rate_duration_audio_and_settings(clip, tmp_path):
    count, fps, seconds, audio, tags = probe(render(clip, tmp_path / "out.mp4"))
    assert (count, fps) == (N, 25)
    assert seconds == pytest.approx(N / 25, abs=0.04)
    assert audio == pytest.approx(seconds, abs=0.05)  # an AAC packet is 23 ms
    assert json.loads(tags["comment"]) == {"crf": 18, "mode": "test"}
    assert leftovers(tmp_path) == []


def test_audio_packets_are_copied_not_reencoded(clip, tmp_path):
    render(clip, tmp_path / "out.mkv")
    with av.open(str(clip)) as a, av.open(str(tmp_path / "out.mkv")) as b:
        src = [bytes(p) for p in a.demux(audio=0) if p.size]
        out = [bytes(p) for p in b.demux(audio=0) if p.size]
    assert out == src


def test_trimmed_render_trims_audio_to_match(clip, tmp_path):
    count, _, seconds, audio, _ = probe(render(clip, tmp_path / "cut.mp4", start=5, end="0.6s"))
    assert count == 10 and seconds == pytest.approx(0.4, abs=0.04)
    assert audio == pytest.approx(0.4, abs=0.05)


def test_interrupt_finalises_a_playable_file(clip, tmp_path):
    out = tmp_path / "stopped.mp4"
    with pytest.raises(KeyboardInterrupt):
        render(clip, out, stop_after=7)
    count, _, seconds, audio, _ = probe(out)
    assert count == 7 and audio == pytest.approx(seconds, abs=0.05)
    assert leftovers(tmp_path) == []


def test_crash_leaves_nothing_under_the_final_name(clip, tmp_path):
    out = tmp_path / "crash.mp4"
    with pytest.raises(ZeroDivisionError), open_source(clip) as src:
        with open_sink(out, **sink_options(src)) as sink:
            for frame in src:
                sink.write(frame)
                assert not out.exists() and leftovers(tmp_path)  # written under a temp name
                raise ZeroDivisionError("simulated crash")
    assert not out.exists() and leftovers(tmp_path) == []


def test_close_is_idempotent_and_empty_render_makes_no_file(clip, tmp_path):
    with open_source(clip) as src:
        sink = open_sink(tmp_path / "none.mp4", **sink_options(src))
        sink.close()
        sink.close()
    assert list(tmp_path.iterdir()) == []


def test_images_to_video_numbers_frames_at_fps_and_pads_odd_sizes(tmp_path):
    sink = open_sink(tmp_path / "odd.mkv", fps=10)
    for i in range(4):
        sink.write(Frame(np.full((9, 15, 3), 60 * i, np.uint8), i + 100))
    sink.close()
    count, fps, seconds, audio, _ = probe(tmp_path / "odd.mkv")
    assert (count, fps, audio) == (4, 10, None) and seconds == pytest.approx(0.4, abs=0.01)
    with open_source(tmp_path / "odd.mkv") as src:
        assert src.size == (16, 10)


@pytest.mark.skipif("libvpx-vp9" not in av.codecs_available, reason="no VP9 encoder")
def test_webm_uses_vp9_and_refuses_aac_audio(clip, tmp_path):
    with open_source(clip, frames=3) as src:
        with pytest.raises(InputError, match="audio"):
            open_sink(tmp_path / "a.webm", **sink_options(src))
        assert leftovers(tmp_path) == []
        with open_sink(
            tmp_path / "a.webm", **{**sink_options(src), "audio_from": None}, preset="ultrafast"
        ) as sink:
            for frame in src:
                sink.write(frame)
    with av.open(str(tmp_path / "a.webm")) as c:
        assert c.streams.video[0].codec_context.name in ("vp9", "libvpx-vp9")


def test_bad_encoder_settings(clip, tmp_path):
    with open_source(clip) as src, pytest.raises(InputError, match="99"):
        open_sink(tmp_path / "x.mp4", **sink_options(src), crf=99)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- image outputs


def test_image_sequence_follows_source_index_atomically(clip, tmp_path):
    out = tmp_path / "frames"
    with (
        open_source(clip, start=3, frames=4) as src,
        open_sink(f"{out}/", **sink_options(src)) as sink,
    ):
        assert sink.kind == "images" and sink.existing() == set()
        for frame in src:
            sink.write(frame)
        assert sink.existing() == {3, 4, 5, 6}
    assert sorted(p.name for p in out.iterdir()) == [f"{i:05d}.png" for i in (3, 4, 5, 6)]
    with open_source(out / "00005.png") as back:
        assert abs(int(next(iter(back)).image.mean()) - 50) <= 3
    with pytest.raises(InputError, match="already holds frames"):
        check_output(out, clip, overwrite=False)
    check_output(out / "%05d.png", clip, overwrite=False, resume=True)


def test_single_image_and_null_sinks(tmp_path):
    still = open_sink(tmp_path / "still.jpg")
    for i in range(3):
        still.write(Frame(np.full((8, 8, 3), 100 * i, np.uint8), i))
    still.close()
    with open_source(tmp_path / "still.jpg") as src:
        assert abs(int(next(iter(src)).image.mean()) - 200) <= 3
    null = open_sink("null")
    null.write(Frame(np.zeros((2, 2, 3), np.uint8), 0))
    assert (null.kind, null.frames_written, null.path) == ("null", 1, None)


def test_window_sink_returns_keys(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # a window may open (see io.display)
    calls = []
    monkeypatch.setattr(window.cv2, "namedWindow", lambda *a: calls.append("named"))
    monkeypatch.setattr(window.cv2, "setWindowProperty", lambda *a: calls.append("full"))
    monkeypatch.setattr(window.cv2, "imshow", lambda title, bgr: calls.append(bgr[0, 0, 0]))
    monkeypatch.setattr(window.cv2, "waitKey", lambda ms: ord("q"))
    monkeypatch.setattr(window.cv2, "getWindowProperty", lambda *a: 1.0)
    monkeypatch.setattr(window.cv2, "destroyWindow", lambda *a: calls.append("gone"))
    with open_sink("window:fullscreen") as win:
        assert win.write(Frame(np.full((4, 4, 3), (1, 2, 3), np.uint8), 0)) == ord("q")
    assert calls == ["named", "full", 3, "gone"]  # shown as BGR


# ---------------------------------------------------------------- bad outputs


def test_bad_outputs_raise_before_anything_is_created(clip, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "0001.png").write_bytes(b"")
    (tmp_path / "taken.mp4").write_bytes(b"x")
    cases = {
        tmp_path / "out.avi": "unknown output extension",
        clip: "is the input file",
        folder / "sub" / "out.mp4": "inside the input frame folder",
        tmp_path / "taken.mp4": "output exists",
        tmp_path / "taken.mp4" / "out.mp4": "not a folder",
    }
    before = sorted(tmp_path.rglob("*"))
    for spec, message in cases.items():
        input_spec = folder if "inside" in message else clip
        with pytest.raises(InputError, match=message):
            check_output(spec, input_spec, overwrite=False)
    with pytest.raises(InputError, match="is the input file"):
        check_output(clip, clip, overwrite=True)
    assert sorted(tmp_path.rglob("*")) == before
    assert (tmp_path / "taken.mp4").read_bytes() == b"x"


def test_unwritable_output_folder(tmp_path, monkeypatch):
    real_access = os.access
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr(
        outputs.os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode)
    )
    with pytest.raises(InputError, match="not writable"):
        check_output(locked / "new" / "out.mp4", None, overwrite=False)
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("spec", ["new/deeper/out.mp4", "new/deeper/frames/", "new/deeper/a.png"])
def test_failed_render_leaves_no_folders_it_made(tmp_path, spec):
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError), open_sink(f"{tmp_path}/{spec}"):
        assert (tmp_path / "new" / "deeper").is_dir()
        raise RuntimeError("the model failed")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["kept"]


def test_folders_holding_output_are_kept(tmp_path):
    frame = Frame(np.zeros((4, 6, 3), np.uint8), 0)
    with open_sink(f"{tmp_path}/new/frames/") as sink:
        sink.write(frame)
    assert [p.name for p in (tmp_path / "new" / "frames").iterdir()] == ["00000.png"]

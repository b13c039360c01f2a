"""Live mode without a camera or a display: a synthetic camera drives the loop."""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.carry import Stateless
from dreamstream.stream.io.camera import Grabber
from dreamstream.stream.io.playback import FileCapture
from dreamstream.stream.live import command as live
from dreamstream.stream.live.budget import Budget, Level, make_levels
from dreamstream.stream.live.loop import LiveLoop
from dreamstream.stream.settings import Settings

REPO = Path(__file__).resolve().parents[2]


class SyntheticCamera:
    """``read() -> (ok, rgb)`` like a capture: a moving pattern at ``fps``.

    The frame number is written into pixel (0, 0) (low byte) and (0, 1) (high
    byte) of the blue channel, so a test can tell which frame was processed.
    ``frames`` makes it fail (``ok`` false) after that many frames.
    """

    def __init__(self, size=(64, 48), fps=200.0, frames=None):
        self.size, self.period, self.frames = size, 1.0 / fps, frames
        self.count, self.released = 0, False
        y, x = np.mgrid[: size[1], : size[0]]
        self.base = np.stack([(x + y) * 2, y * 5, x * 4], -1).astype(np.uint8)

    def read(self):
        time.sleep(self.period)
        if self.frames is not None and self.count >= self.frames:
            return False, None
        rgb = np.roll(self.base, self.count, axis=1).copy()
        rgb[0, 0, 2], rgb[0, 1, 2] = self.count % 256, self.count // 256
        self.count += 1
        return True, rgb

    def release(self):
        self.released = True


def frame_number(rgb: np.ndarray) -> int:
    """The number SyntheticCamera wrote into the blue channel."""
    return int(rgb[0, 0, 2]) + 256 * int(rgb[0, 1, 2])


class Looks:
    """One look whose processor is given (stands in for live.Looks without a model)."""

    def __init__(self, processor):
        self.processor, self.index, self.label = processor, 0, "test"
        self.looks = [("test", Settings())]
        self.fatal = None

    def select(self, index):
        pass

    def poll(self):
        return False


def run_until_done(loop, grabber, seconds: float = 30) -> None:
    """Run ``loop`` to its end; a broken loop fails the test after ``seconds``, never hangs."""
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    try:
        loop.run(stop)
    finally:
        timer.cancel()
        grabber.stop()


def run_loop(opener, processor, *, frames, budget=None, settings=None, **kw):
    grabber = Grabber(opener, backoff=0.05, backoff_max=0.2).start()
    outputs = []
    loop = LiveLoop(
        grabber,
        Looks(processor),
        settings or Settings(flow=False, frames=frames),
        budget=budget or Budget(make_levels("style", Settings()), None),
        on_output=lambda img, lat: outputs.append((img, lat)),
        **kw,
    )
    run_until_done(loop, grabber)
    return loop, grabber, outputs


def test_slow_processor_drops_frames_instead_of_queueing():
    def slow(frame):
        time.sleep(0.08)
        return frame

    camera = SyntheticCamera(fps=200)
    loop, grabber, outputs = run_loop(lambda: camera, Stateless(slow), frames=6)
    numbers = [frame_number(img) for img, _ in outputs]
    assert len(outputs) == 6
    assert grabber.dropped >= 10 and grabber.dropped > loop.stats.frames
    gaps = np.diff(numbers)
    assert (gaps > 1).all(), numbers  # each processed frame was the newest, not the next queued
    # Queued frames would wait ever longer; the newest frame's latency stays near the model's time.
    assert max(lat for _, lat in outputs) < 0.3
    summary = loop.stats.summary()
    assert summary["frames"] == 6 and summary["dropped"] == grabber.dropped


def test_budget_levels_and_hysteresis():
    assert make_levels("style", Settings()) == [Level(scale=s) for s in (1.0, 0.75, 0.5, 0.35)]
    levels = make_levels("style", Settings())
    budget = Budget(levels, 0.12, patience=3)  # style: frames aim at half the latency
    budget.fit((640, 480))
    assert [budget.update(0.19) for _ in range(3)] == [False, False, True]
    assert budget.index == 2  # 0.19 s x 0.25 (half the width) fits 0.06 s; x 0.56 would not
    budget.update(0.07)  # within the slack and the ceiling: no move either way
    assert budget.index == 2
    changes = [budget.update(0.01) for _ in range(6)]
    assert changes[-1] and budget.index == 1  # headroom: one level up, after 2 x patience
    off = Budget(levels, None)
    assert not any(off.update(10.0) for _ in range(10)) and off.index == 0


def test_dream_levels_grow_from_a_light_start():
    look = Settings()  # vgg16 block4_conv3, 4 octaves (3 carried), 2 steps per carried frame
    levels = make_levels("dream", look)
    budget = Budget(levels, 1.5, frame_s=0.125, start=len(levels) - 1)
    budget.fit((640, 480), look)
    costs = [lv.cost for lv in budget.levels]
    assert costs == sorted(costs, reverse=True)  # most work first, each level cheaper
    lightest, richest = budget.levels[-1], budget.levels[0]
    assert lightest.size((640, 480)) == (128, 96) and budget.level == lightest
    assert lightest.work(look) == {
        "steps": 1,
        "steps_next": 1,
        "octaves": 1,
        "octaves_next": 1,
        "layers": "block3_conv3",
        "step_size": 3 * look.step_size,  # 1 step of 1 octave for 2 of 3: larger, up to 3x
    }
    assert richest.size((640, 480)) == (640, 480)
    assert richest.work(look) == {"steps": 10, "steps_next": 2, "octaves_next": 3}  # the look's
    # A look whose objective is not deeper than the light one never gets it.
    shallow = Settings(layers="block2_conv2")
    assert "layers" not in lightest.work(shallow)
    assert all(not lv.light for lv in make_levels("dream", Settings(model="inception_v3")))


def test_budget_climbs_while_the_prediction_fits_and_stops_there():
    look = Settings()
    levels = make_levels("dream", look)
    budget = Budget(levels, 1.5, frame_s=0.1, start=len(levels) - 1, patience=1)
    budget.fit((320, 240), look)
    per_unit = 0.1 / budget.levels[3].cost  # a machine on which level 3 takes the whole target
    for _ in range(100):
        model_s = per_unit * budget.level.cost
        budget.update(model_s + 0.01, model_s + 0.005, model_s)
    assert budget.index == 4  # level 3 would take 0.105 s with the 5 ms of other work
    fast = Budget(levels, 1.5, frame_s=0.1, start=len(levels) - 1, patience=1)
    fast.fit((320, 240), look)
    for _ in range(100):  # a GPU: everything fits, so it climbs to the look's own work
        fast.update(0.01, 0.005, 0.004)
    assert fast.index == 0


def test_budget_jumps_to_a_fitting_level_when_far_over():
    levels = make_levels("style", Settings())
    budget = Budget(levels, 1.0, patience=3)
    budget.fit((100, 100))  # costs 1, .56, .25, .12 of the full width's
    assert budget.update(3.5) and budget.index == 3  # far over: at once, 3.5 x .12 fits 0.5
    budget = Budget(levels, 1.0, patience=3)
    budget.fit((100, 100))
    assert budget.update(1.5) is False  # over, but not far over: patience
    budget = Budget(levels, 1.0)
    assert budget.update(100.0) and budget.index == len(levels) - 1  # nothing fits: least work


def test_budget_lowers_width_under_load_and_raises_it_again():
    widths, load = [], {"on": True}

    def pixel_bound(frame):
        widths.append(frame.shape[1])
        if load["on"]:
            time.sleep(0.05 * frame.shape[0] * frame.shape[1] / (64 * 48))
        if len(widths) == 25:
            load["on"] = False
        return frame

    budget = Budget(make_levels("style", Settings()), 0.03, patience=2)
    loop, _, outputs = run_loop(
        lambda: SyntheticCamera(fps=100), Stateless(pixel_bound), frames=70, budget=budget
    )
    assert widths[0] == 64
    assert min(widths[:25]) < 64  # under load the processing width went down
    assert widths[-1] == 64  # with headroom it came back to full width
    assert all(img.shape == (48, 64, 3) for img, _ in outputs)  # output size never changes


def test_camera_loss_shows_a_notice_and_reconnects():
    opened, notices = [], []

    def opener():
        opened.append(1)
        if len(opened) == 1:
            return SyntheticCamera(fps=100, frames=8)  # then stops delivering
        if len(opened) <= 3:
            raise InputError("camera not available: camera:0")
        return SyntheticCamera(fps=100)

    class Preview:
        def publish(self, rgb):
            notices.append(loop_box[0].notice(time.monotonic()))

    loop_box = []
    grabber = Grabber(opener, backoff=0.05, backoff_max=0.2)
    loop = LiveLoop(
        grabber,
        Looks(Stateless(lambda f: f)),
        Settings(flow=False, frames=20),
        budget=Budget(make_levels("style", Settings()), None),
        preview=Preview(),
    )
    loop_box.append(loop)
    grabber.start()
    try:
        loop.run(threading.Event())
    finally:
        grabber.stop()
    assert loop.stats.frames == 20  # frames flowed again after the loss
    assert grabber.reconnects == 1 and len(opened) == 4
    assert any(n and n.startswith("input lost") for n in notices), notices
    assert grabber.lost_since is None and grabber.error is None


def test_grabber_survives_read_exceptions():
    class Broken(SyntheticCamera):
        def read(self):
            if self.count == 3:
                self.count += 1
                raise RuntimeError("driver hiccup")
            return super().read()

    _, grabber, outputs = run_loop(lambda: Broken(fps=100), Stateless(lambda f: f), frames=10)
    assert len(outputs) == 10 and grabber.reconnects >= 1


def test_flow_carries_the_previous_output():
    class Carry:
        def __init__(self):
            self.calls = []

        def first(self, frame, index, **work):
            self.calls.append("first")
            return frame

        def next(self, frame, index, warped_out, mask, warped_in, **work):
            self.calls.append("next")
            assert warped_out.shape == frame.shape and mask.shape == frame.shape[:2]
            return frame

    proc = Carry()
    loop, _, _ = run_loop(
        lambda: SyntheticCamera(fps=60),
        proc,
        frames=5,
        settings=Settings(frames=5, flow_preset="ultrafast"),
    )
    assert proc.calls[0] == "first" and proc.calls.count("next") >= 3
    loop.press(ord("r"))  # reset: the next frame starts afresh
    assert loop._reset


def make_clip(path: Path, frames: int = 10, fps: int = 50, size=(64, 48)) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for k in range(frames):
            image = np.full((size[1], size[0], 3), 20 * k % 256, np.uint8)
            image[:, (4 * k) % size[0]] = 255
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def test_file_capture_plays_at_its_rate_and_loops(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=10, fps=50)
    once = FileCapture(str(clip))
    reads = [once.read() for _ in range(11)]
    assert [ok for ok, _ in reads] == [True] * 10 + [False] and once.ended
    assert reads[0][1].shape == (48, 64, 3)
    looping = FileCapture(str(clip), loop=True)
    begin = time.monotonic()
    assert all(looping.read()[0] for _ in range(25))
    assert time.monotonic() - begin >= 24 / 50 * 0.9  # paced at 50 fps, not as fast as decoding
    assert not looping.ended
    looping.release()


def live_args(**kw) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    live.add_arguments(parser)
    args = parser.parse_args([])
    base = {"source": "camera:0", "output": None, "overwrite": False, "quiet": True, "json": False}
    return argparse.Namespace(**{**vars(args), **base, **kw})


def test_headless_without_outputs_is_an_input_error(monkeypatch, tmp_path, dead_display):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    clip = str(make_clip(tmp_path / "c.mp4"))
    with pytest.raises(InputError, match=r"no display \(DISPLAY is not set\)"):
        live.main(live_args(source=clip), Settings())
    monkeypatch.setenv("DISPLAY", dead_display)  # set, but no X server behind it
    with pytest.raises(InputError, match=f"no X server answers at DISPLAY={dead_display}"):
        live.main(live_args(source=clip), Settings())
    with pytest.raises(InputError, match="not loopback"):
        live.main(live_args(source=clip, serve="0.0.0.0:0"), Settings())
    with pytest.raises(InputError, match="--cycle"):
        live.main(live_args(source=clip, serve="127.0.0.1:0", cycle="soon"), Settings())
    with pytest.raises(InputError, match="input not found"):
        live.main(live_args(source=str(tmp_path / "none.mp4"), serve="127.0.0.1:0"), Settings())


def test_periods_and_cycle_lists():
    assert live.parse_period("60s") == 60 and live.parse_period("2m") == 120
    assert live.parse_period("90") == 90
    for bad in ("0", "-1s", "soon", "inf"):
        with pytest.raises(InputError, match="--cycle"):
            live.parse_period(bad)
    looks = live.looks_for(live_args(cycle_list="3,7,3:0.5+12:0.5"), "style", Settings())
    assert [s.style for _, s in looks] == ["3", "7", "3:0.5,12:0.5"]
    every = live.looks_for(live_args(cycle="10s"), "style", Settings(style="5"))
    assert len(every) == 26 and every[0][1].style == "5"
    presets = live.looks_for(live_args(cycle_list="subtle,deep", steps=3), "dream", Settings())
    assert [(n, s.steps) for n, s in presets] == [("subtle", 3), ("deep", 3)]  # flags stay on top
    with pytest.raises(InputError, match="unknown preset"):
        live.looks_for(live_args(cycle_list="nope"), "dream", Settings())


SCRIPT = """
import argparse, sys
from dreamstream.stream import settings
from dreamstream.stream.live import command as live
parser = argparse.ArgumentParser()
parser.add_argument("source")
parser.add_argument("-o", "--output")
parser.add_argument("--overwrite", action="store_true")
parser.add_argument("--quiet", action="store_true")
parser.add_argument("--json", action="store_true")
live.add_arguments(parser)
sys.exit(live.main(parser.parse_args(sys.argv[1:]), settings.resolve(width=64)))
"""


def test_sigint_finalises_a_playable_recording(tmp_path):
    clip = make_clip(tmp_path / "loop.mp4", frames=10, fps=25)
    rec = tmp_path / "rec.mp4"
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(clip), "--mode", "style", "--loop", "-o", str(rec)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(t) for t in proc.stderr], daemon=True).start()
    said = []
    try:
        deadline = time.monotonic() + 120  # a silent hang fails here instead of waiting forever
        while not any("first output" in t for t in said) and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                said.append(lines.get(timeout=1))
        assert any("first output" in t for t in said), "".join(said)
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)  # and a hang after the signal fails here
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(0.2)
    while not lines.empty():
        said.append(lines.get())
    assert proc.returncode == 130, "".join(said)  # the promise: interrupted, not "done"
    with av.open(str(rec)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop.mp4", "rec.mp4"]  # no temporary


def test_cycle_moves_through_looks_with_a_crossfade():
    def build(settings):
        level = 0 if settings.style == "0" else 200
        return Stateless(lambda frame: np.full_like(frame, level))

    looks = live.Looks([("dark", Settings(style="0")), ("bright", Settings(style="1"))], build)
    assert looks.label == "dark" and 1 not in looks._ready  # the second is built when needed
    grabber = Grabber(lambda: SyntheticCamera(fps=100)).start()
    means = []
    loop = LiveLoop(
        grabber,
        looks,
        Settings(flow=False, frames=60),
        budget=Budget(make_levels("style", Settings()), None),
        cycle_s=0.25,
        crossfade_s=0.2,
        on_output=lambda img, lat: means.append(float(img.mean())),
    )
    try:
        loop.run(threading.Event())
    finally:
        grabber.stop()
    assert means[0] == 0 and 200 in means
    assert any(0 < m < 200 for m in means)  # faded, not cut
    first_bright = means.index(200)
    rising = means[: first_bright + 1]
    assert all(a <= b for a, b in zip(rising, rising[1:], strict=False))
    loop.press(ord("2"))  # a number key picks a look
    assert looks._wanted == 1


def test_main_plays_a_file_to_its_end_headless(monkeypatch, tmp_path, capsys, dead_display):
    monkeypatch.setenv("DISPLAY", dead_display)  # a dead display: headless, not a Qt abort
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    clip = str(make_clip(tmp_path / "c.mp4", frames=12, fps=25))
    rec = tmp_path / "rec.mkv"
    args = live_args(source=clip, mode="style", serve="127.0.0.1:0", output=str(rec), json=True)
    args.quiet, args.serve_token = False, "s3cret"
    assert live.main(args, Settings(width=64)) == 0  # no --loop: it stops at the file's end
    out, err = capsys.readouterr()
    assert err.count("running headless") == 1 and f"DISPLAY={dead_display}" in err
    assert "preview at http://127.0.0.1:" in err and "s3cret" not in err  # token not shown
    summary = json_summary(out)
    # Shown: processed, or as captured while the style loaded (a busy machine may take
    # longer to load it than the 12 frames last).
    shown = summary["frames"] + summary["loading_frames"]
    assert 1 <= shown <= 12 and summary["interrupted"] is False
    assert summary["captured"] == 12
    with av.open(str(rec)) as container:
        assert sum(1 for _ in container.decode(video=0)) == shown


def json_summary(text: str) -> dict:
    import json

    return json.loads(text[text.index("{") :])


class _RecordedWaits:
    """Stands in for a grabber's stop event: records each back-off wait, returns at once."""

    def __init__(self, count: int):
        self.waits: list[float] = []
        self.count = count
        self.done = threading.Event()

    def is_set(self) -> bool:
        return self.done.is_set()

    def set(self) -> None:
        self.done.set()

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        if len(self.waits) >= self.count:
            self.done.set()
        return self.done.is_set()


def test_a_lost_camera_is_retried_after_half_a_second_doubling_to_eight(monkeypatch):
    """The README's back-off: 0.5 s, doubling to 8 s, retried for ever (live mode's defaults)."""
    opened = []

    def opener():
        opened.append(time.monotonic())
        raise InputError("camera not available: camera:0")

    grabber = Grabber(opener)  # as live mode makes it: the defaults
    grabber._stop = waits = _RecordedWaits(count=8)
    grabber._run()
    assert waits.waits == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    assert len(opened) == 8 and grabber.error and grabber.lost_since is not None


def test_the_preview_defaults_are_the_documented_ones():
    """10 s for a request, 5 s for a write, 32 connections (8 per address), 8 streams (2)."""
    from dreamstream.stream.live.preview import PreviewServer

    server = PreviewServer("127.0.0.1", 0)
    try:
        limits = server.limits
        assert (limits.request_timeout, limits.write_timeout) == (10.0, 5.0)
        assert (limits.connections, limits.per_client) == (32, 8)
        assert (limits.streams, limits.streams_per_client) == (8, 2)
        httpd = server._httpd
        assert httpd.RequestHandlerClass.timeout == 5.0  # every socket operation of a viewer
        assert (httpd.connections.total, httpd.connections.each) == (32, 8)
        assert (httpd.waiting.total, httpd.waiting.each) == (32, 8)
        assert (server.streams.total, server.streams.each) == (8, 2)
    finally:
        server.close()

"""Interrupts (issue 11, faults 7 and 12): what was rendered survives a second Ctrl-C,
and SIGTERM before the render starts exits 130 like Ctrl-C.

Real signals are sent to the process itself (in-process tests) or to a child
CLI; the model is a stand-in, so no framework loads.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dreamstream.stream import pipeline
from dreamstream.stream.io import open_sink, open_source, sink_options
from tests.stream.test_bad_input import count_frames, write_clip

N = 8


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", n=N)


def interrupt() -> None:
    os.kill(os.getpid(), signal.SIGINT)


class Model:
    """The negative of each frame; sends ``signals`` Ctrl-Cs while frame ``at`` is made."""

    def __init__(self, at: int, signals: int):
        self.at, self.signals, self.calls = at, signals, 0

    def __call__(self, frame):
        if self.calls == self.at:
            stopper = getattr(signal.getsignal(signal.SIGINT), "__self__", None)
            for k in range(self.signals):
                interrupt()
                if k + 1 < self.signals:  # two signals before the handler runs are one
                    handled(stopper)
        self.calls += 1
        return 255 - frame


def handled(stopper, seconds: float = 10.0) -> None:
    """Wait until the render's signal handler has taken the first Ctrl-C (not a guessed time)."""
    assert isinstance(stopper, pipeline.StopOnSignal), stopper
    deadline = time.monotonic() + seconds
    while not stopper.event.is_set():
        assert time.monotonic() < deadline, "the Ctrl-C was never handled"
        time.sleep(0.001)


def run(clip, out, model, finalising=None) -> pipeline.Stats:
    with open_source(clip) as source:
        sink = open_sink(out, **sink_options(source))
        if finalising:
            real_close = sink.close

            def close():
                finalising()
                real_close()

            sink.close = close
        try:
            return pipeline.run(source, model, sink)
        except KeyboardInterrupt:
            pytest.fail("a second Ctrl-C undid the render")


def test_second_ctrl_c_while_finalising_keeps_the_output(clip, tmp_path):
    out = tmp_path / "out.mp4"
    stats = run(clip, out, Model(at=2, signals=1), finalising=interrupt)
    assert stats.interrupted and 2 <= stats.frames < N
    assert count_frames(out) == stats.frames
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_second_ctrl_c_skips_the_frame_in_flight_only(clip, tmp_path):
    out = tmp_path / "out.mp4"
    stats = run(clip, out, Model(at=3, signals=2))
    assert stats.interrupted and stats.frames == 3
    assert count_frames(out) == 3


def test_sigterm_during_start_up_exits_130(clip, tmp_path):
    """SIGTERM while the model loads: exit 130 and nothing left behind, like Ctrl-C."""
    loading = tmp_path / "loading"
    out = tmp_path / "out" / "x.mp4"
    script = (
        "import pathlib, sys, time\n"
        "from dreamstream.stream import cli, jobs\n"
        "def slow_model(mode, settings):\n"
        f"    pathlib.Path({str(loading)!r}).touch()\n"
        "    time.sleep(60)\n"
        "jobs.make_processor = slow_model\n"
        f"sys.exit(cli.main(['style', {str(clip)!r}, '-o', {str(out)!r}]))\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not loading.exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    assert loading.exists(), child.stderr.read() if child.poll() is not None else "no start"
    child.send_signal(signal.SIGTERM)
    status = child.wait(timeout=20)
    err = child.stderr.read()
    assert status == 130, (status, err)
    assert err.strip().splitlines() == ["dreamstream: interrupted"]
    assert not out.parent.exists()


def test_second_ctrl_c_while_live_closes_keeps_the_recording(clip, tmp_path, monkeypatch):
    """Live mode: Ctrl-C stops the show; a second one while the recording closes keeps it."""
    from dreamstream.stream import cli, processors, settings
    from dreamstream.stream.carry import as_processor
    from dreamstream.stream.live import command, recorder

    monkeypatch.setattr(
        processors, "make_processor", lambda mode, s, **kw: as_processor(Model(2, 1))
    )
    real_close = recorder.Recorder.close

    def close(self):
        interrupt()
        real_close(self)

    monkeypatch.setattr(recorder.Recorder, "close", close)
    rec = tmp_path / "rec.mp4"
    argv = ["live", str(clip), "--mode", "style", "--loop", "-o", str(rec), "--no-window"]
    args = cli.build_parser().parse_args([*argv, "--quiet"])
    try:
        status = command.main(args, settings.resolve())
    except KeyboardInterrupt:
        pytest.fail("a second Ctrl-C undid the recording")
    assert status == 130
    assert count_frames(rec) >= 1
    assert [p.name for p in tmp_path.iterdir()] == ["rec.mp4"]

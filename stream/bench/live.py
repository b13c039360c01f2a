"""Live-mode benchmark: frames/s and capture-to-display latency, and a memory soak.

For style and dream (dream under its default live latency budget) at 480p and
720p, a synthetic camera (a panning crop of ``samples/coffee.jpg`` delivered
at 30 fps in BGR, behind the same ``read()`` as ``cv2.VideoCapture``) feeds
the real live loop: grabber thread, optical flow, processor, budget. Latency
runs from the moment the grabber got a frame to the moment its output is
handed to the sinks ("display"). The first outputs (model compilation) are
left out of the figures; ``work`` is the budget's level at the end.

The soak plays ``samples/clip.mp4`` as a looping file through the live loop
in style mode, recording to an H.264 file, and samples the process's resident
memory every few seconds: flat memory means nothing accumulates per frame.

Run it as ``python -m dreamstream.stream.bench.live [--quick]``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from dreamstream.stream.io import open_sink, read_image
from dreamstream.stream.io.camera import Grabber
from dreamstream.stream.io.playback import FileCapture
from dreamstream.stream.live.budget import Budget, make_levels
from dreamstream.stream.live.command import DEFAULT_LATENCY_MS, live_looks, make_budget
from dreamstream.stream.live.looks import Looks
from dreamstream.stream.live.loop import LiveLoop
from dreamstream.stream.live.recorder import Recorder
from dreamstream.stream.processors import make_processor
from dreamstream.stream.settings import Settings

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SIZES = {"480p": (854, 480), "720p": (1280, 720)}
QUICK_SIZES = {"90p": (160, 90)}
WARMUP_OUTPUTS = 2
QUICK_DREAM = Settings(octaves=2, steps=2, steps_next=1)  # a smoke run, not a figure


class PanCamera:
    """``read() -> (ok, bgr)`` at ``fps``: a crop of a photo panning right and down."""

    def __init__(self, size: tuple[int, int], fps: float = 30.0):
        photo = read_image(SAMPLES / "coffee.jpg")[:, :, ::-1]
        scale = 1.3 * max(size[0] / photo.shape[1], size[1] / photo.shape[0])
        self.photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        self.size, self.period, self.count, self.next = size, 1.0 / fps, 0, time.monotonic()

    def read(self):
        self.next += self.period
        time.sleep(max(0.0, self.next - time.monotonic()))
        w, h = self.size
        span_x, span_y = self.photo.shape[1] - w, self.photo.shape[0] - h
        x = int(span_x * (0.5 + 0.5 * np.sin(self.count / 40)))
        y = int(span_y * (0.5 + 0.5 * np.cos(self.count / 55)))
        self.count += 1
        return True, np.ascontiguousarray(self.photo[y : y + h, x : x + w])

    def release(self):
        pass


def _later(seconds: float, action) -> threading.Timer:
    """Run ``action`` after ``seconds`` on a daemon timer (it never keeps the process alive)."""
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()
    return timer


def _drive(opener, mode: str, settings: Settings, seconds: float, **kw) -> dict:
    """Run the live loop for ``seconds`` once its budget has settled; figures of that span.

    Measuring starts after ``WARMUP_OUTPUTS`` outputs in a row at one work
    level, so model compilation and the budget's first moves are left out.
    """
    grabber = Grabber(opener)
    budget = make_budget(mode, settings)  # the command's own: a dream starts light and climbs
    looks = live_looks([(mode, settings)], mode, budget, background=False)
    shown: list[tuple[float, float]] = []
    counts: dict = {}  # the grabber's counters once warm: frames dropped while loading don't count
    settled = {"level": None, "outputs": 0}
    stop = threading.Event()

    def on_output(image, latency):
        if counts:
            shown.append((time.monotonic(), latency))
            return
        same = settled["level"] == budget.index
        settled.update(level=budget.index, outputs=settled["outputs"] + 1 if same else 1)
        if settled["outputs"] == WARMUP_OUTPUTS:
            shown.append((time.monotonic(), latency))
            counts.update(captured=grabber.captured, dropped=grabber.dropped)
            _later(seconds, stop.set)

    loop = LiveLoop(grabber, looks, settings, budget=budget, on_output=on_output, **kw)
    grabber.start()
    _later(seconds * 6 + 180, stop.set)  # a model too slow to settle
    try:
        loop.run(stop)
    finally:
        grabber.stop()
    return _figures(shown, loop, grabber, counts)


def _figures(shown: list, loop: LiveLoop, grabber: Grabber, warm: dict) -> dict:
    lat = sorted(1000 * latency for _, latency in shown[1:])
    span = shown[-1][0] - shown[0][0] if len(shown) > 1 else 0.0
    base = loop.looks.looks[0][1]
    work = loop.budget.level.work(base)
    return {
        "frames": len(shown) - 1,
        "fps": round((len(shown) - 1) / span, 2) if span > 0 else None,
        "latency_ms_p50": round(lat[len(lat) // 2], 1) if lat else None,
        "latency_ms_p95": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 1) if lat else None,
        "dropped_share": round(
            (grabber.dropped - warm.get("dropped", 0))
            / max(1, grabber.captured - warm.get("captured", 0)),
            3,
        ),
        "work": {
            "width": loop.size[0] if loop.size else None,
            "steps": work.get("steps_next"),
        },
    }


def rss_mb() -> float:
    """Resident memory of this process in MiB (Linux /proc; else the peak from getrusage)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def soak(seconds: float, every: float) -> dict:
    """Style on a looping file, recorded, for ``seconds`` after its first output.

    RSS is sampled every ``every`` seconds from the first output on, so model
    loading is not mistaken for growth.
    """
    samples: list[tuple[float, float]] = []
    stop, settings = threading.Event(), Settings(width=480)
    looks = Looks([("style", settings)], lambda s: make_processor("style", s.setup("style")))

    def sample(begin: float) -> None:
        samples.append((0.0, round(rss_mb(), 1)))
        while not stop.wait(every):
            samples.append((round(time.monotonic() - begin, 1), round(rss_mb(), 1)))

    def on_output(image, latency) -> None:
        if not samples:
            threading.Thread(target=sample, args=(time.monotonic(),), daemon=True).start()
            _later(seconds, stop.set)

    with tempfile.TemporaryDirectory() as tmp:
        recorder = Recorder(open_sink(Path(tmp) / "soak.mp4", fps=25, preset="veryfast"))
        grabber = Grabber(lambda: FileCapture(str(SAMPLES / "clip.mp4"), loop=True))
        loop = LiveLoop(
            grabber,
            looks,
            settings,
            recorder=recorder,
            on_output=on_output,
            budget=Budget(make_levels("style", settings), None),
        )
        _later(seconds + 300, stop.set)  # never hang on a stuck model
        grabber.start()
        try:
            loop.run(stop)
        finally:
            grabber.stop()
            recorder.close()
    mem = [m for _, m in samples] or [rss_mb()]
    return {
        "seconds": seconds,
        "frames": loop.stats.frames,
        "captured": grabber.captured,
        "recorded": recorder.sink.frames_written,
        "rss_mb": {"start": mem[0], "end": mem[-1], "max": max(mem)},
        "samples": samples,
    }


def run(quick: bool = False) -> dict:
    """Measure live mode; ``quick`` is a seconds-long smoke run at 160x90."""
    sizes, seconds = (QUICK_SIZES, 3.0) if quick else (SIZES, 20.0)
    results: dict = {"seconds_each": seconds, "budget_ms": DEFAULT_LATENCY_MS, "runs": {}}
    for mode in ("style", "dream"):
        for name, size in sizes.items():
            settings = QUICK_DREAM if quick and mode == "dream" else Settings()
            figures = _drive(lambda size=size: PanCamera(size), mode, settings, seconds)
            results["runs"][f"{mode} {name}"] = figures
    results["soak"] = soak(5.0 if quick else 60.0, 1.0 if quick else 5.0)
    results["table"] = _table(results)
    return results


def _table(results: dict) -> str:
    rows = [
        "| run | fps | latency p50 ms | p95 ms | dropped | work at end |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results["runs"].items():
        work = f"{r['work']['width']} px" + (
            f", {r['work']['steps']} steps" if r["work"]["steps"] is not None else ""
        )
        rows.append(
            f"| {name} | {r['fps']} | {r['latency_ms_p50']} | {r['latency_ms_p95']} "
            f"| {100 * r['dropped_share']:.0f}% | {work} |"
        )
    s = results["soak"]
    rows.append(
        f"\nsoak: {s['seconds']:.0f} s style on a looping file, {s['frames']} frames "
        f"shown, {s['recorded']} recorded; RSS MiB start {s['rss_mb']['start']}, "
        f"end {s['rss_mb']['end']}, max {s['rss_mb']['max']}"
    )
    return "\n".join(rows)


if __name__ == "__main__":
    output = run(quick="--quick" in sys.argv[1:])
    print(output["table"])
    print(json.dumps({k: v for k, v in output.items() if k != "table"}, indent=1))

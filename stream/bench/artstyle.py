"""Style by optimisation: fidelity to the style picture, temporal coherence and speed.

Three measures, each side by side in one run:

- Fidelity: the mean relative Gram distance (VGG16, the style layers; see
  :func:`dreamstream.core.artstyle.gram_distance`) of the optimised still to
  the style picture, against that of the fast arbitrary-style network on the
  same content and style, and of the unstyled content. Lower is closer.
- Temporal: real camera footage (one shot of ``samples/bikes.mp4``: traffic
  with motion blur) rendered with the temporal loss (each frame starts from
  the warped previous output) and with ``--no-flow`` (each frame optimised
  from scratch); the excess warping error of each (output's minus the
  input's, same flow and mask), their ratio, and the style distance of each,
  since steadiness must not be bought with less style.
- Long-term: the same shot rendered with the short-term temporal loss only and with
  Ruder et al.'s long-term loss (``--temporal-frames``): the excess warping
  error between consecutive outputs, the same measure between outputs k
  frames apart (flow measured directly between the two inputs; a pixel
  hidden for a few frames and seen again counts here), and the style
  distance of each. The k-apart measure uses the kind of flow and mask the
  long-term loss itself holds to, so it shows that loss at work rather than
  judging it independently.
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
from dreamstream.stream.bench.warp_error import REAL, SHOT
from dreamstream.stream.io import open_source, read_image
from dreamstream.stream.settings import Settings

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
STYLE = SAMPLES / "retina.jpg"
# Real footage from the start of its longest shot. The long-term measure takes
# 24 frames, to reach 20 of Ruder et al.'s 10, 20, 40 back.
SHOT_START = SHOT[0]
LONG_FRAMES, LONG_WIDTH, LONG_GAPS = 24, 192, "1,10,20"


def _fit(image: np.ndarray, width: int) -> np.ndarray:
    h = max(2, round(image.shape[0] * width / image.shape[1] / 2) * 2)
    return cv2.resize(image, (width, h), interpolation=cv2.INTER_AREA)


def fidelity(width: int, settings: Settings) -> dict:
    """Gram distance to the style: optimised still, fast arbitrary network, the content itself."""
    from dreamstream.stream.artstyle import make_painter
    from dreamstream.stream.weights.style import load_stylizer

    content = _fit(read_image(SAMPLES / "chelsea.jpg"), width)
    painter = make_painter(settings.art_setup())
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

    clip = dict(spec=REAL, start=SHOT_START, frames=frames, width=width)
    with open_source(**clip) as source:
        inputs = [f.image for f in source]
    processor = ArtStyleProcessor(settings.art_setup())
    outputs, seconds = {}, {}
    for name, flow in (("temporal loss", True), ("no flow", False)):
        begin = time.perf_counter()
        with open_source(**clip) as source:
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


def _gap_errors(inputs: list, outputs: dict, gap: int) -> dict:
    """Warping error between frames ``gap`` apart: the input's (floor) and each output's excess."""
    from dreamstream.core import flow as coreflow
    from dreamstream.core.measures import warping_error

    est = coreflow.FlowEstimator()
    pairs = [
        (t, *est.flow_and_mask(inputs[t], inputs[t - gap], soft=False))
        for t in range(gap, len(inputs))
    ]

    def error(frames: list) -> float:
        return float(
            np.nanmean([warping_error([frames[t - gap], frames[t]], [f], [m]) for t, f, m in pairs])
        )

    floor = error(inputs)
    return {"input": floor, **{name: error(frames) - floor for name, frames in outputs.items()}}


def longterm(
    clip: Path, start: int, width: int, frames: int, settings: Settings, gaps: str
) -> dict:
    """The short-term temporal loss alone against the long-term one (``gaps``), same clip."""
    from dreamstream.stream.artstyle import ArtStyleProcessor
    from dreamstream.stream.bench.pipeline import _coherence

    with open_source(clip, start=start, frames=frames, width=width) as source:
        inputs = [f.image for f in source]
    runs = {"short-term (1)": "1", f"long-term ({gaps})": gaps}
    outputs, seconds, distance = {}, {}, {}
    for name, value in runs.items():
        processor = ArtStyleProcessor(settings.replace(temporal_frames=value).art_setup())
        begin = time.perf_counter()
        with open_source(clip, start=start, frames=frames, width=width) as source:
            outputs[name] = [f.image for f in pipeline.render(source, processor)]
        seconds[name] = time.perf_counter() - begin
        distance[name] = float(
            np.mean([processor.painter.style_distance(o) for o in outputs[name]])
        )
    rows = _coherence(inputs, outputs)
    far = sorted({int(g) for g in gaps.split(",")} - {1})
    for name in outputs:
        rows[name].update(gram_distance=distance[name], seconds=seconds[name])
    return {
        "clip": f"samples/{clip.name}",
        "start": start,
        "size": list(inputs[0].shape[1::-1]),
        "frames": frames,
        "rows": rows,
        "gap_excess": {str(g): _gap_errors(inputs, outputs, g) for g in far if g < frames},
    }


def speed(widths: tuple[int, ...], settings: Settings, steps: int) -> dict:
    """Seconds per Adam step at each level of each width, and the frame times they imply."""
    from dreamstream.core.artstyle import Painter
    from dreamstream.stream.artstyle import make_painter

    painter: Painter = make_painter(settings.art_setup())
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
        f"samples/bikes.mp4 from frame {SHOT_START}, {t['frames']} frames at "
        f"{t['size'][0]}x{t['size'][1]}:",
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
        *_longterm_table(result["longterm"]),
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


def _longterm_table(long: dict) -> list[str]:
    gaps = list(long["gap_excess"])
    first, last = long["start"], long["start"] + long["frames"] - 1
    lines = [
        f"Long-term loss: {long['clip']} frames {first}-{last} at "
        f"{long['size'][0]}x{long['size'][1]}; excess warping error between outputs "
        f"k frames apart (flow measured directly between the inputs; k = 1 is the usual one):",
        "",
        "| temporal loss | k = 1 | "
        + " | ".join(f"k = {g}" for g in gaps)
        + " | Gram distance | seconds |",
        "| --- | ---: | " + " | ".join("---:" for _ in gaps) + " | ---: | ---: |",
    ]
    floors = [long["rows"]["input"]["warp_error"], *(long["gap_excess"][g]["input"] for g in gaps)]
    lines.append("| input (the floor) | " + " | ".join(f"{v:.5f}" for v in floors) + " | - | - |")
    for name, row in long["rows"].items():
        if name == "input":
            continue
        cells = [row["excess"], *(long["gap_excess"][g][name] for g in gaps)]
        lines.append(
            f"| {name} | "
            + " | ".join(f"{v:+.5f}" for v in cells)
            + f" | {row['gram_distance']:.3f} | {row['seconds']:.0f} |"
        )
    return lines


def _longterm_run(settings: Settings, quick: bool) -> dict:
    frames, width, gaps = (4, 96, "1,2") if quick else (LONG_FRAMES, LONG_WIDTH, LONG_GAPS)
    return longterm(REAL, SHOT_START, width, frames, settings, gaps)


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
        "longterm": _longterm_run(settings, quick),
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

"""The zoom animation: frames per second, and whether hundreds of moves blur it away.

``dreamstream bench --only animate`` renders the classic zoom (1.02 per frame,
0.2 degrees, 1 px down) from samples/chelsea.jpg with the default dream backbone,
twice side by side: moved with Lanczos (what ``animate`` does) and with
bilinear resampling. Per frame it records the sharpness (variance of the
Laplacian of the luminance, :func:`dreamstream.core.animate.sharpness`);
the figure that matters is its least-squares slope per 100 frames, relative to
its mean: flat (near 0) means the loop keeps its detail. Speed is reported as
CPU seconds per frame and frames per second at 512 px wide (a few frames).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
FULL = {"frames": 600, "width": 128, "speed_width": 512, "speed_frames": 6}
QUICK = {"frames": 12, "width": 64, "speed_width": 128, "speed_frames": 3}


def _settings(width: int, frames: int):
    from dreamstream.stream.settings import Settings

    return Settings(
        width=width,
        frames=frames,
        octaves=3,
        steps=10,
        steps_next=2,
        octaves_next=1,
        jitter=16,
        zoom=1.02,
        rotate=0.2,
        pan_y=1.0,
        layers="block4_conv3",
        precision="float32",  # the same numbers on every CPU
    )


def _run(width: int, frames: int, interpolation: str, keep: Path | None) -> dict:
    """One animation; sharpness per frame, CPU and wall seconds, chosen frames kept."""
    import dataclasses

    from dreamstream.core.animate import sharpness, slope_per_100
    from dreamstream.stream.animate import animate, last_frame, plan_from
    from dreamstream.stream.processors import DreamProcessor

    s = _settings(width, frames)
    plan = dataclasses.replace(plan_from(s, 25), interpolation=interpolation)
    processor = DreamProcessor(dataclasses.replace(s.setup("dream", 25), flow=False))
    start = last_frame(str(REPO / "samples" / "chelsea.jpg"), width, s.max_pixels)
    values, kept = [], {}
    wanted = {0, frames // 2, frames - 1}

    def seen(index, image):
        values.append(sharpness(image))
        if index in wanted:
            kept[index] = image

    cpu, wall = time.process_time(), time.perf_counter()
    animate(start, plan, processor.first, processor.grow, lambda f: None, on_frame=seen)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    result = {
        "frames": frames,
        "size": list(start.shape[1::-1]),
        "sharpness": [round(v, 2) for v in values],
        "slope_per_100": round(slope_per_100(values), 4),
        "first_last_50": [
            round(float(np.mean(values[:50])), 1),
            round(float(np.mean(values[-50:])), 1),
        ],
        "cpu_s_per_frame": round(cpu / frames, 3),
        "fps": round(frames / wall, 3),
    }
    if keep is not None:  # the layout docs/make_animation_figures.py reads
        import cv2

        folder = keep / interpolation
        folder.mkdir(parents=True, exist_ok=True)
        for index, image in kept.items():
            cv2.imwrite(str(folder / f"f{index:04d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        (folder / "result.json").write_text(json.dumps(result))
    return result


def run(quick: bool = False, keep: Path | None = None) -> dict:
    """Speed at 512 px and sharpness over a long zoom, Lanczos beside bilinear."""
    cfg = QUICK if quick else FULL
    speed = _run(cfg["speed_width"], cfg["speed_frames"], "lanczos", None)
    loops = {m: _run(cfg["width"], cfg["frames"], m, keep) for m in ("lanczos", "bilinear")}
    rows = [
        f"| {m} | {r['size'][0]}x{r['size'][1]} | {r['frames']} | {r['slope_per_100']:+.2%} "
        f"| {r['first_last_50'][0]:.0f} -> {r['first_last_50'][1]:.0f} |"
        for m, r in loops.items()
    ]
    table = "\n".join(
        [
            f"animate at {speed['size'][0]} px: {speed['fps']:.2f} fps, "
            f"{speed['cpu_s_per_frame']:.2f} CPU s per frame ({os.cpu_count()} cores)",
            "",
            "| resampling | size | frames | sharpness slope / 100 frames | mean sharpness "
            "first -> last 50 frames |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    return {
        "speed": {k: speed[k] for k in ("size", "fps", "cpu_s_per_frame")},
        "loops": loops,
        "table": table,
    }


if __name__ == "__main__":  # python -m dreamstream.stream.bench.animate OUTDIR [--quick]
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bench-results/animate")
    result = run(quick="--quick" in sys.argv, keep=out)
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(result["table"])

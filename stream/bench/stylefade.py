"""Styles along time: what a cross-fading frame costs beside a plain one; a demo strip.

``dreamstream bench --only stylefade`` styles frames of samples/bikes.mp4
three ways, interleaved so that the shared machine's load falls on all alike:

- ``plain``: one style (18), one network pass;
- ``fade``: halfway between styles 18 and 19, the style vector interpolated
  (what ``--style "0:(18), 120:(19)"`` does): one pass;
- ``two passes``: both styles run and their outputs mixed, what a fade of
  non-conditional networks would have to do (for comparison only).

Cost is CPU seconds per frame (user + system of every thread, which load
disturbs less than the wall clock) and its ratio to ``plain``. With ``--keep
OUT`` (``python -m dreamstream.stream.bench.stylefade OUT``) it also renders the
cross-fade through the whole pipeline (flow carry on) and writes the first,
middle and last frame side by side to ``OUT/style_fade.png`` (docs/).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
CLIP = REPO / "samples" / "bikes.mp4"
FROM, TO = "18", "19"
FULL = {"frames": 12, "width": 640, "reps": 6, "fade": 120, "strip_width": 320}
QUICK = {"frames": 2, "width": 160, "reps": 1, "fade": 8, "strip_width": 96}


def _frames(count: int, width: int) -> list[np.ndarray]:
    from dreamstream.stream.io import open_source

    with open_source(str(CLIP), width=width, frames=count) as source:
        return [f.image for f in source]


def _costs(stylizer, frames, reps: int) -> dict[str, float]:
    """CPU seconds per frame of each way, the ways interleaved ``reps`` times."""
    from dreamstream.core.params import parse_style

    a, b = parse_style(FROM), parse_style(TO)
    middle = 0.5 * a + 0.5 * b

    def two_passes(frame):
        mixed = 0.5 * stylizer(frame, a).astype(np.float32) + 0.5 * stylizer(frame, b)
        return np.rint(mixed).astype(np.uint8)

    ways = {
        "plain": lambda f: stylizer(f, a),
        "fade": lambda f: stylizer(f, middle),
        "two passes": two_passes,
    }
    stylizer(frames[0], a)  # the first call builds the runtime's kernels: not timed
    spent = dict.fromkeys(ways, 0.0)
    for rep in range(reps):
        order = list(ways)[rep % len(ways) :] + list(ways)[: rep % len(ways)]  # none always first
        for name in order:
            way = ways[name]
            cpu = time.process_time()
            for frame in frames:
                way(frame)
            spent[name] += time.process_time() - cpu
    return {name: s / (reps * len(frames)) for name, s in spent.items()}


def strip(out: Path, fade: int, width: int) -> Path:
    """Render the cross-fade through the pipeline; its first, middle and last frame in a row."""
    from PIL import Image

    from dreamstream.stream.io import read_image
    from dreamstream.stream.jobs import render_file
    from dreamstream.stream.settings import Settings

    settings = Settings(style=f"0:({FROM}), {fade}:({TO})", width=width, end=str(fade + 1))
    folder = out / "frames"
    render_file("style", str(CLIP), f"{folder}/%04d.png", settings, overwrite=True)
    picked = [read_image(folder / f"{i:04d}.png") for i in (0, fade // 2, fade)]
    gap = np.full((picked[0].shape[0], 4, 3), 255, np.uint8)
    row = np.concatenate([picked[0], gap, picked[1], gap, picked[2]], axis=1)
    path = out / "style_fade.png"
    # 256 colours (dithered) keep the README's picture near 100 KB, its look intact
    palette = Image.fromarray(row).quantize(256, Image.Quantize.MEDIANCUT)
    palette.save(path, optimize=True)
    return path


def run(quick: bool = False, keep: Path | None = None) -> dict:
    """Cost per frame of a fading frame beside a plain one (and the demo strip with ``keep``)."""
    from dreamstream.stream.runtimes import load_stylizer

    cfg = QUICK if quick else FULL
    frames = _frames(cfg["frames"], cfg["width"])
    stylizer, choice = load_stylizer(FROM)
    costs = _costs(stylizer, frames, cfg["reps"])
    h, w = frames[0].shape[:2]
    rows = [f"| {name} | {cpu:.3f} | {cpu / costs['plain']:.2f} |" for name, cpu in costs.items()]
    table = "\n".join(
        [
            f"26-style network on {choice.runtime}, {w}x{h} frames of bikes.mp4, "
            f"{len(frames)} frames x {cfg['reps']} (interleaved)",
            "",
            "| frame | CPU s per frame | ratio to plain |",
            "|---|---|---|",
            *rows,
        ]
    )
    result = {
        "runtime": choice.runtime,
        "size": [w, h],
        "cpu_s_per_frame": {k: round(v, 4) for k, v in costs.items()},
        "table": table,
    }
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        result["strip"] = str(strip(keep, cfg["fade"], cfg["strip_width"]))
    return result


if __name__ == "__main__":  # python -m dreamstream.stream.bench.stylefade OUTDIR [--quick]
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bench-results/stylefade")
    result = run(quick="--quick" in sys.argv, keep=out)
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(result["table"])

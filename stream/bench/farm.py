"""Segment rendering on Ray: how visible the seams are, and the speed-up of 2 workers.

Renders ``samples/clip.mp4`` (a slow camera pan and zoom) as a frame folder in
dream mode through :mod:`dreamstream.stream.farm`, each run on its own local
Ray cluster started for it, in one bench run:

- 1 worker and 2 workers, the same 4 segments: wall time of each, start-up of
  the cluster and of the workers' TensorFlow included (that is what a user
  waits for), and whether the two outputs are identical (they must be: each
  frame is seeded with seed + index and each segment warms up the same way);
- 2 workers without warm-up (``--warmup 0``): what the warm-up buys.

Seam quality: the warping error (Lai et al. 2018, flow measured on the input,
binary Ruder consistency mask) of each pair of consecutive output frames; the
mean over the pairs that cross a segment boundary divided by the median over
the other pairs. 1.0 means a seam is as steady as any other cut between
frames; the goal is <= 1.5.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from dreamstream.core import flow as coreflow
from dreamstream.core import measures
from dreamstream.stream.io import open_source, read_image
from dreamstream.stream.settings import Settings, load_preset

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SEGMENTS = 4


def pair_errors(inputs: list, outputs: list) -> list[float]:
    """Warping error of each output pair (t-1, t), with flow and mask measured on the inputs."""
    estimator = coreflow.FlowEstimator()
    errors = []
    for t in range(1, len(inputs)):
        flow, mask = estimator.flow_and_mask(inputs[t], inputs[t - 1], soft=False)
        errors.append(measures.warping_error([outputs[t - 1], outputs[t]], [flow], [mask]))
    return errors


def seam_ratio(errors: list[float], firsts: list[int]) -> dict:
    """Mean error across the boundaries at ``firsts`` (pair index first - 1) over the others'."""
    seams = [errors[f - 1] for f in firsts]
    others = [e for t, e in enumerate(errors) if t + 1 not in firsts]
    median = float(np.median(others))
    return {
        "seam": float(np.mean(seams)),
        "median_elsewhere": median,
        "ratio": float(np.mean(seams)) / median,
    }


def _render(clip: Path, out: Path, settings: Settings) -> tuple[float, dict]:
    from dreamstream.stream.jobs import render_file

    begin = time.perf_counter()
    summary = render_file("dream", str(clip), f"{out}/", settings)
    return time.perf_counter() - begin, summary


def _frames(folder: Path, count: int) -> list:
    return [read_image(folder / f"{i:05d}.png") for i in range(count)]


def run(quick: bool = False) -> dict:
    """The benchmark; ``quick`` renders a few tiny frames (a smoke run)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return {"table": "skipped: Ray is not installed (pip install 'dreamstream[ray]')"}
    frames, width = (16, 96) if quick else (48, 160)
    clip = SAMPLES / "clip.mp4"
    settings = Settings(**{**load_preset("subtle"), "frames": frames, "width": width})
    settings = settings.replace(segments=SEGMENTS)
    with open_source(clip, frames=frames, width=width) as source:
        inputs = [f.image for f in source]
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, changes in (
            ("1 worker", {"workers": 1}),
            ("2 workers", {"workers": 2}),
            ("2 workers, no warm-up", {"workers": 2, "warmup": 0}),
        ):
            seconds, summary = _render(clip, tmp / name, settings.replace(**changes))
            runs[name] = {"seconds": round(seconds, 2), "outputs": _frames(tmp / name, frames)}
    firsts = [frames * k // SEGMENTS for k in range(1, SEGMENTS)]
    results = {
        "settings": settings.as_dict(),
        "frames": frames,
        "size": list(inputs[0].shape[1::-1]),
        "segment_firsts": firsts,
        "speedup_2_vs_1": runs["1 worker"]["seconds"] / runs["2 workers"]["seconds"],
        "identical_1_and_2_workers": all(
            np.array_equal(a, b)
            for a, b in zip(runs["1 worker"]["outputs"], runs["2 workers"]["outputs"], strict=True)
        ),
    }
    for r in runs.values():
        r["seams"] = seam_ratio(pair_errors(inputs, r.pop("outputs")), firsts)
    results["runs"] = runs
    results["table"] = _table(results)
    return results


def _table(results: dict) -> str:
    w, h = results["size"]
    lines = [
        f"dream (subtle preset) on samples/clip.mp4, {w}x{h}, {results['frames']} frames "
        f"in {SEGMENTS} segments; wall time includes starting Ray and each worker's TensorFlow",
        "",
        "| run | seconds | seam warp error | median elsewhere | seam ratio (goal <= 1.5) |",
        "|---|---|---|---|---|",
    ]
    for name, r in results["runs"].items():
        s = r["seams"]
        lines.append(
            f"| {name} | {r['seconds']:.1f} | {s['seam']:.5f} | {s['median_elsewhere']:.5f} "
            f"| {s['ratio']:.2f} |"
        )
    lines += [
        "",
        f"speed-up 2 workers vs 1: {results['speedup_2_vs_1']:.2f}x; "
        f"outputs identical: {results['identical_1_and_2_workers']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run()["table"])

"""Segment rendering on Ray: how visible the seams are, and the speed-up of 2 workers.

Renders ``samples/clip.mp4`` (a slow camera pan and zoom) as a frame folder in
dream mode through :mod:`dreamstream.stream.farm`, each run on its own local
Ray cluster started for it, in one bench run:

- 1 worker and 2 workers, the same 4 segments: wall time of each, start-up of
  the cluster and of the workers' TensorFlow included (that is what a user
  waits for), and whether the two outputs are identical (they must be: each
  frame is seeded with seed + index and each segment warms up the same way);
- 2 workers without warm-up (``--warmup 0``, so no cross-fade either): what
  the warm-up and the seams' cross-fade buy;
- an uninterrupted render without Ray, the reference: its first segment must
  equal the segmented renders' exactly, and its own "seams" (the same pairs)
  show how much the measure varies where nothing was cut.

Seam quality: the warping error (Lai et al. 2018, flow measured on the input,
binary Ruder consistency mask) of each pair of consecutive output frames, over
the median of the pairs away from the seams. 1.0 means a seam is as steady as
any other cut between frames; the goal is <= 1.5.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from dreamstream.core import flow as coreflow
from dreamstream.core import measures
from dreamstream.stream.farm.plan import plan_segments
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


def seam_pairs(segments) -> list[int]:
    """The frames t whose pair (t-1, t) crosses a seam: a boundary and its cross-fade."""
    return [t for g in segments[1:] for t in range(g.first, g.own_first + 1)]


def seam_ratio(errors: list[float], segments) -> dict:
    """Warping error at the seams against the median of every other pair.

    ``errors[t - 1]`` is the error of pair (t-1, t). Reported: the boundary pairs
    alone (t = a segment's first frame), every pair of the seams (the boundary and
    its cross-fade) and the worst of those, each over the median elsewhere.
    """
    boundary = [errors[g.first - 1] for g in segments[1:]]
    seams = set(seam_pairs(segments))
    median = float(np.median([e for t, e in enumerate(errors, 1) if t not in seams]))
    in_seams = [errors[t - 1] for t in sorted(seams)]
    return {
        "median_elsewhere": median,
        "boundary": float(np.mean(boundary)) / median,
        "seam_mean": float(np.mean(in_seams)) / median if in_seams else float("nan"),
        "seam_worst": float(np.max(in_seams)) / median if in_seams else float("nan"),
    }


def _render(clip: Path, out: Path, settings: Settings) -> tuple[float, dict]:
    from dreamstream.stream.jobs import render_file

    begin = time.perf_counter()
    summary = render_file("dream", str(clip), f"{out}/", settings)
    return time.perf_counter() - begin, summary


def _same(a: dict, b: dict, count: int) -> bool:
    """Whether two runs' first ``count`` output frames are identical."""
    pairs = zip(a["outputs"][:count], b["outputs"][:count], strict=True)
    return all(np.array_equal(x, y) for x, y in pairs)


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
            ("uninterrupted, no Ray", {}),
            ("1 worker", {"workers": 1}),
            ("2 workers", {"workers": 2}),
            ("2 workers, no warm-up", {"workers": 2, "warmup": 0}),
        ):
            seconds, summary = _render(clip, tmp / name, settings.replace(**changes))
            runs[name] = {"seconds": round(seconds, 2), "outputs": _frames(tmp / name, frames)}

    def plan(warmup: int):
        return plan_segments(0, frames, SEGMENTS, warmup)

    results = {
        "settings": settings.as_dict(),
        "frames": frames,
        "size": list(inputs[0].shape[1::-1]),
        "segment_firsts": [g.first for g in plan(settings.warmup)[1:]],
        "speedup_2_vs_1": runs["1 worker"]["seconds"] / runs["2 workers"]["seconds"],
        "identical_1_and_2_workers": _same(runs["1 worker"], runs["2 workers"], frames),
        "first_segment_exact": _same(
            runs["uninterrupted, no Ray"], runs["2 workers"], plan(settings.warmup)[0].last
        ),
    }
    for name, r in runs.items():
        warmup = 0 if "no warm-up" in name else settings.warmup
        r["seams"] = seam_ratio(pair_errors(inputs, r.pop("outputs")), plan(warmup))
    results["runs"] = runs
    results["table"] = _table(results)
    return results


def _table(results: dict) -> str:
    w, h = results["size"]
    lines = [
        f"dream (subtle preset) on samples/clip.mp4, {w}x{h}, {results['frames']} frames "
        f"in {SEGMENTS} segments; wall time includes starting Ray and each worker's TensorFlow",
        "",
        "Warping error over its median elsewhere (goal <= 1.5): at the boundary pairs, "
        "over every pair of the seams (boundary and cross-fade), and the worst of those.",
        "",
        "| run | seconds | median elsewhere | boundary | seams, mean | seams, worst |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results["runs"].items():
        s = r["seams"]
        lines.append(
            f"| {name} | {r['seconds']:.1f} | {s['median_elsewhere']:.5f} | {s['boundary']:.2f} "
            f"| {s['seam_mean']:.2f} | {s['seam_worst']:.2f} |"
        )
    lines += [
        "",
        f"speed-up 2 workers vs 1: {results['speedup_2_vs_1']:.2f}x; "
        f"outputs of 1 and 2 workers identical: {results['identical_1_and_2_workers']}; "
        f"first segment equal to the uninterrupted render: {results['first_segment_exact']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run()["table"])

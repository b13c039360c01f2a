"""``animate`` on the farm: how visible its seams are, and the speed-up of 2 workers.

Renders the zoom animation (1.02 per frame, 0.2 degrees, 1 px down) from
samples/chelsea.jpg as a frame folder, each run on its own local Ray cluster,
in one bench run: an uninterrupted render without Ray (the reference), 1 and
2 workers over the same 4 segments, and 2 workers without warm-up (so no
cross-fade either).

Seam measure. An animation has no input flow to warp along, but its motion is
known: the change of a pair (t-1, t) is the mean absolute difference, in
levels, between frame t and frame t-1 moved by frame t's own move (what the
dream steps changed). Reported per run: the change at the boundary pairs
(a segment's first frame), over every pair of the seams (boundary and
cross-fade) and the worst of those, each over the median change elsewhere
in the same run. 1.0 means a seam changes the picture no more than any other
frame does; the reference's figure at the same pairs shows how much the
measure varies where nothing was cut.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from dreamstream.stream.bench.farm import seam_pairs
from dreamstream.stream.farm.plan import plan_segments

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SEGMENTS = 4


def _settings(frames: int, width: int):
    from dreamstream.stream.settings import Settings

    return Settings(
        width=width,
        frames=frames,
        octaves=2,
        steps=6,
        steps_next=2,
        octaves_next=1,
        zoom=1.02,
        rotate=0.2,
        pan_y=1.0,
        layers="block4_conv3",
        precision="float32",
        segments=SEGMENTS,
    )


def pair_changes(frames: list[np.ndarray], plan) -> list[float]:
    """``changes[t - 1]``: mean |frame t - frame t-1 moved by motion t|, in levels."""
    from dreamstream.core.animate import move

    changes = []
    for t in range(1, len(frames)):
        moved = move(frames[t - 1], plan.motion(t), plan.interpolation)
        changes.append(float(np.abs(frames[t].astype(np.float32) - moved).mean()))
    return changes


def seam_ratio(changes: list[float], segments) -> dict:
    """The change at the seams over the median change elsewhere (see the module notes)."""
    seams = set(seam_pairs(segments))
    median = float(np.median([c for t, c in enumerate(changes, 1) if t not in seams]))
    boundary = [changes[g.first - 1] for g in segments[1:]]
    in_seams = [changes[t - 1] for t in sorted(seams)]
    return {
        "median_elsewhere": median,
        "boundary": float(np.mean(boundary)) / median,
        "seam_mean": float(np.mean(in_seams)) / median if in_seams else float("nan"),
        "seam_worst": float(np.max(in_seams)) / median if in_seams else float("nan"),
    }


def run(quick: bool = False, frames: int | None = None, width: int | None = None) -> dict:
    """The benchmark; ``quick`` renders a few tiny frames (a smoke run); ``frames`` and
    ``width`` override the size."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return {"table": "skipped: Ray is not installed (pip install 'dreamstream[ray]')"}
    from dreamstream.stream.animate import plan_from
    from dreamstream.stream.io import read_image
    from dreamstream.stream.jobs import render_animation_file as render_animation

    size = (16, 64) if quick else (64, 160)
    frames, width = frames or size[0], width or size[1]
    settings = _settings(frames, width)
    still = str(SAMPLES / "chelsea.jpg")
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, changes in (
            ("uninterrupted, no Ray", {"segments": None}),
            ("1 worker", {"workers": 1}),
            ("2 workers", {"workers": 2}),
            ("2 workers, no warm-up", {"workers": 2, "warmup": 0}),
        ):
            out = Path(tmp) / name
            begin = time.perf_counter()
            render_animation(still, f"{out}/", settings.replace(**changes))
            seconds = time.perf_counter() - begin
            images = [read_image(out / f"{i:05d}.png") for i in range(frames)]
            runs[name] = {"seconds": round(seconds, 2), "outputs": images}
    plan = plan_from(settings, 25)
    reference = runs["uninterrupted, no Ray"]["outputs"]
    firsts = plan_segments(0, frames, SEGMENTS, settings.warmup)
    results = {
        "settings": settings.as_dict(),
        "frames": frames,
        "size": list(reference[0].shape[1::-1]),
        "segment_firsts": [g.first for g in firsts[1:]],
        "speedup_2_vs_1": runs["1 worker"]["seconds"] / runs["2 workers"]["seconds"],
        "first_segment_exact": all(
            np.array_equal(a, b)
            for a, b in zip(reference[: firsts[0].last], runs["2 workers"]["outputs"], strict=False)
        ),
    }
    for name, r in runs.items():
        warmup = 0 if "no warm-up" in name else settings.warmup
        segments = plan_segments(0, frames, SEGMENTS, warmup)
        r["seams"] = seam_ratio(pair_changes(r.pop("outputs"), plan), segments)
    results["runs"] = runs
    results["table"] = _table(results)
    return results


def _table(results: dict) -> str:
    w, h = results["size"]
    lines = [
        f"animate (zoom 1.02, rotate 0.2, pan 0,1) from samples/chelsea.jpg, {w}x{h}, "
        f"{results['frames']} frames in {SEGMENTS} segments (firsts {results['segment_firsts']}); "
        "wall time includes starting Ray and each worker's TensorFlow",
        "",
        "Frame-to-frame change (after the known move) over its median elsewhere: at the "
        "boundary pairs, over every pair of the seams, and the worst of those.",
        "",
        "| run | seconds | median change elsewhere (levels) | boundary | seams, mean | "
        "seams, worst |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results["runs"].items():
        s = r["seams"]
        lines.append(
            f"| {name} | {r['seconds']:.1f} | {s['median_elsewhere']:.2f} | {s['boundary']:.2f} "
            f"| {s['seam_mean']:.2f} | {s['seam_worst']:.2f} |"
        )
    lines += [
        "",
        f"speed-up 2 workers vs 1: {results['speedup_2_vs_1']:.2f}x; first segment equal to "
        f"the uninterrupted render: {results['first_segment_exact']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(run(False, *(int(a) for a in sys.argv[1:3]))["table"])

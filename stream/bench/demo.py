"""``make demo`` timed as a newcomer runs it: a cold process, the whole sample clip.

Two sides, each a fresh ``dreamstream dream`` process on samples/clip.mp4
(100 frames, audio kept): the CPU demo as shipped (``--preset demo``) and
the demo as it was before (``--preset subtle --width 320``). Seconds are wall
time from the command's start to its end, start-up included, and the CPU time
of the process (which holds up better when other programs share the CPU).
The goal is 60 s on a 2-core AVX2 CPU; on a CPU with AVX-512, run it as
``ONEDNN_MAX_CPU_ISA=AVX2 dreamstream bench --only demo`` with ``--precision
float32`` in effect (this module passes it) to stand for one.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLIP = Path(__file__).resolve().parents[2] / "samples" / "clip.mp4"
SIDES = {"demo": ["--preset", "demo"], "before": ["--preset", "subtle", "--width", "320"]}
GOAL_SECONDS = 60.0


def time_demo(flags: list, frames: int | None, folder: str) -> dict:
    """Wall and CPU seconds of one cold ``dreamstream dream`` run of the clip."""
    out = Path(folder) / "demo.mp4"
    cmd = [sys.executable, "-m", "dreamstream.stream.cli", "dream", str(CLIP), "-o", str(out)]
    cmd += ["--overwrite", "--precision", "float32", *flags]
    if frames:
        cmd += ["--frames", str(frames)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"seconds": wall, "cpu_seconds": cpu, "output": done.stdout.strip()}


def run(quick: bool = False) -> dict:
    """Both sides; JSON-able figures and a Markdown ``"table"``."""
    frames = 4 if quick else None
    with tempfile.TemporaryDirectory() as folder:
        sides = {name: time_demo(flags, frames, folder) for name, flags in SIDES.items()}
    result = {
        "clip": CLIP.name,
        "frames": frames or 100,
        "isa_limit": os.environ.get("ONEDNN_MAX_CPU_ISA", "none"),
        "sides": sides,
    }
    result["table"] = table(result)
    return result


def table(r: dict) -> str:
    """The two runs as Markdown, with their ratio and the goal."""
    lines = [
        f"`make demo` as a cold process: {r['clip']}, {r['frames']} frames, float32, "
        f"oneDNN ISA limit: {r['isa_limit']}; goal <= {GOAL_SECONDS:.0f} s",
        "",
        "| side | flags | seconds (wall) | CPU seconds |",
        "| --- | --- | ---: | ---: |",
    ]
    for name, side in r["sides"].items():
        flags = " ".join(SIDES[name])
        if "error" in side:
            lines.append(f"| {name} | `{flags}` | failed: {side['error']} | |")
            continue
        lines.append(f"| {name} | `{flags}` | {side['seconds']:.1f} | {side['cpu_seconds']:.1f} |")
    demo, before = r["sides"]["demo"], r["sides"]["before"]
    if "error" not in demo and "error" not in before:
        lines.append(
            f"| before / demo | | {before['seconds'] / demo['seconds']:.2f}x "
            f"| {before['cpu_seconds'] / demo['cpu_seconds']:.2f}x |"
        )
    return "\n".join(lines)

"""Benchmarks behind ``make bench`` and ``dreamstream bench``.

One module per measured subject; each exposes ``run(quick=False) -> dict``
with JSON-able figures and a ready Markdown ``"table"``. Figures are ratios
measured side by side in one run on one machine; ``results.json`` names the
machine.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import time
from pathlib import Path

SPEED_FLAGS = frozenset({"avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16"})
SUBJECTS = (
    "demo",
    "dream",
    "style",
    "startup",
    "pipeline",
    "live",
    "livespeed",
    "artstyle",
    "farm",
    "animfarm",
    "temporal",
    "animate",
    "masks",
    "stylefade",
)


def machine() -> dict:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from dreamstream.stream.machine import cpu_flags, devices

    return {
        "cpu": cpu,
        # What decides the CPU's speed here: vector width and bfloat16/AMX units,
        # and any cap put on oneDNN (the plain-AVX2 figures are taken under one).
        "cpu_flags": sorted(SPEED_FLAGS & cpu_flags()),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "cores": os.cpu_count(),
        "devices": devices(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }


def chart(results: dict, path: Path) -> Path | None:
    """A PNG of frames/s per stage and warping error per mode (needs matplotlib)."""
    clips = results.get("pipeline", {}).get("clips")
    if not clips:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name, clip = next(iter(clips.items()))
    modes = list(clip["speed"])
    stages = ("decode", "flow", "model", "encode")
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for k, stage in enumerate(stages):
        values = [clip["speed"][m]["stage_fps"][stage] or 0 for m in modes]
        left.barh([i + k * 0.2 for i in range(len(modes))], values, height=0.2, label=stage)
    left.set_yticks([i + 0.3 for i in range(len(modes))], modes)
    left.set_xscale("log")
    left.set_xlabel("frames/s per stage (log)")
    left.legend()
    rows = clip["coherence"]
    right.barh(list(rows), [r["warp_error"] for r in rows.values()], color="tab:purple")
    right.set_xlabel("warping error (lower is steadier)")
    fig.suptitle(f"dreamstream pipeline on {name}, {clip['size'][0]}x{clip['size'][1]}")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def markdown(results: dict) -> str:
    """Every subject's table under a heading, after a line naming the machine."""
    m = results["machine"]
    devices = ", ".join(d for names in m["devices"].values() for d in names) or "CPU"
    flags = " ".join(m.get("cpu_flags", [])) or "none of " + " ".join(sorted(SPEED_FLAGS))
    cap = m.get("onednn_max_cpu_isa")
    lines = [
        f"Measured {m['date']} on {m['cpu']}, {m['cores']} cores ({devices}); "
        f"CPU flags: {flags}{f'; ONEDNN_MAX_CPU_ISA={cap}' if cap else ''}.",
        "",
    ]
    for name in SUBJECTS:
        if name in results:
            lines += [f"### {name}", "", results[name]["table"].strip(), ""]
    return "\n".join(lines)


def main(args) -> int:
    """``dreamstream bench``: run the chosen benchmarks, print and save the results."""
    if args.warp_error:
        from dreamstream.stream.bench.warp_error import warp_error

        print(json.dumps(warp_error(*args.warp_error), indent=2))
        return 0
    names = SUBJECTS if args.all or not args.only else tuple(args.only.split(","))
    unknown = set(names) - set(SUBJECTS)
    if unknown:
        from dreamstream.core.errors import InputError

        raise InputError(f"unknown benchmark {sorted(unknown)}; choose from {SUBJECTS}")
    from dreamstream.stream.io import files

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {"machine": machine(), "quick": bool(args.quick)}
    for name in names:
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"dreamstream.stream.bench.{name}")
        results[name] = module.run(quick=args.quick)
        print(results[name]["table"], flush=True)
        text = json.dumps(results, indent=1, default=str)
        files.write_atomic(out / "results.json", text.encode())
        files.write_atomic(out / "results.md", markdown(results).encode())
    try:
        if chart(results, out / "pipeline.png"):
            print(f"chart: {out / 'pipeline.png'}")
    except ImportError:
        print("no chart: matplotlib is not installed (pip install dreamstream[bench])")
    print(f"results: {out / 'results.json'} and {out / 'results.md'}")
    return 0

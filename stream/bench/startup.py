"""Start-up: how soon each command answers, measured as a user meets it.

``python -m dreamstream.stream.bench.startup [--quick]`` prints a Markdown
table and the JSON figures. Every command runs as a fresh process (a cold
Python, a warm disk cache: each runs once before the timed rounds) and the
best of the rounds counts:

- ``dreamstream --help`` and a bad input (a missing file): until the process
  exits, and its CPU seconds (which other load on the machine does not inflate);
- ``dreamstream style`` and ``dreamstream dream`` on the sample clip, writing
  numbered PNGs: until the first output frame exists on disk (frames are
  written atomically, so a file that exists is complete).

The dream also runs as a plain AVX2 CPU computes it (oneDNN held to AVX2 by
``ONEDNN_MAX_CPU_ISA=AVX2``, ``--precision float32``). Then one more fresh
process times where the dream's start-up goes, phase by phase (wall and CPU
seconds): imports, the framework, the backbone and compiled step, the first
frame (two calls: the dream and its anchored follow-up, as the CLI runs them),
and the same first frame again once everything is traced: the work itself,
which no start-up trick removes.

It also says whether a style render on its default runtime imported
TensorFlow, and whether anything was printed on stderr.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
GOALS = {
    "--help": 0.5,
    "bad input": 0.5,
    "style first frame": 2.0,
    "dream first frame": 4.0,
    "dream first frame, AVX2 float32": 4.0,
}
AVX2 = {"ONEDNN_MAX_CPU_ISA": "AVX2"}
CLI = [sys.executable, "-m", "dreamstream.stream.cli"]
CPU_SECONDS: dict[str, float] = {}  # of the commands timed until they exit, last round


def _until_exit(args: list[str]) -> tuple[float, str]:
    begin, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run([*CLI, *args], capture_output=True, text=True)
    seconds = time.perf_counter() - begin
    CPU_SECONDS[args[0] if args[0] == "--help" else "bad input"] = _children_cpu() - cpu
    return seconds, done.stderr


def _children_cpu() -> float:
    """CPU seconds (user + system) used so far by finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _until_first_frame(
    args: list[str], folder: Path, timeout: float = 300, env: dict | None = None
) -> tuple[float, str]:
    """Seconds from the start of the command to its first output frame; then it is stopped."""
    begin = time.perf_counter()
    proc = subprocess.Popen(
        [*CLI, *args, "-o", str(folder / "%05d.png"), "--overwrite", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        while not any(folder.glob("*.png")):
            if proc.poll() is not None or time.perf_counter() - begin > timeout:
                raise RuntimeError(f"no frame from {' '.join(args)}: {proc.stderr.read()[-400:]}")
            time.sleep(0.005)
        seconds = time.perf_counter() - begin
    finally:
        proc.terminate()
        _, err = proc.communicate()
    return seconds, err


def _cases(work: Path, quick: bool) -> dict:
    clip = str(SAMPLES / "clip.mp4")
    dream_extra = ["--width", "128", "--octaves", "2", "--steps", "2"] if quick else []
    return {
        "--help": lambda: _until_exit(["--help"]),
        "bad input": lambda: _until_exit(["style", str(work / "missing.mp4"), "-o", "out.mp4"]),
        "style first frame": lambda: _until_first_frame(
            ["style", clip, "--style", "7", "--frames", "3"], _fresh(work / "style")
        ),
        "dream first frame": lambda: _until_first_frame(
            ["dream", clip, "--frames", "2", *dream_extra], _fresh(work / "dream")
        ),
        "dream first frame, AVX2 float32": lambda: _until_first_frame(
            ["dream", clip, "--frames", "2", "--precision", "float32", *dream_extra],
            _fresh(work / "dream-avx2"),
            env=AVX2,
        ),
    }


def _fresh(folder: Path) -> Path:
    for old in folder.glob("*"):
        old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def dream_phases(overrides: dict) -> dict:
    """Wall and CPU seconds of each phase of a dream's start-up, in this process.

    Run it in a fresh process (:func:`_phases`): the framework must not be
    imported yet. ``overrides`` are Settings fields (``{"width": 128}``); the
    rest are the defaults.
    """
    clock = {"wall": time.perf_counter(), "cpu": time.process_time()}
    phases = {}

    def phase(name: str) -> None:
        now = {"wall": time.perf_counter(), "cpu": time.process_time()}
        phases[name] = {k: round(now[k] - clock[k], 3) for k in now}
        clock.update(now)

    from dreamstream.stream.io import open_source
    from dreamstream.stream.machine import load_framework
    from dreamstream.stream.processors import DreamProcessor
    from dreamstream.stream.settings import Settings

    settings = Settings(**overrides)
    with open_source(str(SAMPLES / "clip.mp4"), **settings.source_options().kwargs()) as source:
        frame = next(iter(source)).image
    phase("imports, first frame decoded")
    load_framework()
    phase("framework")
    processor = DreamProcessor(settings.dream_setup())
    phase("backbone and dreamer")
    processor.first(frame, 0)
    phase("first frame")
    processor.first(frame, 0)
    phase("first frame again, traced")
    return phases


def _phases(quick: bool) -> dict:
    """:func:`dream_phases` in a fresh process, best of a few (by wall seconds per phase)."""
    overrides = {"width": 128, "octaves": 2, "steps": 2} if quick else {}
    code = (
        "import json; from dreamstream.stream.bench.startup import dream_phases; "
        f"print(json.dumps(dream_phases({overrides!r})))"
    )
    best: dict = {}
    for _ in range(1 if quick else 3):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"dream phases failed: {done.stderr[-400:]}")
        for name, took in json.loads(done.stdout.strip().splitlines()[-1]).items():
            if name not in best or took["wall"] < best[name]["wall"]:
                best[name] = took
    return best


def _style_imports_tensorflow() -> bool:
    code = (
        "import sys; from dreamstream.stream.cli import main; "
        f"main(['style', {str(SAMPLES / 'chelsea.jpg')!r}, '-o', 'null', '--quiet']); "
        "print('tensorflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return done.stdout.strip().endswith("True")


def run(quick: bool = False) -> dict:
    """Seconds to each command's answer (best of the rounds) against the goals of issue 13."""
    rounds = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="dreamstream-bench-startup-") as tmp:
        cases = _cases(Path(tmp), quick)
        best, stderr = dict.fromkeys(cases, float("inf")), {}
        for round_ in range(rounds + 1):  # round 0 warms the disk cache
            for name, case in cases.items():
                seconds, stderr[name] = case()
                if round_:
                    best[name] = min(best[name], seconds)
    quiet = {k: (v.strip() == "" or k == "bad input") for k, v in stderr.items()}
    lines = [
        "| command | seconds | CPU seconds | goal | met | stderr clean |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for name, seconds in best.items():
        met = "yes" if seconds <= GOALS[name] else "no"
        cpu = f"{CPU_SECONDS[name]:.2f}" if name in CPU_SECONDS else "-"
        lines.append(f"| {name} | {seconds:.2f} | {cpu} | {GOALS[name]} | {met} | {quiet[name]} |")
    imports_tf = _style_imports_tensorflow()
    lines.append("")
    lines.append(f"A style render on the default runtime imports TensorFlow: {imports_tf}.")
    phases = _phases(quick)
    lines += ["", "Where a dream's start-up goes (one process, best of the rounds):", ""]
    lines += ["| phase | seconds | CPU seconds |", "| --- | ---: | ---: |"]
    lines += [f"| {k} | {v['wall']:.2f} | {v['cpu']:.2f} |" for k, v in phases.items()]
    return {
        "subject": "start-up",
        "seconds": best,
        "cpu_seconds": dict(CPU_SECONDS),
        "goals": GOALS,
        "stderr_clean": quiet,
        "style_imports_tensorflow": imports_tf,
        "dream_phases": phases,
        "table": "\n".join(lines),
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

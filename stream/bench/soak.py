"""Soak test of live mode with its remote controls: does anything grow over hours?

Runs ``dreamstream live`` (a child process, as an installation would) on
``samples/clip.mp4`` played in a loop, style mode over a few looks, output to
the preview only. While it runs, a client polls the control page, its JSON
state, the current picture and a short read of the MJPEG stream, and sends
OSC messages (look changes, sliders, pause, reset) and JSON posts. Every
``--every`` seconds the child's resident memory, open file descriptors,
threads and output frame rate are written to ``soak.csv``; at the end the
slopes per hour (least squares, after the first ``--settle`` minutes, when
models and allocator arenas have been made) go to ``soak.json`` and a chart
to ``soak.png``.

Run it as ``python -m dreamstream.stream.bench.soak --minutes 60`` (or
``make soak SOAK_MINUTES=60``); ``--plot soak.csv`` redraws a chart.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
FIELDS = ("minute", "rss_mb", "fds", "threads", "fps", "frames", "errors", "requests", "osc")
GROWTH = ("rss_mb", "fds", "threads")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_figures(pid: int) -> dict:
    """Resident memory (MiB), open file descriptors and threads of process ``pid`` (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    values = dict(line.split(":", 1) for line in status if ":" in line)
    return {
        "rss_mb": int(values["VmRSS"].split()[0]) / 1024,
        "threads": int(values["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


class Client:
    """Uses the control page, its JSON routes, the picture and OSC, as a visitor would."""

    def __init__(self, http_port: int, osc_port: int, looks: int):
        from pythonosc.udp_client import SimpleUDPClient

        self.base = f"http://127.0.0.1:{http_port}"
        self.osc = SimpleUDPClient("127.0.0.1", osc_port)
        self.looks, self.requests, self.sent, self.failures = looks, 0, 0, 0
        self.random = random.Random(0)

    def get(self, path: str, limit: int | None = None) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=10) as answer:
            data = answer.read(limit) if limit else answer.read()
        self.requests += 1
        return data

    def post(self, changes: dict) -> None:
        body = json.dumps(changes).encode()
        request = urllib.request.Request(
            self.base + "/api/control", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()
        self.requests += 1

    def state(self) -> dict:
        return json.loads(self.get("/api/state"))

    def round(self, turn: int) -> None:
        """One visit: the page, the state, a picture, a bit of stream, and a few changes."""
        self.get("/control")
        self.state()
        self.get("/frame.jpg")
        if turn % 5 == 0:
            self.get("/stream.mjpg", limit=64 * 1024)  # a viewer that leaves mid-stream
        r = self.random
        messages = [
            ("/strength", round(r.uniform(0.3, 1.0), 2)),
            ("/temporal", round(r.uniform(0.2, 0.9), 2)),
        ]
        if turn % 3 == 0:
            messages.append(("/look", turn // 3 % self.looks))
        if turn % 7 == 0:
            messages.append(("/next", 1))
        if turn % 11 == 0:
            messages += [("/pause", 1), ("/pause", 0), ("/reset", 1)]
        if turn % 13 == 0:
            messages.append(("/style", str(r.randrange(26))))
        for address, value in messages:
            self.osc.send_message(address, value)
            self.sent += 1
        if turn % 4 == 0:
            self.post({"strength": round(r.uniform(0.3, 1.0), 2), "overlay": turn % 8 == 0})


def _drive(client: Client, stop: threading.Event, period: float) -> None:
    turn = 0
    while not stop.wait(period):
        try:
            client.round(turn)
        except OSError as exc:  # counted and shown: a soak that cannot reach the page fails
            client.failures += 1
            print(f"soak: client: {exc}", file=sys.stderr, flush=True)
        turn += 1


def start_live(http_port: int, osc_port: int, args) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "dreamstream.stream.cli", "live", str(SAMPLES / "clip.mp4"),
        "--loop", "--mode", "style", "--cycle-list", args.looks, "--width", str(args.width),
        "--no-window", "--serve", f"127.0.0.1:{http_port}", "--osc", f"127.0.0.1:{osc_port}",
        "--quiet",
    ]  # fmt: skip
    return subprocess.Popen(command, stdin=subprocess.DEVNULL)


def _wait_ready(client: Client, child: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"soak: dreamstream live exited with status {child.returncode}")
        try:
            if client.state().get("frames"):
                return
        except OSError:
            pass
        time.sleep(1)
    raise SystemExit("soak: no frame from dreamstream live within 5 minutes")


@contextlib.contextmanager
def _until_interrupted():
    """Ctrl-C ends the sampling early; what was sampled is still summarised."""
    try:
        yield
    except KeyboardInterrupt:
        print("soak: interrupted; summarising what was sampled", file=sys.stderr)


def run(args) -> dict:
    """The soak itself: samples in ``args.out/soak.csv``; returns the summary."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    http_port, osc_port = free_port(), free_port(socket.SOCK_DGRAM)
    child = start_live(http_port, osc_port, args)
    client = Client(http_port, osc_port, len(args.looks.split(",")))
    stop, rows = threading.Event(), []
    try:
        _wait_ready(client, child)
        driver = threading.Thread(target=_drive, args=(client, stop, args.poll), daemon=True)
        driver.start()
        started, last = time.monotonic(), client.state()
        end = started + args.minutes * 60
        with open(out / "soak.csv", "w", newline="") as f, _until_interrupted():
            writer = csv.DictWriter(f, FIELDS)
            writer.writeheader()
            while True:
                now = time.monotonic()
                state = client.state()
                span = max(1e-9, state["uptime_s"] - last["uptime_s"])
                row = {
                    "minute": round((now - started) / 60, 3),
                    **proc_figures(child.pid),
                    "fps": round((state["frames"] - last["frames"]) / span, 3) if rows else "",
                    "frames": state["frames"],
                    "errors": state["errors"],
                    "requests": client.requests,
                    "osc": client.sent,
                }
                rows.append(row)
                writer.writerow(row)
                f.flush()
                last = state
                if now >= end or child.poll() is not None:
                    break
                time.sleep(min(args.every, max(0.0, end - now)))
    finally:
        stop.set()
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(60)
            except subprocess.TimeoutExpired:
                child.kill()
    summary = summarise(rows, args.settle)
    summary.update(
        exit_status=child.returncode, client_failures=client.failures, mode="style",
        looks=args.looks, width=args.width, poll_s=args.poll,
    )  # fmt: skip
    (out / "soak.json").write_text(json.dumps(summary, indent=2))
    return summary


def slope_per_hour(minutes: list[float], values: list[float]) -> float | None:
    """Least-squares slope of ``values`` against time, per hour."""
    n = len(minutes)
    if n < 3:
        return None
    mx, my = sum(minutes) / n, sum(values) / n
    sxx = sum((x - mx) ** 2 for x in minutes)
    if sxx == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(minutes, values, strict=True))
    return 60 * sxy / sxx


def summarise(rows: list[dict], settle: float) -> dict:
    """Slopes per hour after ``settle`` minutes, first/last values and the mean fps."""
    kept = [r for r in rows if float(r["minute"]) >= settle]
    minutes = [float(r["minute"]) for r in kept]
    summary: dict = {"samples": len(rows), "minutes": float(rows[-1]["minute"]) if rows else 0}
    summary["settle_minutes"] = settle
    for name in GROWTH:
        values = [float(r[name]) for r in kept]
        slope = slope_per_hour(minutes, values)
        summary[f"{name}_per_hour"] = None if slope is None else round(slope, 3)
        summary[f"{name}_first_last"] = [values[0], values[-1]] if values else None
    fps = [float(r["fps"]) for r in kept if r["fps"] not in ("", None)]
    summary["fps_mean"] = round(sum(fps) / len(fps), 2) if fps else None
    summary["errors"] = int(rows[-1]["errors"]) if rows else None
    summary["frames"] = int(rows[-1]["frames"]) if rows else None
    summary["requests"], summary["osc_messages"] = (
        (int(rows[-1]["requests"]), int(rows[-1]["osc"])) if rows else (0, 0)
    )
    return summary


def plot(csv_path: Path, png: Path, settle: float) -> None:
    """Draw RSS, fds, threads and fps against time, with the fitted slopes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(csv_path)))
    summary = summarise(rows, settle)
    minutes = [float(r["minute"]) for r in rows]
    fig, axes = plt.subplots(4, 1, figsize=(8, 8), sharex=True)
    units = {"rss_mb": "MiB/h", "fds": "/h", "threads": "/h"}
    for ax, name in zip(axes, ("rss_mb", "fds", "threads", "fps"), strict=True):
        values = [float(r[name]) if r[name] != "" else float("nan") for r in rows]
        ax.plot(minutes, values, ".-", ms=3)
        title = {"rss_mb": "resident memory (MiB)", "fps": "output fps"}.get(name, name)
        if name in units:
            slope = summary[f"{name}_per_hour"]
            title += f"   slope after {settle:g} min: {slope:+.2f} {units[name]}"
        ax.set_title(title, fontsize=10, loc="left")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("minutes")
    fig.suptitle(
        f"dreamstream live soak: {summary['minutes']:.0f} min, {summary['requests']} HTTP "
        f"requests, {summary['osc_messages']} OSC messages",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dreamstream.stream.bench.soak")
    parser.add_argument("--minutes", type=float, default=60.0, help="how long (default 60)")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between client visits")
    parser.add_argument("--settle", type=float, default=5.0, help="minutes left out of slopes")
    parser.add_argument("--looks", default="3,7,12", help="style looks (--cycle-list)")
    parser.add_argument("--width", type=int, default=256, help="processing width")
    parser.add_argument("--out", default="bench-results/soak", help="folder for csv/json/png")
    parser.add_argument("--chart", help="also copy the chart here (e.g. docs/soak.png)")
    parser.add_argument("--plot", metavar="CSV", help="only redraw the chart of a soak.csv")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.plot:
        plot(Path(args.plot), Path(args.chart or out / "soak.png"), args.settle)
        return 0
    # Ctrl-C or a TERM ends the sampling early (also when started in the background,
    # where a shell leaves SIGINT ignored); the child is stopped and the figures kept.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    summary = run(args)
    print(json.dumps(summary, indent=2))
    try:
        plot(out / "soak.csv", out / "soak.png", args.settle)
        if args.chart:
            plot(out / "soak.csv", Path(args.chart), args.settle)
    except ImportError:
        print("soak: no chart (matplotlib: pip install 'dreamstream[bench]')", file=sys.stderr)
    return 0 if summary["exit_status"] in (0, 130) and not summary["client_failures"] else 1


if __name__ == "__main__":
    sys.exit(main())

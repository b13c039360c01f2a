"""The live loop: newest frame in, processed frame out, until stopped (see :mod:`.command`).

Images are ``uint8`` ``HxWx3`` **RGB**; the previous output is carried along
the input's flow by the same :class:`~dreamstream.stream.carry.Carry` as in the
file pipeline. The :class:`~.budget.Budget` chooses each frame's work (width;
dream steps, octaves and objective), which is passed to the processor per call.

While the looks' first processor loads (the framework import takes seconds),
the camera is shown as it is; the dream then starts at the budget's lightest
level and grows in. A dream processed below the output size is shown as the
full-size input plus the upscaled dream residual (what the dream changed), so
the camera's own detail stays sharp.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import cv2
import numpy as np

from dreamstream.stream.carry import Carry, MotionMeter
from dreamstream.stream.io.frame import Frame
from dreamstream.stream.live.budget import Budget, Level
from dreamstream.stream.live.clock import process_age_s
from dreamstream.stream.live.overlay import decorate

log = logging.getLogger("dreamstream.stream.live")

STALL_S = 2.0  # no frame for this long: show a notice on the last good output
IDLE_REDRAW_S = 0.1  # how often a paused/stalled window is redrawn (keys stay live)
REPORT_EVERY_S = 30.0
MARKS = ("first_picture_s", "first_picture_cpu_s", "first_processed_s", "first_processed_cpu_s")
KEYS = {
    ord("q"): "quit",
    27: "quit",
    ord(" "): "pause",
    ord("p"): "pause",
    ord("r"): "reset",
    ord("o"): "overlay",
    ord("n"): "next",
    ord("]"): "next",
    ord("b"): "previous",
    ord("["): "previous",
    ord("c"): "cycle",
    ord("f"): "fullscreen",
}


def _even_size(width: int, height: int, target: int | None) -> tuple[int, int]:
    """(w, h) scaled to ``target`` width keeping the aspect, both even and >= 2."""
    w = target or width
    h = height * w / width
    return max(2, int(w) // 2 * 2), max(2, int(round(h)) // 2 * 2)


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if image.shape[1::-1] == tuple(size):
        return image
    shrink = size[0] < image.shape[1]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _upscale(out: np.ndarray, small: np.ndarray, full: np.ndarray, residual: bool) -> np.ndarray:
    """``out`` (processed from ``small``) at the size of ``full``, the full-size input.

    With ``residual`` (dreams) the dream's change, ``out - small``, is upscaled
    and added to the sharp full-size input instead of upscaling the blurred dream.
    """
    if out.shape == full.shape:
        return out
    if not residual:
        return _resize(out, full.shape[1::-1])
    change = out.astype(np.float32) - small.astype(np.float32)
    change = cv2.resize(change, full.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    return np.clip(full + change, 0, 255).astype(np.uint8)


def describe_work(work: dict, every: int = 1) -> str:
    """A dream's work for the overlay: ", 1 step, 2 octaves, block3_conv3" ("" for styles)."""
    if not work:
        return ""
    steps, octaves = work["steps_next"], work["octaves_next"]
    text = f", {steps} step{'s' * (steps != 1)}, {octaves} octave{'s' * (octaves != 1)}"
    text += f", {work['layers']}" if "layers" in work else ""
    return text + (f", every {every} frames" if every > 1 else "")


class LiveLoop:
    """Takes the newest frame, processes it with flow carried, shows it; until stopped.

    Args:
        grabber: a :class:`~dreamstream.stream.io.camera.Grabber` (started by the caller).
        looks: the :class:`Looks` to show.
        settings: base settings: ``width`` (full processing width), ``flow``,
            ``flow_method``, ``flow_preset``, ``frames`` (stop after that many).
        budget: the :class:`Budget` that sets each frame's work.
        window: a ``WindowSink`` whose ``write`` returns the key pressed, or ``None``.
        preview: a ``PreviewServer`` (``publish(rgb)``), or ``None``.
        recorder: a :class:`Recorder`, or ``None``.
        cycle_s: move to the next look every this many seconds; ``None``: stay.
        crossfade_s: seconds over which a new look fades in.
        overlay: show the fps/latency overlay from the start.
        report: called with a status line now and then (``None``: silent).
        on_output: called with each processed output (uint8 RGB, full size) and its
            latency (s); :attr:`last_input` holds its input at the same size.
        control: a :class:`~.control.Control` whose queued changes are applied once
            per turn of the loop (page, OSC, MIDI), or ``None``.
        effects: masks, ``--react``, ``--attract`` (``stream.effects.Effects``), or ``None``;
            ``--attract`` also moves to the next look after each quiet period.
    """

    def __init__(
        self,
        grabber,
        looks,
        settings,
        *,
        budget: Budget,
        window=None,
        preview=None,
        recorder=None,
        cycle_s: float | None = None,
        crossfade_s: float = 2.0,
        overlay: bool = False,
        report: Callable[[str], None] | None = None,
        on_output: Callable[[np.ndarray, float], None] | None = None,
        control=None,
        effects=None,
    ):
        self.grabber, self.looks, self.settings, self.budget = grabber, looks, settings, budget
        self.window, self.preview, self.recorder = window, preview, recorder
        self.cycle_s, self.crossfade_s, self.overlay = cycle_s, crossfade_s, overlay
        self.report, self.on_output, self.control = report, on_output, control
        self.stats = LiveStats(grabber=grabber)
        self.meter = MotionMeter(settings.flow_method, settings.flow_preset, settings.flow)
        self.carry = Carry(effects)
        self.quit = self.paused = self._reset = False
        self.cycling = cycle_s is not None
        self.full = self.size = None  # (w, h): output size, current processing size
        self._last: np.ndarray | None = None  # last output shown, full size
        self._sizes_seen: set = set()
        self.last_input: np.ndarray | None = None  # the input of the last output, full size
        self._error: str | None = None  # the last processing error, shown as a notice
        self._fade_start = self._last_grab = self._shown_notice = None
        self._fitted = None  # the look (Settings) the budget's levels are costed for
        self._model_s: float | None = None  # the last frame's time in the processor
        self._next_cycle = self._next_report = self._last_idle = 0.0

    # ------------------------------------------------------------------ loop

    def run(self, stop: threading.Event) -> LiveStats:
        """Run until ``stop`` is set, a quit key, the input's end or ``settings.frames``."""
        now = time.monotonic()
        self._next_cycle = now + (self.cycle_s or 0)
        self._next_report = now + REPORT_EVERY_S
        while not stop.is_set() and not self.quit:
            if self.looks.fatal is not None:  # the first look could not be built
                raise self.looks.fatal
            grab = self.grabber.latest(timeout=IDLE_REDRAW_S)
            now = time.monotonic()
            if self.control is not None:  # remote changes land here, between frames
                self.control.step(self, now)
            self._switch_looks(now)
            if grab is None or self.paused:
                if grab is None and self.grabber.ended:
                    break
                self._idle(now)
                continue
            self._last_grab = now
            if self.looks.processor is None:  # still loading: show the camera as it is
                self._raw(grab)
                continue
            self._frame(grab)
            if self.settings.frames and self.stats.frames >= self.settings.frames:
                break
            self._maybe_report(now)
        return self.stats

    def _raw(self, grab) -> None:
        rgb = grab.rgb
        self.full = self.full or _even_size(rgb.shape[1], rgb.shape[0], self.settings.width)
        self.stats.mark("first_picture_s")
        self.stats.loading_frames += 1
        self._last = _resize(rgb, self.full)
        self._emit(self._last, time.monotonic(), "loading the model...", record=True)

    def _frame(self, grab) -> None:
        began = time.monotonic()
        try:
            display, warmup = self._process(grab)
        except Exception as exc:  # noqa: BLE001 -- an installation keeps running
            self.stats.errors += 1
            if self.stats.errors == 1:
                log.exception("processing a frame failed; showing the last good one")
            self._error = f"processing error: {exc}"
            self._idle(time.monotonic())
            return
        self._error = None
        now = time.monotonic()
        latency = now - grab.time
        self.stats.frames += 1
        self.stats.latencies.append(latency)
        self.stats.shown_at.append(now)
        if not warmup:  # the first frame at a level includes compiling the model for it
            self.budget.update(latency, now - began, self._model_s)
        self.stats.mark("first_picture_s")
        self.stats.mark("first_processed_s")
        self._last = display
        self._emit(display, now, None, record=True)
        if self.on_output:
            self.on_output(display, latency)
        if self.stats.frames == 1 and self.report:
            self.report(f"first output {now - self.stats.started:.1f} s after start")

    def _process(self, grab) -> tuple[np.ndarray, bool]:
        """The frame processed at the budget's level; output at full size, warm-up flag."""
        rgb = grab.rgb
        look = self.looks.looks[self.looks.index][1]
        if self._fitted is not look:  # the first frame, or another look: cost the levels
            self.full = self.full or _even_size(rgb.shape[1], rgb.shape[0], self.settings.width)
            self._fitted = look
            self.budget.fit(self.full, look)
        level = self.budget.level
        self.size = level.size(self.full)
        work = self._work(level)
        # A processor's first frame at a size compiles its model: not a measure of the level.
        seen = (id(self.looks.processor), self.size, level)
        warmup = seen not in self._sizes_seen
        self._sizes_seen.add(seen)
        small = _resize(rgb, self.size)
        out = self._step(small, work, grab.time)
        self.last_input = _resize(rgb, self.full)
        return _upscale(out, small, self.last_input, bool(work)), warmup

    def _work(self, level: Level) -> dict:
        """The current look's work at ``level`` (styles: no per-call work)."""
        work = level.work(self.looks.looks[self.looks.index][1])
        if work and self.stats.frames % level.every:
            work.update(steps_next=0, hold=True)  # between dreams: the dream carried along
        return work

    def _step(self, frame: np.ndarray, work: dict, time_s: float | None = None) -> np.ndarray:
        """Process ``frame`` (captured at ``time_s``), carrying the previous output; keeps state."""
        carry = self.carry
        if carry.prev_in is not None and carry.prev_in.shape != frame.shape:  # the budget moved
            carry.restore(_resize(carry.prev_in, self.size), _resize(carry.prev_out, self.size))
            self.meter.reset(carry.prev_in)
        if self._reset:
            carry.reset()
            self.meter.reset()
        previous = carry.prev_out
        motion = self.meter(frame)
        began = time.monotonic()
        out = carry.step(
            self.looks.processor, frame, self.stats.frames, motion, time_s=time_s, **work
        )
        self._model_s = time.monotonic() - began
        base = carry.warped if carry.warped is not None else previous
        out = self._crossfade(out, None if self._reset else base)
        carry.prev_out = out
        self._reset = False
        return carry.shown(out)

    def _crossfade(self, out: np.ndarray, base: np.ndarray | None) -> np.ndarray:
        if self._fade_start is None or base is None:
            return out
        alpha = (time.monotonic() - self._fade_start) / self.crossfade_s
        if alpha >= 1:
            self._fade_start = None
            return out
        mixed = alpha * out.astype(np.float32) + (1 - alpha) * base.astype(np.float32)
        return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)

    # ------------------------------------------------------------- showing

    def _emit(self, display: np.ndarray, now: float, notice: str | None, *, record: bool) -> None:
        """Hand one picture to the outputs; the recording gets it without any text."""
        if record and self.recorder is not None:
            pts = round((now - self.stats.started) * 1000)  # ms: the recording plays in real time
            self.recorder.put(Frame(display, self.stats.frames, pts, Fraction(1, 1000)))
        lines = self._overlay_lines() if self.overlay else []
        shown = (
            decorate(display, lines + [notice] if notice else lines) if lines or notice else display
        )
        if self.preview is not None and (record or notice != self._shown_notice):
            self.preview.publish(shown)
        self._shown_notice = notice
        if self.window is not None:
            self.press(self.window.write(Frame(shown, self.stats.frames)))
            self.quit = self.quit or self.window.closed_by_user

    def _idle(self, now: float) -> None:
        """No new frame to show: redraw the last one (with a notice), keeping keys live."""
        if now - self._last_idle < IDLE_REDRAW_S and self.window is not None:
            return
        self._last_idle = now
        notice = self.notice(now)
        picture = self._last if self._last is not None else np.zeros((360, 640, 3), np.uint8)
        if self.window is not None or notice != self._shown_notice:
            self._emit(picture, now, notice, record=False)

    def notice(self, now: float) -> str | None:
        """The line shown over the picture at ``now`` (input lost, paused, ...), or ``None``."""
        g = self.grabber
        if g.lost_since is not None:
            return f"input lost ({g.error}); retrying for {now - g.lost_since:.0f} s"
        if self.paused:
            return "paused (space to go on)"
        since = now - (self._last_grab or self.stats.started)
        if since > STALL_S:
            return f"no frames for {since:.0f} s; waiting for the input"
        return self._error

    def _overlay_lines(self) -> list[str]:
        fps, lat = self.stats.fps(), self.stats.latencies
        size = self.size or (0, 0)
        steps = self._describe()
        return [
            f"{fps or 0:.1f} fps  latency {1000 * (lat[-1] if lat else 0):.0f} ms  "
            f"dropped {self.grabber.dropped}",
            f"{self.looks.label}  {size[0]}x{size[1]}{steps}"
            + ("  cycling" if self.cycling else ""),
        ]

    def _maybe_report(self, now: float) -> None:
        if self.report is None or now < self._next_report:
            return
        self._next_report = now + REPORT_EVERY_S
        s = self.stats.summary()
        self.report(
            f"{self.stats.fps() or 0:.1f} fps, latency {s['latency_ms_p50']} ms, "
            f"{s['dropped']} dropped, {self.looks.label} at {self.size[0]}px wide"
            + self._describe()
        )

    def _describe(self) -> str:
        """The budget's current work for the overlay and the reports ("" for styles)."""
        level = self.budget.level
        return describe_work(level.work(self.looks.looks[self.looks.index][1]), level.every)

    # ------------------------------------------------------------- controls

    def press(self, key: int | None) -> None:
        """Act on a key code from the window (see ``KEYS``; 1-9 pick a look)."""
        if key is None:
            return
        if ord("1") <= key <= ord("9"):
            self._choose(key - ord("1"))
            return
        action = KEYS.get(key)
        if action == "quit":
            self.quit = True
        elif action == "pause":
            self.paused = not self.paused
        elif action == "reset":
            self._reset = True
        elif action == "overlay":
            self.overlay = not self.overlay
        elif action in ("next", "previous"):
            self._choose(self.looks.index + (1 if action == "next" else -1))
        elif action == "cycle" and self.cycle_s:
            self.cycling = not self.cycling
        elif action == "fullscreen" and self.window is not None:
            self._toggle_fullscreen()

    def _choose(self, index: int) -> None:
        if len(self.looks.looks) > 1:
            self.looks.select(index)
            self._next_cycle = time.monotonic() + (self.cycle_s or 0)

    def _switch_looks(self, now: float) -> None:
        if self.cycling and now >= self._next_cycle:
            self._next_cycle = now + self.cycle_s
            self.looks.select(self.looks.index + 1)
        effects = self.carry.effects
        if effects is not None and effects.take_cycle():  # --attract: the room is empty
            self.looks.select(self.looks.index + 1)
        if self.looks.poll():
            self._fade_start = now

    def _toggle_fullscreen(self) -> None:
        prop, title = cv2.WND_PROP_FULLSCREEN, self.window.title
        full = cv2.getWindowProperty(title, prop) == cv2.WINDOW_FULLSCREEN
        cv2.setWindowProperty(title, prop, cv2.WINDOW_NORMAL if full else cv2.WINDOW_FULLSCREEN)


@dataclass
class LiveStats:
    """What the live loop has done; ``latencies`` holds the last seconds, capture to display."""

    frames: int = 0
    loading_frames: int = 0  # shown as captured while the first look loaded
    errors: int = 0
    started: float = field(default_factory=time.monotonic)
    latencies: collections.deque = field(default_factory=lambda: collections.deque(maxlen=300))
    shown_at: collections.deque = field(default_factory=lambda: collections.deque(maxlen=30))
    grabber: object = None
    marks: dict = field(default_factory=lambda: dict.fromkeys(MARKS))

    def mark(self, name: str) -> None:
        """Note the first time ``name`` happened, as seconds since the process started.

        With it, the process's CPU seconds so far (``name`` with ``_cpu``): on a
        shared machine the wall clock waits for other work, the CPU seconds do not.
        """
        if self.marks.get(name) is None:
            self.marks[name] = round(process_age_s(), 3)
            self.marks[name.removesuffix("_s") + "_cpu_s"] = round(time.process_time(), 3)

    def fps(self) -> float | None:
        """Output frames per second over the last (up to) 30 frames."""
        if len(self.shown_at) < 2 or self.shown_at[-1] <= self.shown_at[0]:
            return None
        return (len(self.shown_at) - 1) / (self.shown_at[-1] - self.shown_at[0])

    def summary(self) -> dict:
        """JSON-able figures."""
        lat = sorted(self.latencies)

        def pick(q: float) -> float:
            return round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 1)

        seconds = time.monotonic() - self.started
        g = self.grabber
        return {
            "frames": self.frames,
            "loading_frames": self.loading_frames,
            "captured": getattr(g, "captured", 0),
            "dropped": getattr(g, "dropped", 0),
            "reconnects": getattr(g, "reconnects", 0),
            "errors": self.errors,
            "seconds": round(seconds, 3),
            "fps": round(self.frames / seconds, 3) if seconds > 0 and self.frames else None,
            "latency_ms_p50": pick(0.5) if lat else None,
            "latency_ms_p95": pick(0.95) if lat else None,
            **self.marks,
        }

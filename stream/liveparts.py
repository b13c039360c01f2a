"""Parts of live mode: work levels and the latency budget, looks, the recorder, statistics.

Images are ``uint8`` ``HxWx3`` **RGB**. See :mod:`.liveloop` for the loop that
uses them and :mod:`.live` for the command.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dreamstream.stream.framesource import Frame

log = logging.getLogger("dreamstream.stream.live")

SCALES = (1.0, 0.75, 0.5, 0.35)  # processing width relative to full, best first


@dataclass(frozen=True)
class Level:
    """One amount of per-frame work.

    Attributes:
        scale: processing width as a share of the full width.
        steps_share: share of each look's ``steps_next`` dream steps (at least 1 step
            is kept); ``None`` in style mode.
        cost: the work relative to the first level (pixels times steps), which
            lets the budget predict a level's latency from the current one's.
    """

    scale: float
    steps_share: float | None = None
    cost: float = field(default=1.0, compare=False)

    def steps(self, steps_next: int) -> int:
        """Dream steps per octave at this level for a look with ``steps_next``."""
        return min(steps_next, max(1, round(steps_next * (self.steps_share or 0.0))))


def make_levels(mode: str, settings) -> list[Level]:
    """Work levels, most work first: dream halves its steps before it shrinks the frame."""
    if mode != "dream":
        return [Level(s, cost=s * s) for s in SCALES]
    shares = [1.0]
    while settings.steps_next * shares[-1] > 1:
        shares.append(shares[-1] / 2)
    pairs = [(1.0, share) for share in shares] + [(s, 0.0) for s in SCALES[1:]]
    n = max(1, settings.steps_next)
    return [Level(s, share, s * s * Level(s, share).steps(n) / n) for s, share in pairs]


class Budget:
    """Moves between work levels to keep latency under ``max_latency_s``.

    ``patience`` frames in a row over budget take one level less work; twice
    as many under ``headroom * max_latency_s`` take one level more. The slack
    between the two thresholds stops it from flapping between two levels.
    A frame more than ``jump`` times over budget moves at once to the level
    whose predicted latency (by :attr:`Level.cost`) fits, so a slow machine
    does not spend minutes walking down one level at a time.
    """

    def __init__(
        self,
        levels: list[Level],
        max_latency_s: float | None,
        *,
        patience: int = 3,
        headroom: float = 0.5,
        jump: float = 2.0,
    ):
        self.levels, self.max_latency_s = levels, max_latency_s
        self.patience, self.headroom, self.jump = patience, headroom, jump
        self.index, self._over, self._under = 0, 0, 0

    @property
    def level(self) -> Level:
        return self.levels[self.index]

    def update(self, latency_s: float) -> bool:
        """Account one frame's latency; True when the level changed."""
        if self.max_latency_s is None:
            return False
        over, under = latency_s > self.max_latency_s, latency_s < self.headroom * self.max_latency_s
        self._over, self._under = (self._over + 1) * over, (self._under + 1) * under
        last = len(self.levels) - 1
        if latency_s > self.jump * self.max_latency_s and self.index < last:
            return self._move(self._fitting(latency_s))
        if self._over >= self.patience and self.index < last:
            return self._move(self.index + 1)
        if self._under >= 2 * self.patience and self.index > 0:
            return self._move(self.index - 1)
        return False

    def _fitting(self, latency_s: float) -> int:
        """The first level below the current one predicted to fit the budget (else the last)."""
        per_cost = latency_s / self.level.cost
        for i in range(self.index + 1, len(self.levels)):
            if per_cost * self.levels[i].cost <= self.max_latency_s:
                return i
        return len(self.levels) - 1

    def _move(self, index: int) -> bool:
        self.index, self._over, self._under = index, 0, 0
        return True


class Looks:
    """The looks (presets or styles) to move through and the current one's processor.

    A look not yet built is built on a background thread, so the picture keeps
    moving while a new model loads; :meth:`poll` switches once it is ready.

    Args:
        looks: ``(label, settings)`` pairs; the first is built now (errors raise here).
        build: makes a processor from settings.
    """

    def __init__(self, looks: list[tuple[str, object]], build: Callable):
        self.looks, self.build = looks, build
        self.index = self._wanted = 0
        self._ready = {0: build(looks[0][1])}
        self._loading = False
        self._failed: set[int] = set()  # looks that could not be built are skipped
        self.error: str | None = None

    @property
    def processor(self):
        return self._ready[self.index]

    @property
    def label(self) -> str:
        return self.looks[self.index][0]

    def select(self, index: int) -> None:
        """Ask for look ``index`` (modulo the count); built in the background if needed."""
        self._wanted = index % len(self.looks)
        if self._wanted in self._failed:
            self._wanted = self.index
        if self._wanted in self._ready or self._loading:
            return
        self._loading = True
        threading.Thread(
            target=self._load, args=(self._wanted,), daemon=True, name="look-loader"
        ).start()

    def _load(self, index: int) -> None:
        label, settings = self.looks[index]
        try:
            self._ready[index] = self.build(settings)
        except Exception as exc:  # noqa: BLE001 -- a bad look is skipped, the show goes on
            self.error = f"cannot load {label}: {exc}"
            log.warning(self.error)
            self._failed.add(index)
            self._wanted = self.index
        finally:
            self._loading = False

    def poll(self) -> bool:
        """Switch to the wanted look if it is ready; True when the look changed."""
        if self._wanted == self.index:
            return False
        if self._wanted not in self._ready:
            if not self._loading:
                self.select(self._wanted)
            return False
        self.index = self._wanted
        return True


class Recorder:
    """Writes output frames to a sink on its own thread; drops frames when it falls behind.

    A failing sink (disk full) stops the recording with a logged error, never the show.
    """

    def __init__(self, sink, depth: int = 8):
        self.sink, self.dropped, self.error = sink, 0, None
        self._queue: queue.Queue = queue.Queue(depth)
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def put(self, frame: Frame) -> None:
        """Queue one frame (``image`` uint8 HxWx3 RGB, ``pts`` in ms)."""
        if self.error is not None:
            return
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while (frame := self._queue.get()) is not None:
            if self.error is None:
                try:
                    self.sink.write(frame)
                except Exception as exc:  # noqa: BLE001 -- reported, the show goes on
                    self.error = f"recording stopped: {exc}"
                    log.error(self.error)

    def close(self) -> None:
        """Write what is queued and finalise the file."""
        self._queue.put(None)
        self._thread.join()
        self.sink.close()  # after a write error too: keep what was recorded if it closes


@dataclass
class LiveStats:
    """What the live loop has done; ``latencies`` holds the last seconds, capture to display."""

    frames: int = 0
    errors: int = 0
    started: float = field(default_factory=time.monotonic)
    latencies: collections.deque = field(default_factory=lambda: collections.deque(maxlen=300))
    shown_at: collections.deque = field(default_factory=lambda: collections.deque(maxlen=30))
    grabber: object = None

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
            "captured": getattr(g, "captured", 0),
            "dropped": getattr(g, "dropped", 0),
            "reconnects": getattr(g, "reconnects", 0),
            "errors": self.errors,
            "seconds": round(seconds, 3),
            "fps": round(self.frames / seconds, 3) if seconds > 0 and self.frames else None,
            "latency_ms_p50": pick(0.5) if lat else None,
            "latency_ms_p95": pick(0.95) if lat else None,
        }

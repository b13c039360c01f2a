"""Live mode's latency budget: levels of per-frame work and the rule that moves between them.

The budget decides how much work a frame gets (processing width, dream steps)
and the loop passes that to the processor per call; nothing here changes a
processor's settings. See :mod:`.loop` for the loop that uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

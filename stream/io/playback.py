"""Files played like cameras, and the opener of live mode's captures.

:class:`FileCapture` makes a video file, an image sequence or a URL behave
like a camera (``read() -> (ok, rgb)``, ``rgb`` a ``uint8`` ``HxWx3`` **RGB**
array): frames arrive at the file's own frame rate, optionally looping, so
pre-recorded installations and tests run the same code as a webcam.
:func:`capture_opener` opens a camera (:class:`.camera.CameraCapture`) or a
file that way. This module sits above ``open_source`` (``io/__init__``),
which itself opens cameras through :mod:`.camera`: the imports point one way.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.core.params import MAX_PIXELS
from dreamstream.stream.io import open_source
from dreamstream.stream.io.camera import CameraCapture
from dreamstream.stream.io.specs import camera_device, input_kind


class FileCapture:
    """A video file, image sequence or URL read like a camera (``read() -> (ok, rgb)``).

    ``read`` blocks until the next frame is due at the source's own frame rate
    (a URL is already paced by its sender and is not slowed down). At the end
    it starts again with ``loop``, else returns ``(False, None)`` and sets
    ``ended``. A consumer that falls far behind is not made to catch up in a
    burst: the clock restarts from the frame being read.

    Args:
        spec: anything :func:`dreamstream.stream.io.open_source` opens.
        loop: start again at the end.
        width: resize frames to this width (see ``open_source``).
        max_pixels: refuse larger frames (see ``open_source``).
        clock: seconds, monotonic (tests pass a fake one).
        sleep: waits ``seconds`` (tests pass a fake one).
    """

    def __init__(
        self,
        spec: str,
        *,
        loop: bool = False,
        width: int | None = None,
        max_pixels: int = MAX_PIXELS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.spec, self.loop, self.width, self.ended = spec, loop, width, False
        self.max_pixels = max_pixels
        self._open, self._clock, self._sleep = open_source, clock, sleep
        self._source = self._frames = None
        self._start()

    def _start(self) -> None:
        self.release()
        self._source = self._open(self.spec, width=self.width, max_pixels=self.max_pixels)
        self._frames = iter(self._source)
        rate = self._source.fps if self._source.kind != "url" else None
        self.period = float(1 / rate) if rate else 0.0
        self._origin, self._count = None, 0

    def read(self) -> tuple[bool, np.ndarray | None]:
        """The next frame as ``(True, rgb)`` once it is due, or ``(False, None)`` at the end."""
        frame = next(self._frames, None) if self._frames is not None else None
        if frame is None and self.loop and self._source is not None and self._count:
            self._start()  # loop: the file played to its end
            frame = next(self._frames, None)
        if frame is None:
            self.ended = True
            return False, None
        self._wait_until_due()
        self._count += 1
        return True, frame.image

    def _wait_until_due(self) -> None:
        now = self._clock()
        if self._origin is None or now - self._due() > 0.5:  # first frame, or far behind
            self._origin = now - self._count * self.period
        delay = self._due() - now
        if delay > 0:
            self._sleep(delay)

    def _due(self) -> float:
        return self._origin + self._count * self.period

    def isOpened(self) -> bool:  # noqa: N802 -- cv2.VideoCapture's name
        return self._source is not None

    def release(self) -> None:
        source, self._source, self._frames = getattr(self, "_source", None), None, None
        if source is not None:
            source.close()


def capture_opener(
    spec: str, *, loop: bool = False, width: int | None = None, max_pixels: int = MAX_PIXELS
) -> Callable:
    """A function opening ``spec`` as a capture: a camera, or a file/URL via :class:`FileCapture`.

    Frames over ``max_pixels`` are refused (an ``InputError`` from the opener or from ``read``).

    Raises:
        InputError: the camera spec is malformed or a file does not exist.
    """
    kind = input_kind(spec)
    if kind == "camera":
        camera_device(spec)  # a bad spec fails now, not at the first reconnect
        return lambda: CameraCapture(spec, max_pixels)
    if kind != "url" and "%" not in spec and not os.path.exists(spec):
        raise InputError(f"input not found: {spec}")
    return lambda: FileCapture(spec, loop=loop, width=width, max_pixels=max_pixels)

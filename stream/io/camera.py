"""Cameras: frames read live, in **RGB**.

A *capture* is anything with ``read() -> (ok, rgb)`` and ``release()``:
``rgb`` is a ``uint8`` ``HxWx3`` array in **RGB** order. :class:`CameraCapture`
wraps ``cv2.VideoCapture`` (whose BGR frames it converts once, here); files
played like cameras (:class:`~dreamstream.stream.io.playback.FileCapture`) live
in :mod:`.playback`, above ``open_source``, which opens this module's
:class:`CameraSource`.

:class:`CameraSource` is the file pipeline's camera input. :class:`Grabber`
is live mode's: it reads a capture on its own thread and keeps only the
newest frame; a frame that is replaced before the consumer takes it counts as
dropped. When the capture fails (``ok`` false, an exception, or an opener that
cannot open it) the grabber releases it and reopens it with exponential
back-off until frames flow again; it never gives up on its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.core.params import MAX_PIXELS
from dreamstream.stream.io.frame import Frame, Source, check_pixels
from dreamstream.stream.io.positions import Window
from dreamstream.stream.io.specs import camera_device

log = logging.getLogger("dreamstream.stream.io")

BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 8.0


class CameraCapture:
    """An opened OpenCV camera whose ``read()`` gives RGB frames.

    Args:
        spec: ``camera:N`` or a device path.
        max_pixels: refuse a camera whose frames are larger, judged from the
            size it reports when opened and again from every frame read.

    Raises:
        InputError: the spec names no camera, the camera cannot be opened, or
            its frames are over ``max_pixels``.
    """

    def __init__(self, spec: str, max_pixels: int = MAX_PIXELS):
        self.spec, self.max_pixels = spec, max_pixels
        device = camera_device(spec)
        # OpenCV logs several lines when a camera is missing; the InputError says it once.
        previous = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        try:
            self._capture = cv2.VideoCapture(device)
        finally:
            cv2.utils.logging.setLogLevel(previous)
        if not self._capture.isOpened():
            self._capture.release()
            raise InputError(f"camera not available: {spec}")
        reported = (
            int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        try:
            check_pixels(reported, max_pixels, f"frames of {spec} are")
        except InputError:
            self._capture.release()
            raise

    @property
    def fps(self) -> float:
        """The frame rate the camera reports (0 when it does not say)."""
        return self._capture.get(cv2.CAP_PROP_FPS) or 0.0

    def read(self) -> tuple[bool, np.ndarray | None]:
        ok, bgr = self._capture.read()
        if not ok or bgr is None:
            return False, None
        # A camera may switch modes after it opened; the limit holds for every frame.
        check_pixels((bgr.shape[1], bgr.shape[0]), self.max_pixels, f"frames of {self.spec} are")
        return True, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def release(self) -> None:
        self._capture.release()


class CameraSource(Source):
    """Frames from a camera through OpenCV (``camera:0`` or ``/dev/video0``)."""

    def __init__(self, spec: str, window: Window, width, max_pixels: int = MAX_PIXELS):
        super().__init__(window, width, max_pixels)
        self.kind, self.spec = "camera", spec
        self._capture = CameraCapture(spec, max_pixels)
        ok, rgb = self._capture.read()
        if not ok:
            self.close()
            raise InputError(f"camera gave no frame: {spec}")
        self._first = rgb
        rate = self._capture.fps
        self.fps = Fraction(rate).limit_denominator(1001) if rate > 0 else None
        self._finish_size((rgb.shape[1], rgb.shape[0]))

    def _frames(self) -> Iterator[Frame]:
        index, rgb = 0, self._first
        while rgb is not None and not self.window.past_end(index, None):
            if self.frames_read == self.window.frames:
                return
            if not self.window.before_start(index, None):
                yield self._emit(rgb, index)
            index += 1
            ok, rgb = self._capture.read() if self._capture else (False, None)
            if not ok:
                self._warn(f"camera {self.spec} stopped after {index} frames")
                return

    def close(self) -> None:
        capture, self._capture = getattr(self, "_capture", None), None
        if capture is not None:
            capture.release()
        super().close()


@dataclass(frozen=True)
class Grab:
    """One captured frame.

    Attributes:
        rgb: ``uint8`` ``HxWx3`` **RGB** image.
        index: 0-based number of the frame among all frames captured.
        time: ``time.monotonic()`` when the capture returned it.
    """

    rgb: np.ndarray
    index: int
    time: float


class Grabber:
    """Reads a capture on a thread, keeping only the newest frame.

    Args:
        opener: returns an opened capture (``read() -> (ok, rgb)``, ``release()``);
            called again, with back-off, after the capture fails.
        backoff: first wait in seconds before reopening; doubles up to ``backoff_max``.
        backoff_max: longest wait between attempts.

    Attributes:
        captured: frames read from the capture so far.
        dropped: frames replaced by a newer one before anyone took them.
        reconnects: times the capture was reopened after a failure.
        lost_since: ``time.monotonic()`` when frames stopped, or ``None`` while they flow.
        error: the last failure as one line, or ``None``.
        ended: the capture reported a real end (a file played without looping).
    """

    def __init__(
        self,
        opener: Callable,
        *,
        backoff: float = BACKOFF_START_S,
        backoff_max: float = BACKOFF_MAX_S,
    ):
        self.opener, self.backoff, self.backoff_max = opener, backoff, backoff_max
        self.captured = self.dropped = self.reconnects = 0
        self.lost_since: float | None = None
        self.error: str | None = None
        self.ended = False
        self._latest: Grab | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grabber", daemon=True)

    def start(self) -> Grabber:
        """Start reading on the grabber's thread."""
        self._thread.start()
        return self

    @property
    def started(self) -> bool:
        """Whether :meth:`start` was called."""
        return self._thread.ident is not None

    def latest(self, timeout: float) -> Grab | None:
        """The newest frame not yet taken, waiting up to ``timeout`` seconds; else ``None``."""
        with self._cond:
            if self._latest is None and not self.ended:
                self._cond.wait(timeout)
            grab, self._latest = self._latest, None
            return grab

    def stop(self) -> None:
        """Ask the thread to finish and wait a little for it (a blocked read may outlive this)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    def _run(self) -> None:
        delay, capture, first = self.backoff, None, True
        while not self._stop.is_set():
            if capture is None:
                capture = self._try_open(first)
                if capture is None:
                    self._stop.wait(delay)
                    delay = min(delay * 2, self.backoff_max)
                    continue
                first = False
            ok, rgb = self._read(capture)
            if ok:
                delay = self.backoff
                self._publish(rgb)
            elif getattr(capture, "ended", False) and not self._stop.is_set():
                self._finish()
                break
            else:  # wait before reopening, so a dead device is not hammered
                self._release(capture)
                capture = None
                self._stop.wait(delay)
                delay = min(delay * 2, self.backoff_max)
        if capture is not None:
            self._release(capture)

    def _try_open(self, first: bool):
        try:
            capture = self.opener()
        except Exception as exc:  # noqa: BLE001 -- a missing camera is retried, not fatal
            self._lost(f"cannot open the input: {exc}")
            return None
        if not first:
            self.reconnects += 1
            log.warning("input reopened (attempt %d)", self.reconnects)
        return capture

    def _read(self, capture) -> tuple[bool, np.ndarray | None]:
        try:
            ok, rgb = capture.read()
        except Exception as exc:  # noqa: BLE001 -- a driver hiccup must not end the show
            self._lost(f"read failed: {exc}")
            return False, None
        if not ok or rgb is None or getattr(rgb, "ndim", 0) != 3 or rgb.shape[2] != 3:
            if not getattr(capture, "ended", False):
                self._lost("the input stopped delivering frames")
            return False, None
        return True, rgb

    def _publish(self, rgb: np.ndarray) -> None:
        with self._cond:
            if self._latest is not None:
                self.dropped += 1
            self._latest = Grab(rgb, self.captured, time.monotonic())
            self.captured += 1
            self.lost_since, self.error = None, None
            self._cond.notify_all()

    def _lost(self, reason: str) -> None:
        with self._cond:
            if self.lost_since is None:
                self.lost_since = time.monotonic()
                log.warning("input lost: %s; retrying", reason)
            self.error = reason

    def _finish(self) -> None:
        with self._cond:
            self.ended = True
            self._cond.notify_all()

    @staticmethod
    def _release(capture) -> None:
        try:
            capture.release()
        except Exception:  # noqa: BLE001 -- it is being dropped anyway
            pass

"""A virtual camera output (pyvirtualcam): other programs (OBS, Zoom, a browser) see a webcam.

pyvirtualcam is an optional extra (``pip install 'dreamstream[vcam]'``); its
backends are v4l2loopback on Linux (``modprobe v4l2loopback`` makes a
``/dev/videoN`` device) and the OBS virtual camera on Windows and macOS.
Frames written are ``uint8`` ``HxWx3`` **RGB**, sent as they come (the
camera's clock is the caller's); the camera's size is the first frame's.

Spec: ``vcam`` (the first free device) or ``vcam:DEVICE`` (e.g. ``vcam:/dev/video4``).
"""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.stream.io.frame import Frame, Sink

PROBE_SIZE = (320, 240)


def vcam_device(spec: str) -> str | None:
    """The device of ``vcam:DEVICE`` (``None`` for plain ``vcam``)."""
    device = spec.partition(":")[2].strip()
    return device or None


def _module():
    try:
        import pyvirtualcam
    except ImportError:
        raise InputError(
            "-o vcam needs pyvirtualcam: pip install 'dreamstream[vcam]' "
            "(and v4l2loopback on Linux, OBS elsewhere)"
        ) from None
    return pyvirtualcam


def _camera(size: tuple[int, int], fps: float, device: str | None):
    """An opened pyvirtualcam camera, or one line saying why there is none."""
    pyvirtualcam = _module()
    try:
        return pyvirtualcam.Camera(
            width=size[0],
            height=size[1],
            fps=fps,
            fmt=pyvirtualcam.PixelFormat.RGB,
            device=device,
        )
    except (RuntimeError, OSError, ValueError) as exc:
        reason = " ".join(str(exc).split())  # pyvirtualcam's messages span lines
        raise InputError(f"-o vcam: no virtual camera: {reason}") from None


def check_vcam(spec: str, fps: float = 25.0) -> None:
    """Open and close the virtual camera once, so a missing backend fails before anything runs.

    Raises:
        InputError: pyvirtualcam is not installed, or no backend/device is there.
    """
    _camera(PROBE_SIZE, fps, vcam_device(spec)).close()


class VirtualCameraSink(Sink):
    """Frames to a virtual camera, opened at the first frame with its size.

    Args:
        spec: ``vcam`` or ``vcam:DEVICE``.
        fps: the frame rate the camera announces.
    """

    kind = "vcam"

    def __init__(self, spec: str = "vcam", fps: Fraction | float = 25):
        super().__init__()
        self.device, self.fps = vcam_device(spec), float(fps)
        self._camera = None
        self.size: tuple[int, int] | None = None
        _module()  # not installed: say so now

    def write(self, frame: Frame) -> None:
        image = frame.image
        if self._camera is None:
            self.size = (image.shape[1], image.shape[0])
            self._camera = _camera(self.size, self.fps, self.device)
        if image.shape[1::-1] != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self._camera.send(np.ascontiguousarray(image))
        super().write(frame)

    def close(self) -> None:
        if not self._done and self._camera is not None:
            self._camera.close()
        super().close()

    abort = close

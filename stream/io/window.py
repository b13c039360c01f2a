"""A live window on the screen (OpenCV HighGUI): an output that also reads keys.

Frames written are ``uint8`` ``HxWx3`` **RGB** (converted to OpenCV's BGR here).
Whether a window can open at all is checked beforehand by :mod:`.display`.
"""

from __future__ import annotations

import cv2
import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.stream.io.frame import Frame, Sink


class WindowSink(Sink):
    """A resizable OpenCV window; ``write`` returns the key pressed (or ``None``).

    Attributes:
        last_key: the last key code pressed, or ``None``.
        closed_by_user: the window was closed with its close button.
    """

    kind = "window"

    def __init__(self, title: str = "dreamstream", fullscreen: bool = False):
        super().__init__()
        self.title, self.last_key, self.closed_by_user = title, None, False
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
            if fullscreen:
                cv2.setWindowProperty(title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)
        except cv2.error as exc:
            raise InputError(f"cannot open a window (no display?): {exc.msg.strip()}") from None

    def write(self, frame: Frame) -> int | None:  # type: ignore[override]
        cv2.imshow(self.title, np.ascontiguousarray(frame.image[:, :, ::-1]))
        key = cv2.waitKey(1)
        self.last_key = key & 0xFF if key >= 0 else None
        if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            self.closed_by_user = True
        super().write(frame)
        return self.last_key

    def close(self) -> None:
        if not self._done:
            try:
                cv2.destroyWindow(self.title)
            except cv2.error:
                pass  # already closed by the user
        super().close()

    abort = close

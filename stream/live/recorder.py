"""Live mode's recording: output frames written to a sink on their own thread."""

from __future__ import annotations

import logging
import queue
import threading

from dreamstream.stream.io.frame import Frame

log = logging.getLogger("dreamstream.stream.live")


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

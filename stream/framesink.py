"""The :class:`Sink` base: what every output does with frames, and when it finalises."""

from __future__ import annotations

from pathlib import Path

from dreamstream.stream.framesource import Frame


class Sink:
    """Where output frames go; a context manager.

    Attributes:
        kind: ``"video"``, ``"images"``, ``"image"``, ``"window"`` or ``"null"``.
        path: the final file, the image pattern, or ``None``.
        frames_written: frames accepted so far.
    """

    kind = ""
    path: Path | None = None

    def __init__(self) -> None:
        self.frames_written = 0
        self._done = False
        self._created: list[Path] = []  # folders this sink made, deepest first

    def _make_folder(self, folder: Path) -> None:
        """Create ``folder`` and its missing parents, remembering which were new.

        A sink that ends with nothing in them removes them again, so a failed
        run leaves no empty folders behind.
        """
        missing, probe = [], folder
        while not probe.exists() and probe != probe.parent:
            missing.append(probe)
            probe = probe.parent
        folder.mkdir(parents=True, exist_ok=True)
        self._created = missing + self._created

    def _drop_empty_folders(self) -> None:
        for folder in self._created:
            try:
                folder.rmdir()
            except OSError:
                return  # it holds output (or was refilled): keep it and its parents
        self._created = []

    def write(self, frame: Frame) -> None:
        """Write one output frame (``frame.image``: ``uint8`` ``HxWx3`` RGB)."""
        self.frames_written += 1

    def close(self) -> None:
        """Finalise the output; calling it again does nothing."""
        self._done = True
        self._drop_empty_folders()

    def abort(self) -> None:
        """Drop unfinished output; the final name is left as it was."""
        self._done = True
        self._drop_empty_folders()

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None or issubclass(exc_type, KeyboardInterrupt):
            self.close()
        else:
            self.abort()

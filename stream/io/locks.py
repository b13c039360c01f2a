"""One render per output: a lock file beside the output, held for the whole render.

Two renders into one output would mix their frames (a farm's segments, a
sequence's frames) or race for the final name. So a render takes a lock
first: ``.NAME.lock`` beside a video or image file, ``.dreamstream.lock``
in a frame folder. A second render of the same output is refused in one line.

The lock is an ``fcntl`` record lock (POSIX), which the kernel drops when
the process ends however it ends, so a crashed or killed render never
leaves it stuck, and which NFS passes to the server, so renders on several
machines see each other's. Record locks cover byte ranges, which is how a
frame folder is shared: a render locks the bytes ``[first, last)`` of its
frame range, so machines that split a sequence by ``--start``/``--end`` work
side by side, and only overlapping ranges are refused. A video, an image or
a farm render into a folder locks it all.

Record locks belong to a process, and closing any descriptor of the file
drops all of that process's locks on it; so each process opens a lock file
once and counts its holders, and ranges taken in one process (two renders
in threads) are checked against each other here. The last holder deletes
the file when no other process holds any part of it; a process that opened
the file just before that notices (the path no longer names its file) and
opens it anew.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
from pathlib import Path

from dreamstream.core.errors import InputError
from dreamstream.stream.io.files import (
    NAME_MAX,
    drop_empty,
    make_folders,
    output_error,
    remove_temporaries,
)
from dreamstream.stream.io.specs import pattern_regex

log = logging.getLogger(__name__)

FOLDER_LOCK = ".dreamstream.lock"
# What a file system without record locks answers (some FUSE and SMB mounts).
_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)
EVERYTHING = (0, None)  # a range [first, last) with no end

_guard = threading.Lock()
_open: dict[Path, _LockFile] = {}  # lock file -> this process's descriptor and ranges


class _LockFile:
    """This process's one descriptor of a lock file and the ranges it holds on it."""

    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd
        self.ranges: list[tuple[int, int | None]] = []
        self.made: list[Path] = []  # folders made for it, removed with it when empty


def lock_path(kind: str, path: Path) -> Path:
    """The lock file of an output: ``kind`` and ``path`` as :func:`output_kind` gives them."""
    if kind == "images":
        return path.parent / FOLDER_LOCK
    name = os.fsencode(f".{path.name}")[: NAME_MAX - len(".lock")].decode(errors="ignore")
    return path.with_name(f"{name}.lock")


class OutputLock:
    """A held lock on an output (or on a frame range of a folder); a context manager.

    Args:
        kind: "video", "image" or "images" (see :func:`output_kind`).
        path: the output file, or the frame pattern of a folder.
        spec: the output as the user wrote it (for the message).
        frames: ``(first, last)`` frame indices of a folder render, ``last`` None for
            no end; a file output is always locked whole.

    Raises:
        InputError: another render holds the output (or an overlapping range), or
            the lock file cannot be made.
    """

    def __init__(self, kind: str, path: Path, spec, frames: tuple[int, int | None] = EVERYTHING):
        self.file = lock_path(kind, path)
        self.range = frames if kind == "images" else EVERYTHING
        self.held = False
        with _guard:
            made = make_folders(self.file.parent)
            try:
                self._entry = _take(self.file, self.range, spec)
            except _Unlockable:
                self.file.unlink(missing_ok=True)
                drop_empty(made)
                log.warning(
                    "%s: this file system has no locks; a second render of it "
                    "at the same time would not be refused",
                    spec,
                )
                return
            except BaseException:
                drop_empty(made)
                raise
            self._entry.made += made
        self.held = True
        self.removed = _remove_leftovers(kind, path, self.range)

    def release(self) -> None:
        """Let go; the lock file (and folders made for it) go when nobody else needs them."""
        if not self.held:
            return
        self.held = False
        with _guard:
            _give_back(self._entry, self.range)

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _remove_leftovers(kind: str, path: Path, frames: tuple[int, int | None]) -> list[Path]:
    """Temporary files of this output (or of this folder's frame range) that a killed render
    left; safe to delete only now that the lock is held."""
    if kind == "images":
        folder, regex = pattern_regex(str(path))

        def belongs(name: str) -> bool:
            match = regex.fullmatch(name)
            return match is not None and _overlap((int(match[1]), int(match[1]) + 1), frames)

        return remove_temporaries(folder, belongs)

    def same_output(name: str) -> bool:  # a long name is cut short in its temporary names
        return name == path.name or (len(os.fsencode(name)) > 200 and path.name.startswith(name))

    return remove_temporaries(path.parent, same_output)


class _Unlockable(Exception):
    """The lock file's file system offers no record locks."""


def _take(file: Path, frames: tuple[int, int | None], spec) -> _LockFile:
    entry = _open.get(file)
    if entry is not None and any(_overlap(frames, held) for held in entry.ranges):
        raise _busy(spec, file)
    if entry is None:
        entry = _open_lock_file(file, spec)
    start, length = _span(frames)
    try:
        fcntl.lockf(entry.fd, fcntl.LOCK_EX | fcntl.LOCK_NB, length, start)
    except OSError as error:
        if not entry.ranges:
            os.close(entry.fd)
        if error.errno in (errno.EACCES, errno.EAGAIN):
            raise _busy(spec, file) from None
        if error.errno in _NO_LOCKS:
            raise _Unlockable(file) from None
        raise output_error(error, file) from None
    entry.ranges.append(frames)
    _open[file] = entry
    return entry


def _open_lock_file(file: Path, spec) -> _LockFile:
    """Open (or create) the lock file, making sure the path still names what was opened."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        try:
            fd = os.open(file, flags, 0o666)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise InputError(f"{file} is a symbolic link; remove it to render {spec}") from None
            raise output_error(error, file) from None
        try:
            same = os.path.samestat(os.fstat(fd), os.lstat(file))
        except FileNotFoundError:
            same = False
        if same:
            return _LockFile(file, fd)
        os.close(fd)  # its last holder deleted it just now: open the new one
    raise InputError(f"cannot take the lock {file}: it keeps being replaced")


def _give_back(entry: _LockFile, frames: tuple[int, int | None]) -> None:
    entry.ranges.remove(frames)
    start, length = _span(frames)
    if entry.ranges:
        fcntl.lockf(entry.fd, fcntl.LOCK_UN, length, start)
        return
    del _open[entry.path]
    try:  # the whole file: granted only when no other process holds any part of it
        fcntl.lockf(entry.fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 0, 0)
        if os.path.samestat(os.fstat(entry.fd), os.lstat(entry.path)):
            entry.path.unlink()
    except OSError:
        return  # another render holds part of it and deletes it later
    finally:
        os.close(entry.fd)  # drops this process's locks on it
    drop_empty(entry.made)


def _span(frames: tuple[int, int | None]) -> tuple[int, int]:
    """(start, length) in bytes of a frame range; length 0 means "to the end and beyond"."""
    first, last = frames
    return first, 0 if last is None else max(1, last - first)


def _overlap(a: tuple[int, int | None], b: tuple[int, int | None]) -> bool:
    a_end = float("inf") if a[1] is None else a[1]
    b_end = float("inf") if b[1] is None else b[1]
    return a[0] < b_end and b[0] < a_end


def _busy(spec, file: Path) -> InputError:
    return InputError(f"another dreamstream render is writing {spec} (lock {file})")


def lock_output(spec, frames: tuple[int, int | None] = EVERYTHING) -> OutputLock | None:
    """Lock the output ``spec`` names (``None`` for a window or ``null``: nothing to guard).

    Args:
        spec: the output spec.
        frames: for a frame folder, ``(first, last)`` of the render (``last`` None: no end).

    Raises:
        InputError: another render holds it (see :class:`OutputLock`).
    """
    from dreamstream.stream.io.specs import output_kind

    kind, path = output_kind(spec)
    if kind in ("video", "image", "images"):
        return OutputLock(kind, path, spec, frames)
    return None

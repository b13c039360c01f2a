"""Output files made safely: written under a unique temporary name, then renamed.

Every output file (a video, an image, a frame of a sequence, a sidecar JSON)
is first written to a temporary file created *exclusively* in the output's
own folder (``O_CREAT | O_EXCL | O_NOFOLLOW``, a random part in its name), so
a file or symlink planted under a predictable name is never opened or
followed, and two renders to the same output never share a temporary file.
The finished file is renamed over the final name (atomic on one file
system; a symlink already there is replaced, not followed).

Operating-system errors on the output side (a full disk, a folder that
cannot be made) become one-line :class:`InputError` messages here.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from dreamstream.core.errors import InputError

NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems
_TAG = ".partial"  # every temporary name holds it (tests and users can spot leftovers)
# What temporary_name makes: "." + (a prefix of) the name + "." + 8 hex digits + _TAG + suffix.
_TEMPORARY = re.compile(r"\.(?P<name>.*)\.[0-9a-f]{8}" + re.escape(_TAG) + r"(\.[^.]*)?")


def check_name(path: Path, spec) -> None:
    """Refuse a file name longer than the file system allows.

    Raises:
        InputError: the name of ``path`` is longer than :data:`NAME_MAX` bytes.
    """
    size = len(os.fsencode(path.name))
    if size > NAME_MAX:
        raise InputError(f"output file name is {size} bytes, over the {NAME_MAX} allowed: {spec}")


def temporary_name(path: Path) -> str:
    """A fresh name for a temporary file beside ``path``: hidden, random, at most 255 bytes.

    It keeps the extension, as some writers choose the format by it.
    """
    tail = f".{secrets.token_hex(4)}{_TAG}{path.suffix}"
    room = NAME_MAX - 1 - len(os.fsencode(tail))
    stem = os.fsencode(path.name)[: max(room, 0)].decode(errors="ignore")
    return f".{stem}{tail}"


def open_temporary(path: Path) -> tuple[BinaryIO, Path]:
    """Create and open a new temporary file in ``path``'s folder.

    Returns:
        The file, open for binary writing (seekable), and its path.

    Raises:
        OSError: the folder does not allow it (see :func:`output_error`).
    """
    while True:
        tmp = path.with_name(temporary_name(path))
        try:
            return open_new(tmp), tmp
        except FileExistsError:
            continue  # a name taken by chance (or by a planted file): draw another


def open_new(path: Path) -> BinaryIO:
    """Create ``path`` exclusively (never an existing file, never through a symlink).

    Raises:
        FileExistsError: something is already there; other OSError: the folder refuses.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_BINARY", 0)
    return os.fdopen(os.open(path, flags, 0o666), "wb")  # the umask applies, as for any file


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file; no partial file is left.

    Raises:
        OSError: writing failed (the temporary file is removed).
    """
    handle, tmp = open_temporary(path)
    try:
        with handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_temporaries(folder: Path, belongs: Callable[[str], bool]) -> list[Path]:
    """Delete the temporary files that an ended render left in ``folder``.

    Only call it while holding the output's lock (see :mod:`.locks`): a render
    that is still running owns its temporary files.

    Args:
        folder: where to look (not recursively).
        belongs: whether a temporary file made for a file of this name (the
            name may be cut short, see :func:`temporary_name`) is to go.

    Returns:
        The files deleted; regular files only (a planted symlink is left alone).
    """
    gone = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return gone
    for entry in entries:
        match = _TEMPORARY.fullmatch(entry.name)
        if not match or not belongs(match["name"]):
            continue
        try:
            if stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode):
                os.unlink(entry.path)
                gone.append(Path(entry.path))
        except OSError:
            pass  # it went meanwhile, or cannot go: either way it is not ours to fight for
    return gone


def make_folders(folder: Path) -> list[Path]:
    """Make ``folder`` and its missing parents; returns those made, deepest first.

    Raises:
        InputError: the folder cannot be made (it names the folder and why); the
            folders made before the failure are removed again.
    """
    missing, probe = [], folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        drop_empty([p for p in missing if p.is_dir()])
        raise output_error(error, folder) from None
    return missing


def drop_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) while they are empty; stop at the first that is not."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return  # it holds something (the output): keep it and its parents


def output_error(error: OSError, target, kept: str = "") -> InputError:
    """A one-line error for an OS error on the output side.

    Args:
        error: what the operating system said.
        target: the file or folder that could not be made or written.
        kept: what was kept despite it, e.g. "the 12 frames finished before it are kept".
    """
    reason = error.strerror or str(error)
    return InputError(f"cannot write {target}: {reason}" + (f"; {kept}" if kept else ""))

"""The looks live mode moves through (presets or styles), each built once, in the background."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("dreamstream.stream.live")


class Looks:
    """The looks (presets or styles) to move through and the current one's processor.

    A look not yet built is built on a background thread, so the picture keeps
    moving while a new model loads; :meth:`poll` switches once it is ready.

    Args:
        looks: ``(label, settings)`` pairs; the first is built now (errors raise here).
        build: makes a processor from settings.
        background: build the first look on a thread too, so the camera shows
            while the framework loads: :attr:`processor` is ``None`` until it is
            ready, and an error building it is kept in :attr:`fatal`.
        upgrade: ``upgrade(settings, processor)`` -> a faster processor of the
            same look, or None; called on the loader thread once the first look
            runs, the result takes its place (a dream started on onnxruntime
            moves to Keras where Keras is faster; the carry lives in the loop,
            so nothing jumps).
    """

    def __init__(
        self,
        looks: list[tuple[str, object]],
        build: Callable,
        background=False,
        upgrade: Callable | None = None,
    ):
        self.looks, self.build, self.upgrade = looks, build, upgrade
        self.index = self._wanted = 0
        self._ready = {} if background else {0: build(looks[0][1])}
        self._loading = False
        self._failed: set[int] = set()  # looks that could not be built are skipped
        self.error: str | None = None
        self._base = len(looks)  # looks after these are remote-control variants (one at most)
        self.fatal: BaseException | None = None  # the first look could not be built
        if background:
            threading.Thread(target=self._first, daemon=True, name="look-loader").start()
        elif upgrade is not None:
            threading.Thread(target=self._upgrade, daemon=True, name="look-upgrade").start()

    def _first(self) -> None:
        try:
            self._ready[0] = self.build(self.looks[0][1])
        except BaseException as exc:  # noqa: BLE001 -- handed to the loop, which raises it
            self.fatal = exc
            return
        if self.upgrade is not None:
            self._upgrade()

    def _upgrade(self) -> None:
        running = self._ready[0]
        try:
            better = self.upgrade(self.looks[0][1], running)
        except Exception as exc:  # noqa: BLE001 -- the running processor carries on
            log.warning("could not move the look to a faster runtime: %s", exc)
            return
        if better is not None:
            if hasattr(running, "setup"):  # a slider moved meanwhile: keep what it set
                better.setup = running.setup
            self._ready[0] = better

    @property
    def processor(self):
        """The current look's processor (``None`` while the first one loads)."""
        return self._ready.get(self.index)

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

    def variant(self, label: str, settings) -> None:
        """Ask for a look made by a remote control; it replaces the previous such look.

        At most two variants are kept (the one running and the one asked for), so a
        control moved back and forth cannot pile up models; each is built in the
        background like any other look.

        Raises:
            InputError: a look is being built already.
        """
        from dreamstream.core.errors import InputError

        if self._loading:
            raise InputError("a look is being built; try again when it shows")
        # Two slots taken in turn: the running variant stays until its successor is ready.
        slot = self._base + 1 if self.index == self._base else self._base
        for old in (self._base, self._base + 1):
            if old != self.index:
                self._ready.pop(old, None)
        if slot < len(self.looks):
            self.looks[slot] = (label, settings)
        else:
            self.looks.append((label, settings))
        self._failed.discard(slot)
        self.select(slot)

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

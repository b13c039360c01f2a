"""The frame loop: decode -> flow -> dream or style -> encode, with temporal state.

Four stages run concurrently, joined by small bounded queues, so the model
(the slow stage, on the calling thread) never waits on I/O:

    decode thread --> flow thread --> model (this thread) --> encode thread

The flow thread measures the motion between consecutive *input* frames
(flow current -> previous, reliability mask, scene cut: see
:mod:`dreamstream.stream.carry`), so the flow of frame t+1 is computed while
the model works on frame t. The pipeline owns all state (through a
:class:`~dreamstream.stream.carry.Carry`); the processors and core functions
are stateless. Frames between stages are :class:`~dreamstream.stream.io.Frame`
objects holding ``uint8`` ``HxWx3`` RGB images with the source's pts.
"""

from __future__ import annotations

import dataclasses
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.core.flow import DEFAULT_SCALE
from dreamstream.stream.carry import Carry, Motion, MotionMeter, as_processor
from dreamstream.stream.io.frame import Frame

QUEUE_SIZE = 4
_END = object()


@dataclass
class FlowItem:
    """An input frame with what the flow stage learnt about it."""

    frame: Frame
    motion: Motion | None = None  # from the previous input frame; None: start afresh
    skip: bool = False  # already rendered (resume): only its input is needed


@dataclass
class Stats:
    """Frame counts and seconds spent per stage (each stage on its own thread)."""

    frames: int = 0
    skipped: int = 0
    cuts: int = 0
    seconds: float = 0.0
    stage_seconds: dict = field(
        default_factory=lambda: {"decode": 0.0, "flow": 0.0, "model": 0.0, "encode": 0.0}
    )
    interrupted: bool = False

    def summary(self) -> dict:
        """JSON-able figures: frames, seconds, end-to-end and per-stage frames/s."""
        per_stage = {
            k: round(self.frames / v, 3) if v > 0 else None for k, v in self.stage_seconds.items()
        }
        return {
            "frames": self.frames,
            "skipped": self.skipped,
            "scene_cuts": self.cuts,
            "seconds": round(self.seconds, 3),
            "fps": round(self.frames / self.seconds, 3) if self.seconds > 0 else None,
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
            "stage_fps": per_stage,
            "interrupted": self.interrupted,
        }


class _Worker(threading.Thread):
    """A stage thread that forwards its results, an exception or the end marker."""

    def __init__(
        self, name: str, work: Callable[[Callable], None], out: queue.Queue, stop: threading.Event
    ):
        super().__init__(name=name, daemon=True)
        self.work, self.out, self.stop = work, out, stop

    def put(self, item) -> bool:
        """Queue ``item``; False once the run is stopping."""
        while not self.stop.is_set():
            try:
                self.out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        try:
            self.work(self.put)
        except BaseException as error:  # handed to the consumer, re-raised there
            self.put(error)
        finally:
            self.put(_END)


def _consume(q: queue.Queue) -> Iterator:
    while True:
        item = q.get()
        if item is _END:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


def _timed_iter(items: Iterable, stats: Stats, stage: str) -> Iterator:
    """Iterate ``items`` adding the time spent producing each to ``stats``."""
    iterator = iter(items)
    while True:
        begin = time.perf_counter()
        try:
            item = next(iterator)
        except StopIteration:
            return
        stats.stage_seconds[stage] += time.perf_counter() - begin
        yield item


@dataclass
class ResumeState:
    """Where a resumed render picks up: frames below ``next_index`` are on disk.

    ``last_output`` is the output written for frame ``next_index - 1`` (uint8 RGB),
    which becomes the previous output of the first frame rendered now.
    """

    next_index: int
    last_output: np.ndarray | None


def render(
    source: Iterable[Frame],
    processor,
    *,
    flow: bool = True,
    flow_method: str = "dis",
    flow_preset: str = "medium",
    resume: ResumeState | None = None,
    stats: Stats | None = None,
    stop: threading.Event | None = None,
    effects=None,
) -> Iterator[Frame]:
    """Render ``source`` frame by frame, yielding output frames in order.

    Args:
        source: frames (uint8 HxWx3 RGB with index/pts), e.g. an opened Source.
        processor: has ``first(frame, index)`` and ``next(frame, index, warped_out,
            mask, warped_in)``; a plain ``frame -> frame`` callable is used per frame.
        flow: carry the previous output along the input's optical flow.
        flow_method, flow_preset: see ``dreamstream.core.flow.FlowEstimator``.
        resume: skip frames already rendered and restore the state (image sequences).
        stats: filled with counts and per-stage seconds.
        stop: when set, decoding stops and the frames already read are finished.
        effects: masks, ``--react``, ``--attract``
            (:class:`~dreamstream.stream.effects.Effects`), or None.

    Yields:
        Output frames: the input's index/pts with the processed image.
    """
    processor = as_processor(processor)
    stats = stats if stats is not None else Stats()
    stop = stop if stop is not None else threading.Event()
    halt = threading.Event()  # ends the worker threads when the consumer goes away
    # A processor may ask for flow at another scale (style: full resolution).
    scale = getattr(processor, "flow_scale", DEFAULT_SCALE)
    meter = MotionMeter(flow_method, flow_preset, enabled=flow, scale=scale)
    skip_below = resume.next_index if resume else 0
    decoded: queue.Queue = queue.Queue(QUEUE_SIZE)
    flowed: queue.Queue = queue.Queue(QUEUE_SIZE)

    def decode(put):
        for frame in _timed_iter(source, stats, "decode"):
            if stop.is_set() or not put(frame):
                return

    prepare = getattr(processor, "prepare", None)  # work that needs no previous output
    # A resumed render replays its effects (mask, stillness) over the frames on disk,
    # from the flow alone, so they continue as an uninterrupted render's would.
    replay = effects is not None and resume is not None

    def measure(put):
        for frame in _consume(decoded):
            begin = time.perf_counter()
            if frame.index < skip_below:  # already on disk: its input is the next one's previous
                if replay:  # the effects' state is rebuilt from these frames' motion
                    item = FlowItem(frame, meter(frame.image), skip=True)
                else:
                    meter.reset(frame.image)
                    item = FlowItem(frame, skip=True)
            else:
                # Attract mode's swing gives a style another view to paint: not this frame.
                if prepare is not None and not (effects is not None and effects.swing > 0):
                    prepare(frame.image, frame.index)
                item = FlowItem(frame, meter(frame.image))
            stats.stage_seconds["flow"] += time.perf_counter() - begin
            if not put(item):
                return

    workers = [_Worker("decode", decode, decoded, halt), _Worker("flow", measure, flowed, halt)]
    for worker in workers:
        worker.start()
    try:
        yield from _model_loop(_consume(flowed), processor, stats, resume, stop, effects)
    finally:
        halt.set()
        for worker in workers:
            worker.join(timeout=5)


def _model_loop(
    items: Iterator[FlowItem],
    processor,
    stats: Stats,
    resume: ResumeState | None,
    stop: threading.Event,
    effects=None,
) -> Iterator[Frame]:
    carry = Carry(effects)
    for item in items:
        if stop.is_set():  # finish the frame in flight only, not the ones queued behind it
            return
        frame = item.frame
        if item.skip:
            stats.skipped += 1
            last = resume is not None and frame.index == resume.next_index - 1
            if effects is not None:
                effects.observe(frame.image, item.motion, frame.time)
            out = resume.last_output if last else None
            if out is not None and effects is not None:  # on disk it is mixed with the frame
                out = effects.unmix(out, frame.image)
            carry.restore(frame.image, out)
            continue
        begin = time.perf_counter()
        out = carry.step(processor, frame.image, frame.index, item.motion, time_s=frame.time)
        image = carry.shown(out)
        stats.stage_seconds["model"] += time.perf_counter() - begin
        stats.frames += 1
        stats.cuts = carry.cuts
        yield dataclasses.replace(frame, image=image)


class StopOnSignal:
    """Turns SIGINT/SIGTERM into a stop request while the block runs (main thread only).

    The first signal sets ``event``: decoding stops, the frames in flight are
    finished and the output is finalised. A second SIGINT while frames are
    still being made raises ``KeyboardInterrupt``, which skips waiting for the
    frame in flight; once :meth:`finalising` was called, signals are only
    noted, so no key press can undo a finalisation under way.
    """

    def __init__(self, event: threading.Event):
        self.event = event
        self.previous: dict = {}
        self.shielded = False

    def _handle(self, signum, frame) -> None:
        if self.event.is_set() and signum == signal.SIGINT and not self.shielded:
            raise KeyboardInterrupt
        self.event.set()

    def finalising(self) -> None:
        """From now on a signal never interrupts: the output is being finished."""
        self.shielded = True

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def run(
    source,
    processor,
    sink,
    *,
    progress: Callable[[Stats], None] | None = None,
    stop: threading.Event | None = None,
    **options,
) -> Stats:
    """Render ``source`` into ``sink`` with encoding on its own thread.

    Stops early, with the sink finalised, when ``stop`` is set (SIGINT/SIGTERM
    do that while it runs). Any other error aborts the sink, so no partial file
    is left under the output's name.

    Args:
        source: frames to render (an opened Source).
        processor: see :func:`render`.
        sink: an opened Sink; closed (finalised) or aborted here.
        progress: called with the stats after each frame.
        stop: request to stop early.
        **options: passed to :func:`render`.

    Returns:
        The run's statistics (``interrupted`` says whether it stopped early).
    """
    stats = Stats()
    stop = stop if stop is not None else threading.Event()
    halt = threading.Event()
    encoded: queue.Queue = queue.Queue(QUEUE_SIZE)

    def encode(put):
        for frame in _consume(encoded):
            begin = time.perf_counter()
            sink.write(frame)
            stats.stage_seconds["encode"] += time.perf_counter() - begin

    writer = _Worker("encode", encode, queue.Queue(2), halt)  # room for an error and the end
    errors = writer.out
    begin = time.perf_counter()
    writer.start()
    try:
        with StopOnSignal(stop) as signals:
            frames = render(source, processor, stats=stats, stop=stop, **options)
            _feed(frames, encoded, errors, lambda: progress and progress(stats), stop)
            signals.finalising()
            _put_or_fail(encoded, _END, errors)
            writer.join()
            _raise_worker_error(errors)
            stats.interrupted = stop.is_set()
            if stats.frames == stats.skipped == 0 and not stats.interrupted:
                raise InputError("no frame to render: nothing decoded, or --start is past the end")
            sink.close()
    except BaseException:
        halt.set()
        writer.join(timeout=5)
        sink.abort()  # a sink already closed keeps its output
        raise
    stats.seconds = time.perf_counter() - begin
    return stats


def _feed(frames: Iterator[Frame], encoded: queue.Queue, errors: queue.Queue, report, stop):
    """Queue every rendered frame for the encoder until the frames end or a stop.

    A ``KeyboardInterrupt`` after a stop request (a second Ctrl-C) ends the
    feeding without the frame in flight; the frames queued are still written.
    """
    try:
        for frame in frames:
            _put_or_fail(encoded, frame, errors)
            report()
    except KeyboardInterrupt:
        if not stop.is_set():
            raise
    finally:
        frames.close()  # stops the decode and flow threads


def _put_or_fail(q: queue.Queue, item, errors: queue.Queue) -> None:
    """Queue ``item`` for the encoder, re-raising the encoder's error if it failed."""
    while True:
        _raise_worker_error(errors)
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _raise_worker_error(errors: queue.Queue) -> None:
    try:
        item = errors.get_nowait()
    except queue.Empty:
        return
    if isinstance(item, BaseException):
        raise item

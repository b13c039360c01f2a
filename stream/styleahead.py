"""Style frames ahead of the model loop, several at once, each exactly as alone.

A styled frame depends on its input frame only; the temporal blend that
follows needs the previous output, the network does not. So the pipeline
hands each decoded frame to :meth:`Ahead.submit` as soon as it arrives, and
a small pool styles it while earlier frames are still being blended and
encoded; :meth:`Ahead.result` then waits for it.

On a CPU, two frames at a time with half the cores each beat one frame at a
time with all of them: the network's per-layer work does not split evenly
over threads, so some cores idle between layers (``make bench``). Every
frame still runs alone through the same graph (no batching), and onnxruntime
gives the same sums for any thread count, so a render, resumed or not, is
identical frame for frame to one made without this.

Frames are uint8 HxWx3 RGB, in and out.
"""

from __future__ import annotations

import copy
import os
import threading
import weakref
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

LANES = 2  # frames styled at once
MAX_PENDING = 8  # more queued frames than the pipeline ever holds: the rest were abandoned


class Ahead:
    """Runs a stylizer on frames before they are asked for.

    Args:
        stylizer: the stylizer for frames asked for without ``submit`` (all cores).
        lane_stylizer: the same style on a network with fewer threads per frame,
            one copy run per lane.
        lanes: frames styled at once.
    """

    def __init__(self, stylizer, lane_stylizer, lanes: int = LANES):
        self.stylizer, self.lane_stylizer = stylizer, lane_stylizer
        self.pool = ThreadPoolExecutor(lanes, thread_name_prefix="style-ahead")
        self.pending: OrderedDict[int, tuple[np.ndarray, Future]] = OrderedDict()
        self.lock = threading.Lock()
        # Queued frames of an abandoned render must not keep the pool busy at exit.
        weakref.finalize(self, self.pool.shutdown, wait=False, cancel_futures=True)

    def submit(self, frame: np.ndarray, index: int, style: np.ndarray | None = None) -> None:
        """Start styling ``frame`` (the input frame of source index ``index``).

        ``style``: this frame's style vector (a cross-fade's), None for the stylizer's own.
        """
        future = self.pool.submit(self.lane_stylizer, frame, style)
        with self.lock:
            self.pending[index] = (frame, future)
            while len(self.pending) > MAX_PENDING:
                _, (_, dropped) = self.pending.popitem(last=False)
                dropped.cancel()

    def result(self, frame: np.ndarray, index: int, style: np.ndarray | None = None) -> np.ndarray:
        """The styled ``frame``: from its submitted run, or computed now if none matches.

        ``style`` as given to :meth:`submit` (the same index gives the same vector).
        """
        with self.lock:
            entry = self.pending.pop(index, None)
        if entry is not None and entry[0] is frame:
            return entry[1].result()
        return self.stylizer(frame, style)


def ahead_for(stylizer, runtime: str) -> Ahead | None:
    """An :class:`Ahead` for a stylizer on onnxruntime; None where it would not help.

    Keras runs one frame at a time (its runtimes spread one frame over the
    cores themselves); a single core has nothing to run in parallel.
    """
    cores = os.cpu_count() or 1
    if runtime != "onnxruntime" or cores < 2:
        return None
    from dreamstream.stream.runtimes import onnx_multistyle_net

    lane = copy.copy(stylizer)
    lane.net = onnx_multistyle_net(max(1, cores // LANES))
    return Ahead(stylizer, lane)

"""Referee flows from opencv-contrib, run in the bench's own environment.

opencv-contrib-python and opencv-python install the same ``cv2`` package, so
they cannot share one environment; ``make bench`` makes ``.venv-referee``
(numpy and opencv-contrib-python-headless only) and
:mod:`dreamstream.stream.bench.referee` runs this file with its Python. It
imports nothing from dreamstream, so it runs there as a plain script.

Usage: ``python referee_flow.py METHOD FRAMES.npy PAIRS.npy OUT.npy``, where
FRAMES is an NxHxW uint8 luminance stack, PAIRS a Kx2 int array of (a, b)
frame indices and OUT receives a KxHxWx2 float32 stack: the flow from frame a
to frame b, in pixels (x, y), i.e. a pixel (x, y) of a was at (x + fx, y + fy)
in b. ``python referee_flow.py --list`` prints the methods this cv2 offers.

TV-L1 runs lighter than OpenCV's defaults (5 warps, 10 outer and 30 inner
iterations): on 6 sampled pairs of samples/bikes.mp4 at 640x272, 2 warps, 3
outer and 10 inner iterations cost 1.8 CPU-seconds a flow where 5 warps, 5
outer and 10 inner cost 4.8, at the same input floor (8.4e-05 against
8.1e-05; dis-fine 1.25e-04), and the defaults about 40x dis-fine's time.
"""

from __future__ import annotations

import sys

import cv2
import numpy as np

# Settings of the lighter TV-L1, and a tag naming them, so that cached flows of
# other settings are never reused.
TVL1 = {"WarpingsNumber": 2, "OuterIterations": 3, "InnerIterations": 10}
VERSIONS = {"tvl1": "w2-o3-i10"}


def _tvl1():
    algorithm = cv2.optflow.createOptFlow_DualTVL1()
    for name, value in TVL1.items():
        getattr(algorithm, f"set{name}")(value)
    return algorithm


def _makers() -> dict:
    optflow = getattr(cv2, "optflow", None)
    if optflow is None:
        return {}
    return {
        "deepflow": optflow.createOptFlow_DeepFlow,
        "tvl1": _tvl1,
        "pcaflow": optflow.createOptFlow_PCAFlow,
    }


def main(argv: list[str]) -> int:
    makers = _makers()
    if argv[:1] == ["--list"]:
        print(" ".join(sorted(makers)))
        return 0
    if len(argv) != 4 or argv[0] not in makers:
        print(
            f"usage: referee_flow.py {{{','.join(sorted(makers))}}} FRAMES PAIRS OUT",
            file=sys.stderr,
        )
        return 2
    method, frames_path, pairs_path, out_path = argv
    frames, pairs = np.load(frames_path), np.load(pairs_path)
    algorithm = makers[method]()
    flows = np.empty((len(pairs), *frames.shape[1:3], 2), np.float32)
    for k, (a, b) in enumerate(pairs):
        flows[k] = algorithm.calc(frames[a], frames[b], None)
    np.save(out_path, flows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

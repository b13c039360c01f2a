"""Temporal coherence of a processed video: warping error against the input's own floor.

``warp_error(INPUT, OUTPUT)`` measures optical flow on the *input* frames
(current -> previous), warps each previous *output* frame along it and
compares it with the current output where the Ruder consistency mask is
reliable (Lai et al. 2018). The input's own warping error, with the same flow
and mask, is the floor that flow error alone costs; the excess over it is
what the processing added. Dream strength (mean |O - I| / 255) says whether
coherence was bought by changing the frames less.

Both paths may be video files (decoded with PyAV) or folders of numbered
images (PNG, JPEG). Frames stream through in pairs, so memory stays constant.

``run(quick=False)`` is the ``make bench`` entry: speed and end-point error of
the flow presets on ``samples/clip.mp4``, whose exact flow ``clip.json`` gives.

Usage: ``python -m dreamstream.stream.bench.warp_error INPUT OUTPUT [--preset P]``
(prints JSON).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np

from dreamstream.core import flow as F
from dreamstream.core import measures
from dreamstream.core.errors import InputError
from dreamstream.core.temporal import is_scene_cut
from dreamstream.stream.bench import referee as R

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
# Real camera footage (see samples/LICENSE.md) and its longest shot, frames
# [76, 137): traffic with motion blur, no cut.
REAL = SAMPLES / "bikes.mp4"
SHOT = (76, 137)


def _natural_key(path: Path) -> tuple:
    """Sort frame_9 before frame_10: by the last number in the name, then the name."""
    numbers = re.findall(r"\d+", path.stem)
    return (int(numbers[-1]) if numbers else -1, path.name)


def _folder_frames(folder: Path) -> Iterator[np.ndarray]:
    files = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key
    )
    if not files:
        raise InputError(f"{folder}: no {'/'.join(IMAGE_SUFFIXES)} frames in this folder")
    for path in files:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"{path}: not a readable image")
        yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _video_frames(path: Path) -> Iterator[np.ndarray]:
    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        raise InputError(f"{path}: cannot open as a video ({error})") from None
    with container:
        if not container.streams.video:
            raise InputError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            yield frame.to_ndarray(format="rgb24")


def iter_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Frames of a video file or a folder of numbered images, as uint8 HxWx3 RGB."""
    path = Path(path)
    if path.is_dir():
        return _folder_frames(path)
    if not path.is_file():
        raise InputError(f"{path}: no such video file or frame folder")
    return _video_frames(path)


class _Judge:
    """Running sums of the warping error of outputs and inputs under one flow."""

    def __init__(self) -> None:
        self.out, self.floor, self.reliable = [], [], []
        self.empty = 0

    def add(self, ins, outs, flow, mask) -> None:
        out_err = measures.warping_error(outs, [flow], [mask])
        if np.isnan(out_err):
            self.empty += 1
            return
        self.out.append(out_err)
        self.floor.append(measures.warping_error(ins, [flow], [mask]))
        self.reliable.append(float(mask.mean()))

    def report(self) -> dict:
        out = float(np.mean(self.out)) if self.out else float("nan")
        floor = float(np.mean(self.floor)) if self.floor else float("nan")
        return {
            "warping_error": out,
            "input_warping_error": floor,
            "excess_warping_error": out - floor,
            "reliable_fraction": float(np.mean(self.reliable)) if self.reliable else 0.0,
            "pairs": len(self.out),
        }


class _Totals:
    """Running sums of every per-pair measure."""

    def __init__(self) -> None:
        self.referee, self.own = _Judge(), _Judge()
        self.strength, self.moving = [], []
        self.static_out, self.static_in, self.static_share = [], [], []
        self.frames = self.cuts = 0

    def add_flow_free(self, ins, outs) -> None:
        """Static flicker and moving-region fidelity of one pair (no flow involved)."""
        flicker = measures.static_flicker(outs, ins)
        if flicker.pairs:
            self.static_out.append(flicker.output)
            self.static_in.append(flicker.input)
        self.static_share.append(flicker.static_share)
        region = measures.moving_pixels(ins[0], ins[1])
        self.moving.append(measures.moving_fidelity(outs[1], ins[1], region))


def _fit(output: np.ndarray, size: tuple[int, int], notes: list[str]) -> np.ndarray:
    """Resize an output frame to the input's (h, w), noting it once."""
    if output.shape[:2] == size:
        return output
    note = (
        f"output frames {output.shape[1]}x{output.shape[0]} resized to the input's "
        f"{size[1]}x{size[0]}"
    )
    if note not in notes:
        notes.append(note)
    shrink = output.shape[0] > size[0]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(output, (size[1], size[0]), interpolation=interp)


def _input_pairs(path, max_frames, wanted=None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(t, previous, current) input pairs, only those t in ``wanted`` if given."""
    prev = None
    for t, frame in enumerate(itertools.islice(iter_frames(path), max_frames)):
        if prev is not None and (wanted is None or t in wanted):
            yield t, prev, frame
        prev = frame


def choose_referee(input_path, max_frames: int | None = None) -> tuple:
    """The referee for a clip on disk: two passes over its input, frames in pairs.

    The first pass finds the pairs that are not cuts by colour, the second
    gathers an even sample of them, on which the candidates are scored
    (:func:`dreamstream.stream.bench.referee.choose`).

    Returns:
        (chosen flow source, scores of every candidate, notes).
    """
    ok = [t for t, a, b in _input_pairs(input_path, max_frames) if R.same_shot(a, b)]
    wanted = set(R.spread(ok))
    pairs = [(b, a) for _, a, b in _input_pairs(input_path, max_frames, wanted)]
    sources, notes = R.candidates()
    if not pairs:
        return sources[0], {}, notes
    chosen, scores = R.choose(pairs, sources)
    return chosen, scores, notes


def _measure_chunk(chunk, referee, own, totals: _Totals, skip_cuts: bool) -> None:
    """Judge a list of (prev_in, inp, prev_out, out) under the referee and the own flow."""
    pairs = [(inp, prev_in) for prev_in, inp, _, _ in chunk]
    ref_flows, own_flows = referee.flows(pairs), own.flows(pairs)
    ref_masks, own_masks = R.masks(ref_flows), R.masks(own_flows)
    for k, (prev_in, inp, prev_out, out) in enumerate(chunk):
        if skip_cuts and is_scene_cut(prev_in, inp, ref_masks[k]):
            totals.cuts += 1
            continue
        ins, outs = [prev_in, inp], [prev_out, out]
        totals.referee.add(ins, outs, ref_flows[k][0], ref_masks[k])
        totals.own.add(ins, outs, own_flows[k][0], own_masks[k])
        totals.add_flow_free(ins, outs)


CHUNK = 16  # pairs per batch of referee flows (an opencv-contrib referee runs per batch)


def warp_error(
    input_path: str | Path,
    output_path: str | Path,
    *,
    referee: str = "auto",
    method: str = "dis",
    preset: str = "medium",
    scale: float = F.DEFAULT_SCALE,
    max_frames: int | None = None,
    skip_cuts: bool = True,
) -> dict:
    """Temporal coherence of ``output_path`` measured on ``input_path``'s motion.

    The warping error is measured with the *referee* flow (chosen per clip
    for accuracy, or named), and beside it with the renderer's flow
    (``method``, ``preset``, ``scale``; labelled as such: it flatters the warp
    it judges). Static flicker and moving-region fidelity need no flow.

    Args:
        input_path, output_path: video files or folders of numbered images.
        referee: "auto" or a name from ``referee.CANDIDATES``.
        method, preset, scale: the renderer's flow (see ``FlowEstimator``).
        max_frames: stop after this many frames (None: all).
        skip_cuts: leave out pairs that ``is_scene_cut`` flags under the
            referee (their mask is nearly empty, so their error is noise).

    Returns:
        JSON-able dict: the referee's ``warping_error``, ``input_warping_error``
        (the floor) and ``excess_warping_error``; ``renderer_flow`` with the
        same under the renderer's flow; ``static_flicker``, ``moving_fidelity``,
        ``dream_strength``, the referee's choice, counts and ``notes``.
    """
    own = R.OwnFlow(F.FlowEstimator(method, preset, scale))
    if referee == "auto":
        judge, scores, skipped = choose_referee(input_path, max_frames)
    else:
        judge, scores, skipped = R.named(referee), {}, []
    totals, chunk, notes = _Totals(), [], []
    prev_in = prev_out = None
    pairs = itertools.zip_longest(iter_frames(input_path), iter_frames(output_path))
    for inp, out in itertools.islice(pairs, max_frames):
        if inp is None or out is None:
            longer = "input" if out is None else "output"
            notes.append(f"the {longer} has more frames: compared the first {totals.frames}")
            break
        out = _fit(out, inp.shape[:2], notes)
        totals.frames += 1
        totals.strength.append(measures.dream_strength([out], [inp]))
        if prev_in is not None:
            chunk.append((prev_in, inp, prev_out, out))
        if len(chunk) == CHUNK:
            _measure_chunk(chunk, judge, own, totals, skip_cuts)
            chunk = []
        prev_in, prev_out = inp, out
    if chunk:
        _measure_chunk(chunk, judge, own, totals, skip_cuts)
    return _report(input_path, output_path, (judge, scores, skipped, own), totals, notes)


def _mean(values) -> float:
    values = [v for v in values if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def _report(input_path, output_path, flows, totals: _Totals, notes: list[str]) -> dict:
    if totals.frames < 2:
        raise InputError(f"{input_path} and {output_path}: need at least 2 frames in common")
    judge, scores, skipped, own = flows
    if totals.referee.empty:
        notes.append(
            f"{totals.referee.empty} pairs had an empty consistency mask and were left out"
        )
    ref, mine = totals.referee.report(), totals.own.report()
    est = own.estimator
    static_out, static_in = _mean(totals.static_out), _mean(totals.static_in)
    return {
        "input": str(input_path),
        "output": str(output_path),
        "frames": totals.frames,
        "scene_cuts": totals.cuts,
        **ref,
        "referee": {"flow": judge.name, "candidates": scores, "not_available": skipped},
        "renderer_flow": {
            "note": "the renderer's own flow: it flatters the warp it judges",
            "flow": {"method": est.method, "preset": est.preset, "scale": est.scale},
            **mine,
        },
        "static_flicker": {
            "output": static_out,
            "input": static_in,
            "excess": static_out - static_in,
            "static_share": _mean(totals.static_share),
        },
        "moving_fidelity": _mean(totals.moving),
        "dream_strength": float(np.mean(totals.strength)),
        "notes": notes,
    }


# ---- make bench: flow presets on the sample clip, whose exact flow is known ----

CONFIGS = [
    ("dis", "ultrafast", 1.0),
    ("dis", "fast", 1.0),
    ("dis", "fast", 0.5),
    ("dis", "medium", 1.0),
    ("dis", "medium", 0.5),
    ("farneback", "fast", 0.5),
]


def _clip_true_flow(meta: dict, t: int) -> np.ndarray:
    """Exact background flow of the sample clip, frame t -> t-1 (object pixels are NaN)."""
    width, height = meta["size"]
    (cx1, cy1, s1), (cx0, cy0, s0) = meta["camera"][t], meta["camera"][t - 1]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    flow = np.stack([(cx1 + s1 * xs - cx0) / s0 - xs, (cy1 + s1 * ys - cy0) / s0 - ys], -1)
    (ox, oy), (w, h) = meta["object_top_left"][t], meta["object_size"]
    # The gliding object and a margin around it carry other motion: leave them out.
    flow[max(0, int(oy) - 4) : int(oy + h) + 5, max(0, int(ox) - 4) : int(ox + w) + 5] = np.nan
    return flow.astype(np.float32)


def _epe(flow: np.ndarray, truth: np.ndarray) -> float:
    err = np.linalg.norm(flow - truth, axis=-1)
    return float(np.nanmean(err))


def _time_ms(estimator, a: np.ndarray, b: np.ndarray, repeats: int) -> float:
    estimator(a, b)  # first call allocates DIS's buffers
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        estimator(a, b)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def run(quick: bool = False) -> dict:
    """Speed and end-point error (EPE, px) of each flow configuration on samples/clip.mp4.

    Speed is per flow field (one direction) at 480x270 and at 1280x720 (the
    clip upscaled), on this machine's CPU; EPE is against the exact camera flow.
    """
    meta = json.loads((SAMPLES / "clip.json").read_text())
    frames = list(itertools.islice(iter_frames(SAMPLES / "clip.mp4"), 12 if quick else 40))
    big = [cv2.resize(f, (1280, 720), interpolation=cv2.INTER_LINEAR) for f in frames[:2]]
    rows = {}
    for method, preset, scale in CONFIGS:
        est = F.FlowEstimator(method, preset, scale)
        epe = [
            _epe(est(frames[t], frames[t - 1]), _clip_true_flow(meta, t))
            for t in range(1, len(frames))
        ]
        rows[f"{method}/{preset}@{scale}"] = {
            "epe_px": round(float(np.mean(epe)), 3),
            "ms_480x270": round(_time_ms(est, frames[1], frames[0], 5 if quick else 20), 2),
            "ms_1280x720": round(_time_ms(est, big[1], big[0], 2 if quick else 10), 2),
        }
    lines = ["| flow | EPE (px) | ms 480x270 | ms 1280x720 |", "| --- | --- | --- | --- |"]
    lines += [
        f"| {k} | {v['epe_px']} | {v['ms_480x270']} | {v['ms_1280x720']} |" for k, v in rows.items()
    ]
    return {"frames": len(frames), "configs": rows, "table": "\n".join(lines)}


def main(argv: list[str] | None = None) -> int:
    """Command line: print the warping-error report of OUTPUT against INPUT as JSON."""
    parser = argparse.ArgumentParser(prog="python -m dreamstream.stream.bench.warp_error")
    parser.add_argument("input", help="the input video file or frame folder")
    parser.add_argument("output", help="the processed video file or frame folder")
    parser.add_argument(
        "--referee",
        default="auto",
        choices=("auto", *R.CANDIDATES),
        help="the flow that judges (default: the most accurate candidate on the clip)",
    )
    parser.add_argument(
        "--flow", default="dis", choices=F.METHODS, help="the renderer's flow (second column)"
    )
    parser.add_argument("--preset", default="medium", choices=F.PRESETS)
    parser.add_argument("--scale", type=float, default=F.DEFAULT_SCALE)
    parser.add_argument("--max-frames", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        report = warp_error(
            args.input,
            args.output,
            referee=args.referee,
            method=args.flow,
            preset=args.preset,
            scale=args.scale,
            max_frames=args.max_frames,
        )
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The referee: an optical flow that judges temporal coherence, independent of the renderer.

The warping error (Lai et al. 2018) warps each previous output along flow
measured on the inputs. Measured with the renderer's own flow (DIS "medium" at
half scale) it rewards the very warp it should judge, and a poor flow favours
blur in time: wherever the flow is wrong, a moving average scores well. So the
benchmarks measure with a *referee*: a flow never used by the renderer, chosen
per clip for accuracy, i.e. the lowest warping error of the *input* itself
(the floor) on a sample of the clip's pairs (DESIGN.md, "Measures").

Candidates:

- ``dis-fine``: OpenCV DIS at full resolution, its finest pyramid level,
  dense patches and more variational refinement (the renderer's DIS stops a
  level short, at half scale);
- not DIS "medium" at full resolution (``DisFlow("dis-full")``, kept for
  comparisons): that is the style's own flow, so it is no candidate;
- ``deepflow``, ``tvl1``, ``pcaflow``: from opencv-contrib, which cannot share
  an environment with the runtime's opencv-python: they run in the bench's own
  ``.venv-referee`` (made by ``make bench``; see ``referee_flow.py``) and are
  skipped, with a note, where it is missing. Their flows are cached in
  ``.referee-cache/<method>/``, one file per pair of frames, so each is
  computed once for all runs of the bench. ``tvl1`` runs with fewer warps and
  iterations than OpenCV's defaults (see ``referee_flow.py``): about 1.8
  CPU-seconds a flow at 640x272 instead of about 40x dis-fine's time, and on
  bikes still the most accurate candidate.

Accuracy is compared on the same pixels: each candidate's floor on the pixels
every candidate finds reliable (``common``), so a flow cannot look accurate by
trusting only the easy pixels, nor inaccurate by daring the hard ones. A
candidate whose own consistency mask keeps much less of the picture than the
others (below ``MIN_RELIABLE_SHARE`` of the best) is not eligible either: as a
referee it would judge only a sliver of each frame. (Consistency is not
accuracy: a smooth flow that is wrong on moving things can agree with its own
backward flow over more of the picture than an accurate one.)

Frames are uint8 HxWx3 **RGB**; flows HxWx2 float32 (x, y) pixels, current ->
previous; masks binary HxW float32 (1 = reliable), as in
:mod:`dreamstream.core.flow`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from dreamstream.core import flow as F
from dreamstream.core import measures
from dreamstream.core.temporal import histogram_distance
from dreamstream.stream.bench.referee_flow import VERSIONS

ROOT = Path(__file__).resolve().parents[2]
REFEREE_VENV = ROOT / ".venv-referee"
CACHE = ROOT / ".referee-cache"
CONTRIB = ("deepflow", "tvl1", "pcaflow")
CANDIDATES = ("dis-fine", *CONTRIB)
# The renderer's own flow: the defaults of FlowEstimator (and of --flow-method/-preset).
OWN = ("dis", "medium", F.DEFAULT_SCALE)
SAMPLE_PAIRS = 12
MIN_RELIABLE_SHARE = 0.5
# Pairs whose colour histograms differ this much are cuts (core.temporal.is_scene_cut).
CUT_HISTOGRAM = 0.35

Pair = tuple[np.ndarray, np.ndarray]  # (current, previous) uint8 RGB frames


def _grey(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


class DisFlow:
    """DIS at full resolution, in process: ``dis-fine`` or ``dis-full``."""

    def __init__(self, name: str):
        self.name = name
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        if name == "dis-fine":
            # Down to the full-resolution level, a patch every 2 px, more iterations.
            self._dis.setFinestScale(0)
            self._dis.setPatchStride(2)
            self._dis.setGradientDescentIterations(25)
            self._dis.setVariationalRefinementIterations(10)

    def flows(self, pairs: Sequence[Pair]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(current -> previous, previous -> current) flow of each pair."""
        out = []
        for cur, prev in pairs:
            g_cur, g_prev = _grey(cur), _grey(prev)
            out.append((self._dis.calc(g_cur, g_prev, None), self._dis.calc(g_prev, g_cur, None)))
        return out


class OwnFlow:
    """The renderer's flow (the second column, labelled as such; never the referee).

    Args:
        estimator: the renderer's estimator; default: its defaults (``OWN``).
    """

    def __init__(self, estimator: F.FlowEstimator | None = None):
        self.estimator = estimator or F.FlowEstimator(*OWN)
        e = self.estimator
        self.name = f"renderer's own ({e.method} {e.preset} @ {e.scale})"

    def flows(self, pairs: Sequence[Pair]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(current -> previous, previous -> current) flow of each pair."""
        return [self.estimator.pair(cur, prev) for cur, prev in pairs]


def referee_python() -> Path | None:
    """The Python of the bench's own environment with opencv-contrib, if there is one."""
    custom = os.environ.get("DREAMSTREAM_REFEREE_PYTHON")
    path = Path(custom) if custom else REFEREE_VENV / "bin" / "python"
    return path if path.is_file() else None


class ContribFlow:
    """An opencv-contrib flow run by ``referee_flow.py`` in the referee environment.

    Each pair's flows (both ways) are cached on disk under ``cache/<name>/``,
    keyed by the pair's luminance, so every run of the bench over a clip (and
    the backward legs of a clip played forward and back, whose pairs are the
    forward ones swapped) computes each flow once.
    """

    def __init__(self, name: str, python: Path, cache: Path | None = CACHE):
        self.name, self.python, self.cache = name, python, cache

    def flows(self, pairs: Sequence[Pair]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(current -> previous, previous -> current) flow of each pair."""
        greys = [(_grey(cur), _grey(prev)) for cur, prev in pairs]
        found = [self._load(cur, prev) for cur, prev in greys]
        todo = [k for k, flows in enumerate(found) if flows is None]
        if todo:
            frames = np.stack([g for k in todo for g in greys[k]])  # cur0, prev0, cur1, ...
            made = self._run(frames)
            for j, k in enumerate(todo):
                found[k] = (made[2 * j], made[2 * j + 1])
                self._save(*greys[k], found[k])
        return found

    def _path(self, a: np.ndarray, b: np.ndarray) -> Path:
        key = hashlib.sha1(a.tobytes() + b.tobytes() + str(a.shape).encode()).hexdigest()[:24]
        folder = "-".join([self.name, *filter(None, [VERSIONS.get(self.name)])])
        return self.cache / folder / f"{key}.npy"

    def _load(self, cur: np.ndarray, prev: np.ndarray):
        """The cached flows of (cur, prev), or of (prev, cur) swapped; None if neither."""
        if self.cache is None:
            return None
        for path, swap in ((self._path(cur, prev), False), (self._path(prev, cur), True)):
            if path.is_file():
                fwd, bwd = np.load(path)
                return (bwd, fwd) if swap else (fwd, bwd)
        return None

    def _save(self, cur: np.ndarray, prev: np.ndarray, flows) -> None:
        if self.cache is None:
            return
        path = self._path(cur, prev)
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(f".{os.getpid()}.part.npy")
        np.save(part, np.stack(flows))
        os.replace(part, path)  # whole, for two benches at once

    def _run(self, frames: np.ndarray) -> np.ndarray:
        n = len(frames) // 2
        # Each pair both ways: (cur -> prev), (prev -> cur).
        index = np.array([(2 * k + d, 2 * k + 1 - d) for k in range(n) for d in (0, 1)])
        with tempfile.TemporaryDirectory() as tmp:
            paths = [Path(tmp) / name for name in ("frames.npy", "pairs.npy", "flows.npy")]
            np.save(paths[0], frames)
            np.save(paths[1], index)
            script = Path(__file__).with_name("referee_flow.py")
            command = [str(self.python), str(script), self.name, *map(str, paths)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"referee flow {self.name} failed: {done.stderr.strip()[-300:]}")
            return np.load(paths[2])


def contrib_methods(python: Path) -> tuple[str, ...]:
    """The opencv-contrib methods the referee environment offers."""
    done = subprocess.run(
        [str(python), str(Path(__file__).with_name("referee_flow.py")), "--list"],
        capture_output=True,
        text=True,
    )
    return tuple(done.stdout.split()) if done.returncode == 0 else ()


def candidates(names: Sequence[str] = CANDIDATES) -> tuple[list, list[str]]:
    """The candidate referees that can run here, and a note for each that cannot."""
    python = referee_python()
    offered = contrib_methods(python) if python and set(names) & set(CONTRIB) else ()
    found, notes = [], []
    for name in names:
        if name in ("dis-fine", "dis-full"):
            found.append(DisFlow(name))
        elif name in offered:
            found.append(ContribFlow(name, python))
        else:
            notes.append(f"{name}: no opencv-contrib referee environment (make bench makes one)")
    return found, notes


def masks(flows: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """Binary forward-backward consistency masks (Ruder et al. 2016) of flow pairs."""
    return [F.consistency_mask(fwd, bwd, soft=False) for fwd, bwd in flows]


def same_shot(prev: np.ndarray, cur: np.ndarray) -> bool:
    """Whether two frames' colours are close enough for a pair of one shot (no cut)."""
    return histogram_distance(prev, cur) <= CUT_HISTOGRAM


def spread(ts: Sequence[int], count: int = SAMPLE_PAIRS) -> list[int]:
    """Up to ``count`` of ``ts``, evenly spread."""
    if len(ts) <= count:
        return list(ts)
    return [ts[round(k)] for k in np.linspace(0, len(ts) - 1, count)]


def sample_indices(inputs: Sequence[np.ndarray], count: int = SAMPLE_PAIRS) -> list[int]:
    """Up to ``count`` pair indices t, spread over the clip, whose pair is not a cut by colour."""
    return spread([t for t in range(1, len(inputs)) if same_shot(inputs[t - 1], inputs[t])], count)


def named(name: str):
    """The candidate called ``name``; an InputError if it cannot run here."""
    from dreamstream.core.errors import InputError

    if name not in CANDIDATES:
        raise InputError(f"unknown referee {name!r}; choose from auto, {', '.join(CANDIDATES)}")
    found, notes = candidates([name])
    if not found:
        raise InputError(f"referee {notes[0]}")
    return found[0]


def _floor(pairs: Sequence[Pair], forwards, masks_) -> float:
    """The input's own warping error along ``forwards`` on ``masks_``, averaged over pairs."""
    floors = [
        measures.warping_error([prev, cur], [fwd], [mask])
        for (cur, prev), fwd, mask in zip(pairs, forwards, masks_, strict=True)
    ]
    return float(np.nanmean(floors))


def score(flow_source, pairs: Sequence[Pair]) -> dict:
    """The input's own warping error (floor) and reliable share of one flow on ``pairs``."""
    flows = flow_source.flows(pairs)
    own = masks(flows)
    return {
        "floor": _floor(pairs, [fwd for fwd, _ in flows], own),
        "reliable": float(np.mean([m.mean() for m in own])),
        "_flows": flows,
        "_masks": own,
    }


def choose(pairs: Sequence[Pair], sources: Sequence) -> tuple[object, dict]:
    """The most accurate of ``sources`` on ``pairs``: the lowest common floor among the eligible.

    Returns:
        The chosen source and ``{name: {"floor", "common", "reliable", "eligible"}}``
        of every one: ``floor`` on its own mask, ``common`` on the pixels all find reliable.
    """
    if not sources:
        raise RuntimeError("no referee flow can run here")
    scores = {s.name: score(s, pairs) for s in sources}
    shared = [np.prod(ms, axis=0) for ms in zip(*(v["_masks"] for v in scores.values()))]
    best_share = max(v["reliable"] for v in scores.values())
    for v in scores.values():
        v["common"] = _floor(pairs, [fwd for fwd, _ in v.pop("_flows")], shared)
        v.pop("_masks")
        v["eligible"] = v["reliable"] >= MIN_RELIABLE_SHARE * best_share
    eligible = [s for s in sources if scores[s.name]["eligible"]]
    chosen = min(eligible, key=lambda s: scores[s.name]["common"])
    return chosen, scores


def referee_for(inputs: Sequence[np.ndarray], names: Sequence[str] = CANDIDATES) -> tuple:
    """Choose the referee for a clip held in memory; returns (source, scores, notes)."""
    sources, notes = candidates(names)
    ts = sample_indices(inputs)
    chosen, scores = choose([(inputs[t], inputs[t - 1]) for t in ts], sources)
    return chosen, scores, notes


def scores_table(scores: dict, chosen_name: str) -> str:
    """Markdown rows: each candidate's floor and reliable share, the chosen one marked."""
    lines = [
        "| referee candidate | input's own error on the common mask | on its own mask "
        "| reliable share | |"
    ]
    lines.append("| --- | --- | --- | --- | --- |")
    for name, v in sorted(scores.items(), key=lambda kv: kv[1]["common"]):
        mark = "chosen" if name == chosen_name else ("" if v["eligible"] else "mask too small")
        lines.append(
            f"| {name} | {v['common']:.2e} | {v['floor']:.2e} | {v['reliable']:.3f} | {mark} |"
        )
    return "\n".join(lines)

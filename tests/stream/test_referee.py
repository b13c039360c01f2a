"""The referee flow: chosen by accuracy, never the renderer's own; contrib flows via files."""

import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.bench import referee, referee_flow
from tests.stream.test_warp_error import pan_frames


class ZeroFlow:
    """A referee that sees no motion at all: on a pan its floor is large."""

    name = "zero"

    def flows(self, pairs):
        return [(np.zeros((*c.shape[:2], 2), np.float32),) * 2 for c, _ in pairs]


class Inconsistent:
    """Forward and backward flows that disagree almost everywhere: a tiny mask."""

    name = "inconsistent"

    def flows(self, pairs):
        out = []
        for cur, _ in pairs:
            h, w = cur.shape[:2]
            fwd = np.zeros((h, w, 2), np.float32)
            bwd = np.full((h, w, 2), 3.0, np.float32)
            bwd[: h // 20] = 0.0  # a sliver where they agree
            out.append((fwd, bwd))
        return out


def _pairs(n=5):
    frames = pan_frames(n=n)
    return [(frames[t], frames[t - 1]) for t in range(1, n)]


def test_the_more_accurate_flow_is_chosen():
    pairs = _pairs()
    chosen, scores = referee.choose(pairs, [ZeroFlow(), referee.DisFlow("dis-fine")])
    assert chosen.name == "dis-fine"
    assert scores["dis-fine"]["floor"] < 0.2 * scores["zero"]["floor"]
    assert all(v["eligible"] for v in scores.values())


def test_a_flow_that_trusts_only_a_sliver_is_not_eligible():
    pairs = _pairs()
    chosen, scores = referee.choose(pairs, [Inconsistent(), referee.DisFlow("dis-full")])
    assert scores["inconsistent"]["reliable"] < 0.1
    assert not scores["inconsistent"]["eligible"] and chosen.name == "dis-full"


def test_the_renderer_flow_is_not_a_candidate_and_the_sample_skips_cuts():
    # DIS medium at full resolution is the style's own flow, at half scale the dream's.
    assert "dis-full" not in referee.CANDIDATES and "dis-medium" not in referee.CANDIDATES
    assert referee.OwnFlow().name == "renderer's own (dis medium @ 0.5)"
    frames = pan_frames(n=30)
    frames[10] = 255 - frames[10]  # a "cut" in and out of frame 10
    ts = referee.sample_indices(frames, count=6)
    assert len(ts) == 6 and 10 not in ts and 11 not in ts and ts == sorted(ts)


def test_named_referees_and_a_missing_contrib_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DREAMSTREAM_REFEREE_PYTHON", str(tmp_path / "no-python"))
    assert referee.named("dis-fine").name == "dis-fine"
    with pytest.raises(InputError, match="unknown referee 'raft'"):
        referee.named("raft")
    with pytest.raises(InputError, match="tvl1: no opencv-contrib referee environment"):
        referee.named("tvl1")
    found, notes = referee.candidates()
    assert [s.name for s in found] == ["dis-fine"] and len(notes) == 3


def test_contrib_flows_are_cached_per_pair_and_found_again_swapped(monkeypatch, tmp_path):
    calls = []

    def fake_run(self, frames):
        calls.append(len(frames))
        # A flow whose value tells which frame it starts from: its mean level.
        return np.stack([np.full((*f.shape, 2), f.mean(), np.float32) for f in frames])

    monkeypatch.setattr(referee.ContribFlow, "_run", fake_run)
    source = referee.ContribFlow("tvl1", tmp_path / "python", cache=tmp_path / "cache")
    pairs = _pairs(4)
    first = source.flows(pairs)
    again = source.flows(pairs)
    assert calls == [6] and len(list((tmp_path / "cache" / "tvl1-w2-o3-i10").iterdir())) == 3
    assert len(again) == 3 and np.array_equal(first[2][1], again[2][1])
    # Played backwards, the same pairs come swapped: their flows are the cached ones swapped.
    back = source.flows([(prev, cur) for cur, prev in pairs])
    assert calls == [6]
    for b, f in zip(back, first, strict=True):
        assert np.array_equal(b[0], f[1]) and np.array_equal(b[1], f[0])
    frames = pan_frames(n=6)
    source.flows([(frames[5], frames[4]), *pairs[:1]])  # one new pair: only it is computed
    assert calls == [6, 2]


def test_referee_flow_script_reads_and_writes_its_files(monkeypatch, tmp_path):
    class Shift:
        def calc(self, a, b, _):
            # The flow's x is the mean difference b - a, so the order of (a, b) shows.
            value = float(b.mean()) - float(a.mean())
            return np.full((*a.shape, 2), value, np.float32)

    monkeypatch.setattr(referee_flow, "_makers", lambda: {"shift": Shift})
    frames = np.stack([np.full((4, 5), v, np.uint8) for v in (10, 30, 70)])
    np.save(tmp_path / "f.npy", frames)
    np.save(tmp_path / "p.npy", np.array([(1, 0), (0, 1), (2, 1)]))
    args = ["shift", *(str(tmp_path / n) for n in ("f.npy", "p.npy", "o.npy"))]
    assert referee_flow.main(args) == 0
    flows = np.load(tmp_path / "o.npy")
    assert flows.shape == (3, 4, 5, 2) and list(flows[:, 0, 0, 0]) == [-20.0, 20.0, -40.0]
    assert referee_flow.main(["nope", "a", "b", "c"]) == 2

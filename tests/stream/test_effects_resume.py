"""Effects across a resume and in farm segments: their state is rebuilt, not restarted."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from dreamstream.stream import pipeline
from dreamstream.stream.effects import make_effects
from dreamstream.stream.io import Frame
from dreamstream.stream.params import EffectsSetup
from tests.stream.test_effects import scene

N, STOP = 40, 14  # a render stopped after frame 13, its stillness rising (0.8 s = 20 frames)


class Growing:
    """A stand-in dream: each carried frame adds 3 levels to what it starts from."""

    grows = True

    def first(self, frame, index, **work):
        return frame

    def next(self, frame, index, warped_out, mask, warped_in, **work):
        return np.clip(warped_out.astype(np.int16) + 3, 0, 255).astype(np.uint8)


def _render(frames, resume=None):
    fx = make_effects(EffectsSetup(react="motion", rise_s=0.8, fall_s=0.2))
    options = {"flow_preset": "ultrafast", "effects": fx, "resume": resume}
    return [f.image.astype(np.int16) for f in pipeline.render(frames, Growing(), **options)]


def test_a_resumed_reactive_render_continues_its_stillness():
    frames = [Frame(scene(k), k, k * 2, Fraction(1, 50)) for k in range(N)]  # 25 fps
    whole = _render(frames)
    state = pipeline.ResumeState(next_index=STOP, last_output=whole[STOP - 1].astype(np.uint8))
    rest = _render(frames, resume=state)
    assert len(rest) == N - STOP
    live = frames[STOP].image.astype(np.int16)
    assert np.abs(whole[STOP] - live).mean() > 5  # the dream showed there, half risen
    # Restarted afresh the stillness would be 0 and frame 14 the live picture; rebuilt,
    # it is the uninterrupted frame to within the rounding of one un-mixing.
    for k, out in enumerate(rest, STOP):
        assert np.abs(out - whole[k]).max() <= 3, k


def test_a_farm_segment_warms_its_stillness_up_with_its_carry(tmp_path):
    """Run in-process (no Ray): a segment's warm-up frames grow the stillness too."""
    import cv2

    from dreamstream.stream.farm.plan import Segment
    from dreamstream.stream.farm.task import SegmentJob, render_segment
    from dreamstream.stream.io import read_image
    from dreamstream.stream.settings import Settings

    src = tmp_path / "in"
    src.mkdir()
    for k in range(12):  # a still room: the stillness rises 1/5 a frame (rise 0.2 s, 25 fps)
        cv2.imwrite(str(src / f"{k:05d}.png"), cv2.cvtColor(scene(0), cv2.COLOR_RGB2BGR))
    s = Settings(style="3", react="motion", rise=0.2, workers=2)

    def first_own(warm_first: int, out: str) -> np.ndarray:
        job = SegmentJob(
            "style",
            str(src / "%05d.png"),
            f"{tmp_path / out}/%05d.png",
            Segment(1, 8, 12, warm_first),
            s.setup("style", 25),
            s.source_options(),
            s.encoder_options(),
            s.flow_params(),
            {"mode": "style"},
            str(tmp_path / "seams"),
            s.effects_setup(),
        )
        assert render_segment(job)["frames"] == 4
        return read_image(tmp_path / out / "00008.png").astype(np.int16)

    live = scene(0).astype(np.int16)
    cold, warm = first_own(8, "cold"), first_own(2, "warm")
    assert np.array_equal(cold, live)  # no warm-up: a fresh start shows the live picture
    assert np.abs(warm - live).mean() > 20  # 6 still frames before: the full style shows

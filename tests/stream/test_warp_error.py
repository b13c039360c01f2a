"""The warping-error tool: frame folders and video files, floor, excess, dream strength."""

import json

import cv2
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.bench import warp_error as bench


def pan_frames(n=6, size=(112, 80), step=(2.0, 1.0)):
    """A smooth texture panned by ``step`` px per frame, uint8 RGB."""
    rng = np.random.default_rng(3)
    w, h = size
    big = cv2.GaussianBlur(rng.random((h + 40, w + 40, 3)).astype(np.float32), (0, 0), 2.5)
    big = (big - big.min()) / (big.max() - big.min()) * 255
    frames = []
    for t in range(n):
        m = np.float32([[1, 0, 5 + step[0] * t], [0, 1, 5 + step[1] * t]])
        view = cv2.warpAffine(big, m, (w, h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
        frames.append(np.clip(view, 0, 255).astype(np.uint8))
    return frames


def write_folder(folder, frames, names="frame_{}.png"):
    folder.mkdir()
    for i, frame in enumerate(frames):
        # frame_10 after frame_9: the reader must sort numerically, not by name.
        cv2.imwrite(str(folder / names.format(i)), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder


def test_identical_output_has_no_excess_and_flicker_has_some(tmp_path, monkeypatch):
    # Without the opencv-contrib environment (which `make bench` makes) the candidates are known.
    monkeypatch.setenv("DREAMSTREAM_REFEREE_PYTHON", str(tmp_path / "no-python"))
    frames = pan_frames(n=11)
    inp = write_folder(tmp_path / "in", frames)
    same = bench.warp_error(inp, inp)
    assert same["frames"] == 11 and same["pairs"] == 10
    assert same["excess_warping_error"] == 0.0 and same["dream_strength"] == 0.0
    assert same["input_warping_error"] < 2e-3 and same["notes"] == []
    # The judge is the referee, never the renderer's own flow (that one is a labelled column).
    assert same["referee"]["flow"] == "dis-fine"
    assert set(same["referee"]["candidates"]) >= {"dis-fine"}
    assert same["renderer_flow"]["excess_warping_error"] == 0.0
    assert same["moving_fidelity"] == pytest.approx(1.0)
    flicker = [
        np.clip(f.astype(int) + (20 if t % 2 else -20), 0, 255) for t, f in enumerate(frames)
    ]
    out = write_folder(tmp_path / "out", [f.astype(np.uint8) for f in flicker])
    report = bench.warp_error(inp, out)
    assert report["excess_warping_error"] > 0.015  # (40/255)^2 = 0.0246 where reliable
    assert report["dream_strength"] == pytest.approx(20 / 255, abs=0.01)
    assert report["renderer_flow"]["excess_warping_error"] > 0.015


def test_static_flicker_needs_no_flow(tmp_path):
    still = pan_frames(n=1)[0]
    inp = write_folder(tmp_path / "in", [still] * 5)
    out = write_folder(
        tmp_path / "out",
        [np.clip(still.astype(int) + 10 * (t % 2), 0, 255).astype(np.uint8) for t in range(5)],
    )
    report = bench.warp_error(inp, out, referee="dis-fine")
    assert report["referee"] == {"flow": "dis-fine", "candidates": {}, "not_available": []}
    flicker = report["static_flicker"]
    assert flicker["input"] == 0.0 and flicker["static_share"] == 1.0
    assert 9.0 < flicker["excess"] <= 10.0  # 10 levels up and down (clipped at white)


def test_resized_output_and_frame_count_are_noted(tmp_path):
    frames = pan_frames(n=5)
    inp = write_folder(tmp_path / "in", frames)
    bigger = [cv2.resize(f, (224, 160), interpolation=cv2.INTER_CUBIC) for f in frames[:4]]
    out = write_folder(tmp_path / "out", bigger)
    report = bench.warp_error(inp, out)
    assert report["frames"] == 4
    assert any("224x160 resized to the input's 112x80" in n for n in report["notes"])
    assert any("input has more frames" in n for n in report["notes"])
    assert report["excess_warping_error"] < 2e-3  # a resize is not flicker


def test_video_file_against_itself(samples):
    report = bench.warp_error(
        samples / "clip.mp4", samples / "clip.mp4", max_frames=6, referee="dis-fine"
    )
    assert report["frames"] == 6 and report["excess_warping_error"] == 0.0
    assert report["reliable_fraction"] > 0.8


def test_command_line_prints_json_and_maps_errors(tmp_path, capsys):
    inp = write_folder(tmp_path / "in", pan_frames(n=3))
    assert bench.main([str(inp), str(inp), "--preset", "fast"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["renderer_flow"]["flow"]["preset"] == "fast" and printed["pairs"] == 2
    assert bench.main([str(tmp_path / "missing"), str(inp)]) == 2
    assert "missing: no such video file or frame folder" in capsys.readouterr().err


def test_bad_inputs(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no .png"):
        bench.warp_error(tmp_path / "empty", tmp_path / "empty")
    one = write_folder(tmp_path / "one", pan_frames(n=1))
    with pytest.raises(InputError, match="at least 2 frames"):
        bench.warp_error(one, one)
    (tmp_path / "notes.txt").write_text("not a video")
    with pytest.raises(InputError, match="cannot open as a video"):
        bench.warp_error(tmp_path / "notes.txt", one)


def test_run_quick_reports_presets(samples):
    result = bench.run(quick=True)
    assert set(result["configs"]) == {f"{m}/{p}@{s}" for m, p, s in bench.CONFIGS}
    rows = result["configs"]
    for row in rows.values():
        assert 0 < row["epe_px"] < 1.5
    # Finer DIS presets follow the known camera motion more closely than ultrafast ...
    coarse = rows["dis/ultrafast@1.0"]["epe_px"]
    assert coarse > max(rows[k]["epe_px"] for k in ("dis/fast@1.0", "dis/medium@0.5")) + 0.05
    # ... and cost more; 1280x720 (7x the pixels) costs more than 480x270 (ratios, one run).
    assert rows["dis/medium@1.0"]["ms_1280x720"] > 3 * rows["dis/ultrafast@1.0"]["ms_1280x720"]
    small = sum(row["ms_480x270"] for row in rows.values())
    assert sum(row["ms_1280x720"] for row in rows.values()) > 2 * small
    lines = result["table"].splitlines()
    assert lines[0].startswith("| flow |") and len(lines) == 2 + len(rows)
    for line, (name, row) in zip(lines[2:], rows.items(), strict=True):
        assert line == f"| {name} | {row['epe_px']} | {row['ms_480x270']} | {row['ms_1280x720']} |"

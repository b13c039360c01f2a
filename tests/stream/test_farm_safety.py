"""The farm under hostile conditions, on a real local Ray cluster (issue 21).

Planted symlinks at its temporary names, a held lock on its output, work
files damaged between a run and its ``--resume``, a full disk at the join
and in a worker, a worker that keeps dying, a ``--workers`` cap on a running
cluster. Renders are the style renders of ``test_farm_ray`` (96x64, 24
frames, lossless), on the same kind of two-CPU cluster.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.farm import job as farm_job
from dreamstream.stream.io import files
from dreamstream.stream.jobs import render_file
from tests.stream import test_farm_ray as farm_ray
from tests.stream import test_output_files as output_files
from tests.stream.test_bad_input import run_cli
from tests.stream.test_farm_ray import N, decode, settings
from tests.stream.test_output_lock import HOLD

# The same module-wide cluster and clip as test_farm_ray, and its symlink planter.
cluster, clip, planted = farm_ray.cluster, farm_ray.clip, output_files.planted

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


def packets(path: Path, kind: str = "video") -> list[tuple[bytes, bool]]:
    """The payload and key-frame flag of every packet of the first ``kind`` stream."""
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return [(bytes(p), p.is_keyframe) for p in container.demux(stream) if p.size]


def frames_of(path: Path) -> list[np.ndarray]:
    return decode(path)[0]


# ---------------------------------------------------------------- temporary files


def test_symlinks_at_the_farms_temporary_names_are_not_followed(
    clip, tmp_path, planted, monkeypatch
):
    """Also: the output stays locked while the segments render."""
    victim, drawn = planted
    out, refused = tmp_path / "j.mp4", []
    real_run = farm_job._run

    def run_and_try(cluster, r, *args):
        with pytest.raises(InputError, match="another dreamstream render is writing") as error:
            render_file("style", str(clip), str(out), settings(workers=None, segments=None))
        refused.append(str(error.value))
        return real_run(cluster, r, *args)

    monkeypatch.setattr(farm_job, "_run", run_and_try)
    work = tmp_path / ".j.mp4.segments"
    old_names = [  # the fixed names of before; the random ones are forced by `planted`
        tmp_path / ".j.partial.mp4",
        work / ".manifest.json.partial",
        *(work / "seams" / f"{k:04d}" / f".{s}-{i:08d}.png.partial" for k, s, i in _seam_names()),
    ]
    for name in old_names:
        name.parent.mkdir(parents=True, exist_ok=True)
        name.symlink_to(victim)
    render_file("style", str(clip), str(out), settings())
    assert victim.read_text() == "precious"
    assert drawn.get(out) == 2 and drawn.get(work / "manifest.json", 0) >= 2  # names met
    assert len(frames_of(out)) == N and not out.is_symlink()
    assert len(refused) == 1


def _seam_names():
    """(seam, side, frame) of every frame that waits for a seam in ``settings()``: 4 x 6 frames,
    fades of 5."""
    for k, first in enumerate([6, 12, 18], start=1):
        for i in range(first, first + 5):
            yield k, "a", i
            yield k, "b", i


def test_a_workers_seam_pictures_and_segment_are_written_through_fresh_names(
    clip,
    tmp_path,
    planted,
):
    """What a worker writes, run here (where ``planted`` reaches) instead of on Ray."""
    from dreamstream.stream.farm.plan import plan_segments
    from dreamstream.stream.farm.task import SegmentJob, render_segment

    victim, drawn = planted
    g = plan_segments(0, N, 4, 8)[1]
    seams, part = tmp_path / "seams", tmp_path / "segment-0001.mp4"
    for k, side, i in _seam_names():
        link = seams / f"{k:04d}" / f".{side}-{i:08d}.png.partial"  # the old fixed names
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(victim)
    s = settings()
    parts = (s.setup("style"), s.source_options(), s.encoder_options(), s.flow_params())
    job = SegmentJob("style", str(clip), str(part), g, *parts, {}, str(seams))
    result = render_segment(job)
    assert (result["head"], result["frames"], result["lead_out"]) == (5, 1, 5)
    assert victim.read_text() == "precious"
    assert drawn.get(part) == 2 and drawn.get(seams / "0001" / "b-00000006.png") == 2


# ---------------------------------------------------------------- one render per output


def test_a_locked_output_is_refused_before_the_farm_starts(capsys, clip, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / ".o.mp4.lock"), "0", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        argv = ["style", clip, "-o", tmp_path / "o.mp4", "--workers", "2", "--width", "96"]
        status, _, err = run_cli(capsys, *argv)
        assert status == 2 and len(err.strip().splitlines()) == 1, err
        assert "another dreamstream render is writing" in err, err
        assert sorted(p.name for p in tmp_path.iterdir()) == [".o.mp4.lock"]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


# ---------------------------------------------------------------- resume trusts no file blindly


def test_damaged_work_files_are_rendered_again_and_only_they(clip, tmp_path, monkeypatch):
    out = tmp_path / "d.mp4"
    work = tmp_path / ".d.mp4.segments"
    eight = settings(segments=8)  # 3 frames each; the fades are 2 frames
    kept = []
    monkeypatch.setattr(farm_job, "shutil", SimpleNamespace(rmtree=lambda p, **k: kept.append(p)))
    render_file("style", str(clip), str(out), eight)
    assert kept and work.is_dir()
    whole = frames_of(out)
    _check_joined_by_stream_copy(out, work)

    segment = work / "segment-{:04d}.mp4"
    cut = Path(str(segment).format(1))
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    from tests.stream.test_bad_input import write_clip

    write_clip(Path(str(segment).format(2)), n=1, w=96, h=64)  # a foreign video, one frame
    (work / "seams" / "0004" / "b-00000012.png").write_bytes(b"")  # segment 4's head
    picture = work / "seams" / "0006" / "a-00000018.png"  # segment 5's lead-out
    picture.write_bytes(picture.read_bytes()[:100])
    manifest = json.loads((work / "manifest.json").read_text())
    manifest["segments"]["7"]["start_time"] = "1/2"  # an edited manifest
    (work / "manifest.json").write_text(json.dumps(manifest))

    monkeypatch.undo()
    again = render_file("style", str(clip), str(out), eight, overwrite=True, resume=True)
    assert again["segments_rendered"] == [1, 2, 4, 5, 7]
    assert again["segments_reused"] == [0, 3, 6]
    resumed = frames_of(out)
    assert len(resumed) == N
    for i, (a, b) in enumerate(zip(whole, resumed, strict=True)):
        assert np.array_equal(a, b), f"frame {i} differs from the first run's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.mp4"]


def _check_joined_by_stream_copy(out: Path, work: Path) -> None:
    """Every part starts with a key frame, and the output's video packets are the parts'
    packets, byte for byte, in order: nothing was re-encoded."""
    parts = sorted(
        work.glob("se*-*.mp4"), key=lambda p: (p.stem.split("-")[1], p.stem.startswith("segment"))
    )
    assert len(parts) == 15  # 8 segments, 7 seams
    copied = []
    for part in parts:  # seam-k comes before segment-k
        mine = packets(part)
        assert mine[0][1], f"{part.name} does not start with a key frame"
        copied += [data for data, _ in mine]
    assert [data for data, _ in packets(out)] == copied


# ---------------------------------------------------------------- full disks and read-only folders


def test_a_full_disk_at_the_join_says_one_line_and_keeps_the_segments(
    capsys, clip, tmp_path, monkeypatch
):
    out = tmp_path / "full.mp4"
    real_open = files.open_temporary

    def full(path):
        if path == out:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path)

    monkeypatch.setattr(files, "open_temporary", full)
    argv = ["style", clip, "-o", out, "--workers", "2", "--segments", "4", "--width", "96"]
    status, _, err = run_cli(capsys, *argv, "--style", "3", "--crf", "0")
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1, err
    assert "No space left on device" in lines[0] and "--resume" in lines[0], err
    assert not out.exists() and (tmp_path / ".full.mp4.segments" / "manifest.json").is_file()
    monkeypatch.undo()
    status, out_text, err = run_cli(
        capsys, *argv, "--style", "3", "--crf", "0", "--resume", "--json"
    )
    assert status == 0, err
    assert json.loads(out_text)["segments_reused"] == [0, 1, 2, 3]
    assert len(frames_of(out)) == N


def failing_rename(monkeypatch, name_ends: str, code: int) -> None:
    """Make the final rename of files whose name ends with ``name_ends`` fail with ``code``,
    as a file system that turned read-only or full would."""
    real_replace = os.replace

    def replace(src, dst, **kwargs):
        if str(dst).endswith(name_ends):
            raise OSError(code, os.strerror(code), str(dst))
        return real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def test_a_read_only_work_folder_mid_render_says_one_line(capsys, clip, tmp_path, monkeypatch):
    failing_rename(monkeypatch, "manifest.json", errno.EROFS)  # after the first segment
    argv = ["style", clip, "-o", tmp_path / "ro.mp4", "--workers", "2", "--width", "96"]
    status, _, err = run_cli(capsys, *argv)
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1, err
    assert "Read-only file system" in lines[0] and "manifest.json" in lines[0], err


def test_a_full_disk_in_a_worker_is_one_line(tmp_path, monkeypatch):
    """A worker's seam picture meets a full disk (run here, where the disk can be filled),
    and a task's OSError on Ray becomes the same one line."""
    from dreamstream.stream.farm import seams
    from dreamstream.stream.farm.cluster import Cluster, run_tasks

    failing_rename(monkeypatch, ".png", errno.ENOSPC)
    with pytest.raises(InputError, match="No space left on device"):
        seams.save_raw(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []  # its temporary file went too
    with Cluster(2, None) as c, pytest.raises(InputError, match="No space left on device"):
        run_tasks(c, _fills_the_disk, [str(tmp_path / "x")], on_done=lambda j, r: None)


def _fills_the_disk(path: str, tally) -> dict:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)


# ---------------------------------------------------------------- the cluster's promises


def test_a_dead_workers_segment_runs_again_twice_at_most(tmp_path):
    from dreamstream.stream.farm.cluster import RETRIES, Cluster, run_tasks

    def dies(marker: str, tally) -> dict:  # its worker process dies, every time
        Path(f"{marker}-{os.getpid()}-{time.monotonic_ns()}").touch()
        os._exit(1)

    with Cluster(2, None) as cluster, pytest.raises(RuntimeError, match="retries"):
        run_tasks(cluster, dies, [str(tmp_path / "attempt")], on_done=lambda j, r: None)
    assert RETRIES == 2 and len(list(tmp_path.glob("attempt-*"))) == 1 + RETRIES


def _meet(job: tuple[str, str, float], tally) -> dict:
    """A task that waits up to ``patience`` seconds to see another one running beside it."""
    folder, name, patience = job
    me = Path(folder) / f"running-{name}"
    me.touch()
    end, met = time.monotonic() + patience, False
    while not met and time.monotonic() < end:
        met = any(p != me for p in Path(folder).glob("running-*"))
        time.sleep(0.02)
    me.unlink()
    return {"met": met}


def test_workers_caps_the_segments_in_flight_on_a_running_cluster(tmp_path):
    from dreamstream.stream.farm.cluster import Cluster, run_tasks

    met = []
    with Cluster(1, "auto") as capped:  # joins the module's cluster of 2 CPUs
        assert capped.slots == 1
        jobs = [(str(tmp_path), name, 1.5) for name in "ab"]
        run_tasks(capped, _meet, jobs, on_done=lambda j, r: met.append(r["met"]))
    assert met == [False, False]
    met.clear()
    with Cluster(2, "auto") as both:  # the same tasks do meet when two may run
        jobs = [(str(tmp_path), name, 20.0) for name in "ab"]
        run_tasks(both, _meet, jobs, on_done=lambda j, r: met.append(r["met"]))
    assert met == [True, True]

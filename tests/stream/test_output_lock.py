"""One render per output (issue 21, fault 2 and the killed render's leftovers).

A render holds a POSIX record lock on ``.NAME.lock`` beside a video or image
(``.dreamstream.lock`` in a frame folder, on the bytes of its frame range)
for as long as it runs; a second render of the same output is refused with
one line. The lock is taken here the way any other program would, with
``fcntl.lockf`` in another process, and by real renders in other processes;
the model is a stand-in (the negative of each frame, slowed where a render
must still be running).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream import jobs
from tests.stream.test_bad_input import assert_refused, count_frames, run_cli, write_clip

N = 8

HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.lockf(fd, fcntl.LOCK_EX, int(sys.argv[3]), int(sys.argv[2]))
print("held", flush=True)
time.sleep(300)
"""

TRY = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, int(sys.argv[3]), int(sys.argv[2]))
except OSError:
    sys.exit(1)
"""

SLOW_RENDER = """
import sys, time
from dreamstream.stream import cli, jobs

def make(mode, settings):
    def negative(frame):
        time.sleep(float(sys.argv[1]))
        return 255 - frame
    return negative

jobs.make_processor = make
sys.exit(cli.main(sys.argv[2:]))
"""


@pytest.fixture(autouse=True)
def negative(monkeypatch):
    monkeypatch.setattr(jobs, "make_processor", lambda mode, settings: lambda f: 255 - f)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", n=N)


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []

    def start(*argv, **options) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": os.getcwd()}
        process = subprocess.Popen([sys.executable, "-c", *map(str, argv)], env=env, **options)
        started.append(process)
        return process

    yield start
    for process in started:  # only the processes this test started
        if process.poll() is None:
            process.kill()
        process.wait()


def hold(processes, lock: Path, start: int = 0, length: int = 0) -> subprocess.Popen:
    """Another process holding a record lock on bytes [start, start + length) of ``lock``."""
    holder = processes(HOLD, lock, start, length, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def try_lock(lock: Path, start: int, length: int) -> bool:
    """Whether another process can lock bytes [start, start + length) of ``lock`` now."""
    command = [sys.executable, "-c", TRY, str(lock), str(start), str(length)]
    return subprocess.run(command, timeout=60).returncode == 0


def wait_for(condition, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if ".partial" in p.name]


def style(capsys, clip, output, *extra) -> tuple[int, str]:
    status, _, err = run_cli(capsys, "style", clip, "-o", output, "--quiet", *extra)
    return status, err


@pytest.mark.parametrize(
    ("output", "lock"),
    [("out.mp4", ".out.mp4.lock"), ("still.png", ".still.png.lock"), ("f/", "f/.dreamstream.lock")],
)
def test_an_output_locked_by_another_process_is_refused(
    capsys, clip, tmp_path, processes, output, lock
):
    (tmp_path / lock).parent.mkdir(exist_ok=True)
    holder = hold(processes, tmp_path / lock)
    extra = ["--frames", "1"] if output.endswith(".png") else []
    argv = ["style", clip, "-o", tmp_path / output, *extra]
    line = assert_refused(capsys, argv, "another dreamstream render is writing", folders=[tmp_path])
    assert lock in line
    holder.send_signal(signal.SIGKILL)  # a crash: the kernel drops the lock
    holder.wait()
    status, err = style(capsys, clip, tmp_path / output, *extra)
    assert status == 0, err
    assert not (tmp_path / lock).exists()  # the last render out removes the lock file


def test_a_second_real_render_of_one_output_is_refused_and_the_first_kept(
    capsys, clip, tmp_path, processes
):
    out = tmp_path / "a.mp4"
    first = processes(SLOW_RENDER, 0.3, "style", clip, "-o", out, "--quiet", stderr=subprocess.PIPE)
    wait_for(lambda: temporaries(tmp_path))  # it is writing its frames
    status, err = style(capsys, clip, out, "--overwrite")
    assert status == 2 and "another dreamstream render is writing" in err, err
    assert first.wait(timeout=120) == 0, first.stderr.read()
    with av.open(str(out)) as made, av.open(str(clip)) as source:
        got = [f.to_ndarray(format="rgb24").astype(int) for f in made.decode(video=0)]
        src = [f.to_ndarray(format="rgb24").astype(int) for f in source.decode(video=0)]
    assert len(got) == N
    assert all(np.abs(g - (255 - s)).mean() < 8 for g, s in zip(got, src, strict=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]


def test_a_killed_render_leaves_no_lock_and_its_temporary_file_goes_next_time(
    capsys, clip, tmp_path, processes
):
    out = tmp_path / "k.mp4"
    killed = processes(SLOW_RENDER, 0.3, "style", clip, "-o", out, "--quiet")
    wait_for(lambda: temporaries(tmp_path))
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    left = temporaries(tmp_path)
    assert len(left) == 1  # what SIGKILL leaves: the unfinished temporary file
    status, err = style(capsys, clip, out)
    assert status == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.mp4"]
    assert count_frames(out) == N


def test_split_frame_ranges_run_side_by_side_and_overlapping_ones_are_refused(
    capsys, clip, tmp_path, processes
):
    folder = tmp_path / "f"
    folder.mkdir()
    hold(processes, folder / ".dreamstream.lock", 4, 4)  # another machine renders 4-7
    status, err = style(capsys, clip, f"{folder}/%05d.png", "--end", "4")
    assert status == 0, err
    status, err = style(
        capsys, clip, f"{folder}/%05d.png", "--start", "2", "--end", "6", "--resume"
    )
    assert status == 2 and "another dreamstream render is writing" in err, err
    assert sorted(p.name for p in folder.glob("*.png")) == [f"{i:05d}.png" for i in range(4)]


def test_renders_in_one_process_exclude_each_other_too(tmp_path):
    from dreamstream.stream.io.locks import lock_output

    whole = lock_output(tmp_path / "v.mp4")
    with pytest.raises(InputError, match="another dreamstream render is writing"):
        lock_output(tmp_path / "v.mp4")
    whole.release()
    lock_output(tmp_path / "v.mp4").release()
    part = lock_output(f"{tmp_path}/f/%05d.png", (0, 10))
    other = lock_output(f"{tmp_path}/f/%05d.png", (10, None))
    with pytest.raises(InputError, match="another dreamstream render is writing"):
        lock_output(f"{tmp_path}/f/%05d.png", (9, 11))
    part.release()
    lock = tmp_path / "f" / ".dreamstream.lock"
    assert try_lock(lock, 0, 10) and not try_lock(lock, 12, 1)  # only 10 on is still held
    other.release()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # lock files and folders made go


def test_a_file_system_without_locks_renders_with_a_warning(capsys, clip, tmp_path, monkeypatch):
    import errno

    from dreamstream.stream.io import locks

    def no_locks(*args):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(locks.fcntl, "lockf", no_locks)
    status, err = style(capsys, clip, tmp_path / "n.mp4")
    assert status == 0, err
    assert "no locks" in err and "would not be refused" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.mp4"]

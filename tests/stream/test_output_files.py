"""Output files under hostile conditions (issue 11, faults 2 and 5).

Temporary files are unique, made exclusively beside the output and never
followed through a symlink; a full disk or an output that cannot be made
ends the render with one line and exit 2, keeping the frames already
finished. A full disk is simulated where the temporary files are opened:
their writes fail with ``ENOSPC`` once a byte budget is spent, as a real
full file system's would.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import numpy as np
import pytest

from dreamstream.stream import jobs
from dreamstream.stream.io import Frame, files, open_sink
from tests.stream.test_bad_input import count_frames, run_cli, write_clip

W, H, N = 64, 48, 6


@pytest.fixture(autouse=True)
def negative(monkeypatch):
    """A stand-in for the model: the negative of each frame (no framework needed)."""
    monkeypatch.setattr(jobs, "make_processor", lambda mode, settings: lambda f: 255 - f)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", n=N)


def render(capsys, clip, output, *extra) -> tuple[int, str]:
    status, _, err = run_cli(capsys, "style", clip, "-o", output, "--quiet", *extra)
    return status, err


def temporaries(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if "partial" in p.name]


# ---------------------------------------------------------------- temporary files


@pytest.fixture
def planted(monkeypatch, tmp_path):
    """Symlinks to a victim file at the temporary names a render will draw first.

    ``files.temporary_name`` is made to return, for each file, first a name that
    holds a symlink (as if an attacker had guessed the random part), then fresh
    random names: only an exclusive, no-follow open keeps the victim intact.
    The old fixed names get symlinks too.
    """
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    real = files.temporary_name
    drawn: dict[Path, int] = {}

    def guessed(path: Path) -> str:
        drawn[path] = drawn.get(path, 0) + 1
        if drawn[path] > 1:
            return real(path)
        name = f".{path.name}.00000000.partial{path.suffix}"
        link = path.with_name(name)
        if not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(victim)
        return name

    monkeypatch.setattr(files, "temporary_name", guessed)
    return victim, drawn


@pytest.mark.parametrize("name", ["out.mp4", "out.png", "frames/%05d.png"])
def test_symlink_at_a_temporary_name_is_not_followed(capsys, clip, tmp_path, planted, name):
    victim, drawn = planted
    final = tmp_path / name
    final.parent.mkdir(exist_ok=True)
    written = final.parent / (final.name % 0 if "%" in name else final.name)
    old_names = (
        f".{final.stem}.partial{final.suffix}",  # the video sink's before issue 11
        f".{written.name}.partial",  # the image sinks'
        f".dreamstream-0-{N - 1}.json.partial",  # the sidecar's
    )
    for old in old_names:
        (final.parent / old).symlink_to(victim)
    extra = ["--frames", "1"] if name == "out.png" else []
    status, err = render(capsys, clip, final, *extra)
    assert status == 0, err
    assert drawn.get(written) == 2  # the planted name was met, and another one drawn
    assert victim.read_text() == "precious"
    assert written.is_file() and not written.is_symlink()


def test_temporary_files_are_unique_and_fit_the_name_limit(tmp_path):
    long_name = tmp_path / ("v" * 251 + ".mp4")  # 255 bytes, the longest a name may be
    first, second = open_sink(long_name, fps=25), open_sink(long_name, fps=25)
    made = sorted(p for p in tmp_path.iterdir() if p.name.startswith("."))
    assert len(made) == 2 and all(len(p.name.encode()) <= 255 for p in made)
    for sink in (first, second):
        sink.write(Frame(np.zeros((H, W, 3), np.uint8), 0))
    first.close()
    second.abort()
    assert [p.name for p in tmp_path.iterdir()] == [long_name.name]
    assert count_frames(long_name) == 1


def test_folder_named_like_the_old_temporary_file(capsys, clip, tmp_path):
    (tmp_path / ".out.partial.mp4").mkdir()
    status, err = render(capsys, clip, tmp_path / "out.mp4")
    assert status == 0, err
    assert count_frames(tmp_path / "out.mp4") == N


# ---------------------------------------------------------------- a full disk


@pytest.fixture
def disk_full_after(monkeypatch):
    """Make temporary output files fail with ENOSPC once ``budget`` bytes were written."""

    def arm(budget: int) -> None:
        spent = {"bytes": 0}
        real_open = files.open_temporary

        class Filling:
            def __init__(self, raw):
                self.raw = raw

            def write(self, data) -> int:
                spent["bytes"] += len(data)
                if spent["bytes"] > budget:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                return self.raw.write(data)

            def __getattr__(self, name):
                return getattr(self.raw, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.raw.close()

        def opening(path):
            raw, tmp = real_open(path)
            return Filling(raw), tmp

        monkeypatch.setattr(files, "open_temporary", opening)

    return arm


def test_disk_full_on_frames_keeps_the_finished_ones(capsys, clip, tmp_path, disk_full_after):
    probe = tmp_path / "probe"
    render(capsys, clip, f"{probe}/%05d.png", "--frames", "1")
    disk_full_after(int(2.5 * (probe / "00000.png").stat().st_size))
    out = tmp_path / "out"
    status, err = render(capsys, clip, f"{out}/%05d.png")
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1, err
    assert "No space left on device" in lines[0] and "00002.png" in lines[0], err
    kept = re.search(r"(\d+) frames? .*kept", lines[0])
    assert kept and int(kept[1]) == 2, err
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".png") == ["00000.png", "00001.png"]
    assert temporaries(out) == []


def test_disk_full_on_a_video_leaves_no_partial_file(capsys, clip, tmp_path, disk_full_after):
    disk_full_after(4000)
    status, err = render(capsys, clip, tmp_path / "out.mp4")
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1, err
    assert "No space left on device" in lines[0] and "out.mp4" in lines[0], err
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- one way to write a file

# Writing calls outside stream/io/files.py, each with why it is safe or out of scope.
WRITERS = re.compile(
    r"\.write_text\(|\.write_bytes\(|cv2\.imwrite|np\.save|json\.dump\(|savefig\(|mkstemp\("
    r"|\bopen\(.*[\"'][wax]b?[\"']|av\.open\(.*[\"']w[\"']"
)
ALLOWED = {
    "stream/io/video.py": 2,  # av.open on files.open_temporary's handle; a check in memory
    "stream/io/netstream.py": 1,  # av.open on a network URL, not a file
    "stream/farm/join.py": 1,  # av.open on files.open_temporary's handle
    "stream/machine.py": 1,  # opens os.devnull
    "stream/weights/vgg16_onnx.py": 2,  # mkstemp: exclusive, random, no symlink followed
    "stream/weights/segmenter.py": 1,  # the same
}
# stream/bench/ is left out: benchmarks write results and inputs into folders of their own.


def test_every_writer_goes_through_the_files_module(repo):
    found = {}
    for path in sorted((repo / "stream").rglob("*.py")):
        name = path.relative_to(repo).as_posix()
        if name == "stream/io/files.py" or name.startswith("stream/bench/"):
            continue
        hits = [line for line in path.read_text().splitlines() if WRITERS.search(line)]
        if hits:
            found[name] = len(hits)
    assert found == ALLOWED, "write files through dreamstream.stream.io.files"

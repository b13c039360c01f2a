"""Real signals on real renders: Ctrl-C or SIGTERM mid-render gives exit 130 and a playable file.

The render runs as the ``dreamstream`` console script with its stderr on a
pseudo-terminal, so its progress line says how many frames are done; the
signal is sent once a few are, and every frame done by then must be in the
finalised output.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from tests.stream.test_live import make_clip

DREAMSTREAM = str(Path(sys.executable).with_name("dreamstream"))
FRAMES = 300  # far more than are done before the signal


def read_until(fd: int, pattern: str, seconds: float) -> tuple[re.Match | None, str]:
    """Read a pseudo-terminal until ``pattern`` matches or ``seconds`` pass."""
    text, deadline = "", time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096).decode(errors="replace")
        except OSError:  # the process closed it: it ended
            return None, text
        text += chunk
        if match := re.search(pattern, text):
            return match, text
    return None, text


@pytest.mark.parametrize(
    "mode, sig, extra",
    [
        ("style", signal.SIGINT, ()),
        ("dream", signal.SIGTERM, ("--steps", "1", "--steps-next", "1", "--octaves", "1")),
    ],
)
def test_a_signal_mid_render_finalises_a_playable_file(tmp_path, mode, sig, extra):
    clip = make_clip(tmp_path / "in.mp4", frames=FRAMES, fps=25)
    out = tmp_path / "out.mp4"
    terminal, stderr = pty.openpty()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen(
        [DREAMSTREAM, mode, str(clip), "-o", str(out), *extra],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
        cwd=tmp_path,
    )
    os.close(stderr)
    try:
        done, said = read_until(terminal, r"frame ([3-9]|\d\d+)/", 180)
        assert done, said
        proc.send_signal(sig)
        proc.wait(timeout=60)  # a hang after the signal fails here
        said += read_until(terminal, r"$^", 1)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(terminal)
    assert proc.returncode == 130, said
    with av.open(str(out)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert int(done[1]) <= decoded < FRAMES  # every frame done is kept; the render stopped
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4"]  # no temporary

"""Shared fixtures: paths to the repository and its sample media; a cache of the run's own.

Every test and every process a test starts uses a cache folder made for the
run (``DREAMSTREAM_CACHE``), never the user's ``~/.cache/dreamstream``. The
converted VGG16 weights (a minute of CPU to make) are copied into it from a
cache kept for test runs (``DREAMSTREAM_TEST_CACHE``, else
``~/.cache/dreamstream-tests``) and put back there when the run made them, so
only the first run on a machine converts them. A copy, not a link: tests
damage their cache files on purpose.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DREAMSTREAM_OFFLINE", "1")  # tests never download

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"

# What a run may take from and give back to the kept test cache: derived files only.
_KEPT = ("vgg16-imagenet-*.npz", "multistyle26-*.onnx")
_TEST_CACHE = Path(
    os.environ.get("DREAMSTREAM_TEST_CACHE") or Path.home() / ".cache" / "dreamstream-tests"
).expanduser()


def _run_cache() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="dreamstream-cache-"))
    for pattern in _KEPT:
        for kept in _TEST_CACHE.glob(pattern):
            shutil.copy2(kept, folder / kept.name)
    return folder


RUN_CACHE = _run_cache()
os.environ["DREAMSTREAM_CACHE"] = str(RUN_CACHE)  # before any test reads it


def pytest_sessionfinish(session, exitstatus) -> None:
    """Keep what the run converted for the next run, then remove the run's cache."""
    try:
        _TEST_CACHE.mkdir(parents=True, exist_ok=True)
        for pattern in _KEPT:
            for made in RUN_CACHE.glob(pattern):
                if not (_TEST_CACHE / made.name).exists():
                    part = _TEST_CACHE / f".{made.name}.{os.getpid()}.part"
                    shutil.copy2(made, part)
                    os.replace(part, _TEST_CACHE / made.name)  # whole, for runs at once
    except OSError:
        pass  # nothing kept: the next run converts again
    shutil.rmtree(RUN_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def dead_display() -> str:
    """A ``DISPLAY`` value (``:N``) at which no X server answers on this machine."""
    from dreamstream.stream.io.display import x_server_answers

    for number in range(99, 999):
        if not x_server_answers(f":{number}"):
            return f":{number}"
    pytest.skip("an X server answers at every display :99-:998")


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES

"""The start-up bench's phase timer, on a tiny dream (the framework is already loaded here)."""

import time

import pytest

from dreamstream.stream.bench import startup


def test_dream_phases_time_each_phase_in_order():
    """Each phase is timed from the end of the one before: together they are the whole call."""
    wall, cpu = time.perf_counter(), time.process_time()
    phases = startup.dream_phases({"width": 64, "octaves": 1, "steps": 1, "steps_next": 1})
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert list(phases) == [
        "imports, first frame decoded",
        "framework",
        "backbone and dreamer",
        "first frame",
        "first frame again, traced",
    ]
    assert all(p["wall"] >= 0 and p["cpu"] >= 0 for p in phases.values())
    # Rounded to the millisecond each; nothing happens outside the phases but a return.
    assert sum(p["wall"] for p in phases.values()) == pytest.approx(wall, abs=0.01)
    assert sum(p["cpu"] for p in phases.values()) == pytest.approx(cpu, abs=0.02)
    assert phases["first frame"]["wall"] > 0

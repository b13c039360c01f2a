"""The start-up bench's phase timer, on a tiny dream (the framework is already loaded here)."""

from dreamstream.stream.bench import startup


def test_dream_phases_time_each_phase_in_order():
    phases = startup.dream_phases({"width": 64, "octaves": 1, "steps": 1, "steps_next": 1})
    assert list(phases) == [
        "imports, first frame decoded",
        "framework",
        "backbone and dreamer",
        "first frame",
        "first frame again, traced",
    ]
    assert all(p["wall"] >= 0 and p["cpu"] >= 0 for p in phases.values())
    assert phases["first frame"]["wall"] > 0

"""Benchmarks behind ``make bench`` and ``dreamstream bench``.

One module per measured subject; each exposes ``run(quick=False) -> dict``
with JSON-able figures and a ready Markdown ``"table"``.
"""

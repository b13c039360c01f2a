"""Time and resources around the core: sources, sinks, the pipeline, live mode, CLI.

The Python API lives here too (see ``dreamstream.stream.api``)::

    from dreamstream.stream import dream, stylize, render

Importing this package loads no model, framework or window; the API's
functions load what they need on first use.
"""

_API = ("dream", "stylize", "render")


def __getattr__(name: str):
    if name in _API:
        from dreamstream.stream import api

        return getattr(api, name)
    raise AttributeError(f"module 'dreamstream.stream' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API])

"""Loading the compute framework without its start-up chatter.

TensorFlow's C++ runtime writes several lines straight to file descriptor 2
when it loads and looks for CUDA (even with ``TF_CPP_MIN_LOG_LEVEL``), which
would bury the CLI's one-line messages. The first load therefore runs with
fd 2 pointed at /dev/null, unless ``--debug`` asked to see everything.
"""

from __future__ import annotations

import contextlib
import os
import sys

QUIET = True  # the CLI sets it False for --debug
_loaded = False


@contextlib.contextmanager
def _stderr_silenced():
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def load() -> None:
    """Import Keras and its backend (and let TensorFlow probe devices) once."""
    global _loaded
    if _loaded:
        return
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    with _stderr_silenced() if QUIET and backend == "tensorflow" else contextlib.nullcontext():
        import keras  # noqa: F401

        if backend == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices()
    _loaded = True

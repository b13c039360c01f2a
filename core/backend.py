"""The only per-backend code: compilation and the gradient with respect to the input.

Everything else in ``dreamstream.core`` is written against ``keras.ops`` and
runs unchanged on the TensorFlow, JAX and PyTorch backends. The backend is
Keras's own (``KERAS_BACKEND``, TensorFlow by default).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np


def backend_name() -> str:
    """The active Keras backend: "tensorflow", "jax" or "torch"."""
    return keras.backend.backend()


def compile_forward(model: keras.Model, *, xla: bool = True) -> Callable:
    """A compiled inference function ``f(*inputs) -> outputs`` for ``model``.

    Inputs are NumPy arrays or backend tensors; outputs stay backend tensors
    (convert with ``keras.ops.convert_to_numpy``). Each distinct input shape
    compiles once, so a video of fixed frame size traces once.

    Args:
        model: a built Keras model.
        xla: compile with XLA on TensorFlow (JAX always compiles with XLA).
    """
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        return tf.function(
            lambda *x: model(list(x) if len(x) > 1 else x[0], training=False),
            jit_compile=xla,
            reduce_retracing=True,
        )
    if name == "jax":
        import jax

        def pure(trainable, non_trainable, *x):
            out, _ = model.stateless_call(
                trainable, non_trainable, list(x) if len(x) > 1 else x[0], training=False
            )
            return out

        jitted = jax.jit(pure)
        return lambda *x: jitted(
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            *x,
        )
    if name == "torch":
        import torch

        def run(*x):
            with torch.no_grad():
                return model(list(x) if len(x) > 1 else x[0], training=False)

        return run
    raise RuntimeError(f"unsupported Keras backend: {name}")


def to_numpy(x) -> np.ndarray:
    """A backend tensor (or nested list of them) as NumPy."""
    if isinstance(x, list | tuple):
        return [to_numpy(v) for v in x]
    return keras.ops.convert_to_numpy(x)

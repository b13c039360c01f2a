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


def compile_function(fn: Callable, *, xla: bool = True, autograph: bool = True) -> Callable:
    """``fn`` (written in ``keras.ops``) compiled for the active backend, one trace per input shape.

    TensorFlow: ``tf.function`` (with XLA when ``xla``); JAX: ``jax.jit``; torch:
    ``fn`` itself, run eagerly. Arguments must be tensors or arrays (no Python
    numbers that change between calls, or each value would trace anew). The
    result's ``trace_count()`` says how many times it has been traced (TF) or
    compiled (JAX) so far. ``autograph=False`` (TensorFlow) traces ``fn`` as
    plain Python, which saves rewriting its source on the first trace (0.4 CPU
    seconds of a dream's start-up) but needs code without ``if``/``while`` on
    tensor values.
    """
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        compiled = tf.function(fn, jit_compile=xla, autograph=autograph)
        compiled.trace_count = compiled.experimental_get_tracing_count
        return compiled
    if name == "jax":
        import jax

        jitted = jax.jit(fn)

        def run(*args):
            return jitted(*args)

        run.trace_count = jitted._cache_size
        return run
    if name == "torch":

        def eager(*args):
            return fn(*args)

        eager.trace_count = lambda: 0
        return eager
    raise RuntimeError(f"unsupported Keras backend: {name}")


def shift_argument(shift) -> object:
    """A roll shift ``(dy, dx)`` as :func:`compile_function` bodies take it.

    A device array on TensorFlow and JAX, so a new shift does not trace again;
    a tuple of ints on torch, whose ``roll`` accepts nothing else.
    """
    if backend_name() == "torch":
        return tuple(int(s) for s in shift)
    return np.asarray(shift, dtype=np.int32)


def to_numpy(x) -> np.ndarray:
    """A backend tensor (or nested list of them) as NumPy."""
    if isinstance(x, list | tuple):
        return [to_numpy(v) for v in x]
    return keras.ops.convert_to_numpy(x)


def compile_input_gradient(
    model: keras.Model, loss_fn: Callable, *, xla: bool = True, autograph: bool = True
) -> Callable:
    """A compiled ``f(x, scale, *aux) -> (loss, grad)``: the gradient of a loss w.r.t. the input.

    ``loss = scale * sum(loss_fn(outputs, x, *aux))`` where ``outputs`` is the
    list of the model's outputs for the batch ``x``; ``grad`` has the shape of
    ``x``. ``aux`` are further inputs of the loss that change between calls
    (targets, masks: arrays or lists of arrays) and are not differentiated;
    passing them as inputs rather than closing over them keeps one trace.
    The weights are read once, here: they must not change afterwards.
    Each distinct input shape compiles once (then it is cached), so a video
    whose frames keep their size never retraces after the first frame.

    Args:
        model: a built Keras model; its input is the batch ``x`` (float32 NHWC).
        loss_fn: ``(outputs: list[tensor], x, *aux) -> (B,)`` values, written in ``keras.ops``.
        xla: compile with XLA on TensorFlow (JAX always compiles with XLA; torch runs eagerly).
        autograph: let TensorFlow rewrite the loss's Python control flow (see
            :func:`compile_function`); other backends ignore it.

    Returns:
        A function of a float32 NHWC batch ``x``, a float ``scale`` and ``aux`` that returns
        backend tensors: the scalar loss and the gradient. Its ``trace_count()``
        says how many times it has been traced (TF) or compiled (JAX) so far.
    """
    name = backend_name()
    if name == "tensorflow":
        return _tf_input_gradient(model, loss_fn, xla, autograph)
    if name == "jax":
        return _jax_input_gradient(model, loss_fn)
    if name == "torch":
        return _torch_input_gradient(model, loss_fn)
    raise RuntimeError(f"unsupported Keras backend: {name}")


def _as_list(outputs) -> list:
    return list(outputs) if isinstance(outputs, list | tuple) else [outputs]


def _tf_input_gradient(model, loss_fn, xla, autograph):
    import tensorflow as tf

    # reduce_retracing keeps one Python trace for all tile shapes; XLA still
    # compiles (and caches) one executable per concrete shape.
    @tf.function(jit_compile=xla, reduce_retracing=True, autograph=autograph)
    def step(x, scale, aux):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(loss_fn(_as_list(model(x, training=False)), x, *aux)) * scale
        return loss, tape.gradient(loss, x)

    def run(x, scale, *aux):
        return step(tf.convert_to_tensor(x, tf.float32), tf.constant(scale, tf.float32), aux)

    run.trace_count = step.experimental_get_tracing_count
    return run


def _jax_input_gradient(model, loss_fn):
    import jax
    import jax.numpy as jnp

    trainable = [v.value for v in model.trainable_variables]
    frozen = [v.value for v in model.non_trainable_variables]

    def loss(x, scale, trainable, frozen, aux):
        # stateless_call keeps the function pure, as jax.grad and jax.jit need.
        outs, _ = model.stateless_call(trainable, frozen, x, training=False)
        return jnp.sum(loss_fn(_as_list(outs), x, *aux)) * scale

    step = jax.jit(jax.value_and_grad(loss))

    def run(x, scale, *aux):
        return step(jnp.asarray(x, jnp.float32), jnp.float32(scale), trainable, frozen, aux)

    run.trace_count = step._cache_size  # one compiled executable per input shape
    return run


def _torch_input_gradient(model, loss_fn):
    import torch

    # torch.compile is left out: its first-call cost per tile shape is large
    # and it has not been measured faster for this step.
    def step(x, scale, *aux):
        x = keras.ops.convert_to_tensor(x, "float32").detach().requires_grad_(True)
        loss = torch.sum(loss_fn(_as_list(model(x, training=False)), x, *aux)) * scale
        (grad,) = torch.autograd.grad(loss, x)
        return loss.detach(), grad

    step.trace_count = lambda: 0  # eager: nothing is traced
    return step

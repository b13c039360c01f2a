"""The dream on onnxruntime: no Keras, no TensorFlow, the same dream.

:mod:`dreamstream.core.dreamgraph` writes VGG16's dream gradient as an ONNX
graph (equal to Keras's gradient within float rounding: the loss to 1e-5,
the gradient to under 1 % in norm) and
:class:`~dreamstream.core.ascent.NumpyAscent` runs the ascent around it, so a
dream's first picture does not wait for TensorFlow's import (about 3.3 CPU
seconds of the 4-5 s before a live dream's first picture, measured on the
2-core Intel Xeon this project is developed on). It can stand in for the
Keras dream when:

- the backbone is ``vgg16`` with its embedded weights (or the same ONNX file
  given with ``--weights``),
- the objective is plain ``layer:weight`` terms (``^2`` allowed; no channel
  lists, no keyframed weights), with no guide, class, total variation,
  saliency mask or class-visualisation regularisers,
- and the dream computes in float32 (onnxruntime's CPU kernels).

``--runtime auto`` takes it for live dreams on a CPU (start-up is what live
mode waits for); where Keras computes faster once loaded (native bfloat16
convolutions, :func:`keras_faster_here`) the live dream then moves to Keras.
File renders, every dream on a GPU and anything above run on Keras.
``--runtime onnxruntime`` asks for it (and says in one line why a dream
cannot have it); ``--runtime keras`` never takes it. The two differ in the
resampling between octaves (:mod:`dreamstream.core.ascent`), so their dreams
match in look and strength, not pixel for pixel: the CPU demo (3 octaves,
100 frames) came out at mean |out - in| 14.36 levels against Keras's 14.34,
in 0.48x the time of TensorFlow held to AVX2 in float32. File renders stay
on Keras under ``auto`` for now: tests and farm workers that build their
backbone through Keras (and resumes across machines) would otherwise meet
another engine than the one they expect.
"""

from __future__ import annotations

import dataclasses
import functools
import os

from dreamstream.core.errors import InputError
from dreamstream.core.objspec import TermText, parse_terms
from dreamstream.core.params import DEFAULT_LAYERS, VGG16_LAYERS
from dreamstream.stream.params import DreamSetup

ONNX = "onnxruntime"


def obstacle(setup: DreamSetup) -> str | None:
    """Why ``setup``'s dream cannot run on onnxruntime (None: it can)."""
    from dreamstream.core.dreamgraph import unsupported
    from dreamstream.stream.schedules import split_objective

    weights = setup.weights
    reasons = [
        (setup.model != "vgg16", f"the {setup.model} backbone"),
        (bool(weights) and not str(weights).endswith(".onnx"), "a --weights file other than ONNX"),
        (setup.guide is not None, "--guide"),
        (setup.classes is not None, "--class"),
        (setup.mask is not None, f"--mask {setup.mask}"),
        (setup.dream.tv_weight > 0 or "tv_weight" in setup.keyframes, "--tv-weight"),
        (setup.decay > 0 or setup.blur_every > 0, "--decay/--blur-every"),
        (setup.precision not in ("auto", "float32"), f"--precision {setup.precision}"),
    ]
    found = [why for bad, why in reasons if bad]
    if found:
        return found[0]
    text, schedules = split_objective(setup.layers or "")
    if schedules:
        return "keyframed layer weights"
    return unsupported(_terms(text or _default(setup.model)), setup.pooling)


def _default(model: str) -> str:
    return ",".join(f"{name}:{w}" for name, w in DEFAULT_LAYERS[model].items())


def _terms(spec: str) -> list[TermText]:
    return parse_terms(spec, VGG16_LAYERS)


def dream_runtime(setup: DreamSetup, live: bool = False) -> str:
    """``"onnxruntime"`` or ``"keras"`` for ``setup`` (see the module docstring).

    Raises:
        InputError: onnxruntime asked for where it cannot run this dream (why, in one line).
    """
    from dreamstream.stream.runtimes import RUNTIMES, gpu_likely, onnxruntime_installed

    asked = setup.runtime
    if asked not in RUNTIMES:
        raise InputError(f"--runtime must be one of {', '.join(RUNTIMES)}, got {asked!r}")
    if asked == "keras":
        return "keras"
    why = obstacle(setup)
    if asked == ONNX:
        if why:
            raise InputError(f"--runtime onnxruntime cannot run this dream: {why}")
        if not onnxruntime_installed():
            raise InputError("--runtime onnxruntime: onnxruntime is not installed")
        return ONNX
    usable = live and why is None and not gpu_likely() and onnxruntime_installed()
    return ONNX if usable else "keras"


def keras_faster_here(precision: str = "auto") -> bool:
    """Whether Keras dreams faster than onnxruntime on this CPU, once it is loaded.

    Where the CPU convolves in bfloat16 natively (AMX, AVX512-BF16) and
    ``--precision auto`` lets the dream use it. On this project's 2-core Intel
    Xeon, one idle step at 128x96 (``block3_conv3``) took 30 ms in bfloat16 on
    TensorFlow against 62 ms on onnxruntime (float32), and 155 against 493 ms
    at 320x240 (``block4_conv3``); with TensorFlow held to AVX2 in float32 it
    took 87 and 958 ms, onnxruntime 61 and 513 ms (onnxruntime picks its
    kernels by the CPU: AVX-512 here, which a plain AVX2 CPU lacks).
    """
    from dreamstream.stream.machine import fast_bfloat16

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    return precision == "auto" and backend == "tensorflow" and fast_bfloat16()


def build_onnx_dreamer(setup: DreamSetup, layers: str | None = None, threads: int = 0):
    """The dream of ``setup`` (or of objective ``layers``) on onnxruntime.

    Returns:
        A :class:`~dreamstream.core.ascent.NumpyAscent`: called like
        :class:`~dreamstream.core.dream.Dreamer`, uint8 RGB in and out.
    """
    from dreamstream.core.ascent import NumpyAscent
    from dreamstream.stream.schedules import split_objective

    spec = layers or split_objective(setup.layers or "")[0] or _default(setup.model)
    terms = _terms(spec)
    run = _session(_weights_path(setup.weights), tuple(terms), setup.pooling, threads)
    params = dataclasses.replace(setup.dream, precision="float32", xla=False)
    deepest = max(VGG16_LAYERS.index(t.layer) for t in terms)
    stride = 2 ** sum(name.endswith("_pool") for name in VGG16_LAYERS[: deepest + 1])
    return NumpyAscent(run, params, [t.weight for t in terms], stride)


def _weights_path(weights: str | None) -> str:
    from dreamstream.stream.weights.assets import embedded_path

    return str(weights) if weights else str(embedded_path("vgg16").resolve())


@functools.lru_cache(maxsize=4)
def _session(path: str, terms: tuple[TermText, ...], pooling: str, threads: int):
    """``f(x, scale, weights) -> (loss, grad)`` on one onnxruntime session, built once."""
    import numpy as np
    import onnxruntime as ort

    from dreamstream.core.dreamgraph import build_vgg16_gradient_graph
    from dreamstream.stream.runtimes import session_options
    from dreamstream.stream.weights import vgg16_onnx

    weights = vgg16_onnx.load_weights(path)
    graph = build_vgg16_gradient_graph(weights, terms, pooling)
    session = ort.InferenceSession(
        graph.SerializeToString(), session_options(threads), providers=["CPUExecutionProvider"]
    )

    def run(x, scale, term_weights):
        feed = {
            "x": np.ascontiguousarray(x, np.float32),
            "scale": np.asarray(scale, np.float32),
            "weights": np.asarray(term_weights, np.float32),
        }
        loss, grad = session.run(["loss", "grad"], feed)
        return float(loss), grad

    return run

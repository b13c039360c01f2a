"""Reading MatConvNet's ``imagenet-vgg-verydeep-19.mat`` (the VGG19 of the neural-style papers).

Two MATLAB formats hold it: v5 (the file as published; read with
``scipy.io.loadmat``) and v7.3 (HDF5; read with h5py). Either way the file is
a struct with ``layers``, a cell array of layer structs with fields ``name``
(``conv1_1`` ...), ``type`` and ``weights`` (a cell of kernel and bias), and
the training mean in ``meta.normalization.averageImage`` (newer files) or
``normalization.averageImage`` (older ones).

MatConvNet stores a kernel as width x height x in x out; the convolutions
here want height x width x in x out, so the first two axes are swapped.
Anything that is not such a file gets one :class:`InputError` line.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from dreamstream.core import vgg19
from dreamstream.core.errors import InputError

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def matconvnet_name(conv: str) -> str:
    """``block3_conv2`` -> MatConvNet's ``conv3_2``."""
    block, index = conv[5], conv.split("_conv")[1]
    return f"conv{block}_{index}"


def _not_vgg19(path, why: str) -> InputError:
    return InputError(f"{str(path)!r} is not MatConvNet's imagenet-vgg-verydeep-19.mat: {why}")


def read_vgg19_mat(path: str | os.PathLike, layers) -> tuple[dict, tuple[float, float, float]]:
    """Kernels, biases and the RGB mean of the convolutions up to the deepest of ``layers``.

    Args:
        path: a MatConvNet VGG19 ``.mat`` file (MATLAB v5 or v7.3).
        layers: the layers the network will output, e.g. ``("block4_conv2",)``.

    Returns:
        ``({"block1_conv1": (kernel 3x3xInxOut float32, bias Out float32), ...},
        (mean R, mean G, mean B))``.

    Raises:
        InputError: not a .mat file, or not the VGG19 file (a layer missing or
            of the wrong shape).
    """
    needed = vgg19.needed_convs(layers)
    path = Path(path)
    if not path.is_file():
        raise InputError(f"VGG19 weights file {str(path)!r} does not exist")
    with open(path, "rb") as f:
        head = f.read(520)
    # v7.3 files are HDF5 behind a 512-byte MATLAB header (or none, if written by h5py).
    if head.startswith(_HDF5_MAGIC) or head[512:520] == _HDF5_MAGIC:
        layer_map, mean = _read_v73(path)
    elif head.startswith(b"MATLAB 5.0 MAT-file"):
        layer_map, mean = _read_v5(path)
    else:
        raise InputError(f"VGG19 weights file {str(path)!r} is not a MATLAB .mat file")
    return _pick(path, layer_map, needed), mean


def _pick(path, layer_map: dict, needed: tuple[str, ...]) -> dict:
    """The needed convolutions from ``{matconvnet name: (kernel, bias)}``, checked and reshaped."""
    shapes = vgg19.conv_shapes()
    out = {}
    for conv in needed:
        name = matconvnet_name(conv)
        if name not in layer_map:
            raise _not_vgg19(path, f"no layer {name}")
        kernel, bias = layer_map[name]
        kernel = np.transpose(np.asarray(kernel, "float32"), (1, 0, 2, 3))
        bias = np.asarray(bias, "float32").reshape(-1)
        if kernel.shape != shapes[conv] or bias.shape != shapes[conv][-1:]:
            raise _not_vgg19(
                path,
                f"{name} has kernel {kernel.shape}, bias {bias.shape}; "
                f"VGG19 has {shapes[conv]}, {shapes[conv][-1:]}",
            )
        out[conv] = (kernel, bias)
    return out


def _mean_rgb(image) -> tuple[float, float, float]:
    arr = np.asarray(image, "float64").reshape(-1, 3) if np.size(image) % 3 == 0 else None
    if arr is None or not len(arr):
        return vgg19.IMAGENET_RGB_MEAN
    return tuple(float(v) for v in arr.mean(axis=0))


# ------------------------------------------------------------------ MATLAB v5


def _read_v5(path: Path) -> tuple[dict, tuple]:
    from scipy.io import loadmat

    try:
        data = loadmat(str(path), squeeze_me=True, struct_as_record=False)
    except (ValueError, TypeError, OSError, NotImplementedError, MemoryError, OverflowError) as err:
        raise _not_vgg19(
            path, f"unreadable ({str(err).splitlines()[0] if str(err) else err})"
        ) from None
    if "layers" not in data:
        raise _not_vgg19(path, "it has no 'layers' cell array")
    layer_map = {}
    for layer in np.atleast_1d(data["layers"]):
        name = str(getattr(layer, "name", ""))
        weights = getattr(layer, "weights", None)
        if name.startswith("conv") and weights is not None and np.size(weights) == 2:
            layer_map[name] = (weights[0], weights[1])
    norm = getattr(data.get("meta"), "normalization", None) or data.get("normalization")
    return layer_map, _mean_rgb(getattr(norm, "averageImage", None))


# ---------------------------------------------------------------- MATLAB v7.3


# MatConvNet's VGG19 has 43 layers; its names are short; its mean is 1x1x3 or 224x224x3.
_MAX_LAYERS, _MAX_NAME, _MAX_MEAN = 1000, 256, 224 * 224 * 3


def _read_v73(path: Path) -> tuple[dict, tuple]:
    """An HDF5 (v7.3) file: cells and structs are object references; arrays are transposed.

    Every array's declared shape is checked before it is read: a file of a few
    kilobytes can declare arrays of any size.
    """
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise _not_vgg19(path, "an unreadable HDF5 file") from None
    with f:
        if "layers" not in f:
            raise _not_vgg19(path, "it has no 'layers' cell array")
        layer_map = {}
        for ref in _small(path, f["layers"], _MAX_LAYERS, "'layers'").reshape(-1):
            layer = f[ref]
            if not isinstance(layer, h5py.Group) or "name" not in layer:
                continue
            name = _h5_string(_small(path, layer["name"], _MAX_NAME, "a layer name"))
            if name.startswith("conv") and "weights" in layer:
                refs = _small(path, layer["weights"], 2, f"{name} weights").reshape(-1)
                if len(refs) == 2 and name in _SHAPES:
                    kernel, bias = (f[r] for r in refs)
                    layer_map[name] = (
                        _h5_array(_declared(path, kernel, _SHAPES[name], f"{name} kernel")),
                        _h5_array(_declared(path, bias, _SHAPES[name][-1:], f"{name} bias")),
                    )
        norm = f["meta/normalization"] if "meta/normalization" in f else f.get("normalization")
        mean = None
        if isinstance(norm, h5py.Group) and "averageImage" in norm:
            mean = _h5_array(_small(path, norm["averageImage"], _MAX_MEAN, "averageImage"))
        return layer_map, _mean_rgb(mean)


# MatConvNet name -> kernel shape as MATLAB stores it (width x height x in x out).
_SHAPES = {
    matconvnet_name(conv): (shape[1], shape[0], *shape[2:])
    for conv, shape in vgg19.conv_shapes().items()
}


def _small(path, dataset, most: int, what: str) -> np.ndarray:
    """A dataset of at most ``most`` elements, read; else the file is refused unread."""
    if not isinstance(dataset, h5py.Dataset) or dataset.size > most:
        shape = getattr(dataset, "shape", None)
        raise _not_vgg19(path, f"{what} is declared {shape}, over {most} elements")
    return np.asarray(dataset)


def _declared(path, dataset, shape: tuple[int, ...], what: str):
    """``dataset`` if it declares MATLAB ``shape`` (stored reversed) with any bias layout."""
    size = int(np.prod(shape))
    stored = getattr(dataset, "shape", None)
    fits = stored == shape[::-1] if len(shape) > 1 else dataset.size == size
    if not isinstance(dataset, h5py.Dataset) or not fits or dataset.dtype.kind != "f":
        raise _not_vgg19(path, f"{what} is declared {stored}; VGG19's is {shape[::-1]} (stored)")
    return dataset


def _h5_array(dataset) -> np.ndarray:
    """A MATLAB array as stored by v7.3 (axes reversed) back in MATLAB's axis order."""
    arr = np.asarray(dataset)
    return np.transpose(arr, tuple(range(arr.ndim))[::-1])


def _h5_string(codes) -> str:
    """A MATLAB char array (uint16 codes) as text."""
    return "".join(chr(int(c)) for c in np.asarray(codes).reshape(-1))

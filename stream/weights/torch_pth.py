"""Reads PyTorch's legacy ``.pth`` files (``torch.save`` before 1.6) without PyTorch.

The legacy format is a sequence of pickles (a magic number, the protocol,
system info, the object whose tensors point at storages by key, the list of
storage keys) followed by each storage's raw bytes, an 8-byte element count
first. Only what a state dict of float tensors needs is allowed: the
unpickler refuses every other class, so a file cannot run code.
"""

from __future__ import annotations

import collections
import os
import pickle
import struct

import numpy as np

from dreamstream.core.errors import InputError

MAGIC = 0x1950A86A20F9469CFC6C
_STORAGES = {"FloatStorage": np.float32, "LongStorage": np.int64, "IntStorage": np.int32}


class _TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.key, self.dtype = storage
        self.offset, self.size, self.stride = int(offset), tuple(size), tuple(stride)


def _rebuild(storage, offset, size, stride, *unused):
    return _TensorRef(storage, offset, size, stride)


class _StateDictUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild
        if module == "torch" and name in _STORAGES:
            return _STORAGES[name]
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a state dict")

    def persistent_load(self, pid):
        return (pid[2], pid[1])  # (storage key, dtype)


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A legacy ``.pth`` state dict as ``{name: array}`` (PyTorch layouts kept).

    Raises:
        InputError: not a legacy PyTorch file, or something other than a state dict.
    """
    try:
        with open(path, "rb") as f:
            if pickle.load(f) != MAGIC:
                raise InputError(f"{os.fspath(path)!r} is not a legacy PyTorch .pth file")
            pickle.load(f)  # protocol version
            pickle.load(f)  # system info
            state = _StateDictUnpickler(f).load()
            keys = pickle.load(f)
            dtypes = {t.key: np.dtype(t.dtype) for t in state.values()}
            raw = {}
            size = os.fstat(f.fileno()).st_size
            for key in keys:
                (count,) = struct.unpack("<q", f.read(8))
                length = count * dtypes[key].itemsize
                # A declared size is checked against the file before anything is read.
                if count < 0 or length > size - f.tell():
                    raise InputError(f"{os.fspath(path)!r}: storage {key} is cut short")
                raw[key] = np.frombuffer(f.read(length), dtypes[key])
    except (
        OSError,
        EOFError,
        pickle.UnpicklingError,
        struct.error,
        KeyError,
        AttributeError,
        ValueError,
        TypeError,
    ) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(
            f"cannot read {os.fspath(path)!r} as a PyTorch state dict: {type(err).__name__}"
        ) from None
    return {name: _array(raw[t.key], t) for name, t in state.items()}


def _array(buf: np.ndarray, t: _TensorRef) -> np.ndarray:
    """The tensor's view of its storage, copied; a view past the storage's end is refused."""
    last = t.offset + sum((n - 1) * s for n, s in zip(t.size, t.stride, strict=True) if n > 0)
    if t.offset < 0 or any(s < 0 for s in t.stride) or last >= buf.size or 0 in t.size:
        raise InputError(f"a tensor of shape {t.size} reaches past its storage")
    if not t.size:
        return np.array(buf[t.offset])
    steps = [s * buf.itemsize for s in t.stride]
    return np.array(np.lib.stride_tricks.as_strided(buf[t.offset :], t.size, steps))

"""Legacy PyTorch state dicts read without PyTorch: a written file, and damaged ones."""

import pickle
import struct
import sys
import types

import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.weights.torch_pth import MAGIC, read_state_dict


@pytest.fixture(autouse=True)
def fake_torch(monkeypatch):
    """Just enough of a ``torch`` module for pickle to name its classes by reference."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only written here, never called")

    class FloatStorage:
        pass

    _rebuild_tensor_v2.__module__, FloatStorage.__module__ = "torch._utils", "torch"
    _rebuild_tensor_v2.__qualname__, FloatStorage.__qualname__ = (
        "_rebuild_tensor_v2",
        "FloatStorage",
    )
    utils._rebuild_tensor_v2, torch.FloatStorage, torch._utils = (
        _rebuild_tensor_v2,
        FloatStorage,
        utils,
    )
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


class _Key:
    """A storage, written as a persistent id."""

    def __init__(self, key):
        self.key = key


class _Rebuild:
    """Pickles as torch._utils._rebuild_tensor_v2(storage, offset, size, stride)."""

    def __init__(self, key, offset, size, stride):
        self.args = (_Key(key), offset, size, stride)

    def __reduce__(self):
        return (sys.modules["torch._utils"]._rebuild_tensor_v2, self.args)


def _write(path, tensors: dict, storages: dict, counts: dict | None = None):
    """A file in the legacy layout: storages are float32 arrays by key."""

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _Key):
                key = obj.key
                storage = sys.modules["torch"].FloatStorage
                return ("storage", storage, key, "cpu", storages[key].size)
            return None

    with open(path, "wb") as f:
        for head in (MAGIC, 1001, {"little_endian": True}):
            pickle.dump(head, f)
        P(f).dump(tensors)
        pickle.dump(list(storages), f)
        for key, arr in storages.items():
            f.write(struct.pack("<q", (counts or {}).get(key, arr.size)))
            f.write(arr.astype("<f4").tobytes())


def test_a_state_dict_reads_back_with_its_layouts(tmp_path):
    data = np.arange(12, dtype=np.float32)
    tensors = {"w": _Rebuild("a", 0, (3, 4), (4, 1)), "t": _Rebuild("a", 1, (2, 2), (1, 4))}
    _write(tmp_path / "m.pth", tensors, {"a": data})
    got = read_state_dict(tmp_path / "m.pth")
    np.testing.assert_array_equal(got["w"], data.reshape(3, 4))
    np.testing.assert_array_equal(got["t"], [[1, 5], [2, 6]])


def test_a_view_past_its_storage_is_refused(tmp_path):
    _write(tmp_path / "m.pth", {"w": _Rebuild("a", 0, (30, 4), (4, 1))}, {"a": np.zeros(12)})
    with pytest.raises(InputError, match="reaches past its storage"):
        read_state_dict(tmp_path / "m.pth")


def test_a_declared_size_beyond_the_file_is_refused(tmp_path):
    storages = {"a": np.zeros(4)}
    _write(tmp_path / "m.pth", {"w": _Rebuild("a", 0, (4,), (1,))}, storages, {"a": 10**15})
    with pytest.raises(InputError, match="storage a is cut short"):
        read_state_dict(tmp_path / "m.pth")


def test_other_files_and_other_classes_are_refused(tmp_path):
    (tmp_path / "x.pth").write_bytes(b"not a pickle")
    with pytest.raises(InputError, match="cannot read .* as a PyTorch state dict"):
        read_state_dict(tmp_path / "x.pth")
    with open(tmp_path / "evil.pth", "wb") as f:
        for head in (MAGIC, 1001, {}):
            pickle.dump(head, f)
        pickle.dump(_Evil(), f)
    with pytest.raises(InputError, match="cannot read"):
        read_state_dict(tmp_path / "evil.pth")


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))

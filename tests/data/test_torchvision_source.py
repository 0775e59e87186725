"""torchvision:NAME[:ROOT] — read from a local root, never downloading unless asked."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from ssl_core.data import open_source
from ssl_core.data.tvsets import ROOT_ENV, default_root
from ssl_core.errors import UserError


def _write_idx(path, array: np.ndarray) -> None:
    """The MNIST "idx" file format: magic (0, 0, 0x08 = uint8, ndim), big-endian dims, raw bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _fake_mnist_root(root, folder: str, n: int = 6):
    """Write tiny MNIST-format files (6x6 images, image i filled with 40 * i) where torchvision looks."""
    raw = root / folder / "raw"
    images = (np.arange(n, dtype=np.uint8) * 40)[:, None, None] * np.ones((n, 6, 6), np.uint8)
    labels = np.array([3, 1, 4, 1, 5, 9][:n], dtype=np.uint8)
    _write_idx(raw / "train-images-idx3-ubyte", images)
    _write_idx(raw / "train-labels-idx1-ubyte", labels)
    _write_idx(raw / "t10k-images-idx3-ubyte", images[:2])
    _write_idx(raw / "t10k-labels-idx1-ubyte", labels[:2])
    return labels


@pytest.mark.parametrize(("name", "folder"), [("MNIST", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_reads_local_files_in_the_training_split(tmp_path, name, folder):
    labels = _fake_mnist_root(tmp_path, folder)
    source = open_source(f"torchvision:{name}:{tmp_path}")
    info = source.info
    assert (info.size, info.image_shape, info.has_labels, info.num_classes) == (6, (1, 6, 6), True, 10)
    assert source.labels().tolist() == labels.tolist()
    images, read_labels = source.read([2, 5])
    assert images[:, 0, 0, 0].tolist() == [80, 200] and read_labels.tolist() == [4, 9]
    resized = open_source(f"torchvision:{name}:{tmp_path}", image_size=12, channels=3)
    assert resized.info.image_shape == (3, 12, 12)


def test_root_defaults_to_the_environment_setting(tmp_path, monkeypatch):
    monkeypatch.setenv(ROOT_ENV, str(tmp_path))
    assert default_root() == tmp_path
    _fake_mnist_root(tmp_path, "MNIST")
    assert len(open_source("torchvision:mnist")) == 6
    assert len(open_source("mnist")) == 6  # a bare dataset name is understood too


@pytest.mark.parametrize("name", ["CIFAR10", "CIFAR100", "STL10", "MNIST", "FashionMNIST", "STL10-unlabeled"])
def test_missing_files_name_the_root_and_say_to_pass_download(tmp_path, name):
    with pytest.raises(UserError) as err:
        open_source(f"torchvision:{name}:{tmp_path / 'nothing here'}")
    message = str(err.value)
    assert str(tmp_path / "nothing here") in message and "--download" in message
    assert not (tmp_path / "nothing here").exists()  # nothing was created, nothing downloaded


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(UserError) as err:
        open_source("torchvision:imagenet")
    assert "CIFAR10" in str(err.value) and "STL10" in str(err.value)


def test_missing_name():
    with pytest.raises(UserError, match="needs NAME"):
        open_source("torchvision:")
